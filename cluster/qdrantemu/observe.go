package qdrantemu

import (
	"bytes"
	"io"
	"net/http"
	"strings"
)

// An Exchange is one request a node answered, with its JSON bodies, for
// contract tests that check both sides against Qdrant's OpenAPI schema.
type Exchange struct {
	Node           int
	Request        *http.Request // body already consumed; see RequestBody
	RequestBody    []byte        // JSON request bodies only
	Status         int
	ResponseHeader http.Header
	ResponseBody   []byte // JSON response bodies only
}

// maxObserved caps the JSON bodies kept for observation.
const maxObserved = 4 << 20

func (n *Node) observe(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		obs := n.c.opts.Observe
		if obs == nil {
			next.ServeHTTP(w, r)
			return
		}
		var reqBody *capped
		if strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
			reqBody = &capped{}
			r.Body = struct {
				io.Reader
				io.Closer
			}{io.TeeReader(r.Body, reqBody), r.Body}
		}
		rec := &recorder{ResponseWriter: w}
		next.ServeHTTP(rec, r)
		ex := Exchange{Node: n.Index, Request: r, Status: rec.status, ResponseHeader: w.Header().Clone()}
		if reqBody != nil && !reqBody.over {
			ex.RequestBody = reqBody.Bytes()
		}
		if rec.json && !rec.body.over {
			ex.ResponseBody = rec.body.Bytes()
		}
		obs(ex)
	})
}

type capped struct {
	bytes.Buffer
	over bool
}

func (c *capped) Write(p []byte) (int, error) {
	if c.Len()+len(p) > maxObserved {
		c.over = true
		return len(p), nil
	}
	return c.Buffer.Write(p)
}

type recorder struct {
	http.ResponseWriter
	status int
	json   bool
	body   capped
}

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
		r.json = strings.HasPrefix(r.Header().Get("Content-Type"), "application/json")
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(p []byte) (int, error) {
	if r.status == 0 {
		r.WriteHeader(http.StatusOK)
	}
	if r.json {
		_, _ = r.body.Write(p)
	}
	return r.ResponseWriter.Write(p)
}

func (r *recorder) Flush() {
	if f, ok := r.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the connection, to hijack it.
func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

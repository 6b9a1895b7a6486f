package qdrant

import (
	"context"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"strings"
)

// download opens a file endpoint. Retries (for GETs) happen only until the
// response headers arrive: once the body is handed over, a failure mid-stream
// is the caller's to handle, since bytes may already be in S3.
func (c *Client) download(ctx context.Context, r *request, fallbackName string) (*Download, error) {
	var resp *http.Response
	err := c.withRetry(ctx, r, func() error {
		var err error
		resp, err = c.send(ctx, r, nil, "") //nolint:bodyclose // The body goes to the caller in Download, which closes it.
		return err
	})
	if err != nil {
		return nil, err
	}
	// Accept-Encoding: identity should prevent this; an encoded stream would
	// not match the snapshot's checksum, so refuse it rather than store it.
	if enc := resp.Header.Get("Content-Encoding"); enc != "" && !strings.EqualFold(enc, "identity") {
		_ = resp.Body.Close()
		return nil, fmt.Errorf("%s %s: cannot use a snapshot stream with Content-Encoding %q", r.method, r.path, enc)
	}
	name := filenameFromDisposition(resp.Header.Get("Content-Disposition"))
	if name == "" {
		name = fallbackName
	}
	return &Download{Body: resp.Body, Size: resp.ContentLength, Filename: name}, nil
}

// filenameFromDisposition returns the bare file name of an attachment, or "".
// Only the last path element is kept because callers use it as a file name or
// an object key.
func filenameFromDisposition(v string) string {
	if v == "" {
		return ""
	}
	_, params, err := mime.ParseMediaType(v)
	if err != nil {
		return ""
	}
	name := params["filename"]
	if i := strings.LastIndexAny(name, `/\`); i >= 0 {
		name = name[i+1:]
	}
	if name == "." || name == ".." {
		return ""
	}
	return name
}

// upload streams body as the multipart file field "snapshot". A goroutine
// writes the multipart framing into a pipe that the HTTP transport reads, so
// memory stays bounded whatever the snapshot size. Uploads are never retried:
// body is a one-shot stream.
func (c *Client) upload(ctx context.Context, r *request, body io.Reader, filename string) error {
	if err := checkName("snapshot file", filename); err != nil {
		return err
	}
	r.idempotent = false // one attempt: body cannot be rewound
	return c.withRetry(ctx, r, func() error {
		pr, pw := io.Pipe()
		mw := multipart.NewWriter(pw)
		contentType := mw.FormDataContentType()
		src := &readTracker{r: body}
		done := make(chan struct{})
		go func() {
			defer close(done)
			_ = pw.CloseWithError(writeMultipart(mw, src, filename))
		}()

		resp, err := c.send(ctx, r, pr, contentType)
		// Qdrant may answer before reading everything (an auth rejection):
		// closing the reader makes the writer's next write fail, ending the
		// goroutine.
		_ = pr.Close()
		select {
		case <-done:
			if src.err != nil {
				if resp != nil {
					_ = resp.Body.Close()
				}
				return fmt.Errorf("cannot read the snapshot to upload: %w", src.err)
			}
		case <-ctx.Done():
			// The goroutine is stuck in the caller's Read; it ends when that
			// Read returns, as its next write to the closed pipe fails.
		}
		if err != nil {
			return err
		}
		defer resp.Body.Close() //nolint:errcheck // read-only body
		_, err = decodeEnvelope(r, resp, nil)
		return err
	})
}

func writeMultipart(mw *multipart.Writer, body io.Reader, filename string) error {
	part, err := mw.CreateFormFile("snapshot", filename)
	if err != nil {
		return err
	}
	if _, err := io.Copy(part, body); err != nil {
		return err
	}
	return mw.Close()
}

// readTracker remembers a read error of the caller's reader, to tell it apart
// from a failure of the request itself.
type readTracker struct {
	r   io.Reader
	err error
}

func (t *readTracker) Read(p []byte) (int, error) {
	n, err := t.r.Read(p)
	if err != nil && err != io.EOF {
		t.err = err
	}
	return n, err
}

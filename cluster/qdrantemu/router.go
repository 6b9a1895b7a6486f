package qdrantemu

import (
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// access is what a request may do.
type access int

const (
	accessNone access = iota
	accessRead
	accessManage
)

// route is one endpoint: the access it needs, and whether it returns a file
// (file endpoints answer errors in plain text, API.md 0.2).
type route struct {
	pattern string
	need    access
	file    bool
	h       func(w http.ResponseWriter, r *http.Request)
}

func (n *Node) routes() []route {
	return []route{
		{"GET /{$}", accessNone, false, n.version},
		{"GET /healthz", accessNone, true, n.healthz},
		{"GET /livez", accessNone, true, n.healthz},
		{"GET /readyz", accessNone, true, n.readyz},
		{"GET /cluster", accessRead, false, n.clusterInfo},
		{"GET /collections", accessRead, false, n.listCollections},
		{"GET /collections/{collection_name}", accessRead, false, n.getCollection},
		{"GET /collections/{collection_name}/exists", accessRead, false, n.collectionExists},
		{"PUT /collections/{collection_name}", accessManage, false, n.createCollection},
		{"DELETE /collections/{collection_name}", accessManage, false, n.deleteCollection},
		{"GET /collections/{collection_name}/cluster", accessRead, false, n.collectionCluster},
		{"PUT /collections/{collection_name}/shards", accessManage, false, n.createShardKey},
		{"GET /collections/{collection_name}/shards", accessRead, false, n.listShardKeys},
		{"POST /collections/{collection_name}/shards/delete", accessManage, false, n.dropShardKey},
		{"GET /aliases", accessRead, false, n.listAliases},
		{"GET /collections/{collection_name}/aliases", accessRead, false, n.listCollectionAliases},
		{"POST /collections/aliases", accessManage, false, n.updateAliases},
		{"PUT /collections/{collection_name}/index", accessManage, false, n.createIndex},
		{"PUT /collections/{collection_name}/points", accessManage, false, n.upsertPoints},
		{"POST /collections/{collection_name}/points", accessRead, false, n.retrievePoints},
		{"GET /collections/{collection_name}/points/{id}", accessRead, false, n.getPoint},
		{"POST /collections/{collection_name}/points/count", accessRead, false, n.countPoints},
		{"POST /collections/{collection_name}/points/scroll", accessRead, false, n.scrollPoints},

		{"POST /collections/{collection_name}/snapshots", accessManage, false, n.createSnapshot},
		{"GET /collections/{collection_name}/snapshots", accessRead, false, n.listSnapshots},
		{"GET /collections/{collection_name}/snapshots/{snapshot_name}", accessRead, true, n.downloadSnapshot},
		{"DELETE /collections/{collection_name}/snapshots/{snapshot_name}", accessManage, false, n.deleteSnapshot},
		{"PUT /collections/{collection_name}/snapshots/recover", accessManage, false, n.recoverSnapshot},
		{"POST /collections/{collection_name}/snapshots/upload", accessManage, true, n.uploadSnapshot},

		{"POST /collections/{collection_name}/shards/{shard_id}/snapshots", accessManage, false, n.createShardSnapshot},
		{"GET /collections/{collection_name}/shards/{shard_id}/snapshots", accessRead, false, n.listShardSnapshots},
		{"GET /collections/{collection_name}/shards/{shard_id}/snapshots/{snapshot_name}", accessRead, true, n.downloadShardSnapshot},
		{"DELETE /collections/{collection_name}/shards/{shard_id}/snapshots/{snapshot_name}", accessManage, false, n.deleteShardSnapshot},
		{"PUT /collections/{collection_name}/shards/{shard_id}/snapshots/recover", accessManage, false, n.recoverShardSnapshot},
		{"POST /collections/{collection_name}/shards/{shard_id}/snapshots/upload", accessManage, true, n.uploadShardSnapshot},
		{"GET /collections/{collection_name}/shards/{shard_id}/snapshot", accessManage, true, n.streamShardSnapshot},
	}
}

func (n *Node) handler() http.Handler {
	mux := http.NewServeMux()
	for _, rt := range n.routes() {
		mux.HandleFunc(rt.pattern, n.guard(rt))
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Qdrant trims trailing slashes (actix NormalizePath::trim).
		if len(r.URL.Path) > 1 && strings.HasSuffix(r.URL.Path, "/") {
			r.URL.Path = strings.TrimRight(r.URL.Path, "/")
			r.URL.RawPath = ""
		}
		n.c.record(n, r)
		if n.c.injectFailure(n, w) {
			return
		}
		if _, pattern := mux.Handler(r); pattern == "" {
			// actix's default service: a bare 404 with an empty body, also
			// for a known path with a method it does not serve.
			w.WriteHeader(http.StatusNotFound)
			return
		}
		mux.ServeHTTP(w, r)
	})
}

// guard enforces API keys as Qdrant does (API.md 0.3).
func (n *Node) guard(rt route) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		c := n.c
		if rt.need != accessNone && (c.opts.APIKey != "" || c.opts.ReadOnlyAPIKey != "") {
			key := r.Header.Get("api-key")
			if key == "" {
				key, _ = strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
			}
			switch {
			case key == "":
				plain(w, http.StatusUnauthorized, "Must provide an API key or an Authorization bearer token")
				return
			case c.opts.APIKey != "" && equal(key, c.opts.APIKey):
			case c.opts.ReadOnlyAPIKey != "" && equal(key, c.opts.ReadOnlyAPIKey):
				if rt.need == accessManage {
					writeError(w, r, rt.file, http.StatusForbidden, "Forbidden: Global manage access is required")
					return
				}
			default:
				plain(w, http.StatusUnauthorized, "Invalid API key or JWT")
				return
			}
		}
		rt.h(w, r)
	}
}

func equal(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }

// started is stored in the request context by the envelope writer; the
// emulator reports small fixed times instead, as real timings are meaningless.
const elapsed = 0.000123

func writeResult(w http.ResponseWriter, result any) {
	writeJSON(w, http.StatusOK, map[string]any{"result": result, "status": "ok", "time": elapsed})
}

func writeAccepted(w http.ResponseWriter) {
	writeJSON(w, http.StatusAccepted, map[string]any{"status": "accepted", "time": elapsed})
}

// writeError answers an error: the JSON envelope, or plain text on file endpoints.
func writeError(w http.ResponseWriter, _ *http.Request, file bool, code int, msg string) {
	if file {
		plain(w, code, msg)
		return
	}
	writeJSON(w, code, map[string]any{"status": map[string]string{"error": msg}, "time": elapsed})
}

func plain(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(code)
	_, _ = w.Write([]byte(msg))
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		plain(w, http.StatusInternalServerError, fmt.Sprintf("Service internal error: %v", err))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_, _ = w.Write(b)
}

// decodeBody reads a JSON body as actix does: a malformed one is a 400
// "Format error in JSON body".
func decodeBody(w http.ResponseWriter, r *http.Request, v any) bool {
	r.Body = http.MaxBytesReader(w, r.Body, 32<<20)
	if err := json.NewDecoder(r.Body).Decode(v); err != nil {
		writeError(w, r, false, http.StatusBadRequest, "Format error in JSON body: "+err.Error())
		return false
	}
	return true
}

// queryBool parses a boolean query parameter; a bad value is a 400.
func queryBool(w http.ResponseWriter, r *http.Request, name string, def bool) (bool, bool) {
	v := r.URL.Query().Get(name)
	switch v {
	case "":
		return def, true
	case "true":
		return true, true
	case "false":
		return false, true
	}
	writeError(w, r, false, http.StatusBadRequest, fmt.Sprintf("Deserialize error in query parameters: %s: provided string was not `true` or `false`", name))
	return false, false
}

func notFoundCollection(name string) string {
	return fmt.Sprintf("Not found: Collection `%s` doesn't exist!", name)
}

func (c *Cluster) now() time.Time { return c.opts.Now().UTC() }

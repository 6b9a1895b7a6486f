package qdrantemu_test

import (
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/qdrantops/qdrantops/cluster/qdrantemu"
)

// serveSnapshot makes a shard snapshot of a fresh one-node cluster and serves
// its bytes from a plain HTTP server, as an object store would.
func serveSnapshot(t *testing.T) (snapshotURL, checksum string) {
	t.Helper()
	src := start(t, qdrantemu.Options{Nodes: 1})
	createCollection(t, src.URLs()[0], "c", 1, 1, 20)
	snap := mustOK(t, call(t, "POST", src.URLs()[0]+"/collections/c/shards/0/snapshots", nil))["result"].(map[string]any)
	body := call(t, "GET", src.URLs()[0]+"/collections/c/shards/0/snapshots/"+snap["name"].(string), nil).body
	store := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write(body) }))
	t.Cleanup(store.Close)
	return store.URL + "/bucket/c-0.snapshot?X-Amz-Signature=abc", snap["checksum"].(string)
}

// TestURLRecoveryCanBeDisabled states what a node with
// service.enable_snapshot_url_recovery: false answers (API.md 1.6, 8.9): 403
// for any http(s) location, while file:// locations and uploads still work.
func TestURLRecoveryCanBeDisabled(t *testing.T) {
	location, sum := serveSnapshot(t)
	c := start(t, qdrantemu.Options{Nodes: 1, DisableURLRecovery: true})
	u := c.URLs()[0]
	createCollection(t, u, "c", 1, 1, 0)
	for _, path := range []string{"/collections/c/shards/0/snapshots/recover", "/collections/c/snapshots/recover"} {
		r := call(t, "PUT", u+path, map[string]any{"location": location, "checksum": sum})
		if r.status != http.StatusForbidden || r.errorText(t) != "Forbidden: Snapshot recovery from remote URLs is disabled in the configuration" {
			t.Errorf("PUT %s from a URL: want 403 disabled, got %d %s", path, r.status, r.body)
		}
	}
	// The same bytes uploaded are recovered.
	body := call(t, "GET", location, nil).body
	mustOK(t, upload(t, u+"/collections/c/shards/0/snapshots/upload?priority=snapshot&checksum="+sum, "x.snapshot", body))
	if got := count(t, u, "c"); got != 20 {
		t.Errorf("count after the upload: want 20, got %d", got)
	}
}

// TestUnreachableHosts states that a node that cannot connect to the store
// fails a URL recovery as Qdrant fails on a refused connection: reqwest's send
// error, a 500 "Http request error" naming the URL (From<reqwest::Error> for
// StorageError). Other hosts stay reachable.
func TestUnreachableHosts(t *testing.T) {
	location, sum := serveSnapshot(t)
	host := mustParse(t, location).Host
	cases := map[string]struct {
		reason      string
		unreachable []string
		wantStatus  int
	}{
		"HostAndPort": {"The store's host:port is cut off.", []string{host}, http.StatusInternalServerError},
		"HostOnly":    {"A host name without port cuts every port.", []string{"127.0.0.1"}, http.StatusInternalServerError},
		"OtherHost":   {"Other hosts are reachable.", []string{"s3.example"}, http.StatusOK},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			c := start(t, qdrantemu.Options{Nodes: 1, UnreachableHosts: tc.unreachable})
			u := c.URLs()[0]
			createCollection(t, u, "c", 1, 1, 0)
			r := call(t, "PUT", u+"/collections/c/shards/0/snapshots/recover", map[string]any{"location": location, "checksum": sum, "priority": "snapshot"})
			if r.status != tc.wantStatus {
				t.Fatalf("%s\nwant %d, got %d %s", tc.reason, tc.wantStatus, r.status, r.body)
			}
			if tc.wantStatus != http.StatusOK {
				if want := "Service internal error: Http request error: error sending request for url (" + location + ")"; r.errorText(t) != want {
					t.Errorf("%s\nwant %q, got %q", tc.reason, want, r.errorText(t))
				}
			}
		})
	}
}

func mustParse(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// TestStreamIdleTimeout states that a streamed shard snapshot is aborted when
// its consumer stops reading for the idle timeout (5 minutes in Qdrant, API.md
// 3): the client sees the body cut short. A pause shorter than the timeout is
// harmless.
func TestStreamIdleTimeout(t *testing.T) {
	cases := map[string]struct {
		reason  string
		timeout time.Duration
		pause   time.Duration
		wantCut bool
	}{
		"PauseLongerThanTimeout":  {"The stream is aborted.", 200 * time.Millisecond, 1500 * time.Millisecond, true},
		"PauseShorterThanTimeout": {"The stream goes on.", time.Minute, 500 * time.Millisecond, false},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			c := start(t, qdrantemu.Options{Nodes: 1, StreamIdleTimeout: tc.timeout})
			u := c.URLs()[0]
			createCollection(t, u, "c", 1, 1, 10)
			// Far more than the socket buffers hold, so that the server
			// really waits for the reader.
			c.SetSnapshotPadding("c", 64<<20)
			req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, u+"/collections/c/shards/0/snapshot", nil)
			res, err := (&http.Client{Transport: &http.Transport{DisableCompression: true}}).Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close() //nolint:errcheck // Test.
			if _, err := io.ReadFull(res.Body, make([]byte, 1024)); err != nil {
				t.Fatal(err)
			}
			time.Sleep(tc.pause)
			n, err := io.Copy(io.Discard, res.Body)
			cut := err != nil
			if cut != tc.wantCut {
				t.Errorf("%s\nafter a %v pause with a %v timeout: want cut %v, got %d more bytes and %v", tc.reason, tc.pause, tc.timeout, tc.wantCut, n, err)
			}
			if cut && !errors.Is(err, io.ErrUnexpectedEOF) && !strings.Contains(err.Error(), "reset") {
				t.Errorf("an aborted stream should end without its final chunk, got %v", err)
			}
		})
	}
}

// TestHosts states that nodes listen on the addresses given, one each, so
// that every node can have the same port, as the pods behind a headless
// Service do; each answers there.
func TestHosts(t *testing.T) {
	// A port free on the first address; the others are distinct addresses,
	// so it is free there too.
	l, err := (&net.ListenConfig{}).Listen(t.Context(), "tcp", "127.0.0.2:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	_ = l.Close()
	hosts := []string{"127.0.0.2", "127.0.0.3", "127.0.0.4"}
	c := start(t, qdrantemu.Options{Nodes: 3, Hosts: hosts, Ports: []int{port, port, port}})
	var want []string
	for _, h := range hosts {
		want = append(want, "http://"+net.JoinHostPort(h, strconv.Itoa(port)))
	}
	if diff := cmp.Diff(want, c.URLs()); diff != "" {
		t.Fatalf("node URLs (-want +got):\n%s", diff)
	}
	for _, u := range c.URLs() {
		if r := call(t, "GET", u+"/", nil); r.status != http.StatusOK {
			t.Errorf("GET %s/: want 200, got %d %s", u, r.status, r.body)
		}
	}
}

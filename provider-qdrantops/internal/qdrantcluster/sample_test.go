package qdrantcluster

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/qdrantops/qdrantops/cluster/qdrantemu"
	"github.com/qdrantops/qdrantops/cluster/qdrantemu/openapicheck"
	"github.com/qdrantops/qdrantops/provider-qdrantops/internal/qdrant"
	"github.com/qdrantops/qdrantops/provider-qdrantops/internal/sample"
)

// scrolls records the bodies of scroll requests.
type scrolls struct {
	mu     sync.Mutex
	bodies []string
}

func (s *scrolls) observe(x qdrantemu.Exchange) {
	if strings.HasSuffix(x.Request.URL.Path, "/points/scroll") {
		s.mu.Lock()
		s.bodies = append(s.bodies, string(x.RequestBody))
		s.mu.Unlock()
	}
}

// startWithPoints starts a 3-node emulator holding collection "c" of 4
// shards with n numeric points and a few UUID ones, each with a payload.
func startWithPoints(t *testing.T, n int, uuids []string, seen *scrolls) *qdrantemu.Cluster {
	t.Helper()
	opts := qdrantemu.Options{Nodes: 3, Dir: t.TempDir()}
	var observers []func(qdrantemu.Exchange)
	if seen != nil {
		observers = append(observers, seen.observe)
	}
	if p := os.Getenv(openapicheck.EnvVar); p != "" {
		chk, err := openapicheck.Load(p)
		if err != nil {
			t.Fatal(err)
		}
		observers = append(observers, chk.Observe)
		t.Cleanup(func() { chk.Verify(t) })
	}
	opts.Observe = func(x qdrantemu.Exchange) {
		for _, o := range observers {
			o(x)
		}
	}
	emu, err := qdrantemu.Start(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(emu.Close)
	cl, err := qdrant.New(qdrant.Config{URL: emu.URLs()[0]})
	if err != nil {
		t.Fatal(err)
	}
	shards, rf := uint32(4), uint32(2)
	if err := cl.CreateCollection(t.Context(), "c", qdrant.CreateCollection{Vectors: json.RawMessage(`{"size":2,"distance":"Dot"}`), ShardNumber: &shards, ReplicationFactor: &rf}); err != nil {
		t.Fatal(err)
	}
	var pts []qdrant.Point
	for i := 1; i <= n; i++ {
		pts = append(pts, qdrant.Point{ID: qdrant.NumericPointID(uint64(i)), Vector: json.RawMessage(fmt.Sprintf("[%d.5,0.1]", i)),
			Payload: map[string]any{"rank": i, "tags": []string{"a", strconv.Itoa(i)}}})
	}
	for _, u := range uuids {
		pts = append(pts, qdrant.Point{ID: qdrant.UUIDPointID(u), Vector: json.RawMessage(`[1,2]`)})
	}
	for start := 0; start < len(pts); start += 500 {
		if err := cl.Upsert(t.Context(), "c", pts[start:min(start+500, len(pts))], true); err != nil {
			t.Fatal(err)
		}
	}
	return emu
}

func TestScrollIDsReadsEveryIDOnce(t *testing.T) {
	uuids := []string{"5c56c793-69f3-4fbf-87e6-c4bf54c28c26", "0b2f5d6e-1c3a-4e8b-9f7d-2a1b3c4d5e6f"}
	var seen scrolls
	emu := startWithPoints(t, 2345, uuids, &seen)
	c, err := Connect(t.Context(), Options{URL: emu.URLs()[0], PeerURLs: emu.URLs()})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	var pages []int
	if err := c.ScrollIDs(t.Context(), "c", func(ids []json.RawMessage) error {
		pages = append(pages, len(ids))
		for _, id := range ids {
			got = append(got, string(id))
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	var want []string
	for i := 1; i <= 2345; i++ {
		want = append(want, strconv.Itoa(i))
	}
	for _, u := range uuids {
		want = append(want, strconv.Quote(u))
	}
	sort.Strings(want)
	sort.Strings(got)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ids: -want, +got:\n%s", diff)
	}
	if diff := cmp.Diff([]int{1000, 1000, 347}, pages); diff != "" {
		t.Errorf("pages of at most 1000 ids: -want, +got:\n%s", diff)
	}
	// Ids only: no vector or payload was asked for.
	seen.mu.Lock()
	defer seen.mu.Unlock()
	if len(seen.bodies) != 3 {
		t.Errorf("want 3 scroll requests, saw %d", len(seen.bodies))
	}
	for _, b := range seen.bodies {
		var req struct {
			Limit       int  `json:"limit"`
			WithPayload bool `json:"with_payload"`
			WithVector  bool `json:"with_vector"`
		}
		if err := json.Unmarshal([]byte(b), &req); err != nil || req.WithPayload || req.WithVector || req.Limit != 1000 {
			t.Errorf("a scroll asked for vectors, payloads or pages of other than 1000 ids: %s", b)
		}
	}
}

// endless sits in front of a node and makes every scroll page point to a
// next page, going round between two offsets for ever.
func endless(t *testing.T, node string) (string, *atomic.Int32) {
	t.Helper()
	target, err := url.Parse(node)
	if err != nil {
		t.Fatal(err)
	}
	var scrolls atomic.Int32
	proxy := httputil.NewSingleHostReverseProxy(target)
	proxy.ModifyResponse = func(resp *http.Response) error {
		if !strings.HasSuffix(resp.Request.URL.Path, "/points/scroll") {
			return nil
		}
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			return err
		}
		var env map[string]json.RawMessage
		if err := json.Unmarshal(b, &env); err != nil {
			return err
		}
		var res map[string]any
		if err := json.Unmarshal(env["result"], &res); err != nil {
			return err
		}
		res["next_page_offset"] = 1 + scrolls.Add(1)%2
		env["result"], _ = json.Marshal(res)
		b, _ = json.Marshal(env)
		resp.Body = io.NopCloser(bytes.NewReader(b))
		resp.ContentLength = int64(len(b))
		resp.Header.Set("Content-Length", strconv.Itoa(len(b)))
		return nil
	}
	srv := httptest.NewServer(proxy)
	t.Cleanup(srv.Close)
	return srv.URL, &scrolls
}

func TestScrollIDsEndsOnAServerThatNeverDoes(t *testing.T) {
	emu := startWithPoints(t, 20, nil, nil)
	proxy, scrolls := endless(t, emu.URLs()[0])
	c, err := Connect(t.Context(), Options{URL: proxy, PeerURLs: []string{proxy}})
	if err != nil {
		t.Fatal(err)
	}
	err = c.ScrollIDs(t.Context(), "c", func([]json.RawMessage) error { return nil })
	if err == nil || !strings.Contains(err.Error(), "still more after 10 pages of 1000 for 20 points") {
		t.Errorf("want the scroll cut after a bounded number of pages, got %v", err)
	}
	if n := scrolls.Load(); n != 10 {
		t.Errorf("want 10 pages read, got %d", n)
	}
}

func TestRetrieveReadsVectorsAndPayloads(t *testing.T) {
	emu := startWithPoints(t, 30, []string{"5c56c793-69f3-4fbf-87e6-c4bf54c28c26"}, nil)
	c, err := Connect(t.Context(), Options{URL: emu.URLs()[0], PeerURLs: emu.URLs()})
	if err != nil {
		t.Fatal(err)
	}
	ids := []json.RawMessage{json.RawMessage(`7`), json.RawMessage(`"5c56c793-69f3-4fbf-87e6-c4bf54c28c26"`), json.RawMessage(`999`), json.RawMessage(`29`)}
	recs, err := c.Retrieve(t.Context(), "c", ids)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, r := range recs {
		d, err := sample.Digest(r.Vector, r.Payload)
		if err != nil {
			t.Fatal(err)
		}
		got[string(r.ID)] = d
	}
	digest := func(vector, payload string) string {
		d, err := sample.Digest(json.RawMessage(vector), json.RawMessage(payload))
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	// What was written, digested from its own text: the point that does
	// not exist is left out, a point without payload has the empty one.
	want := map[string]string{
		"7":                                      digest(`[7.5,0.1]`, `{"rank":7,"tags":["a","7"]}`),
		"29":                                     digest(`[29.5,0.1]`, `{"tags":["a","29"],"rank":29}`),
		`"5c56c793-69f3-4fbf-87e6-c4bf54c28c26"`: digest(`[1,2]`, `{}`),
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("digests of the points read: -want, +got:\n%s", diff)
	}
}

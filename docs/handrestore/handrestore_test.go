// Package handrestore tests docs/restore-by-hand.md by doing what it says: its
// sh blocks, in order and unchanged, run with bash against a real S3 server and
// emulated Qdrant clusters, restoring a backup that the provider's own backup
// code wrote. The tools are curl and jq from the machine and a stand-in for the
// AWS CLI's presign (./aws); the script sees only the variables the page names.
package handrestore

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/google/go-cmp/cmp"

	"github.com/qdrantops/qdrantops/cluster/qdrantemu"
	"github.com/qdrantops/qdrantops/cluster/qdrantemu/openapicheck"
	"github.com/qdrantops/qdrantops/cluster/s3server"
)

var srv *s3server.Server

func TestMain(m *testing.M) { s3server.Main(m, &srv) }

const (
	doc       = "../restore-by-hand.md"
	sourceKey = "source-api-key-f00d"
	targetKey = "target-api-key-beef"
)

// The collections of the source and what the test reads back from both sides.
var (
	collections = []string{"products", "tenants"}
	sampleIDs   = []int{1, 2, 3, 57, 101, 150, 199, 200}
)

func TestRestoreByHand(t *testing.T) {
	env := prepare(t)
	blocks := env.blocks

	for _, tc := range []struct {
		name  string
		nodes int
		// nodesVar names every node in QDRANT_NODES; otherwise the page's
		// default, QDRANT_URL alone, is used.
		nodesVar bool
	}{
		{name: "IntoOneNode", nodes: 1},
		{name: "IntoThreeNodes", nodes: 3, nodesVar: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dst := startTarget(t, tc.nodes)
			tg := target{url: dst.URLs()[0]}
			if tc.nodesVar {
				tg.nodes = dst.URLs()
			}
			out, err := env.run(t, strings.Join(blocks, "\n"), tg, env.backupPath)
			if err != nil {
				t.Fatalf("the page's script failed: %v\n%s", err, out)
			}
			env.checkNoSecrets(t, out)
			if !strings.Contains(out, "restore complete") {
				t.Errorf("the script ended without saying the restore is complete:\n%s", out)
			}
			if diff := compare(t, env.src, dst); diff != "" {
				t.Errorf("the restored collections differ from the source (-source +target):\n%s", diff)
			}
		})
	}

	// What follows proves that the test, and the page's own checks, notice
	// a step that is missing, in the wrong order, or a backup that is damaged.
	t.Run("WithoutIndexesAndAliasesTheTargetDiffers", func(t *testing.T) {
		dst := startTarget(t, 1)
		script := strings.Join(without(t, blocks, "/collections/aliases"), "\n")
		out, err := env.run(t, script, target{url: dst.URLs()[0]}, env.backupPath)
		if err != nil {
			t.Fatalf("the script without step 5 failed: %v\n%s", err, out)
		}
		diff := compare(t, env.src, dst)
		for _, want := range []string{"PayloadSchema", "alias_name"} {
			if !strings.Contains(diff, want) {
				t.Errorf("without step 5, the comparison did not see the missing %s:\n%s", want, diff)
			}
		}
	})
	t.Run("WithoutRecoveryTheCountsFail", func(t *testing.T) {
		dst := startTarget(t, 1)
		script := strings.Join(without(t, blocks, "/snapshots/recover"), "\n")
		out, err := env.run(t, script, target{url: dst.URLs()[0]}, env.backupPath)
		if err == nil || !strings.Contains(out, "some counts differ from the manifest") {
			t.Fatalf("without step 3, want the count check to fail the script; got %v:\n%s", err, out)
		}
	})
	t.Run("RecoveryBeforeCreationFails", func(t *testing.T) {
		dst := startTarget(t, 1)
		reordered := append([]string(nil), blocks...)
		create, recovery := index(t, blocks, "/shards\" \"$key\""), index(t, blocks, "/snapshots/recover")
		reordered[create], reordered[recovery] = reordered[recovery], reordered[create]
		out, err := env.run(t, strings.Join(reordered, "\n"), target{url: dst.URLs()[0]}, env.backupPath)
		if err == nil || !strings.Contains(out, "doesn't exist") {
			t.Fatalf("recovering before creating: want Qdrant's 404 to fail the script; got %v:\n%s", err, out)
		}
		env.checkNoSecrets(t, out)
	})
	t.Run("ShardKeysInAnotherOrderFail", func(t *testing.T) {
		dst := startTarget(t, 1)
		script := replace(t, strings.Join(blocks, "\n"), ".shardKeys[]? as $key", "(.shardKeys | reverse)[]? as $key")
		out, err := env.run(t, script, target{url: dst.URLs()[0]}, env.backupPath)
		if err == nil || !strings.Contains(out, "tenants: the new collection's shards") {
			t.Fatalf("shard keys created in another order: want the page's shard id check to fail; got %v:\n%s", err, out)
		}
	})
	t.Run("AnAliasTakenInTheTargetIsLeftAsItIs", func(t *testing.T) {
		dst := startTarget(t, 1)
		u := dst.URLs()[0]
		call(t, u, targetKey, "PUT", "/collections/other", `{"vectors": {"size": 4, "distance": "Dot"}}`)
		call(t, u, targetKey, "POST", "/collections/aliases", `{"actions": [{"create_alias": {"collection_name": "other", "alias_name": "catalog"}}]}`)
		out, err := env.run(t, strings.Join(blocks, "\n"), target{url: dst.URLs()[0]}, env.backupPath)
		if err != nil {
			t.Fatalf("the page's script failed: %v\n%s", err, out)
		}
		if !strings.Contains(out, "warning: alias catalog already points to other") {
			t.Errorf("the script did not warn about the alias it left:\n%s", out)
		}
		var got any
		decode(t, call(t, u, targetKey, "GET", "/aliases", ""), &got)
		want := map[string]any{"aliases": []any{map[string]any{"alias_name": "catalog", "collection_name": "other"}}}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("an alias of another collection was moved (-want +got):\n%s", diff)
		}
	})
	t.Run("AnOlderTargetIsRefused", func(t *testing.T) {
		dst := start(t, qdrantemu.Options{Nodes: 1, APIKey: targetKey, Version: "1.18.4"})
		out, err := env.run(t, strings.Join(blocks, "\n"), target{url: dst.URLs()[0]}, env.backupPath)
		if err == nil || !strings.Contains(out, "an older version: upgrade it first") {
			t.Fatalf("a target older than the backup: want the version check to fail the script; got %v:\n%s", err, out)
		}
		var cols struct{ Collections []any }
		decode(t, call(t, dst.URLs()[0], targetKey, "GET", "/collections", ""), &cols)
		if len(cols.Collections) != 0 {
			t.Errorf("the refused restore created collections: %v", cols.Collections)
		}
	})
	t.Run("DamagedShardIsRefused", func(t *testing.T) {
		root := env.backup(t, "damaged")
		// Another shard's snapshot in its place: a valid archive that only
		// the checksum tells from the right one.
		env.put(t, root+"/collections/products/shards/1.snapshot", env.get(t, root+"/collections/products/shards/0.snapshot"))
		dst := startTarget(t, 1)
		out, err := env.run(t, strings.Join(blocks, "\n"), target{url: dst.URLs()[0]}, root)
		if err == nil || !strings.Contains(out, "checksum mismatch") {
			t.Fatalf("a damaged shard object: want the checksum to fail the script; got %v:\n%s", err, out)
		}
		env.checkNoSecrets(t, out)
	})
	t.Run("AShardNoListedNodeHoldsFails", func(t *testing.T) {
		// Three nodes but only one named: the shards that node holds no
		// replica of cannot be placed, and the page says what to do.
		dst := startTarget(t, 3)
		out, err := env.run(t, strings.Join(blocks, "\n"), target{url: dst.URLs()[0]}, env.backupPath)
		if err == nil || !strings.Contains(out, "no node of QDRANT_NODES holds shard") {
			t.Fatalf("QDRANT_NODES missing nodes: want the script to stop and say so; got %v:\n%s", err, out)
		}
	})
	t.Run("MissingShardFailsWithoutShowingItsURL", func(t *testing.T) {
		root := env.backup(t, "missing")
		key := root + "/collections/tenants/shards/2.snapshot"
		if _, err := env.s3.DeleteObject(context.Background(), &s3.DeleteObjectInput{Bucket: aws.String(env.bucket), Key: aws.String(key)}); err != nil {
			t.Fatal(err)
		}
		dst := startTarget(t, 1)
		out, err := env.run(t, strings.Join(blocks, "\n"), target{url: unescaped(t, dst.URLs()[0])}, root)
		// Qdrant's message quotes the URL it could not download; the page
		// must show it only with its signature redacted.
		env.checkNoSecrets(t, out)
		if err == nil || !strings.Contains(out, "X-Amz-") || !strings.Contains(out, "REDACTED") {
			t.Fatalf("a missing shard object: want Qdrant's error, URL redacted, to fail the script; got %v:\n%s", err, out)
		}
	})
}

// fixture is what every run shares: the tools, the source and its backup.
type fixture struct {
	bin        string // holds aws, first on the script's PATH
	mkbackup   string
	tools      string // PATH entries for bash, curl and jq
	src        *qdrantemu.Cluster
	bucket     string
	s3         *s3.Client
	blocks     []string
	backupPath string
}

var buckets atomic.Int32

func prepare(t *testing.T) *fixture {
	t.Helper()
	e := &fixture{bin: t.TempDir(), s3: srv.Client(), bucket: fmt.Sprintf("handrestore-%d", buckets.Add(1))}
	e.tools = toolPath(t, "bash", "curl", "jq")
	e.mkbackup = build(t, e.bin)
	b, err := os.ReadFile(doc)
	if err != nil {
		t.Fatal(err)
	}
	e.blocks = shBlocks(string(b))
	if len(e.blocks) < 5 {
		t.Fatalf("%s has %d sh blocks; the procedure has more steps than that", doc, len(e.blocks))
	}
	e.src = startSource(t)
	if err := srv.CreateBucket(context.Background(), e.bucket); err != nil {
		t.Fatal(err)
	}
	e.backupPath = e.backup(t, "nightly")
	return e
}

// toolPath finds the programs the page uses. In CI a missing one fails the
// test: a page that is never run can rot unseen.
func toolPath(t *testing.T, names ...string) string {
	t.Helper()
	var dirs []string
	for _, n := range names {
		p, err := exec.LookPath(n)
		if err != nil {
			if os.Getenv("CI") != "" {
				t.Fatalf("%s is needed to follow docs/restore-by-hand.md: %v", n, err)
			}
			t.Skipf("%s is not installed: %v", n, err)
		}
		dirs = append(dirs, filepath.Dir(p))
	}
	return strings.Join(dirs, string(os.PathListSeparator))
}

// build builds the aws stand-in into bin, and mkbackup, which runs the
// provider's backup use case (see mkbackup/main.go for why it needs an
// overlay), and returns mkbackup's path.
func build(t *testing.T, bin string) string {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	src, err := filepath.Abs("mkbackup/main.go")
	if err != nil {
		t.Fatal(err)
	}
	pkg := "provider-qdrantops/internal/handrestoremkbackup"
	overlay, err := json.Marshal(map[string]any{"Replace": map[string]string{filepath.Join(root, pkg, "main.go"): src}})
	if err != nil {
		t.Fatal(err)
	}
	ov := filepath.Join(t.TempDir(), "overlay.json")
	if err := os.WriteFile(ov, overlay, 0o600); err != nil {
		t.Fatal(err)
	}
	mk := filepath.Join(t.TempDir(), "mkbackup")
	for _, args := range [][]string{
		{"build", "-o", filepath.Join(bin, "aws"), "./docs/handrestore/aws"},
		{"build", "-tags", "handrestore_overlay", "-overlay", ov, "-o", mk, "./" + pkg},
	} {
		cmd := exec.CommandContext(context.Background(), "go", args...)
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	return mk
}

var fence = regexp.MustCompile("(?ms)^```sh\n(.*?)^```$")

// shBlocks returns the page's sh blocks in order.
func shBlocks(md string) []string {
	var out []string
	for _, m := range fence.FindAllStringSubmatch(md, -1) {
		out = append(out, m[1])
	}
	return out
}

// index finds the one block that holds marker.
func index(t *testing.T, blocks []string, marker string) int {
	t.Helper()
	found := -1
	for i, b := range blocks {
		if strings.Contains(b, marker) {
			if found >= 0 {
				t.Fatalf("blocks %d and %d both hold %q", found, i, marker)
			}
			found = i
		}
	}
	if found < 0 {
		t.Fatalf("no block of %s holds %q: the page changed, update the test", doc, marker)
	}
	return found
}

func without(t *testing.T, blocks []string, marker string) []string {
	t.Helper()
	i := index(t, blocks, marker)
	return append(append([]string(nil), blocks[:i]...), blocks[i+1:]...)
}

func replace(t *testing.T, s, old, repl string) string {
	t.Helper()
	if strings.Count(s, old) != 1 {
		t.Fatalf("the script holds %q %d times, want once: the page changed, update the test", old, strings.Count(s, old))
	}
	return strings.Replace(s, old, repl, 1)
}

// run runs a script as the page says: bash -euo pipefail, with only the
// variables the page names. It returns stdout and stderr together.
// target is where a script restores: QDRANT_URL, and QDRANT_NODES when
// nodes is set.
type target struct {
	url   string
	nodes []string
}

func (e *fixture) run(t *testing.T, script string, tg target, backupPath string) (string, error) {
	t.Helper()
	dir := t.TempDir()
	file := filepath.Join(dir, "restore.sh")
	if err := os.WriteFile(file, []byte(script), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-euo", "pipefail", file)
	cmd.Dir = dir
	cmd.Env = []string{
		"PATH=" + e.bin + string(os.PathListSeparator) + e.tools,
		"HOME=" + dir,
		"BUCKET=" + e.bucket,
		"BACKUP_PATH=" + backupPath,
		"QDRANT_URL=" + tg.url,
		"QDRANT_API_KEY=" + targetKey,
		"AWS_ACCESS_KEY_ID=" + srv.AccessKey,
		"AWS_SECRET_ACCESS_KEY=" + srv.SecretKey,
		"AWS_REGION=" + srv.Region,
		"S3_ENDPOINT=" + srv.Endpoint,
	}
	if len(tg.nodes) > 0 {
		cmd.Env = append(cmd.Env, "QDRANT_NODES="+strings.Join(tg.nodes, " "))
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err := cmd.Run()
	t.Logf("the script ran for %s", time.Since(start).Round(time.Millisecond))
	return out.String(), err
}

var signature = regexp.MustCompile(`(?i)X-Amz-(Signature|Credential|Security-Token)=[^R&"\s]`)

// checkNoSecrets fails when the script showed a presigned URL's signature or
// credential, an S3 key or an API key.
func (e *fixture) checkNoSecrets(t *testing.T, out string) {
	t.Helper()
	if m := signature.FindString(out); m != "" {
		t.Errorf("the script printed a presigned URL (%q...):\n%s", m, out)
	}
	for what, s := range map[string]string{"the S3 access key": srv.AccessKey, "the S3 secret key": srv.SecretKey, "the API key": targetKey} {
		if strings.Contains(out, s) {
			t.Errorf("the script printed %s:\n%s", what, out)
		}
	}
}

// backup makes a backup of the source with the provider's backup use case
// and returns its folder, the page's BACKUP_PATH.
func (e *fixture) backup(t *testing.T, name string) string {
	t.Helper()
	cmd := exec.CommandContext(context.Background(), e.mkbackup, "-urls", strings.Join(e.src.URLs(), ","), "-api-key", sourceKey,
		"-endpoint", srv.Endpoint, "-region", srv.Region, "-bucket", e.bucket, "-prefix", "prod/", "-name", name)
	cmd.Env = append(os.Environ(), "S3_ACCESS_KEY="+srv.AccessKey, "S3_SECRET_KEY="+srv.SecretKey)
	out, err := cmd.Output()
	if err != nil {
		var stderr []byte
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			stderr = ee.Stderr
		}
		t.Fatalf("mkbackup: %v\n%s", err, stderr)
	}
	return path.Dir(strings.TrimSpace(string(out)))
}

func (e *fixture) get(t *testing.T, key string) []byte {
	t.Helper()
	out, err := e.s3.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String(e.bucket), Key: aws.String(key)})
	if err != nil {
		t.Fatal(err)
	}
	defer out.Body.Close() //nolint:errcheck // Read to the end below.
	b, err := io.ReadAll(out.Body)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func (e *fixture) put(t *testing.T, key string, b []byte) {
	t.Helper()
	if _, err := e.s3.PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String(e.bucket), Key: aws.String(key), Body: bytes.NewReader(b)}); err != nil {
		t.Fatal(err)
	}
}

// startSource starts a 3-node cluster holding, as clients made them through
// the REST API: products (automatic sharding, 3 shards, 2 replicas each,
// dense and sparse vectors, settings other than the defaults, two payload
// indexes, an alias) and tenants
// (custom sharding, keys eu then us with 2 shards each).
func startSource(t *testing.T) *qdrantemu.Cluster {
	t.Helper()
	c := start(t, qdrantemu.Options{Nodes: 3, APIKey: sourceKey})
	u := c.URLs()[0]
	do := func(method, p, body string) { call(t, u, sourceKey, method, p, body) }

	do("PUT", "/collections/products", `{"vectors": {"text": {"size": 4, "distance": "Cosine"}},
		"sparse_vectors": {"terms": {}}, "shard_number": 3, "replication_factor": 2,
		"hnsw_config": {"m": 32}, "wal_config": {"wal_capacity_mb": 64}, "optimizers_config": {"indexing_threshold": 5000},
		"quantization_config": {"scalar": {"type": "int8", "quantile": 0.99, "always_ram": true}},
		"strict_mode_config": {"enabled": true, "max_query_limit": 500}, "metadata": {"owner": "search-team"}}`)
	do("PUT", "/collections/products/points?wait=true", points(1, 200, func(i int) string {
		return fmt.Sprintf(`{"text": [%s], "terms": {"indices": [%d, %d], "values": [0.5, %d.25]}}`, vector(i), i, i+1000, i%7)
	}, ""))
	do("PUT", "/collections/products/index?wait=true", `{"field_name": "category", "field_schema": "keyword"}`)
	do("PUT", "/collections/products/index?wait=true", `{"field_name": "rank", "field_schema": {"type": "integer", "lookup": true, "range": true}}`)
	do("POST", "/collections/aliases", `{"actions": [{"create_alias": {"collection_name": "products", "alias_name": "catalog"}}]}`)

	do("PUT", "/collections/tenants", `{"vectors": {"size": 4, "distance": "Dot"}, "sharding_method": "custom", "shard_number": 2, "replication_factor": 2}`)
	do("PUT", "/collections/tenants/shards", `{"shard_key": "eu"}`)
	do("PUT", "/collections/tenants/shards", `{"shard_key": "us"}`)
	do("PUT", "/collections/tenants/points?wait=true", points(1, 120, func(i int) string { return "[" + vector(i) + "]" }, "eu"))
	do("PUT", "/collections/tenants/points?wait=true", points(121, 200, func(i int) string { return "[" + vector(i) + "]" }, "us"))
	return c
}

func vector(i int) string {
	return fmt.Sprintf("%.4f, %.4f, %.4f, %.4f", float64(i%13)/13, float64(i%7)/7, float64(i%5)/5, float64(i%3+1)/3)
}

func points(from, to int, vec func(int) string, shardKey string) string {
	var ps []string
	for i := from; i <= to; i++ {
		ps = append(ps, fmt.Sprintf(`{"id": %d, "vector": %s, "payload": {"category": %q, "rank": %d, "title": "item %d"}}`,
			i, vec(i), []string{"books", "music", "garden"}[i%3], i, i))
	}
	body := `{"points": [` + strings.Join(ps, ",") + `]`
	if shardKey != "" {
		body += fmt.Sprintf(`, "shard_key": %q`, shardKey)
	}
	return body + "}"
}

func startTarget(t *testing.T, nodes int) *qdrantemu.Cluster {
	t.Helper()
	return start(t, qdrantemu.Options{Nodes: nodes, APIKey: targetKey})
}

// start starts an emulated cluster. With QDRANT_OPENAPI set, every request
// the page's script makes, and every answer, is checked against Qdrant's own
// OpenAPI schema: the page is for real Qdrant, not for the emulator.
func start(t *testing.T, opts qdrantemu.Options) *qdrantemu.Cluster {
	t.Helper()
	opts.Dir = t.TempDir()
	if p := os.Getenv(openapicheck.EnvVar); p != "" {
		chk, err := openapicheck.Load(p)
		if err != nil {
			t.Fatal(err)
		}
		opts.Observe = chk.Observe
		t.Cleanup(func() { chk.Verify(t) })
	}
	c, err := qdrantemu.Start(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// call makes one REST call and returns its result; any status but 2xx fails
// the test.
func call(t *testing.T, base, key, method, p, body string) json.RawMessage {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(context.Background(), method, base+p, r)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("api-key", key)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close() //nolint:errcheck // Read to the end below.
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode/100 != 2 {
		t.Fatalf("%s %s: %s: %s", method, p, res.Status, b)
	}
	var envelope struct {
		Result json.RawMessage `json:"result"`
	}
	if err := json.Unmarshal(b, &envelope); err != nil {
		t.Fatalf("%s %s: %v", method, p, err)
	}
	return envelope.Result
}

// view is what the test compares between source and target, per collection.
type view struct {
	Count         uint64
	Config        map[string]any
	PayloadSchema map[string]any
	// Shards maps each shard id to its shard key and points.
	Shards   map[uint32]string
	Points   []any
	Inactive []string
}

// compare reads both clusters through their REST APIs and returns their
// differences, replication factors aside: the target's are capped at its
// number of peers.
func compare(t *testing.T, src, dst *qdrantemu.Cluster) string {
	t.Helper()
	peers := len(dst.Nodes())
	read := func(c *qdrantemu.Cluster, key string) (map[string]view, any) {
		out := map[string]view{}
		for _, name := range collections {
			out[name] = look(t, c, key, name, peers)
		}
		var aliases any
		decode(t, call(t, c.URLs()[0], key, "GET", "/aliases", ""), &aliases)
		return out, aliases
	}
	sv, sa := read(src, sourceKey)
	for name, v := range sv {
		// The source has every sample point: a comparison of nothing
		// with nothing would pass whatever the restore did.
		if len(v.Points) != len(sampleIDs) {
			t.Fatalf("the source's %s holds %d of the %d sample points", name, len(v.Points), len(sampleIDs))
		}
	}
	dv, da := read(dst, targetKey)
	return cmp.Diff(map[string]any{"collections": sv, "aliases": sa}, map[string]any{"collections": dv, "aliases": da})
}

func look(t *testing.T, c *qdrantemu.Cluster, key, name string, peers int) view {
	t.Helper()
	u := c.URLs()[0]
	var v view
	var count struct{ Count uint64 }
	decode(t, call(t, u, key, "POST", "/collections/"+name+"/points/count", `{"exact": true}`), &count)
	v.Count = count.Count

	var info struct {
		Config        map[string]any `json:"config"`
		PayloadSchema map[string]any `json:"payload_schema"`
	}
	decode(t, call(t, u, key, "GET", "/collections/"+name, ""), &info)
	v.Config = info.Config
	if p, ok := v.Config["params"].(map[string]any); ok {
		for _, f := range []string{"replication_factor", "write_consistency_factor"} {
			if n, ok := p[f].(float64); ok {
				p[f] = min(n, float64(peers))
			}
		}
	}
	v.PayloadSchema = info.PayloadSchema
	for _, e := range v.PayloadSchema {
		if m, ok := e.(map[string]any); ok {
			delete(m, "points") // Qdrant's count of indexed points is an estimate.
		}
	}

	v.Shards = map[uint32]string{}
	for _, n := range c.URLs() {
		var cl struct {
			LocalShards []struct {
				ShardID     uint32          `json:"shard_id"`
				ShardKey    json.RawMessage `json:"shard_key"`
				PointsCount int             `json:"points_count"`
				State       string          `json:"state"`
			} `json:"local_shards"`
		}
		decode(t, call(t, n, key, "GET", "/collections/"+name+"/cluster", ""), &cl)
		for _, s := range cl.LocalShards {
			v.Shards[s.ShardID] = fmt.Sprintf("key %s, %d points", s.ShardKey, s.PointsCount)
			if s.State != "Active" {
				v.Inactive = append(v.Inactive, fmt.Sprintf("shard %d on %s: %s", s.ShardID, n, s.State))
			}
		}
	}

	ids, err := json.Marshal(sampleIDs)
	if err != nil {
		t.Fatal(err)
	}
	var pts []map[string]any
	decode(t, call(t, u, key, "POST", "/collections/"+name+"/points", fmt.Sprintf(`{"ids": %s, "with_vector": true, "with_payload": true}`, ids)), &pts)
	sort.Slice(pts, func(i, j int) bool { return fmt.Sprint(pts[i]["id"]) < fmt.Sprint(pts[j]["id"]) })
	for _, p := range pts {
		v.Points = append(v.Points, p)
	}
	return v
}

func decode(t *testing.T, raw json.RawMessage, v any) {
	t.Helper()
	if err := json.Unmarshal(raw, v); err != nil {
		t.Fatalf("cannot parse %s: %v", raw, err)
	}
}

// unescaped serves a node's API through a proxy that writes JSON as Qdrant
// does: the emulator's encoder escapes '&' as \u0026, Qdrant's does not, and
// a URL in an error message must be redacted in the form Qdrant sends.
func unescaped(t *testing.T, node string) string {
	t.Helper()
	u, err := url.Parse(node)
	if err != nil {
		t.Fatal(err)
	}
	p := httputil.NewSingleHostReverseProxy(u)
	p.ModifyResponse = func(res *http.Response) error {
		b, err := io.ReadAll(res.Body)
		_ = res.Body.Close()
		if err != nil {
			return err
		}
		b = bytes.ReplaceAll(b, []byte(`\u0026`), []byte("&"))
		res.Body = io.NopCloser(bytes.NewReader(b))
		res.ContentLength = int64(len(b))
		res.Header.Set("Content-Length", strconv.Itoa(len(b)))
		return nil
	}
	proxy := httptest.NewServer(p)
	t.Cleanup(proxy.Close)
	return proxy.URL
}

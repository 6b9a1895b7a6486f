package manifest

import (
	"encoding/json"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

const sum = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"

type modifier func(*Manifest)

func manifest(mods ...modifier) Manifest {
	m := Manifest{
		FormatVersion: FormatVersion,
		Backup:        BackupRef{Namespace: "team-a", Name: "nightly", UID: "4b0e3c1e-8d0c-4d8e-9a55-0c3f6f0d2a11"},
		Cluster:       "search",
		QdrantVersion: "1.19.0",
		StartedAt:     time.Date(2026, 11, 27, 2, 0, 0, 0, time.UTC),
		CompletedAt:   time.Date(2026, 11, 27, 2, 5, 0, 0, time.UTC),
		Collections: []Collection{{
			Name: "products", ShardNumber: 2, ReplicationFactor: 2, ShardingMethod: "auto",
			Config: json.RawMessage(`{"params":{"shard_number":2}}`),
			Shards: []Shard{
				{ID: 1, Object: ShardObject("products", 1), SizeBytes: 10, SHA256: sum, SourcePeer: 2},
				{ID: 0, Object: ShardObject("products", 0), SizeBytes: 20, SHA256: sum, SourcePeer: 1},
			},
		}},
	}
	for _, f := range mods {
		f(&m)
	}
	return m
}

func withSample(r SampleRef) modifier {
	return func(m *Manifest) { m.Collections[0].Sample = &r }
}

func withPointsAfter(n uint64) modifier {
	return func(m *Manifest) { m.Collections[0].PointsAfter = &n }
}

func withShards(s ...Shard) modifier { return func(m *Manifest) { m.Collections[0].Shards = s } }

// shard is shard id of the fixture's collection, with its own object key.
func shard(id uint32, size int64, sha string) Shard {
	return Shard{ID: id, Object: ShardObject("products", id), SizeBytes: size, SHA256: sha}
}

func TestValidate(t *testing.T) {
	cases := map[string]struct {
		reason string
		m      Manifest
		want   string // "" for valid
	}{
		"Whole":               {"Every shard once, with size and checksum.", manifest(), ""},
		"MissingShard":        {"A shard of shard_number missing is not a backup.", manifest(withShards(shard(0, 1, sum))), `collection "products": shard 1 is missing`},
		"DuplicateShard":      {"A shard twice is wrong.", manifest(withShards(shard(0, 1, sum), shard(0, 1, sum), shard(1, 1, sum))), "shard 0 appears twice"},
		"ExtraShard":          {"More shards than shard_number is wrong.", manifest(withShards(shard(0, 1, sum), shard(1, 1, sum), shard(2, 1, sum))), "3 shards for shard_number 2"},
		"BadChecksum":         {"Every shard has a sha256.", manifest(withShards(shard(0, 1, "x"), shard(1, 1, sum))), "shard 0 has no valid sha256"},
		"ForeignObject":       {"A shard's object is where the layout puts it, nowhere else.", manifest(withShards(shard(0, 1, sum), Shard{ID: 1, Object: "../../team-b/search/nightly/collections/products/shards/1.snapshot", SizeBytes: 1, SHA256: sum})), `shard 1 has object "../../team-b`},
		"NoUID":               {"A manifest names the Backup it belongs to.", manifest(func(m *Manifest) { m.Backup.UID = "" }), "names no Backup uid"},
		"DotDotCollection":    {"A collection name cannot climb out of its place in a key.", manifest(func(m *Manifest) { m.Collections[0].Name = ".." }), `the name ".."`},
		"EmptyShard":          {"A snapshot has bytes.", manifest(withShards(shard(0, 0, sum), shard(1, 1, sum))), "shard 0 is empty"},
		"DuplicateCollection": {"A collection appears once.", manifest(func(m *Manifest) { m.Collections = append(m.Collections, m.Collections[0]) }), `collection "products" appears twice`},
		"CustomSharding": {"Custom sharding has no fixed id range.", manifest(func(m *Manifest) {
			m.Collections[0].ShardingMethod = "custom"
			m.Collections[0].ShardKeys = []json.RawMessage{json.RawMessage(`"eu"`)}
			m.Collections[0].Shards = []Shard{{ID: 7, ShardKey: json.RawMessage(`"eu"`), Object: ShardObject("products", 7), SizeBytes: 1, SHA256: sum}}
		}), ""},
		"WrongVersion": {"Only known formats are valid.", manifest(func(m *Manifest) { m.FormatVersion = 9 }), "format version 9, want 1"},
		"Sample":       {"A sample where the layout puts it, with size and checksum.", manifest(withSample(SampleRef{Object: SampleObject("products"), SizeBytes: 5, SHA256: sum, Points: 3})), ""},
		"ForeignSample": {"A sample's object is where the layout puts it, nowhere else.", manifest(withSample(SampleRef{Object: "../other/collections/products/sample.json", SizeBytes: 5, SHA256: sum})),
			`sample has object "../other/collections/products/sample.json", want "collections/products/sample.json"`},
		"OtherCollectionsSample": {"Not another collection's either.", manifest(withSample(SampleRef{Object: SampleObject("reviews"), SizeBytes: 5, SHA256: sum})), `sample has object "collections/reviews/sample.json"`},
		"SampleChecksum":         {"A sample has a sha256.", manifest(withSample(SampleRef{Object: SampleObject("products"), SizeBytes: 5, SHA256: "nope"})), "sample has no valid sha256"},
		"EmptySample":            {"A sample file has bytes, even with no points.", manifest(withSample(SampleRef{Object: SampleObject("products"), SHA256: sum})), "sample is empty"},
		"NegativeSample":         {"A sample counts its points.", manifest(withSample(SampleRef{Object: SampleObject("products"), SizeBytes: 5, SHA256: sum, Points: -1})), "sample of -1 points"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			err := tc.m.Validate()
			got := ""
			if err != nil {
				got = err.Error()
			}
			if tc.want == "" && got != "" || tc.want != "" && !strings.Contains(got, tc.want) {
				t.Errorf("%s\nValidate(): want %q, got %q", tc.reason, tc.want, got)
			}
		})
	}
}

func TestEncodeDecodeRoundTrip(t *testing.T) {
	in := manifest(withPointsAfter(7), withSample(SampleRef{Object: SampleObject("products"), SizeBytes: 9, SHA256: sum, Points: 2}))
	b, err := Encode(in)
	if err != nil {
		t.Fatal(err)
	}
	// The same backup, its collections, shards and aliases listed in another
	// order, encodes to the same bytes.
	shuffled := manifest(func(m *Manifest) {
		m.Collections[0].Aliases = []string{"b", "a"}
		m.Collections = append(m.Collections, Collection{Name: "alpha", ShardNumber: 1, ShardingMethod: "auto",
			Shards: []Shard{{ID: 0, Object: ShardObject("alpha", 0), SizeBytes: 1, SHA256: sum}}})
	})
	sorted := manifest(func(m *Manifest) {
		m.Collections[0].Aliases = []string{"a", "b"}
		m.Collections[0].Shards[0], m.Collections[0].Shards[1] = m.Collections[0].Shards[1], m.Collections[0].Shards[0]
		m.Collections = append([]Collection{{Name: "alpha", ShardNumber: 1, ShardingMethod: "auto",
			Shards: []Shard{{ID: 0, Object: ShardObject("alpha", 0), SizeBytes: 1, SHA256: sum}}}}, m.Collections...)
	})
	a, err := Encode(shuffled)
	if err != nil {
		t.Fatal(err)
	}
	c, err := Encode(sorted)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(string(c), string(a)); diff != "" {
		t.Errorf("Encode depends on the order of its input: -sorted, +shuffled:\n%s", diff)
	}
	out, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	want := manifest(withPointsAfter(7), withSample(SampleRef{Object: SampleObject("products"), SizeBytes: 9, SHA256: sum, Points: 2}))
	// Encoding sorts shards by id.
	want.Collections[0].Shards[0], want.Collections[0].Shards[1] = want.Collections[0].Shards[1], want.Collections[0].Shards[0]
	// Indentation reflows raw JSON; compare it by value.
	byValue := cmp.Transformer("json", func(r json.RawMessage) any {
		var v any
		_ = json.Unmarshal(r, &v)
		return v
	})
	if diff := cmp.Diff(want, out, byValue); diff != "" {
		t.Errorf("Decode(Encode(m)): -want, +got:\n%s", diff)
	}
	if out.SizeBytes() != 30 {
		t.Errorf("SizeBytes: want 30, got %d", out.SizeBytes())
	}
}

func TestDecodeRefuses(t *testing.T) {
	cases := map[string]struct {
		reason string
		in     string
		want   string
	}{
		"NotJSON":       {"Garbage is not a manifest.", "not json", "cannot parse manifest"},
		"FutureVersion": {"A newer format is refused, naming both versions.", `{"formatVersion": 2}`, "manifest format version 2 is not supported (this provider reads version 1)"},
		"Incomplete":    {"A manifest missing shards is refused.", `{"formatVersion": 1, "backup": {"uid": "u"}, "collections": [{"name": "c", "shardNumber": 1, "shards": []}]}`, `shard 0 is missing`},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := Decode([]byte(tc.in))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("%s\nDecode: want error containing %q, got %v", tc.reason, tc.want, err)
			}
		})
	}
}

// A manifest is read from a bucket a tenant may write to: however it is
// crafted, reading it allocates and reports in proportion to its bytes, not
// to the counts it claims.
func TestDecodeBounded(t *testing.T) {
	// maxMessage bounds a refusal's text: it ends up in a status and an
	// Event, which have size limits of their own.
	const maxMessage = 2048
	// maxAlloc bounds what refusing a manifest of a few hundred bytes may
	// allocate. Looping over its shard_number allocated tens of GiB.
	const maxAlloc = 1 << 20
	cases := map[string]struct {
		reason string
		in     string
		want   string
	}{
		"HugeShardNumber": {"A shard_number past the bound is refused at once, in one fault.",
			`{"formatVersion":1,"backup":{"namespace":"a","name":"b","uid":"u"},"qdrantVersion":"1.19.0","collections":[{"name":"c","shardNumber":4294967295,"shards":[]}]}`,
			`collection "c": shard_number 4294967295 and 0 shards, more than the 65536 a collection may have`},
		"ManyShardsMissing": {"200000 missing shards are refused in one fault.",
			`{"formatVersion":1,"backup":{"uid":"u"},"collections":[{"name":"c","shardNumber":200000,"shards":[]}]}`,
			`collection "c": shard_number 200000 and 0 shards, more than the 65536`},
		"AllShardsMissing": {"Within the bound, every missing shard is still one fault, naming the first.",
			`{"formatVersion":1,"backup":{"uid":"u"},"collections":[{"name":"c","shardNumber":65536,"shards":[]}]}`,
			`collection "c": shard 0 is missing (0 of shard_number 65536 shards present)`},
		"HugeShardNumberCustom": {"The bound holds whatever the sharding method.",
			`{"formatVersion":1,"backup":{"uid":"u"},"collections":[{"name":"c","shardNumber":4294967295,"shardingMethod":"custom","shards":[]}]}`,
			`more than the 65536 a collection may have`},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			var err error
			alloc := allocated(func() { _, err = Decode([]byte(tc.in)) })
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("%s\nDecode: want error containing %q, got %v", tc.reason, tc.want, err)
			}
			if err != nil && len(err.Error()) > maxMessage {
				t.Errorf("%s\nDecode: error of %d bytes, want at most %d", tc.reason, len(err.Error()), maxMessage)
			}
			if alloc > maxAlloc {
				t.Errorf("%s\nDecode allocated %d bytes, want at most %d", tc.reason, alloc, maxAlloc)
			}
		})
	}
}

// allocated is how many bytes f allocates.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// Validate's error names the first faults and counts the rest, however many
// the manifest has.
func TestValidateBounded(t *testing.T) {
	const maxMessage = 2048
	// badShards are n shards of the fixture's collection, each with three
	// faults: no checksum, a foreign object, no bytes.
	badShards := func(n int) modifier {
		return func(m *Manifest) {
			m.Collections[0].ShardNumber = uint32(n)
			m.Collections[0].Shards = make([]Shard, n)
			for i := range m.Collections[0].Shards {
				m.Collections[0].Shards[i] = Shard{ID: uint32(i), Object: "elsewhere/" + strconv.Itoa(i)}
			}
		}
	}
	collections := func(n int) modifier {
		return func(m *Manifest) {
			m.Collections = make([]Collection, n)
			for i := range m.Collections {
				m.Collections[i] = Collection{Name: "c" + strconv.Itoa(i), ShardingMethod: "auto"}
			}
		}
	}
	cases := map[string]struct {
		reason string
		m      Manifest
		want   []string // substrings of the error, "" none
	}{
		"ManyFaults": {"Of 65536 shards' 196608 faults, the first ten are named and the others counted.", manifest(badShards(MaxShards)),
			[]string{`collection "products": shard 0 has no valid sha256`, "and 196598 more"}},
		"TooManyShards": {"More shards than the bound are refused without looking at each.", manifest(badShards(MaxShards + 1)),
			[]string{`collection "products": shard_number 65537 and 65537 shards, more than the 65536 a collection may have`}},
		"MaxCollections": {"As many collections as the bound allows is a valid manifest.", manifest(collections(MaxCollections)), nil},
		"TooManyCollections": {"More collections than the bound are refused in one fault.", manifest(collections(MaxCollections + 1)),
			[]string{"10001 collections, more than the 10000 a manifest may hold"}},
		"ShardOutOfRange": {"An automatic shard's id is below shard_number.", manifest(withShards(shard(0, 1, sum), shard(5, 1, sum))),
			[]string{"shard 5 is out of range for shard_number 2", "shard 1 is missing (1 of shard_number 2 shards present)"}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			err := tc.m.Validate()
			if len(tc.want) == 0 {
				if err != nil {
					t.Errorf("%s\nValidate(): want nil, got %v", tc.reason, err)
				}
				return
			}
			if err == nil {
				t.Fatalf("%s\nValidate(): want an error, got nil", tc.reason)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("%s\nValidate(): want error containing %q, got %q", tc.reason, w, err)
				}
			}
			if len(err.Error()) > maxMessage {
				t.Errorf("%s\nValidate(): error of %d bytes, want at most %d", tc.reason, len(err.Error()), maxMessage)
			}
		})
	}
}

// A manifest written before counts after the backup and samples were
// recorded still decodes, and says nothing about them.
func TestDecodeWithoutSampleOrCountAfter(t *testing.T) {
	old := `{"formatVersion": 1, "backup": {"namespace": "team-a", "name": "nightly", "uid": "u"}, "cluster": "search",
		"collections": [{"name": "c", "shardNumber": 1, "shardingMethod": "auto", "points": 12,
		"shards": [{"id": 0, "object": "collections/c/shards/0.snapshot", "sizeBytes": 3, "sha256": "` + sum + `"}]}]}`
	m, err := Decode([]byte(old))
	if err != nil {
		t.Fatal(err)
	}
	c := m.Collections[0]
	if c.PointsAfter != nil || c.Sample != nil || c.WrittenDuring() {
		t.Errorf("an older manifest: want no count after, no sample, not written during; got %v, %+v, %v", c.PointsAfter, c.Sample, c.WrittenDuring())
	}
	b, err := Encode(m)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), "pointsAfter") || strings.Contains(string(b), "sample") {
		t.Errorf("an older manifest encodes fields it did not have:\n%s", b)
	}
}

func TestWrittenDuring(t *testing.T) {
	after := func(n uint64) *uint64 { return &n }
	cases := map[string]struct {
		reason string
		c      Collection
		want   bool
	}{
		"Unknown":   {"An older manifest does not know.", Collection{Points: 5}, false},
		"Unchanged": {"The same count before and after.", Collection{Points: 5, PointsAfter: after(5)}, false},
		"Grew":      {"Points added during the backup.", Collection{Points: 5, PointsAfter: after(6)}, true},
		"Shrank":    {"Points deleted during the backup.", Collection{Points: 5, PointsAfter: after(0)}, true},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if got := tc.c.WrittenDuring(); got != tc.want {
				t.Errorf("%s\nWrittenDuring(): want %v, got %v", tc.reason, tc.want, got)
			}
		})
	}
}

func TestLayout(t *testing.T) {
	cases := map[string]struct {
		reason string
		l      Layout
		root   string
	}{
		"NoPrefix":        {"Without a prefix the namespace leads.", Layout{Namespace: "ns", Cluster: "c", Backup: "b"}, "ns/c/b/"},
		"PrefixWithSlash": {"A prefix ending in a slash is used as is.", Layout{Prefix: "prod/", Namespace: "ns", Cluster: "c", Backup: "b"}, "prod/ns/c/b/"},
		"PrefixNoSlash":   {"A prefix without one gets one.", Layout{Prefix: "prod", Namespace: "ns", Cluster: "c", Backup: "b"}, "prod/ns/c/b/"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if got := tc.l.Root(); got != tc.root {
				t.Errorf("%s\nRoot(): want %q, got %q", tc.reason, tc.root, got)
			}
			if got := tc.l.ManifestKey(); got != tc.root+"manifest.json" {
				t.Errorf("%s\nManifestKey(): got %q", tc.reason, got)
			}
			if got := tc.l.Key(ShardObject("products", 3)); got != tc.root+"collections/products/shards/3.snapshot" {
				t.Errorf("%s\nshard key: got %q", tc.reason, got)
			}
		})
	}
	for in, want := range map[string]string{"prod/ns/c/b": "prod/ns/c/b/", "prod/ns/c/b/manifest.json": "prod/ns/c/b/", "/x/": "x/"} {
		if got := RootOf(in); got != want {
			t.Errorf("RootOf(%q): want %q, got %q", in, want, got)
		}
	}
}

func TestLayoutValidate(t *testing.T) {
	ok := Layout{Prefix: "prod/eu/", Namespace: "team-a", Cluster: "search", Backup: "nightly"}
	cases := map[string]struct {
		reason string
		l      Layout
		want   error
	}{
		"Valid":            {"Plain names and a prefix of several segments.", ok, nil},
		"DotDotCluster":    {"A cluster named .. would put the root in another namespace.", Layout{Namespace: "team-a", Cluster: "..", Backup: "b"}, ErrBadKey},
		"DotBackup":        {"A backup named . would share its cluster's folder.", Layout{Namespace: "team-a", Cluster: "c", Backup: "."}, ErrBadKey},
		"SlashInCluster":   {"A slash adds a segment.", Layout{Namespace: "team-a", Cluster: "a/b", Backup: "b"}, ErrBadKey},
		"EmptyCluster":     {"An empty segment collapses the layout.", Layout{Namespace: "team-a", Backup: "b"}, ErrBadKey},
		"DotDotInPrefix":   {"A prefix cannot climb either.", Layout{Prefix: "prod/../", Namespace: "team-a", Cluster: "c", Backup: "b"}, ErrBadKey},
		"LeadingSlash":     {"A prefix never starts with a slash.", Layout{Prefix: "/prod/", Namespace: "team-a", Cluster: "c", Backup: "b"}, ErrBadKey},
		"DoubleSlash":      {"Nor holds an empty segment.", Layout{Prefix: "prod//x/", Namespace: "team-a", Cluster: "c", Backup: "b"}, ErrBadKey},
		"ControlCharacter": {"Control characters do not belong in keys.", Layout{Namespace: "team-a", Cluster: "c\n", Backup: "b"}, ErrBadKey},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, tc.l.Validate(), cmpopts.EquateErrors()); diff != "" {
				t.Errorf("%s\nValidate(): -want, +got:\n%s", tc.reason, diff)
			}
		})
	}
	// Keys are concatenated, never resolved: what Validate passed stays put.
	if got, want := ok.ManifestKey(), "prod/eu/team-a/search/nightly/manifest.json"; got != want {
		t.Errorf("ManifestKey: want %q, got %q", want, got)
	}
	if !IsSampleObject(SampleObject("products")) || IsSampleObject("x/"+SampleObject("products")) || IsSampleObject(ShardObject("products", 1)) || IsShardObject(SampleObject("products")) {
		t.Error("IsSampleObject must match exactly the keys SampleObject makes, and no shard's")
	}
	if got, want := ok.Key(SampleObject("products")), "prod/eu/team-a/search/nightly/collections/products/sample.json"; got != want {
		t.Errorf("sample key: want %q, got %q", want, got)
	}
	if !IsShardObject(ShardObject("products", 12)) || IsShardObject("x/y/z/"+ShardObject("products", 1)) || IsShardObject(ManifestName) {
		t.Error("IsShardObject must match exactly the keys ShardObject makes")
	}
}

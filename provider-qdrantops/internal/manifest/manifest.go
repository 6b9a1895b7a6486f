// Package manifest defines a backup's manifest: the record, written last, of
// every shard snapshot a backup holds, with its checksum, and of what is
// needed to recreate each collection. No manifest means no backup.
package manifest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"time"
)

// FormatVersion is the manifest format this code writes and reads.
const FormatVersion = 1

// A Manifest describes a complete backup.
type Manifest struct {
	FormatVersion int          `json:"formatVersion"`
	Backup        BackupRef    `json:"backup"`
	Cluster       string       `json:"cluster"`
	QdrantVersion string       `json:"qdrantVersion"`
	StartedAt     time.Time    `json:"startedAt"`
	CompletedAt   time.Time    `json:"completedAt"`
	Collections   []Collection `json:"collections"`
}

// BackupRef names the Backup resource that wrote the manifest.
type BackupRef struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	UID       string `json:"uid,omitempty"`
}

// A Collection is one backed-up collection and what recreating it needs.
type Collection struct {
	Name              string `json:"name"`
	ShardNumber       uint32 `json:"shardNumber"`
	ReplicationFactor uint32 `json:"replicationFactor"`
	// ShardingMethod is "auto" or "custom".
	ShardingMethod string `json:"shardingMethod"`
	// Config is the collection's configuration exactly as Qdrant reported it.
	Config json.RawMessage `json:"config"`
	// ShardKeys of a custom-sharded collection.
	ShardKeys      []json.RawMessage       `json:"shardKeys,omitempty"`
	PayloadIndexes map[string]PayloadIndex `json:"payloadIndexes,omitempty"`
	Aliases        []string                `json:"aliases,omitempty"`
	// Points counted when the backup started. Shards are snapshotted one by
	// one, so this is what a restore should expect, not a guarantee.
	Points uint64 `json:"points"`
	// PointsAfter is the exact count once every shard of the collection was
	// streamed. Manifests written before it was recorded lack it.
	PointsAfter *uint64 `json:"pointsAfter,omitempty"`
	// Sample is the collection's point sample, read after its shards were
	// streamed. Manifests written before samples were recorded lack it.
	Sample *SampleRef `json:"sample,omitempty"`
	Shards []Shard    `json:"shards"`
}

// WrittenDuring says whether the collection was written to while it was
// backed up: its count changed between the start and the end of the backup.
// Its shards were then snapshotted at different moments, and a restore's
// count or sample may differ from the manifest's without anything being
// lost. An unchanged count does not prove that nothing was written.
func (c Collection) WrittenDuring() bool { return c.PointsAfter != nil && *c.PointsAfter != c.Points }

// A SampleRef records a collection's sample file (see package sample).
type SampleRef struct {
	// Object is the file's key relative to the backup's root.
	Object    string `json:"object"`
	SizeBytes int64  `json:"sizeBytes"`
	SHA256    string `json:"sha256"`
	// Points is how many points the file lists.
	Points int `json:"points"`
}

// A PayloadIndex is an index on a payload field.
type PayloadIndex struct {
	DataType string          `json:"dataType"`
	Params   json.RawMessage `json:"params,omitempty"`
}

// A Shard is one shard snapshot object.
type Shard struct {
	ID       uint32          `json:"id"`
	ShardKey json.RawMessage `json:"shardKey,omitempty"`
	// Object is the snapshot's key relative to the backup's root.
	Object     string `json:"object"`
	SizeBytes  int64  `json:"sizeBytes"`
	SHA256     string `json:"sha256"`
	SourcePeer uint64 `json:"sourcePeer"`
}

var sha256Hex = regexp.MustCompile(`^[0-9a-f]{64}$`)

// Encode renders a manifest as indented JSON with collections and shards in
// a stable order, so that the same backup always has the same checksum.
func Encode(m Manifest) ([]byte, error) {
	if err := m.Validate(); err != nil {
		return nil, err
	}
	m.Collections = append([]Collection(nil), m.Collections...)
	sort.Slice(m.Collections, func(i, j int) bool { return m.Collections[i].Name < m.Collections[j].Name })
	for i := range m.Collections {
		c := &m.Collections[i]
		c.Shards = append([]Shard(nil), c.Shards...)
		sort.Slice(c.Shards, func(a, b int) bool { return c.Shards[a].ID < c.Shards[b].ID })
		c.Aliases = append([]string(nil), c.Aliases...)
		sort.Strings(c.Aliases)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	if err := enc.Encode(m); err != nil {
		return nil, fmt.Errorf("cannot encode manifest: %w", err)
	}
	return buf.Bytes(), nil
}

// Decode parses and validates a manifest.
func Decode(b []byte) (Manifest, error) {
	var m Manifest
	d := json.NewDecoder(bytes.NewReader(b))
	if err := d.Decode(&m); err != nil {
		return Manifest{}, fmt.Errorf("cannot parse manifest: %w", err)
	}
	if m.FormatVersion != FormatVersion {
		return Manifest{}, fmt.Errorf("manifest format version %d is not supported (this provider reads version %d)", m.FormatVersion, FormatVersion)
	}
	if err := m.Validate(); err != nil {
		return Manifest{}, err
	}
	return m, nil
}

// Bounds of what a manifest may describe. A manifest is read from a bucket
// that a tenant may write to: its counts are checked before anything loops
// over them, so a crafted manifest of a few bytes cannot make a reader
// allocate without bound.
const (
	// MaxCollections bounds the collections of one manifest.
	MaxCollections = 10000
	// MaxShards bounds a collection's shard_number and its shards.
	MaxShards = 65536
	// maxErrors is how many of a manifest's faults Validate spells out;
	// it counts the others.
	maxErrors = 10
)

// faults collects a manifest's faults: the first maxErrors of them, and how
// many more there were. It formats only those it keeps.
type faults struct {
	errs []error
	more int
}

func (f *faults) add(format string, args ...any) {
	if len(f.errs) == maxErrors {
		f.more++
		return
	}
	f.errs = append(f.errs, fmt.Errorf(format, args...))
}

func (f *faults) err() error {
	if len(f.errs) == 0 {
		return nil
	}
	errs := f.errs
	if f.more > 0 {
		errs = append(errs[:len(errs):len(errs)], fmt.Errorf("and %d more", f.more))
	}
	return fmt.Errorf("invalid manifest: %w", errors.Join(errs...))
}

// Validate checks that the manifest describes a whole backup: every shard of
// every collection exactly once, each with a size and a checksum. Its error
// names the first faults found and counts the others.
func (m Manifest) Validate() error {
	var f faults
	if m.FormatVersion != FormatVersion {
		f.add("format version %d, want %d", m.FormatVersion, FormatVersion)
	}
	if m.Backup.UID == "" {
		f.add("it names no Backup uid: a manifest belongs to one Backup")
	}
	if len(m.Collections) > MaxCollections {
		f.add("%d collections, more than the %d a manifest may hold", len(m.Collections), MaxCollections)
		return f.err()
	}
	names := map[string]bool{}
	for _, c := range m.Collections {
		if err := ValidSegment(c.Name); err != nil {
			f.add("collection name: %w", err)
			continue
		}
		if names[c.Name] {
			f.add("collection %q appears twice", c.Name)
		}
		names[c.Name] = true
		c.validate(&f)
	}
	return f.err()
}

func (c Collection) validate(f *faults) {
	if c.ShardNumber > MaxShards || len(c.Shards) > MaxShards {
		// Checked before any loop: a shard_number or a shard list past the
		// bound is refused without looking at a single shard.
		f.add("collection %q: shard_number %d and %d shards, more than the %d a collection may have", c.Name, c.ShardNumber, len(c.Shards), MaxShards)
		return
	}
	auto := c.ShardingMethod != "custom"
	ids := make(map[uint32]bool, len(c.Shards))
	inRange := 0
	objects := make(map[string]bool, len(c.Shards))
	for _, s := range c.Shards {
		if ids[s.ID] {
			f.add("collection %q: shard %d appears twice", c.Name, s.ID)
		} else if s.ID < c.ShardNumber {
			inRange++
		}
		ids[s.ID] = true
		if auto && s.ID >= c.ShardNumber {
			// Automatic sharding numbers shards 0..shard_number-1.
			f.add("collection %q: shard %d is out of range for shard_number %d", c.Name, s.ID, c.ShardNumber)
		}
		if !sha256Hex.MatchString(s.SHA256) {
			f.add("collection %q: shard %d has no valid sha256", c.Name, s.ID)
		}
		// The object's key is derived, never free: a manifest read from a
		// bucket cannot point a restore or a deletion anywhere else.
		if want := ShardObject(c.Name, s.ID); s.Object != want {
			f.add("collection %q: shard %d has object %q, want %q", c.Name, s.ID, s.Object, want)
		}
		if objects[s.Object] {
			f.add("collection %q: shard %d has a shared object key", c.Name, s.ID)
		}
		objects[s.Object] = true
		if s.SizeBytes <= 0 {
			f.add("collection %q: shard %d is empty", c.Name, s.ID)
		}
	}
	if sm := c.Sample; sm != nil {
		// Derived like a shard's key: a manifest cannot point a restore or a
		// deletion at another object.
		if sm.Object != SampleObject(c.Name) {
			f.add("collection %q: sample has object %q, want %q", c.Name, sm.Object, SampleObject(c.Name))
		}
		if !sha256Hex.MatchString(sm.SHA256) {
			f.add("collection %q: sample has no valid sha256", c.Name)
		}
		if sm.SizeBytes <= 0 {
			f.add("collection %q: sample is empty", c.Name)
		}
		if sm.Points < 0 {
			f.add("collection %q: sample of %d points", c.Name, sm.Points)
		}
	}
	switch {
	case auto && inRange < int(c.ShardNumber):
		// Every shard 0..shard_number-1 must be there: fewer distinct ids
		// in that range than shard_number means some are missing. One
		// fault, naming the first, however many are.
		f.add("collection %q: shard %d is missing (%d of shard_number %d shards present)", c.Name, firstMissing(ids), inRange, c.ShardNumber)
	case auto && len(c.Shards) > int(c.ShardNumber):
		f.add("collection %q: %d shards for shard_number %d", c.Name, len(c.Shards), c.ShardNumber)
	case !auto && len(c.Shards) == 0 && len(c.ShardKeys) > 0:
		f.add("collection %q: shard keys without shards", c.Name)
	}
}

// firstMissing is the smallest shard id not in ids. It looks at no more ids
// than ids holds, plus one.
func firstMissing(ids map[uint32]bool) uint32 {
	id := uint32(0)
	for ids[id] {
		id++
	}
	return id
}

// SizeBytes is the size of every shard snapshot together.
func (m Manifest) SizeBytes() int64 {
	var n int64
	for _, c := range m.Collections {
		for _, s := range c.Shards {
			n += s.SizeBytes
		}
	}
	return n
}

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

// Validate checks that the manifest describes a whole backup: every shard of
// every collection exactly once, each with a size and a checksum.
func (m Manifest) Validate() error {
	var errs []error
	if m.FormatVersion != FormatVersion {
		errs = append(errs, fmt.Errorf("format version %d, want %d", m.FormatVersion, FormatVersion))
	}
	if m.Backup.UID == "" {
		errs = append(errs, errors.New("it names no Backup uid: a manifest belongs to one Backup"))
	}
	names := map[string]bool{}
	for _, c := range m.Collections {
		if err := ValidSegment(c.Name); err != nil {
			errs = append(errs, fmt.Errorf("collection name: %w", err))
			continue
		}
		if names[c.Name] {
			errs = append(errs, fmt.Errorf("collection %q appears twice", c.Name))
		}
		names[c.Name] = true
		errs = append(errs, c.validate()...)
	}
	if len(errs) > 0 {
		return fmt.Errorf("invalid manifest: %w", errors.Join(errs...))
	}
	return nil
}

func (c Collection) validate() []error {
	var errs []error
	ids := map[uint32]bool{}
	objects := map[string]bool{}
	for _, s := range c.Shards {
		if ids[s.ID] {
			errs = append(errs, fmt.Errorf("collection %q: shard %d appears twice", c.Name, s.ID))
		}
		ids[s.ID] = true
		if !sha256Hex.MatchString(s.SHA256) {
			errs = append(errs, fmt.Errorf("collection %q: shard %d has no valid sha256", c.Name, s.ID))
		}
		// The object's key is derived, never free: a manifest read from a
		// bucket cannot point a restore or a deletion anywhere else.
		if s.Object != ShardObject(c.Name, s.ID) {
			errs = append(errs, fmt.Errorf("collection %q: shard %d has object %q, want %q", c.Name, s.ID, s.Object, ShardObject(c.Name, s.ID)))
		}
		if objects[s.Object] {
			errs = append(errs, fmt.Errorf("collection %q: shard %d has a shared object key", c.Name, s.ID))
		}
		objects[s.Object] = true
		if s.SizeBytes <= 0 {
			errs = append(errs, fmt.Errorf("collection %q: shard %d is empty", c.Name, s.ID))
		}
	}
	if sm := c.Sample; sm != nil {
		// Derived like a shard's key: a manifest cannot point a restore or a
		// deletion at another object.
		if sm.Object != SampleObject(c.Name) {
			errs = append(errs, fmt.Errorf("collection %q: sample has object %q, want %q", c.Name, sm.Object, SampleObject(c.Name)))
		}
		if !sha256Hex.MatchString(sm.SHA256) {
			errs = append(errs, fmt.Errorf("collection %q: sample has no valid sha256", c.Name))
		}
		if sm.SizeBytes <= 0 {
			errs = append(errs, fmt.Errorf("collection %q: sample is empty", c.Name))
		}
		if sm.Points < 0 {
			errs = append(errs, fmt.Errorf("collection %q: sample of %d points", c.Name, sm.Points))
		}
	}
	if c.ShardingMethod != "custom" {
		// Automatic sharding numbers shards 0..shard_number-1; all must be there.
		for id := uint32(0); id < c.ShardNumber; id++ {
			if !ids[id] {
				errs = append(errs, fmt.Errorf("collection %q: shard %d is missing", c.Name, id))
			}
		}
		if uint32(len(ids)) > c.ShardNumber {
			errs = append(errs, fmt.Errorf("collection %q: %d shards for shard_number %d", c.Name, len(ids), c.ShardNumber))
		}
	} else if len(c.Shards) == 0 && len(c.ShardKeys) > 0 {
		errs = append(errs, fmt.Errorf("collection %q: shard keys without shards", c.Name))
	}
	return errs
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

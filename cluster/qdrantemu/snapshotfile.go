package qdrantemu

import (
	"archive/tar"
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"math/rand/v2"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"
)

// The emulator's snapshots are real uncompressed tar files laid out like
// Qdrant's (API.md 6.1): config.json with params, one folder per shard with
// replica_state.json and shard_config.json, and the shard's points in the
// emulator's own format under emulator/. Real Qdrant never reads them.

// collectionFormatVersion is what Qdrant 1.19 writes to version.info.
const collectionFormatVersion = "0.4.2"

// shardView is a consistent copy of one shard, taken under the cluster lock so
// that an archive can be written without it.
type shardView struct {
	id       uint32
	key      json.RawMessage
	thisPeer uint64
	local    bool
	states   map[uint64]ReplicaState
	points   []*point // in scroll order
	padding  int64
}

type replicaStateFile struct {
	IsLocal    bool                    `json:"is_local"`
	ThisPeerID uint64                  `json:"this_peer_id"`
	Peers      map[string]ReplicaState `json:"peers"`
}

type shardMeta struct {
	ShardID uint32          `json:"shard_id"`
	Key     json.RawMessage `json:"shard_key,omitempty"`
	Points  int             `json:"points"`
}

// configFile is config.json of a collection snapshot, and config in GET
// /collections/{c}.
type configFile struct {
	Params params `json:"params"`
	settings
}

func writeFile(tw *tar.Writer, name string, b []byte, mod time.Time) error {
	if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(b)), ModTime: mod, Typeflag: tar.TypeReg}); err != nil {
		return err
	}
	_, err := tw.Write(b)
	return err
}

func jsonFile(tw *tar.Writer, name string, v any, mod time.Time) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return writeFile(tw, name, b, mod)
}

// writeShard writes one shard's entries under dir ("" for a shard snapshot).
func writeShard(tw *tar.Writer, dir string, s shardView, mod time.Time) error {
	peers := map[string]ReplicaState{}
	for p, st := range s.states {
		peers[strconv.FormatUint(p, 10)] = st
	}
	if err := jsonFile(tw, path.Join(dir, "shard_config.json"), map[string]string{"type": "ReplicaSet"}, mod); err != nil {
		return err
	}
	if err := jsonFile(tw, path.Join(dir, "replica_state.json"), replicaStateFile{IsLocal: s.local, ThisPeerID: s.thisPeer, Peers: peers}, mod); err != nil {
		return err
	}
	if !s.local {
		// Remote-only shards carry no data (API.md 4.1).
		return nil
	}
	var buf bytes.Buffer
	for _, p := range s.points {
		b, err := json.Marshal(p)
		if err != nil {
			return err
		}
		buf.Write(b)
		buf.WriteByte('\n')
	}
	if err := jsonFile(tw, path.Join(dir, "emulator", "shard.json"), shardMeta{ShardID: s.id, Key: s.key, Points: len(s.points)}, mod); err != nil {
		return err
	}
	if err := writeFile(tw, path.Join(dir, "emulator", "points.jsonl"), buf.Bytes(), mod); err != nil {
		return err
	}
	if s.padding > 0 {
		if err := tw.WriteHeader(&tar.Header{Name: path.Join(dir, "segments", "padding.bin"), Mode: 0o644, Size: s.padding, ModTime: mod, Typeflag: tar.TypeReg}); err != nil {
			return err
		}
		if _, err := io.CopyN(tw, newPadding(s.id), s.padding); err != nil {
			return err
		}
	}
	return nil
}

// writeShardArchive writes a shard snapshot. Like Qdrant's tar crate, Close
// ends it with the end-of-archive marker, two 512-byte zero blocks; end false
// leaves the marker out, as an archive whose writer never finished.
func writeShardArchive(w io.Writer, s shardView, mod time.Time, end bool) error {
	tw := tar.NewWriter(w)
	if err := writeShard(tw, "", s, mod); err != nil {
		return err
	}
	if !end {
		// Flush pads the last entry to a whole block and writes no marker.
		return tw.Flush()
	}
	return tw.Close()
}

// writeCollectionArchive writes a node's collection snapshot: every shard id,
// with data only for the shards local to the node.
func writeCollectionArchive(w io.Writer, cfg configFile, indexes map[string]payloadIndex, shards []shardView, mod time.Time) error {
	tw := tar.NewWriter(w)
	if err := writeFile(tw, "version.info", []byte(collectionFormatVersion), mod); err != nil {
		return err
	}
	if err := jsonFile(tw, "config.json", cfg, mod); err != nil {
		return err
	}
	if err := jsonFile(tw, "payload_index.json", map[string]any{"schema": indexes}, mod); err != nil {
		return err
	}
	for _, s := range shards {
		if err := writeShard(tw, strconv.FormatUint(uint64(s.id), 10), s, mod); err != nil {
			return err
		}
	}
	return tw.Close()
}

// archive is what recovery reads from a snapshot.
type archive struct {
	config *configFile
	// shards maps a shard id (or 0 for a shard snapshot) to its points; only
	// shards with data appear.
	shards  map[uint32][]*point
	keys    map[uint32]json.RawMessage
	indexes map[string]payloadIndex
}

// readArchive reads a snapshot stream to its end. Unknown entries, like
// segments, are read through and discarded, so memory holds points only.
func readArchive(r io.Reader) (*archive, error) {
	a := &archive{shards: map[uint32][]*point{}, keys: map[uint32]json.RawMessage{}}
	tr := tar.NewReader(r)
	metas := map[string]shardMeta{}
	pointsByDir := map[string][]*point{}
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, badInput("snapshot is not a valid tar archive: %w", err)
		}
		name := strings.TrimPrefix(path.Clean(h.Name), "./")
		dir, file := path.Split(name)
		switch {
		case name == "config.json":
			cfg := &configFile{}
			if err := json.NewDecoder(tr).Decode(cfg); err != nil {
				return nil, badInput("cannot read snapshot config: %w", err)
			}
			a.config = cfg
		case name == "payload_index.json":
			var pi struct {
				Schema map[string]payloadIndex `json:"schema"`
			}
			if err := json.NewDecoder(tr).Decode(&pi); err != nil {
				return nil, badInput("cannot read payload index: %w", err)
			}
			a.indexes = pi.Schema
		case file == "shard.json" && strings.HasSuffix(dir, "emulator/"):
			var m shardMeta
			if err := json.NewDecoder(tr).Decode(&m); err != nil {
				return nil, badInput("cannot read shard metadata: %w", err)
			}
			metas[strings.TrimSuffix(dir, "emulator/")] = m
		case file == "points.jsonl" && strings.HasSuffix(dir, "emulator/"):
			var pts []*point
			sc := bufio.NewScanner(tr)
			sc.Buffer(make([]byte, 1<<20), 64<<20)
			for sc.Scan() {
				p := &point{}
				if err := json.Unmarshal(sc.Bytes(), p); err != nil {
					return nil, badInput("cannot read points: %w", err)
				}
				pts = append(pts, p)
			}
			if err := sc.Err(); err != nil {
				return nil, badInput("cannot read points: %w", err)
			}
			pointsByDir[strings.TrimSuffix(dir, "emulator/")] = pts
		}
		if _, err := io.Copy(io.Discard, tr); err != nil { //nolint:gosec // Reads to the end, storing nothing: a large entry costs time, never memory.
			return nil, badInput("snapshot is truncated: %w", err)
		}
	}
	// Whatever follows the end-of-archive marker still belongs to the file.
	if _, err := io.Copy(io.Discard, r); err != nil {
		return nil, badInput("snapshot is truncated: %w", err)
	}
	dirs := make([]string, 0, len(metas))
	for d := range metas {
		dirs = append(dirs, d)
	}
	sort.Strings(dirs)
	for _, d := range dirs {
		m := metas[d]
		a.shards[m.ShardID] = pointsByDir[d]
		if len(m.Key) > 0 {
			a.keys[m.ShardID] = m.Key
		}
	}
	return a, nil
}

// padding is an endless deterministic byte stream, cheap to produce at GB/s.
type padding struct {
	block []byte
	off   int
}

func newPadding(seed uint32) *padding {
	h := fnv.New64a()
	_, _ = fmt.Fprint(h, seed)
	rng := rand.New(rand.NewPCG(h.Sum64(), 0x5eed)) //nolint:gosec // Test data, not secrets.
	b := make([]byte, 64<<10)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return &padding{block: b}
}

func (p *padding) Read(b []byte) (int, error) {
	n := 0
	for n < len(b) {
		c := copy(b[n:], p.block[p.off:])
		n += c
		p.off = (p.off + c) % len(p.block)
	}
	return n, nil
}

// Fixed configuration sections, as Qdrant's defaults report them.
const (
	defaultHNSW      = (`{"m":16,"ef_construct":100,"full_scan_threshold":10000,"max_indexing_threads":0,"on_disk":false}`)
	defaultOptimizer = (`{"deleted_threshold":0.2,"vacuum_min_vector_number":1000,"default_segment_number":0,"max_segment_size":null,"memmap_threshold":null,"indexing_threshold":10000,"flush_interval_sec":5,"max_optimization_threads":null}`)
	defaultWAL       = (`{"wal_capacity_mb":32,"wal_segments_ahead":0,"wal_retain_closed":1}`)
)

// badInput is an archive that cannot be unpacked; recovery reports it as
// Qdrant does ("Failed to unpack tar archive: ...").
func badInput(format string, a ...any) error {
	return fmt.Errorf(format, a...)
}

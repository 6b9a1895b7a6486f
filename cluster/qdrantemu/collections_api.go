package qdrantemu

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strconv"
)

func (n *Node) version(w http.ResponseWriter, _ *http.Request) {
	// GET / has no envelope (API.md 7).
	v := map[string]any{"title": "qdrant - vector search engine", "version": n.c.opts.Version}
	if n.c.opts.Commit != "" {
		v["commit"] = n.c.opts.Commit
	}
	writeJSON(w, http.StatusOK, v)
}

func (n *Node) healthz(w http.ResponseWriter, _ *http.Request) {
	plain(w, http.StatusOK, "healthz check passed")
}

func (n *Node) readyz(w http.ResponseWriter, _ *http.Request) {
	plain(w, http.StatusOK, "all shards are ready")
}

func (n *Node) clusterInfo(w http.ResponseWriter, _ *http.Request) {
	c := n.c
	if c.opts.Standalone {
		writeResult(w, map[string]any{"status": "disabled"})
		return
	}
	peers := map[string]any{}
	failures := map[string]any{}
	for _, p := range c.nodes {
		peers[strconv.FormatUint(p.ID, 10)] = map[string]string{"uri": p.p2pURI()}
		if !p.IsUp() && p != n {
			failures[p.p2pURI()] = map[string]any{"count": 1, "latest_error": "transport error: connection refused", "latest_error_timestamp": c.now().Format("2006-01-02T15:04:05.000Z")}
		}
	}
	leader := c.nodes[0].ID
	role := "Follower"
	if n.ID == leader {
		role = "Leader"
	}
	writeResult(w, map[string]any{
		"status":                  "enabled",
		"peer_id":                 n.ID,
		"peers":                   peers,
		"raft_info":               map[string]any{"term": 1, "commit": 1, "pending_operations": 0, "leader": leader, "role": role, "is_voter": true},
		"consensus_thread_status": map[string]any{"consensus_thread_status": "working", "last_update": c.now().Format("2006-01-02T15:04:05.000Z")},
		"message_send_failures":   failures,
	})
}

func (n *Node) listCollections(w http.ResponseWriter, _ *http.Request) {
	c := n.c
	c.mu.Lock()
	names := make([]string, 0, len(c.collections))
	for name := range c.collections {
		names = append(names, name)
	}
	c.mu.Unlock()
	sort.Strings(names)
	out := make([]map[string]string, len(names))
	for i, name := range names {
		out[i] = map[string]string{"name": name}
	}
	writeResult(w, map[string]any{"collections": out})
}

// lookup finds a collection, by name or alias, answering 404 when it is missing.
// It must be called with the cluster lock held.
func (n *Node) lookup(w http.ResponseWriter, r *http.Request, file bool) *collection {
	name := r.PathValue("collection_name")
	if col, ok := n.c.collections[name]; ok {
		return col
	}
	if target, ok := n.c.aliases[name]; ok {
		if col, ok := n.c.collections[target]; ok {
			return col
		}
	}
	writeError(w, r, file, http.StatusNotFound, notFoundCollection(name))
	return nil
}

// lockCollection locks the cluster and finds the path's collection, answering
// 404 when it is missing. The caller unlocks when it got one.
func (n *Node) lockCollection(w http.ResponseWriter, r *http.Request) (*collection, func()) {
	n.c.mu.Lock()
	col := n.lookup(w, r, false)
	if col == nil {
		n.c.mu.Unlock()
		return nil, nil
	}
	return col, n.c.mu.Unlock
}

func (n *Node) getCollection(w http.ResponseWriter, r *http.Request) {
	c := n.c
	col, unlock := n.lockCollection(w, r)
	if col == nil {
		return
	}
	defer unlock()
	schema := map[string]any{}
	_, all := col.keysInOrder()
	for field, idx := range col.indexes {
		// points counts the points the index holds: those with a value for
		// the field.
		var indexed int
		for _, p := range all {
			for _, v := range payloadValues(p.Payload, field) {
				if string(v) != "null" {
					indexed++
					break
				}
			}
		}
		e := map[string]any{"data_type": idx.DataType, "points": indexed}
		if len(idx.Params) > 0 {
			e["params"] = idx.Params
		}
		schema[field] = e
	}
	status := "green"
	for _, s := range col.shards {
		for peer, rep := range s.replicas {
			if rep.stateAt(c.now(), c.nodeByID(peer).IsUp(), s.hasActive(peer)) != Active {
				status = "yellow"
			}
		}
	}
	writeResult(w, map[string]any{
		"status":                status,
		"optimizer_status":      "ok",
		"indexed_vectors_count": 0,
		"points_count":          col.count(),
		"segments_count":        len(col.shards) * 2,
		"config":                configFile{Params: col.params, settings: col.settings},
		"payload_schema":        schema,
		"update_queue":          map[string]any{"length": 0},
	})
}

func (n *Node) collectionExists(w http.ResponseWriter, r *http.Request) {
	c := n.c
	c.mu.Lock()
	_, ok := c.collections[r.PathValue("collection_name")]
	c.mu.Unlock()
	writeResult(w, map[string]bool{"exists": ok})
}

type createCollectionRequest struct {
	Vectors                json.RawMessage `json:"vectors"`
	ShardNumber            *uint32         `json:"shard_number"`
	ReplicationFactor      *uint32         `json:"replication_factor"`
	WriteConsistencyFactor *uint32         `json:"write_consistency_factor"`
	ShardingMethod         string          `json:"sharding_method"`
	SparseVectors          json.RawMessage `json:"sparse_vectors"`
	OnDiskPayload          *bool           `json:"on_disk_payload"`
	HNSWConfig             json.RawMessage `json:"hnsw_config"`
	OptimizersConfig       json.RawMessage `json:"optimizers_config"`
	WALConfig              json.RawMessage `json:"wal_config"`
	QuantizationConfig     json.RawMessage `json:"quantization_config"`
	StrictModeConfig       json.RawMessage `json:"strict_mode_config"`
	Metadata               json.RawMessage `json:"metadata"`
}

// settings applies the request's config diffs to the defaults, as
// lib/storage/src/content_manager/toc/create_collection.rs does.
func (req createCollectionRequest) settings() (settings, error) {
	s := defaultSettings()
	var err error
	if s.HNSWConfig, err = applyDiff(defaultHNSW, req.HNSWConfig); err != nil {
		return s, fmt.Errorf("hnsw_config: %w", err)
	}
	if s.OptimizerConfig, err = applyDiff(defaultOptimizer, req.OptimizersConfig); err != nil {
		return s, fmt.Errorf("optimizers_config: %w", err)
	}
	if s.WALConfig, err = applyDiff(defaultWAL, req.WALConfig); err != nil {
		return s, fmt.Errorf("wal_config: %w", err)
	}
	if q := compactJSON(req.QuantizationConfig); q != nil {
		s.QuantizationConfig = q
	}
	s.StrictModeConfig = compactJSON(req.StrictModeConfig)
	s.Metadata = compactJSON(req.Metadata)
	return s, nil
}

func (n *Node) createCollection(w http.ResponseWriter, r *http.Request) {
	var req createCollectionRequest
	if !decodeBody(w, r, &req) {
		return
	}
	name := r.PathValue("collection_name")
	if !validCollectionName(name) {
		writeError(w, r, false, http.StatusUnprocessableEntity, "Validation error in path parameters: [collection_name: collection name cannot contain \"/\", \"\\\" or NUL]")
		return
	}
	c := n.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.collections[name]; ok {
		writeError(w, r, false, http.StatusConflict, fmt.Sprintf("Wrong input: Collection `%s` already exists!", name))
		return
	}
	// An alias and a collection never share a name
	// (lib/storage/src/content_manager/toc/create_collection.rs).
	if _, ok := c.aliases[name]; ok {
		writeError(w, r, false, http.StatusBadRequest, fmt.Sprintf("Wrong input: Can't create collection with name %s. Alias with the same name already exists", name))
		return
	}
	// vectors may be left out: a collection of sparse vectors only has none
	// (VectorsConfig defaults to an empty map of named vectors).
	vectors := compactJSON(req.Vectors)
	if vectors == nil {
		vectors = json.RawMessage("{}")
	}
	p := params{Vectors: vectors, ShardNumber: uint32(len(c.nodes)), ReplicationFactor: 1, WriteConsistencyFactor: 1, ShardingMethod: req.ShardingMethod, SparseVectors: compactJSON(req.SparseVectors), OnDiskPayload: true}
	// Without shard_number, an automatically sharded collection gets one
	// shard per peer, a custom-sharded one a single shard per key
	// (lib/storage/src/content_manager/toc/create_collection.rs).
	if c.opts.Standalone || p.ShardingMethod == "custom" {
		p.ShardNumber = 1
	}
	if req.ShardNumber != nil {
		p.ShardNumber = *req.ShardNumber
	}
	if req.ReplicationFactor != nil {
		p.ReplicationFactor = *req.ReplicationFactor
	}
	if req.WriteConsistencyFactor != nil {
		p.WriteConsistencyFactor = *req.WriteConsistencyFactor
	}
	if req.OnDiskPayload != nil {
		p.OnDiskPayload = *req.OnDiskPayload
	}
	if p.ShardNumber == 0 || p.ReplicationFactor == 0 {
		writeError(w, r, false, http.StatusUnprocessableEntity, "Validation error in JSON body: [shard_number: value 0 invalid, must be 1 or larger]")
		return
	}
	s, err := req.settings()
	if err != nil {
		writeError(w, r, false, http.StatusBadRequest, "Format error in JSON body: "+err.Error())
		return
	}
	c.collections[name] = c.newCollection(name, p, s)
	writeResult(w, true)
}

// newCollection places shards round-robin across the peers, as Qdrant spreads
// them, with replication_factor replicas each.
func (c *Cluster) newCollection(name string, p params, s settings) *collection {
	col := &collection{name: name, params: p, settings: s.filled(), indexes: map[string]payloadIndex{}}
	if p.ShardingMethod != "custom" {
		for i := uint32(0); i < p.ShardNumber; i++ {
			col.shards = append(col.shards, c.newShard(i, nil, p.ReplicationFactor))
		}
	}
	return col
}

func (c *Cluster) newShard(id uint32, key json.RawMessage, rf uint32) *shard {
	s := &shard{id: id, key: key, replicas: map[uint64]*replica{}, points: map[string]*point{}}
	for j := uint32(0); j < rf && int(j) < len(c.nodes); j++ {
		s.replicas[c.nodes[(int(id)+int(j))%len(c.nodes)].ID] = &replica{state: Active}
	}
	return s
}

func validCollectionName(name string) bool {
	if name == "" || len(name) > 255 {
		return false
	}
	for _, r := range name {
		if r == '/' || r == '\\' || r == 0 {
			return false
		}
	}
	return true
}

func (n *Node) deleteCollection(w http.ResponseWriter, r *http.Request) {
	c := n.c
	c.mu.Lock()
	defer c.mu.Unlock()
	name := r.PathValue("collection_name")
	_, ok := c.collections[name]
	delete(c.collections, name)
	for a, target := range c.aliases {
		if target == name {
			delete(c.aliases, a)
		}
	}
	// Snapshot folders survive on purpose (API.md 6.4).
	writeResult(w, ok)
}

func (n *Node) collectionCluster(w http.ResponseWriter, r *http.Request) {
	c := n.c
	col, unlock := n.lockCollection(w, r)
	if col == nil {
		return
	}
	defer unlock()
	local, remote, transfers := []map[string]any{}, []map[string]any{}, []map[string]any{}
	now := c.now()
	for _, s := range col.shards {
		for _, peer := range s.peers() {
			rep := s.replicas[peer]
			st := rep.stateAt(now, c.nodeByID(peer).IsUp(), s.hasActive(peer))
			e := map[string]any{"shard_id": s.id, "state": st}
			if len(s.key) > 0 {
				e["shard_key"] = s.key
			}
			if peer == n.ID {
				e["points_count"] = len(s.points)
				local = append(local, e)
			} else {
				e["peer_id"] = peer
				remote = append(remote, e)
			}
			if st == Dead && !rep.resyncAt.IsZero() {
				for _, from := range s.peers() {
					if s.replicas[from].state == Active {
						transfers = append(transfers, map[string]any{"shard_id": s.id, "from": from, "to": peer, "sync": true, "method": "stream_records"})
						break
					}
				}
			}
		}
	}
	writeResult(w, map[string]any{"peer_id": n.ID, "shard_count": len(col.shards), "local_shards": local, "remote_shards": remote, "shard_transfers": transfers})
}

// dropShardKey answers POST /collections/{c}/shards/delete: the key's shards
// and their points are gone.
func (n *Node) dropShardKey(w http.ResponseWriter, r *http.Request) {
	var req struct {
		ShardKey json.RawMessage `json:"shard_key"`
	}
	if !decodeBody(w, r, &req) {
		return
	}
	col, unlock := n.lockCollection(w, r)
	if col == nil {
		return
	}
	defer unlock()
	kept := col.shards[:0:0]
	for _, s := range col.shards {
		if !sameJSON(s.key, req.ShardKey) {
			kept = append(kept, s)
		}
	}
	if len(kept) == len(col.shards) {
		writeError(w, r, false, http.StatusNotFound, fmt.Sprintf("Not found: Shard key %s does not exist", req.ShardKey))
		return
	}
	col.shards = kept
	writeResult(w, true)
}

// listShardKeys answers GET /collections/{c}/shards (ShardKeysResponse in
// the v1.19 OpenAPI): the keys of a custom-sharded collection, null for
// automatic sharding. Qdrant keeps them in a map; the emulator lists them by
// their first shard id, the order they were created in.
func (n *Node) listShardKeys(w http.ResponseWriter, r *http.Request) {
	col, unlock := n.lockCollection(w, r)
	if col == nil {
		return
	}
	defer unlock()
	if col.params.ShardingMethod != "custom" {
		writeResult(w, map[string]any{"shard_keys": nil})
		return
	}
	keys := []map[string]json.RawMessage{}
	seen := map[string]bool{}
	for _, s := range col.shards {
		if !seen[string(s.key)] {
			seen[string(s.key)] = true
			keys = append(keys, map[string]json.RawMessage{"key": s.key})
		}
	}
	writeResult(w, map[string]any{"shard_keys": keys})
}

func (n *Node) createShardKey(w http.ResponseWriter, r *http.Request) {
	var req struct {
		ShardKey          json.RawMessage `json:"shard_key"`
		ShardsNumber      *uint32         `json:"shards_number"`
		ReplicationFactor *uint32         `json:"replication_factor"`
	}
	if !decodeBody(w, r, &req) {
		return
	}
	c := n.c
	col, unlock := n.lockCollection(w, r)
	if col == nil {
		return
	}
	defer unlock()
	if col.params.ShardingMethod != "custom" {
		writeError(w, r, false, http.StatusBadRequest, "Bad request: Shard Key cannot be created with Auto sharding method")
		return
	}
	num, rf := col.params.ShardNumber, col.params.ReplicationFactor
	if req.ShardsNumber != nil {
		num = *req.ShardsNumber
	}
	if req.ReplicationFactor != nil {
		rf = *req.ReplicationFactor
	}
	for _, s := range col.shards {
		if string(s.key) == string(req.ShardKey) {
			writeError(w, r, false, http.StatusBadRequest, fmt.Sprintf("Bad request: Sharding key %s already exists", req.ShardKey))
			return
		}
	}
	// A new key's shards take the ids after the highest existing one, so
	// that creating keys in the same order gives the same ids; a dropped
	// key's ids are not reused while a higher id exists.
	next := uint32(0)
	for _, s := range col.shards {
		next = max(next, s.id+1)
	}
	for i := uint32(0); i < num; i++ {
		col.shards = append(col.shards, c.newShard(next+i, req.ShardKey, rf))
	}
	writeResult(w, true)
}

package qdrantemu

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
)

func (n *Node) listAliases(w http.ResponseWriter, _ *http.Request) {
	n.writeAliases(w, "")
}

func (n *Node) listCollectionAliases(w http.ResponseWriter, r *http.Request) {
	c := n.c
	c.mu.Lock()
	_, ok := c.collections[r.PathValue("collection_name")]
	c.mu.Unlock()
	if !ok {
		writeError(w, r, false, http.StatusNotFound, notFoundCollection(r.PathValue("collection_name")))
		return
	}
	n.writeAliases(w, r.PathValue("collection_name"))
}

func (n *Node) writeAliases(w http.ResponseWriter, only string) {
	c := n.c
	c.mu.Lock()
	out := []map[string]string{}
	for a, target := range c.aliases {
		if only == "" || target == only {
			out = append(out, map[string]string{"alias_name": a, "collection_name": target})
		}
	}
	c.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i]["alias_name"] < out[j]["alias_name"] })
	writeResult(w, map[string]any{"aliases": out})
}

type aliasAction struct {
	CreateAlias *struct {
		CollectionName string `json:"collection_name"`
		AliasName      string `json:"alias_name"`
	} `json:"create_alias"`
	DeleteAlias *struct {
		AliasName string `json:"alias_name"`
	} `json:"delete_alias"`
	RenameAlias *struct {
		OldAliasName string `json:"old_alias_name"`
		NewAliasName string `json:"new_alias_name"`
	} `json:"rename_alias"`
}

func (n *Node) updateAliases(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Actions []aliasAction `json:"actions"`
	}
	if !decodeBody(w, r, &req) {
		return
	}
	c := n.c
	c.mu.Lock()
	defer c.mu.Unlock()
	// Qdrant applies the actions as one operation: check them all first.
	next := map[string]string{}
	for a, t := range c.aliases {
		next[a] = t
	}
	for _, a := range req.Actions {
		switch {
		case a.CreateAlias != nil:
			if _, ok := c.collections[a.CreateAlias.CollectionName]; !ok {
				writeError(w, r, false, http.StatusNotFound, notFoundCollection(a.CreateAlias.CollectionName))
				return
			}
			// validate_collection_not_exists(alias_name) in
			// lib/storage/src/content_manager/toc/collection_meta_ops.rs.
			if _, ok := c.collections[a.CreateAlias.AliasName]; ok {
				writeError(w, r, false, http.StatusConflict, fmt.Sprintf("Wrong input: Collection `%s` already exists!", a.CreateAlias.AliasName))
				return
			}
			next[a.CreateAlias.AliasName] = a.CreateAlias.CollectionName
		case a.DeleteAlias != nil:
			if _, ok := next[a.DeleteAlias.AliasName]; !ok {
				writeError(w, r, false, http.StatusNotFound, fmt.Sprintf("Not found: Alias %s does not exists!", a.DeleteAlias.AliasName))
				return
			}
			delete(next, a.DeleteAlias.AliasName)
		case a.RenameAlias != nil:
			t, ok := next[a.RenameAlias.OldAliasName]
			if !ok {
				writeError(w, r, false, http.StatusNotFound, fmt.Sprintf("Not found: Alias %s does not exists!", a.RenameAlias.OldAliasName))
				return
			}
			delete(next, a.RenameAlias.OldAliasName)
			next[a.RenameAlias.NewAliasName] = t
		default:
			writeError(w, r, false, http.StatusBadRequest, "Format error in JSON body: unknown alias operation")
			return
		}
	}
	c.aliases = next
	writeResult(w, true)
}

func (n *Node) createIndex(w http.ResponseWriter, r *http.Request) {
	var req struct {
		FieldName   string          `json:"field_name"`
		FieldSchema json.RawMessage `json:"field_schema"`
	}
	if !decodeBody(w, r, &req) {
		return
	}
	col, unlock := n.lockCollection(w, r)
	if col == nil {
		return
	}
	defer unlock()
	idx, err := parseIndexSchema(req.FieldSchema)
	if err != nil || req.FieldName == "" {
		writeError(w, r, false, http.StatusBadRequest, fmt.Sprintf("Format error in JSON body: invalid field schema %s", req.FieldSchema))
		return
	}
	col.indexes[req.FieldName] = idx
	n.writeUpdate(w, r, col)
}

// parseIndexSchema accepts a schema type name ("keyword") or a params object
// ({"type": "keyword", ...}), as Qdrant does.
func parseIndexSchema(raw json.RawMessage) (payloadIndex, error) {
	var name string
	if err := json.Unmarshal(raw, &name); err == nil {
		return payloadIndex{DataType: name}, nil
	}
	var obj struct {
		Type string `json:"type"`
	}
	if err := json.Unmarshal(raw, &obj); err != nil || obj.Type == "" {
		return payloadIndex{}, fmt.Errorf("bad schema")
	}
	return payloadIndex{DataType: obj.Type, Params: raw}, nil
}

// writeUpdate answers an update operation; wait defaults to false, and the
// emulator applies every update at once either way.
func (n *Node) writeUpdate(w http.ResponseWriter, r *http.Request, col *collection) {
	wait, ok := queryBool(w, r, "wait", false)
	if !ok {
		return
	}
	col.opSeq++
	status := "acknowledged"
	if wait {
		status = "completed"
	}
	writeResult(w, map[string]any{"operation_id": col.opSeq, "status": status})
}

type upsertRequest struct {
	Points []struct {
		ID      json.RawMessage `json:"id"`
		Vector  json.RawMessage `json:"vector"`
		Payload json.RawMessage `json:"payload"`
	} `json:"points"`
	Batch *struct {
		IDs      []json.RawMessage `json:"ids"`
		Vectors  json.RawMessage   `json:"vectors"`
		Payloads []json.RawMessage `json:"payloads"`
	} `json:"batch"`
	ShardKey json.RawMessage `json:"shard_key"`
}

func (n *Node) upsertPoints(w http.ResponseWriter, r *http.Request) {
	var req upsertRequest
	if !decodeBody(w, r, &req) {
		return
	}
	pts := make([]*point, 0, len(req.Points))
	for _, p := range req.Points {
		pts = append(pts, &point{ID: p.ID, Vector: p.Vector, Payload: nullToNil(p.Payload)})
	}
	if b := req.Batch; b != nil {
		var vectors []json.RawMessage
		if err := json.Unmarshal(b.Vectors, &vectors); err != nil || len(vectors) != len(b.IDs) {
			writeError(w, r, false, http.StatusBadRequest, "Format error in JSON body: batch vectors must match ids")
			return
		}
		for i, id := range b.IDs {
			p := &point{ID: id, Vector: vectors[i]}
			if i < len(b.Payloads) {
				p.Payload = nullToNil(b.Payloads[i])
			}
			pts = append(pts, p)
		}
	}
	col, unlock := n.lockCollection(w, r)
	if col == nil {
		return
	}
	defer unlock()
	targets := col.shards
	if col.params.ShardingMethod == "custom" {
		targets = nil
		for _, s := range col.shards {
			if len(req.ShardKey) > 0 && string(s.key) == string(req.ShardKey) {
				targets = append(targets, s)
			}
		}
		if len(targets) == 0 {
			writeError(w, r, false, http.StatusBadRequest, "Bad request: Shard key not specified or does not exist")
			return
		}
	}
	for _, p := range pts {
		key, err := pointKey(p.ID)
		if err != nil {
			writeError(w, r, false, http.StatusBadRequest, "Format error in JSON body: "+err.Error())
			return
		}
		// An id lives in one shard: drop an older copy elsewhere.
		for _, s := range col.shards {
			delete(s.points, key)
		}
		targets[shardOf(key, uint32(len(targets)))].points[key] = p
	}
	n.writeUpdate(w, r, col)
}

func nullToNil(raw json.RawMessage) json.RawMessage {
	if string(raw) == "null" {
		return nil
	}
	return raw
}

func (n *Node) countPoints(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Filter   json.RawMessage `json:"filter"`
		ShardKey json.RawMessage `json:"shard_key"`
	}
	if r.ContentLength != 0 && !decodeBody(w, r, &req) {
		return
	}
	f, err := parseFilter(req.Filter)
	if err != nil {
		writeError(w, r, false, http.StatusBadRequest, "Bad request: "+err.Error())
		return
	}
	col, unlock := n.lockCollection(w, r)
	if col == nil {
		return
	}
	defer unlock()
	shards, err := col.selectShards(req.ShardKey)
	if err != nil {
		writeError(w, r, false, http.StatusBadRequest, err.Error())
		return
	}
	var total uint64
	_, all := keysOf(shards)
	for _, p := range all {
		if ok, _ := f.matches(p); ok {
			total++
		}
	}
	writeResult(w, map[string]uint64{"count": total})
}

// withFlag reads with_payload / with_vector: a bool, or a selector meaning true.
func withFlag(raw json.RawMessage, def bool) bool {
	if len(raw) == 0 || string(raw) == "null" {
		return def
	}
	var b bool
	if err := json.Unmarshal(raw, &b); err == nil {
		return b
	}
	return true
}

func record(p *point, withPayload, withVector bool) map[string]any {
	rec := map[string]any{"id": p.ID}
	if withPayload {
		rec["payload"] = p.Payload
		if p.Payload == nil {
			rec["payload"] = map[string]any{}
		}
	}
	if withVector {
		rec["vector"] = p.Vector
	}
	return rec
}

// record is a point as Qdrant's Record shows it, with its shard_key in a
// custom-sharded collection.
func (c *collection) record(key string, p *point, withPayload, withVector bool) map[string]any {
	rec := record(p, withPayload, withVector)
	if k := c.shardKeyOf(key); len(k) > 0 {
		rec["shard_key"] = k
	}
	return rec
}

func (n *Node) retrievePoints(w http.ResponseWriter, r *http.Request) {
	var req struct {
		IDs         []json.RawMessage `json:"ids"`
		WithPayload json.RawMessage   `json:"with_payload"`
		WithVector  json.RawMessage   `json:"with_vector"`
	}
	if !decodeBody(w, r, &req) {
		return
	}
	col, unlock := n.lockCollection(w, r)
	if col == nil {
		return
	}
	defer unlock()
	_, all := col.keysInOrder()
	out := []map[string]any{}
	for _, id := range req.IDs {
		key, err := pointKey(id)
		if err != nil {
			writeError(w, r, false, http.StatusBadRequest, "Format error in JSON body: "+err.Error())
			return
		}
		if p, ok := all[key]; ok {
			out = append(out, col.record(key, p, withFlag(req.WithPayload, true), withFlag(req.WithVector, false)))
		}
	}
	writeResult(w, out)
}

func (n *Node) getPoint(w http.ResponseWriter, r *http.Request) {
	raw := json.RawMessage(r.PathValue("id"))
	if _, err := pointKey(raw); err != nil {
		raw, _ = json.Marshal(r.PathValue("id"))
	}
	key, err := pointKey(raw)
	if err != nil {
		writeError(w, r, false, http.StatusBadRequest, "Deserialize error in path parameters: "+err.Error())
		return
	}
	col, unlock := n.lockCollection(w, r)
	if col == nil {
		return
	}
	defer unlock()
	_, all := col.keysInOrder()
	p, ok := all[key]
	if !ok {
		writeError(w, r, false, http.StatusNotFound, fmt.Sprintf("Not found: No point with id %s found", r.PathValue("id")))
		return
	}
	writeResult(w, col.record(key, p, true, true))
}

func (n *Node) scrollPoints(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Limit       *int            `json:"limit"`
		Offset      json.RawMessage `json:"offset"`
		WithPayload json.RawMessage `json:"with_payload"`
		WithVector  json.RawMessage `json:"with_vector"`
		Filter      json.RawMessage `json:"filter"`
		OrderBy     json.RawMessage `json:"order_by"`
		ShardKey    json.RawMessage `json:"shard_key"`
	}
	if r.ContentLength != 0 && !decodeBody(w, r, &req) {
		return
	}
	limit := 10
	if req.Limit != nil {
		limit = *req.Limit
	}
	if limit < 1 {
		writeError(w, r, false, http.StatusUnprocessableEntity, "Validation error in JSON body: [limit: value 0 invalid, must be 1 or larger]")
		return
	}
	f, err := parseFilter(req.Filter)
	if err != nil {
		writeError(w, r, false, http.StatusBadRequest, "Bad request: "+err.Error())
		return
	}
	ob, err := parseOrderBy(req.OrderBy)
	if err != nil {
		writeError(w, r, false, http.StatusBadRequest, "Format error in JSON body: "+err.Error())
		return
	}
	col, unlock := n.lockCollection(w, r)
	if col == nil {
		return
	}
	defer unlock()
	shards, err := col.selectShards(req.ShardKey)
	if err != nil {
		writeError(w, r, false, http.StatusBadRequest, err.Error())
		return
	}
	keys, all := keysOf(shards)
	matching := keys[:0:0]
	for _, k := range keys {
		if ok, _ := f.matches(all[k]); ok {
			matching = append(matching, k)
		}
	}
	withPayload, withVector := withFlag(req.WithPayload, true), withFlag(req.WithVector, false)
	if ob != nil {
		n.scrollOrdered(w, r, col, ob, matching, all, limit, !isNull(req.Offset), withPayload, withVector)
		return
	}
	start := 0
	if !isNull(req.Offset) {
		off, err := pointKey(req.Offset)
		if err != nil {
			writeError(w, r, false, http.StatusBadRequest, "Format error in JSON body: "+err.Error())
			return
		}
		// The offset is a point id: the page starts at the first matching
		// id at or after it, whether that id matches or exists at all.
		start = sort.Search(len(matching), func(i int) bool { return !lessKey(matching[i], off) })
	}
	out := []map[string]any{}
	end := min(start+limit, len(matching))
	for _, k := range matching[start:end] {
		out = append(out, col.record(k, all[k], withPayload, withVector))
	}
	var next any
	if end < len(matching) {
		next = all[matching[end]].ID
	}
	writeResult(w, map[string]any{"points": out, "next_page_offset": next})
}

type orderBy struct {
	Key       string   `json:"key"`
	Direction string   `json:"direction"`
	StartFrom *float64 `json:"start_from"`
}

// parseOrderBy reads order_by: a key, or {key, direction, start_from}.
func parseOrderBy(raw json.RawMessage) (*orderBy, error) {
	if isNull(raw) {
		return nil, nil
	}
	ob := &orderBy{}
	if err := json.Unmarshal(raw, &ob.Key); err != nil {
		if err := json.Unmarshal(raw, ob); err != nil {
			return nil, fmt.Errorf("order_by: %w", err)
		}
	}
	switch ob.Direction {
	case "", "asc", "desc":
	default:
		return nil, fmt.Errorf("order_by.direction: unknown variant `%s`, expected `asc` or `desc`", ob.Direction)
	}
	return ob, nil
}

// scrollOrdered answers a scroll with order_by as Qdrant does
// (lib/collection/src/collection/point_ops.rs, scroll_by): the key needs a
// range-capable payload index, an offset is refused, every value of the key
// is one entry (a point with several values appears once per value), ties go
// by id, each record carries its order_value and there is no next page
// offset: clients page with start_from.
func (n *Node) scrollOrdered(w http.ResponseWriter, r *http.Request, col *collection, ob *orderBy, matching []string, all map[string]*point, limit int, hasOffset, withPayload, withVector bool) {
	if idx, ok := col.indexes[ob.Key]; !ok || (idx.DataType != "integer" && idx.DataType != "float" && idx.DataType != "datetime") {
		writeError(w, r, false, http.StatusBadRequest, fmt.Sprintf("Bad request: No range index for `order_by` key: `%s`. Please create one to use `order_by`. Check https://qdrant.tech/documentation/concepts/indexing/#payload-index to see which payload schemas support Range conditions", ob.Key))
		return
	}
	if hasOffset {
		writeError(w, r, false, http.StatusBadRequest, "Bad request: Cannot use an `offset` when using `order_by`. The alternative for paging is to use `order_by.start_from` and a filter to exclude the IDs that you've already seen for the `order_by.start_from` value")
		return
	}
	type entry struct {
		key   string
		value float64
		raw   json.RawMessage
	}
	desc := ob.Direction == "desc"
	var entries []entry
	for _, k := range matching {
		for _, v := range payloadValues(all[k].Payload, ob.Key) {
			var x float64
			if json.Unmarshal(v, &x) != nil {
				continue
			}
			if ob.StartFrom != nil && ((!desc && x < *ob.StartFrom) || (desc && x > *ob.StartFrom)) {
				continue
			}
			entries = append(entries, entry{key: k, value: x, raw: v})
		}
	}
	sort.SliceStable(entries, func(i, j int) bool {
		if entries[i].value != entries[j].value {
			return (entries[i].value < entries[j].value) != desc
		}
		return lessKey(entries[i].key, entries[j].key)
	})
	out := []map[string]any{}
	for _, e := range entries[:min(limit, len(entries))] {
		rec := col.record(e.key, all[e.key], withPayload, withVector)
		rec["order_value"] = e.raw
		out = append(out, rec)
	}
	writeResult(w, map[string]any{"points": out, "next_page_offset": nil})
}

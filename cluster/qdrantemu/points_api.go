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
		Filter json.RawMessage `json:"filter"`
	}
	if r.ContentLength != 0 && !decodeBody(w, r, &req) {
		return
	}
	if len(req.Filter) > 0 && string(req.Filter) != "null" {
		writeError(w, r, false, http.StatusBadRequest, "Bad request: the emulator does not evaluate filters")
		return
	}
	col, unlock := n.lockCollection(w, r)
	if col == nil {
		return
	}
	defer unlock()
	writeResult(w, map[string]uint64{"count": col.count()})
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
			out = append(out, record(p, withFlag(req.WithPayload, true), withFlag(req.WithVector, false)))
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
	writeResult(w, record(p, true, true))
}

func (n *Node) scrollPoints(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Limit       *int            `json:"limit"`
		Offset      json.RawMessage `json:"offset"`
		WithPayload json.RawMessage `json:"with_payload"`
		WithVector  json.RawMessage `json:"with_vector"`
		Filter      json.RawMessage `json:"filter"`
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
	col, unlock := n.lockCollection(w, r)
	if col == nil {
		return
	}
	defer unlock()
	keys, all := col.keysInOrder()
	start := 0
	if len(req.Offset) > 0 && string(req.Offset) != "null" {
		off, err := pointKey(req.Offset)
		if err != nil {
			writeError(w, r, false, http.StatusBadRequest, "Format error in JSON body: "+err.Error())
			return
		}
		start = sort.Search(len(keys), func(i int) bool { return !lessKey(keys[i], off) })
	}
	out := []map[string]any{}
	end := min(start+limit, len(keys))
	for _, k := range keys[start:end] {
		out = append(out, record(all[k], withFlag(req.WithPayload, true), withFlag(req.WithVector, false)))
	}
	var next any
	if end < len(keys) {
		next = all[keys[end]].ID
	}
	writeResult(w, map[string]any{"points": out, "next_page_offset": next})
}

package qdrant

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
)

// ListCollections returns the names of all collections, sorted.
func (c *Client) ListCollections(ctx context.Context) ([]string, error) {
	var res struct {
		Collections []struct {
			Name string `json:"name"`
		} `json:"collections"`
	}
	r := &request{method: http.MethodGet, path: "/collections", idempotent: true}
	if _, err := c.doJSON(ctx, r, &res); err != nil {
		return nil, fmt.Errorf("cannot list collections: %w", err)
	}
	names := make([]string, 0, len(res.Collections))
	for _, col := range res.Collections {
		names = append(names, col.Name)
	}
	sort.Strings(names)
	return names, nil
}

// Collection returns a collection's status, counts, configuration (typed and
// raw) and payload schema.
func (c *Client) Collection(ctx context.Context, collection string) (CollectionInfo, error) {
	var info CollectionInfo
	p, err := collectionPath(collection)
	if err == nil {
		_, err = c.doJSON(ctx, &request{method: http.MethodGet, path: p, idempotent: true}, &info)
	}
	if err != nil {
		return CollectionInfo{}, fmt.Errorf("cannot get collection %q: %w", collection, err)
	}
	return info, nil
}

// CollectionExists reports whether the collection exists.
func (c *Client) CollectionExists(ctx context.Context, collection string) (bool, error) {
	var res struct {
		Exists bool `json:"exists"`
	}
	p, err := collectionPath(collection)
	if err == nil {
		_, err = c.doJSON(ctx, &request{method: http.MethodGet, path: p + "/exists", idempotent: true}, &res)
	}
	if err != nil {
		return false, fmt.Errorf("cannot check whether collection %q exists: %w", collection, err)
	}
	return res.Exists, nil
}

// CreateCollection creates a collection. An existing one gives a
// *ConflictError. Not retried: a lost answer would turn into a 409.
func (c *Client) CreateCollection(ctx context.Context, collection string, spec CreateCollection) error {
	p, err := collectionPath(collection)
	if err == nil {
		err = c.doWrite(ctx, http.MethodPut, p, nil, spec)
	}
	if err != nil {
		return fmt.Errorf("cannot create collection %q: %w", collection, err)
	}
	return nil
}

// CreateCollectionRaw creates a collection from a body given as JSON, as a
// restore does with a recorded configuration whose fields this client need
// not know. An existing one gives a *ConflictError. Not retried.
func (c *Client) CreateCollectionRaw(ctx context.Context, collection string, body json.RawMessage) error {
	p, err := collectionPath(collection)
	if err == nil && !json.Valid(body) {
		err = errors.New("the body is not valid JSON")
	}
	if err == nil {
		_, err = c.doJSON(ctx, &request{method: http.MethodPut, path: p, body: body}, nil)
	}
	if err != nil {
		return fmt.Errorf("cannot create collection %q: %w", collection, err)
	}
	return nil
}

// DeleteCollection deletes a collection; existed is false when there was none.
func (c *Client) DeleteCollection(ctx context.Context, collection string) (existed bool, err error) {
	p, err := collectionPath(collection)
	if err == nil {
		_, err = c.doJSON(ctx, &request{method: http.MethodDelete, path: p}, &existed)
	}
	if err != nil {
		return false, fmt.Errorf("cannot delete collection %q: %w", collection, err)
	}
	return existed, nil
}

// CreateShardKey adds a shard key to a custom-sharded collection. Nil counts
// take the collection's defaults.
func (c *Client) CreateShardKey(ctx context.Context, collection string, key ShardKey, shardsNumber, replicationFactor *uint32) error {
	body := struct {
		ShardKey          ShardKey `json:"shard_key"`
		ShardsNumber      *uint32  `json:"shards_number,omitempty"`
		ReplicationFactor *uint32  `json:"replication_factor,omitempty"`
	}{key, shardsNumber, replicationFactor}
	p, err := collectionPath(collection)
	if err == nil {
		err = c.doWrite(ctx, http.MethodPut, p+"/shards", nil, body)
	}
	if err != nil {
		return fmt.Errorf("cannot create shard key %s of collection %q: %w", key, collection, err)
	}
	return nil
}

// Aliases returns all aliases of the cluster.
func (c *Client) Aliases(ctx context.Context) ([]Alias, error) {
	aliases, err := c.aliases(ctx, "/aliases")
	if err != nil {
		return nil, fmt.Errorf("cannot list aliases: %w", err)
	}
	return aliases, nil
}

// CollectionAliases returns the aliases pointing at one collection.
func (c *Client) CollectionAliases(ctx context.Context, collection string) ([]Alias, error) {
	p, err := collectionPath(collection)
	var aliases []Alias
	if err == nil {
		aliases, err = c.aliases(ctx, p+"/aliases")
	}
	if err != nil {
		return nil, fmt.Errorf("cannot list aliases of collection %q: %w", collection, err)
	}
	return aliases, nil
}

func (c *Client) aliases(ctx context.Context, path string) ([]Alias, error) {
	var res struct {
		Aliases []Alias `json:"aliases"`
	}
	if _, err := c.doJSON(ctx, &request{method: http.MethodGet, path: path, idempotent: true}, &res); err != nil {
		return nil, err
	}
	sort.Slice(res.Aliases, func(i, j int) bool { return res.Aliases[i].AliasName < res.Aliases[j].AliasName })
	return res.Aliases, nil
}

// UpdateAliases applies alias actions atomically.
func (c *Client) UpdateAliases(ctx context.Context, actions []AliasAction) error {
	for i, a := range actions {
		if n := countSet(a.CreateAlias != nil, a.DeleteAlias != nil, a.RenameAlias != nil); n != 1 {
			return fmt.Errorf("cannot update aliases: action %d sets %d operations, want exactly 1", i, n)
		}
	}
	if len(actions) == 0 {
		return errors.New("cannot update aliases: no actions")
	}
	body := struct {
		Actions []AliasAction `json:"actions"`
	}{actions}
	if err := c.doWrite(ctx, http.MethodPost, "/collections/aliases", nil, body); err != nil {
		return fmt.Errorf("cannot update aliases: %w", err)
	}
	return nil
}

func countSet(set ...bool) int {
	n := 0
	for _, s := range set {
		if s {
			n++
		}
	}
	return n
}

// CreatePayloadIndex indexes a payload field. schema is a PayloadFieldSchema,
// e.g. "keyword" or {"type":"text",…}, usually copied from PayloadSchema.
func (c *Client) CreatePayloadIndex(ctx context.Context, collection, field string, schema json.RawMessage, wait bool) error {
	body := struct {
		FieldName   string          `json:"field_name"`
		FieldSchema json.RawMessage `json:"field_schema,omitempty"`
	}{field, schema}
	p, err := collectionPath(collection)
	if err == nil && field == "" {
		err = errors.New("empty field name")
	}
	if err == nil {
		err = c.doWrite(ctx, http.MethodPut, p+"/index", waitQuery(wait), body)
	}
	if err != nil {
		return fmt.Errorf("cannot create payload index on %q of collection %q: %w", field, collection, err)
	}
	return nil
}

// doWrite sends a JSON body once (writes are not retried) and ignores the
// result; a 202 counts as success.
func (c *Client) doWrite(ctx context.Context, method, path string, query url.Values, body any) error {
	b, err := json.Marshal(body)
	if err != nil {
		return fmt.Errorf("cannot encode request body: %w", err)
	}
	_, err = c.doJSON(ctx, &request{method: method, path: path, query: query, body: b}, nil)
	return err
}

package qdrantemu

import (
	"encoding/json"
	"fmt"
)

// A Sample describes a collection of generated points.
type Sample struct {
	Name              string
	ShardNumber       uint32
	ReplicationFactor uint32
	Points            int
	Dim               int
	// Indexes maps payload fields to index types, e.g. "category": "keyword".
	Indexes map[string]string
	// Aliases of the collection.
	Aliases []string
}

// DefaultSamples are the demo's collections: one sharded and replicated, one
// with a single shard.
func DefaultSamples() []Sample {
	return []Sample{
		{Name: "products", ShardNumber: 6, ReplicationFactor: 2, Points: 2000, Dim: 8, Indexes: map[string]string{"category": "keyword"}, Aliases: []string{"catalog"}},
		{Name: "reviews", ShardNumber: 1, ReplicationFactor: 1, Points: 500, Dim: 4},
	}
}

// AddSample creates a collection with deterministic points, as if a client had
// created it and upserted them.
func (c *Cluster) AddSample(s Sample) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.collections[s.Name]; ok {
		return fmt.Errorf("collection %s exists", s.Name)
	}
	rf := max(s.ReplicationFactor, 1)
	vectors, _ := json.Marshal(map[string]any{"size": s.Dim, "distance": "Cosine"})
	col := c.newCollection(s.Name, params{Vectors: vectors, ShardNumber: max(s.ShardNumber, 1), ReplicationFactor: rf, WriteConsistencyFactor: 1, OnDiskPayload: true}, defaultSettings())
	categories := []string{"books", "music", "garden", "toys", "tools"}
	for i := 1; i <= s.Points; i++ {
		vec := make([]float64, s.Dim)
		for d := range vec {
			vec[d] = float64((i*31+d*17)%97) / 97
		}
		v, _ := json.Marshal(vec)
		pl, _ := json.Marshal(map[string]any{"category": categories[i%len(categories)], "rank": i, "title": fmt.Sprintf("%s item %d", s.Name, i)})
		id := json.RawMessage(fmt.Sprint(i))
		key, _ := pointKey(id)
		col.shards[shardOf(key, uint32(len(col.shards)))].points[key] = &point{ID: id, Vector: v, Payload: pl}
	}
	for field, typ := range s.Indexes {
		col.indexes[field] = payloadIndex{DataType: typ}
	}
	c.collections[s.Name] = col
	for _, a := range s.Aliases {
		c.aliases[a] = s.Name
	}
	return nil
}

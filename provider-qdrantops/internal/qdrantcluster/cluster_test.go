package qdrantcluster

import (
	"context"
	"encoding/json"
	"io"
	"testing"
	"time"

	"github.com/qdrantops/qdrantops/cluster/qdrantemu"
	"github.com/qdrantops/qdrantops/provider-qdrantops/internal/qdrant"
)

func TestStreamShardHasDeadlines(t *testing.T) {
	// A peer that accepts a shard stream and never answers must fail the
	// shard with a timeout, so that the backup moves on to another holder.
	emu, err := qdrantemu.Start(qdrantemu.Options{Nodes: 2, Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer emu.Close()
	ctx := t.Context()
	setup, err := qdrant.New(qdrant.Config{URL: emu.URLs()[0]})
	if err != nil {
		t.Fatal(err)
	}
	one, two := uint32(1), uint32(2)
	if err := setup.CreateCollection(ctx, "c", qdrant.CreateCollection{Vectors: json.RawMessage(`{"size":4,"distance":"Dot"}`), ShardNumber: &one, ReplicationFactor: &two}); err != nil {
		t.Fatal(err)
	}
	c, err := Connect(ctx, Options{URL: emu.URLs()[0], PeerURLs: emu.URLs(), ResponseHeaderTimeout: 200 * time.Millisecond, IdleReadTimeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	emu.InjectStreamFault(qdrantemu.StreamFaultSpec{Fault: qdrantemu.NoHeaders, Node: 1, Shard: -1})
	defer emu.ClearStreamFaults()

	for i, n := range emu.Nodes() {
		callCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
		start := time.Now()
		body, err := c.StreamShard(callCtx, n.ID, "c", 0)
		if err == nil {
			_, err = io.Copy(io.Discard, body)
			_ = body.Close()
		}
		cancel()
		if i == 1 && (!qdrant.IsTimeout(err) || time.Since(start) > 4*time.Second) {
			t.Errorf("the silent peer: want a timeout well before the caller's deadline, got %v after %s", err, time.Since(start))
		}
		if i == 0 && err != nil {
			t.Errorf("the healthy peer: want its stream, got %v", err)
		}
	}
}

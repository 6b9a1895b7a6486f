// Package qdrantemu emulates a multi-node Qdrant cluster over Qdrant's real REST
// contract (shared/qdrant/API.md, v1.19): one process serves N nodes, each on its
// own 127.0.0.1 port, sharing one cluster state. It models what matters where
// backups and restores go wrong: shard placement and replica states, per-node
// snapshot directories with real tar files and sha256 sidecars, recovery
// priorities, API keys, and injected faults. It is the project's only test
// double; its responses are checked against Qdrant's OpenAPI schema.
//
// Faults (faults.go) reproduce what goes wrong on real nodes: FailNext answers
// with an error status, SlowStreams caps snapshot bodies' rate, HangSnapshots
// never finishes snapshot work, CorruptDownloads flips a byte, SetDown kills a
// node, and InjectStreamFault breaks the snapshot bodies of a chosen node,
// collection and shard as a client sees it on the wire: a connection cut in
// the middle of a chunk or between two chunks (io.ErrUnexpectedEOF in
// net/http), an empty body, noise that is no tar archive, an archive without
// its end-of-archive marker (each a clean io.EOF), a request never answered,
// and a body that stalls after some bytes.
//
// Options reproduce deployments a restore must cope with: DisableURLRecovery
// (service.enable_snapshot_url_recovery: false, 403 on http(s) recoveries),
// UnreachableHosts (nodes that cannot connect to an object store: a 500 "Http
// request error" as on a refused connection) and StreamIdleTimeout (a
// streamed shard snapshot aborted when its consumer stops reading).
//
// Where Qdrant v1.19 has a known bug a restore must route around, the
// emulator has it too: a collection-level recovery of a custom-sharded
// collection into a new collection restores no point (qdrant/qdrant#10135).
package qdrantemu

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"
)

// Options configure an emulated cluster.
type Options struct {
	// Nodes is the number of nodes; 1 by default.
	Nodes int
	// Standalone serves a single node with distributed mode disabled.
	Standalone bool
	// Dir holds each node's snapshots directory; a temporary folder when empty.
	Dir string
	// APIKey and ReadOnlyAPIKey protect the API when set.
	APIKey         string
	ReadOnlyAPIKey string
	// Version reported by GET /; "1.19.0" when empty.
	Version string
	// Commit is the git id GET / reports with the version; v1.19.0's
	// (API.md, "Version covered") when Version and Commit are both empty.
	Commit string
	// Ports to listen on, one per node; 0 or missing picks a free port.
	Ports []int
	// Hosts are the addresses to listen on, one per node; 127.0.0.1 when
	// missing. Distinct loopback addresses (127.0.0.2, 127.0.0.3...) let
	// every node have the same port, as pods behind a headless Service do.
	Hosts []string
	// ResyncDelay is how long a Dead replica takes to catch up from an Active
	// one; 100ms when zero.
	ResyncDelay time.Duration
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// Observe, when set, sees every request and response with JSON bodies.
	Observe func(Exchange)
	// DisableURLRecovery emulates service.enable_snapshot_url_recovery: false
	// (1.18+): recoveries from http(s) locations are refused with 403, file://
	// locations, bare shard snapshot names and uploads still work (API.md 1.6).
	DisableURLRecovery bool
	// UnreachableHosts are hosts ("host" or "host:port") the nodes cannot
	// connect to, as when a network policy keeps them from an object store: a
	// recovery from a URL there fails as Qdrant fails on a refused connection.
	UnreachableHosts []string
	// StreamIdleTimeout is how long a streamed shard snapshot (GET
	// .../shards/{id}/snapshot) waits for a consumer that stopped reading
	// before it aborts the stream; 5 minutes, as Qdrant, when zero (API.md 3).
	StreamIdleTimeout time.Duration
}

// A Cluster is a running emulated Qdrant cluster.
type Cluster struct {
	opts   Options
	dir    string
	ownDir bool

	mu          sync.Mutex
	nodes       []*Node
	collections map[string]*collection
	aliases     map[string]string
	padding     map[string]int64 // collection -> padding bytes per shard snapshot
	faults      faults

	// busy counts requests being handled and the tasks they spawn, so that
	// Close returns only once nothing writes into the nodes' directories. A
	// counter, not a WaitGroup: requests start at any time, also while
	// Close waits.
	busyMu sync.Mutex
	busy   int
}

func (c *Cluster) begin() { c.busyMu.Lock(); c.busy++; c.busyMu.Unlock() }
func (c *Cluster) end()   { c.busyMu.Lock(); c.busy--; c.busyMu.Unlock() }

func (c *Cluster) idle() bool { c.busyMu.Lock(); defer c.busyMu.Unlock(); return c.busy == 0 }

// spawn runs f in a goroutine counted as busy.
func (c *Cluster) spawn(f func()) {
	c.begin()
	go func() { defer c.end(); f() }()
}

// A Node is one emulated Qdrant node.
type Node struct {
	c            *Cluster
	ID           uint64
	Index        int
	addr         string
	snapshotsDir string

	mu  sync.Mutex
	srv *http.Server
	up  bool
}

// Start starts an emulated cluster.
func Start(opts Options) (*Cluster, error) {
	if opts.Nodes <= 0 {
		opts.Nodes = 1
	}
	if opts.Standalone && opts.Nodes != 1 {
		return nil, errors.New("a standalone Qdrant has exactly one node")
	}
	if opts.Version == "" {
		opts.Version = "1.19.0"
		if opts.Commit == "" {
			opts.Commit = "74f3e85b"
		}
	}
	if opts.StreamIdleTimeout == 0 {
		opts.StreamIdleTimeout = 5 * time.Minute
	}
	if opts.ResyncDelay == 0 {
		opts.ResyncDelay = 100 * time.Millisecond
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	c := &Cluster{opts: opts, dir: opts.Dir, collections: map[string]*collection{}, aliases: map[string]string{}, padding: map[string]int64{}}
	if c.dir == "" {
		d, err := os.MkdirTemp("", "qdrantemu")
		if err != nil {
			return nil, fmt.Errorf("cannot create emulator folder: %w", err)
		}
		c.dir, c.ownDir = d, true
	}
	for i := 0; i < opts.Nodes; i++ {
		port, host := 0, "127.0.0.1"
		if i < len(opts.Ports) {
			port = opts.Ports[i]
		}
		if i < len(opts.Hosts) && opts.Hosts[i] != "" {
			host = opts.Hosts[i]
		}
		n := &Node{
			c:     c,
			Index: i,
			// Peer ids are large u64s as in Qdrant; deterministic so that
			// runs are reproducible.
			ID:   peerID(i),
			addr: net.JoinHostPort(host, strconv.Itoa(port)),

			snapshotsDir: filepath.Join(c.dir, fmt.Sprintf("node-%d", i), "snapshots"),
		}
		if err := os.MkdirAll(n.snapshotsDir, 0o750); err != nil {
			return nil, fmt.Errorf("cannot create snapshots folder: %w", err)
		}
		c.nodes = append(c.nodes, n)
		if err := n.listen(); err != nil {
			c.Close()
			return nil, err
		}
	}
	return c, nil
}

func peerID(i int) uint64 {
	// A fixed odd multiplier spreads small indexes over the u64 range.
	return (uint64(i)+1)*0x9E3779B97F4A7C15>>12 + 1_000_000_000_000
}

// Close stops every node and removes a temporary folder.
func (c *Cluster) Close() {
	for _, n := range c.nodes {
		n.stop()
	}
	// A handler's deferred clean-up, or a task spawned for wait=false, may
	// still write into the snapshots directories, which the caller is about
	// to remove. Bounded: a task recovering from a stalled remote has no
	// deadline of its own.
	for deadline := time.Now().Add(10 * time.Second); !c.idle() && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	if c.ownDir {
		_ = os.RemoveAll(c.dir)
	}
}

// Nodes returns the cluster's nodes.
func (c *Cluster) Nodes() []*Node { return c.nodes }

// URLs returns each node's REST URL.
func (c *Cluster) URLs() []string {
	u := make([]string, len(c.nodes))
	for i, n := range c.nodes {
		u[i] = n.URL()
	}
	return u
}

// URL is the node's REST URL.
func (n *Node) URL() string { return "http://" + n.addr }

// SnapshotsDir is the node's snapshots directory, as storage.snapshots_path.
func (n *Node) SnapshotsDir() string { return n.snapshotsDir }

// p2pURI is the peer URI Qdrant reports in GET /cluster: the internal gRPC
// address, not the REST one, so clients cannot use it to reach the REST API.
func (n *Node) p2pURI() string {
	return fmt.Sprintf("http://qdrant-%d.qdrant-headless:6335/", n.Index)
}

func (n *Node) listen() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	l, err := (&net.ListenConfig{}).Listen(context.Background(), "tcp", n.addr)
	if err != nil {
		return fmt.Errorf("cannot listen on %s: %w", n.addr, err)
	}
	n.addr = l.Addr().String()
	n.srv = &http.Server{Handler: n.tracked(n.observe(n.handler())), ReadHeaderTimeout: 5 * time.Second}
	n.up = true
	go func() { _ = n.srv.Serve(l) }()
	return nil
}

// tracked counts a request in the cluster's work until its handler returns.
func (n *Node) tracked(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.c.begin()
		defer n.c.end()
		h.ServeHTTP(w, r)
	})
}

func (n *Node) stop() {
	n.mu.Lock()
	defer n.mu.Unlock()
	if !n.up {
		return
	}
	n.up = false
	// Close, not Shutdown: a node that dies cuts its connections.
	_ = n.srv.Close()
}

// SetDown stops a node (connections are refused) or starts it again on the
// same port.
func (n *Node) SetDown(down bool) error {
	if down {
		n.stop()
		return nil
	}
	n.mu.Lock()
	up := n.up
	n.mu.Unlock()
	if up {
		return nil
	}
	return n.listen()
}

// IsUp says whether the node serves requests.
func (n *Node) IsUp() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.up
}

func (c *Cluster) nodeByID(id uint64) *Node {
	for _, n := range c.nodes {
		if n.ID == id {
			return n
		}
	}
	return nil
}

// SetSnapshotPadding makes every shard's data in snapshots of a collection
// carry this many extra bytes, generated on the fly, so that tests can move
// snapshots of any size without storing points for them.
func (c *Cluster) SetSnapshotPadding(collection string, bytes int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.padding[collection] = bytes
}

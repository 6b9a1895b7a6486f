// Command qdrant-emulator serves an emulated multi-node Qdrant cluster on
// 127.0.0.1 for the demo and for manual testing: one port per node, optional
// sample data and API keys. It prints one node URL per line and runs until
// interrupted.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/qdrantops/qdrantops/cluster/qdrantemu"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "qdrant-emulator:", err)
		os.Exit(1)
	}
}

func run() error {
	nodes := flag.Int("nodes", 3, "number of nodes")
	ports := flag.String("ports", "", "comma-separated ports, one per node (default: free ports)")
	hosts := flag.String("hosts", "", "comma-separated addresses to listen on, one per node, e.g. 127.0.0.2,127.0.0.3 (default: 127.0.0.1)")
	apiKey := flag.String("api-key", os.Getenv("QDRANT_API_KEY"), "API key (default $QDRANT_API_KEY)")
	readOnly := flag.String("read-only-api-key", "", "read-only API key")
	dir := flag.String("dir", "", "folder for the nodes' snapshots (default: a temporary folder)")
	sample := flag.Bool("sample-data", false, "create the sample collections")
	version := flag.String("version", "1.19.0", "Qdrant version to report")
	urlsFile := flag.String("urls-file", "", "write the node URLs to this file once serving")
	commit := flag.String("commit", "", "git commit GET / reports (default: v1.19.0's when -version is 1.19.0)")
	noURLRecovery := flag.Bool("disable-url-recovery", false, "refuse recoveries from http(s) URLs, as service.enable_snapshot_url_recovery: false")
	unreachable := flag.String("unreachable-hosts", "", "comma-separated hosts (host or host:port) the nodes cannot connect to")
	idle := flag.Duration("stream-idle-timeout", 5*time.Minute, "abort a streamed shard snapshot whose consumer stops reading this long")
	var faults []qdrantemu.StreamFaultSpec
	flag.Func("stream-fault", "break snapshot bodies, e.g. CutMidChunk:node=1,collection=docs,shard=0,after=65536,times=1 "+
		"(CutMidChunk, CutAtChunkBoundary, EmptyBody, NotTar, NoEndOfArchive, NoHeaders, StallBody; repeatable)", func(v string) error {
		f, err := qdrantemu.ParseStreamFault(v)
		faults = append(faults, f)
		return err
	})
	flag.Parse()

	var ps []int
	for _, p := range strings.Split(*ports, ",") {
		if p == "" {
			continue
		}
		n, err := strconv.Atoi(p)
		if err != nil {
			return fmt.Errorf("bad port %q", p)
		}
		ps = append(ps, n)
	}
	opts := qdrantemu.Options{
		Nodes: *nodes, Ports: ps, Hosts: splitList(*hosts), APIKey: *apiKey, ReadOnlyAPIKey: *readOnly, Dir: *dir, Version: *version, Commit: *commit,
		DisableURLRecovery: *noURLRecovery, StreamIdleTimeout: *idle,
	}
	if *version == "1.19.0" && *commit == "" {
		opts.Version = "" // The emulator's default: 1.19.0 with its commit.
	}
	for _, h := range strings.Split(*unreachable, ",") {
		if h = strings.TrimSpace(h); h != "" {
			opts.UnreachableHosts = append(opts.UnreachableHosts, h)
		}
	}
	c, err := qdrantemu.Start(opts)
	if err != nil {
		return err
	}
	defer c.Close()
	for _, f := range faults {
		c.InjectStreamFault(f)
	}
	if *sample {
		for _, s := range qdrantemu.DefaultSamples() {
			if err := c.AddSample(s); err != nil {
				return err
			}
		}
	}
	urls := strings.Join(c.URLs(), "\n") + "\n"
	fmt.Print(urls)
	if *urlsFile != "" {
		if err := os.WriteFile(*urlsFile, []byte(urls), 0o600); err != nil {
			return fmt.Errorf("cannot write URLs: %w", err)
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	<-ctx.Done()
	return nil
}

func splitList(s string) []string {
	var out []string
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}

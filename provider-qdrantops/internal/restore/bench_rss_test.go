package restore_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/qdrantops/qdrantops/cluster/qdrantemu"
	"github.com/qdrantops/qdrantops/provider-qdrantops/internal/backup"
	"github.com/qdrantops/qdrantops/provider-qdrantops/internal/manifest"
	"github.com/qdrantops/qdrantops/provider-qdrantops/internal/qdrantcluster"
	"github.com/qdrantops/qdrantops/provider-qdrantops/internal/s3store"
)

const (
	mib = 1 << 20
	// rssBudget is the transfer budget of the memory benchmarks, the
	// backups' (see the backup package's bench_rss_test.go): a restore by
	// upload borrows one part-sized buffer of it per shard in flight, so
	// the four shards of one restore at parallelism 4 take half of it, and
	// twenty restores must share it.
	rssBudget = 64 * mib
	// rssHeadroom is the Go memory limit above the budget (GOMEMLIMIT =
	// budget + headroom), as for backups: the provider sets its limit from
	// the container's and the same limit serves both. Without a tight
	// limit the garbage of the S3 SDK and of net/http, a little per
	// request and per read, piles up until the collector runs, and a long
	// transfer ends higher than a short one.
	rssHeadroom = 16 * mib
	// rssGoal bounds the peak RSS of twenty concurrent restores as issue 8
	// bounds that of twenty backups: the budget plus 64 MiB.
	rssGoal = rssBudget + 64*mib
	// rssBucket holds the backups the memory benchmarks restore.
	rssBucket = "rss-restore"
)

// BenchmarkRestorePeakRSS restores a 64 MiB and a 4 GiB backup by upload,
// each in a process of its own (benchproc) so that its peak resident memory
// (VmHWM) is the restore engine's alone: the emulator and the S3 server run
// elsewhere. Each shard in flight reads its object through one buffer
// borrowed from a fixed budget, so memory must not follow the backup's size.
//
// Two checks say so. The peak RSS of either restore stays within the Go
// memory limit, budget plus headroom: memory held for the data would push
// it past. And what the process allocates in all, garbage included, grows
// under 10% from 64 MiB to 4 GiB: garbage made per byte or per read would
// grow with the data even where the collector keeps RSS under the limit.
// The peak RSS itself does grow from the small restore to the large one, by
// no more than the budget's buffers: a buffer's pages become resident only
// once a read fills them, and a read takes what the socket holds, which
// reaches a full part only now and then; over 4 GiB every buffer has been
// filled once, over 64 MiB not yet (its heap in use, 35 MiB with the four
// buffers, exceeds its peak RSS, about 23 MiB; the 4 GiB restore's heap in
// use is the same). That growth is reported, not judged.
func BenchmarkRestorePeakRSS(b *testing.B) {
	bin := buildRestoreBenchproc(b)
	got := map[int64]measured{}
	for _, total := range []int64{64 * mib, 4 << 30} {
		// Four shards on three nodes, restored four at a time, so that the
		// small restore already runs as many reads at once as the large.
		name := fmt.Sprintf("size-%d", total)
		root, size := rssBackup(b, name, total/4)
		// Every restore gets a fresh target: its collection, and what the
		// emulator keeps of it, go with it.
		dst := startRSSTarget(b)
		m := runRestoreBenchproc(b, bin, dst, root, size, []string{"c"}, name)
		dst.Close()
		b.Logf("%d MiB: %s", total/mib, m.out)
		got[total] = m
	}
	small, large := got[64*mib], got[4<<30]
	growth := (large.peak - small.peak) / small.peak * 100
	allocGrowth := (large.alloc - small.alloc) / small.alloc * 100
	b.ReportMetric(small.peak, "peakRSS-64MiB-MiB")
	b.ReportMetric(large.peak, "peakRSS-4GiB-MiB")
	b.ReportMetric(growth, "growth-%")
	b.ReportMetric(allocGrowth, "alloc-growth-%")
	limit := float64(rssBudget+rssHeadroom) / mib
	fmt.Printf("peak RSS 64 MiB restore: %.1f MiB, 4 GiB restore: %.1f MiB (budget %d MiB, GOMEMLIMIT %.0f MiB)\n",
		small.peak, large.peak, rssBudget/mib, limit)
	fmt.Printf("peak RSS growth restore 64 MiB -> 4 GiB: %.1f%%; allocated %.1f MiB -> %.1f MiB (%.1f%%)\n",
		growth, small.alloc, large.alloc, allocGrowth)
	for total, m := range got {
		if m.peak > limit {
			b.Errorf("peak RSS of the %d MiB restore is %.1f MiB, want at most the budget + headroom (%.0f MiB): memory follows the data", total/mib, m.peak, limit)
		}
	}
	if allocGrowth >= 10 {
		b.Errorf("allocations grew %.1f%% from a 64 MiB to a 4 GiB restore (%.1f -> %.1f MiB), want under 10%%: memory follows the data",
			allocGrowth, small.alloc, large.alloc)
	}
}

// BenchmarkConcurrentRestoresPeakRSS runs twenty restores by upload at once
// in one process, each of the same backup into a collection of its own, at
// parallelism 4 with a Store of its own, every Store borrowing from one
// transfer budget: eighty shards want a buffer, the budget has eight. Peak
// RSS must stay within the budget plus 64 MiB.
func BenchmarkConcurrentRestoresPeakRSS(b *testing.B) {
	const restores = 20
	bin := buildRestoreBenchproc(b)
	// 4 x 16 MiB: every shard reads through a full buffer.
	root, size := rssBackup(b, "concurrent", 16*mib)
	var targets []string
	for i := 0; i < restores; i++ {
		targets = append(targets, fmt.Sprintf("r%02d", i))
	}
	dst := startRSSTarget(b)
	defer dst.Close()
	m := runRestoreBenchproc(b, bin, dst, root, size, targets, "concurrent")
	peak := m.peak
	b.Logf("%d restores: %s", restores, m.out)
	b.ReportMetric(peak, "peakRSS-MiB")
	fmt.Printf("peak RSS %d concurrent restores: %.1f MiB (budget %d MiB, goal %d MiB)\n", restores, peak, rssBudget/mib, rssGoal/mib)
	if peak > rssGoal/mib {
		b.Errorf("peak RSS of %d concurrent restores is %.1f MiB, want at most the budget + 64 MiB (%d MiB)", restores, peak, rssGoal/mib)
	}
}

// rssBackup backs up, in this process, a collection "c" of four shards on a
// 3-node emulator, each shard's snapshot padded to padding bytes, as backup
// name. It returns the backup's folder and the snapshot bytes it holds.
func rssBackup(b *testing.B, name string, padding int64) (string, int64) {
	b.Helper()
	ctx := context.Background()
	src, err := qdrantemu.Start(qdrantemu.Options{Nodes: 3, Dir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	defer src.Close()
	if err := src.AddSample(qdrantemu.Sample{Name: "c", ShardNumber: 4, ReplicationFactor: 1, Points: 2000, Dim: 8}); err != nil {
		b.Fatal(err)
	}
	src.SetSnapshotPadding("c", padding)
	if err := srv.CreateBucket(ctx, rssBucket); err != nil && !strings.Contains(err.Error(), "BucketAlready") {
		b.Fatal(err)
	}
	budget, err := s3store.NewBudget(rssBudget, s3store.DefaultPartSize)
	if err != nil {
		b.Fatal(err)
	}
	st, err := s3store.New(s3store.Config{Bucket: rssBucket, Endpoint: srv.Endpoint, UsePathStyle: true, Region: srv.Region,
		Credentials: credentials.NewStaticCredentialsProvider(srv.AccessKey, srv.SecretKey, ""), Budget: budget})
	if err != nil {
		b.Fatal(err)
	}
	qc, err := qdrantcluster.Connect(ctx, qdrantcluster.Options{URL: src.URLs()[0], PeerURLs: src.URLs()})
	if err != nil {
		b.Fatal(err)
	}
	l := manifest.Layout{Prefix: "rss/", Namespace: "bench", Cluster: "rss", Backup: name}
	m, err := backup.Run(ctx, qc, st, backup.Request{Layout: l, Backup: manifest.BackupRef{Namespace: "bench", Name: name, UID: "uid-" + name},
		Cluster: "rss", Collections: []string{"c"}, Parallelism: 4})
	if err != nil {
		b.Fatalf("cannot back up the collection to restore: %v", err)
	}
	if m.SizeBytes() < 4*padding {
		b.Fatalf("the backup holds %d bytes, want at least %d", m.SizeBytes(), 4*padding)
	}
	return l.Root(), m.SizeBytes()
}

// startRSSTarget starts an empty 3-node emulator to restore into.
func startRSSTarget(b *testing.B) *qdrantemu.Cluster {
	b.Helper()
	emu, err := qdrantemu.Start(qdrantemu.Options{Nodes: 3, Dir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	return emu
}

// buildRestoreBenchproc builds the restore process the memory benchmarks
// measure.
func buildRestoreBenchproc(b *testing.B) string {
	b.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		b.Fatalf("the memory benchmarks build benchproc with the go command: %v", err)
	}
	bin := filepath.Join(b.TempDir(), "benchproc")
	out, err := exec.CommandContext(b.Context(), goBin, "build", "-o", bin, "./benchproc").CombinedOutput()
	if err != nil {
		b.Fatalf("cannot build benchproc: %v\n%s", err, out)
	}
	return bin
}

// measured is what one benchproc process reported.
type measured struct {
	// peak is its peak RSS, in MiB.
	peak float64
	// alloc is every byte it allocated, in MiB.
	alloc float64
	// out is what it printed, on one line.
	out string
}

// runRestoreBenchproc restores the backup at root once per target, all at
// once, in a benchproc process, fails unless every restore streamed the
// backup's size bytes, and returns what the process measured.
func runRestoreBenchproc(b *testing.B, bin string, dst *qdrantemu.Cluster, root string, size int64, targets []string, name string) measured {
	b.Helper()
	cmd := exec.CommandContext(b.Context(), bin,
		"-urls", strings.Join(dst.URLs(), ","),
		"-endpoint", srv.Endpoint, "-bucket", rssBucket, "-root", root,
		"-collection", "c", "-targets", strings.Join(targets, ","),
		"-budget", strconv.Itoa(rssBudget), "-parallelism", "4")
	// BENCH_MEMPROFILE_DIR keeps each process's allocation profile, to see
	// where memory beyond the budget goes (go tool pprof -sample_index=alloc_space).
	if dir := os.Getenv("BENCH_MEMPROFILE_DIR"); dir != "" {
		cmd.Args = append(cmd.Args, "-memprofile", filepath.Join(dir, "restore-"+name+".pprof"))
	}
	cmd.Env = append(os.Environ(), "S3_ACCESS_KEY="+srv.AccessKey, "S3_SECRET_KEY="+srv.SecretKey,
		fmt.Sprintf("GOMEMLIMIT=%dMiB", (rssBudget+rssHeadroom)/mib))
	out, err := cmd.CombinedOutput()
	if err != nil {
		b.Fatalf("benchproc: %v\n%s", err, out)
	}
	each := strings.Split(field(b, out, "uploaded-bytes="), ",")
	if len(each) != len(targets) {
		b.Fatalf("benchproc reported %d restores, want %d:\n%s", len(each), len(targets), out)
	}
	for i, s := range each {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			b.Fatalf("cannot parse benchproc's uploaded bytes: %v\n%s", err, out)
		}
		if n < size {
			b.Fatalf("restore %d of %d uploaded %d bytes, the backup holds %d", i+1, len(each), n, size)
		}
	}
	kb, err := strconv.ParseFloat(field(b, out, "VmHWM-kB="), 64)
	if err != nil {
		b.Fatalf("cannot parse benchproc's VmHWM: %v\n%s", err, out)
	}
	alloc, err := strconv.ParseFloat(field(b, out, "total-alloc-MiB="), 64)
	if err != nil {
		b.Fatalf("cannot parse benchproc's allocations: %v\n%s", err, out)
	}
	return measured{peak: kb / 1024, alloc: alloc, out: strings.Join(strings.Fields(string(out)), " ")}
}

// field is the value benchproc printed after key.
func field(b *testing.B, out []byte, key string) string {
	b.Helper()
	_, after, ok := strings.Cut(string(out), key)
	if !ok || len(strings.Fields(after)) == 0 {
		b.Fatalf("no %s in benchproc's output:\n%s", key, out)
	}
	return strings.Fields(after)[0]
}

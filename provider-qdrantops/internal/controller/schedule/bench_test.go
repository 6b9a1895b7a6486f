package schedule_test

import (
	"context"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"
	corev1 "k8s.io/api/core/v1"
	kerrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	toolscache "k8s.io/client-go/tools/cache"
	watchtools "k8s.io/client-go/tools/watch"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/qdrantops/qdrantops/apis/ops/v1alpha1"
	qdrantv1alpha1 "github.com/qdrantops/qdrantops/apis/qdrantops/v1alpha1"
)

// benchClockTicks is the kernel's USER_HZ, the unit of utime and stime in
// /proc/<pid>/stat: 100 on every Linux architecture Go supports.
const benchClockTicks = 100

// benchCostReconcileRate is the provider's --max-reconcile-rate in the
// reconcile cost benchmark. Its default, 10 reconciles a second shared by
// Backups and Restores, does not cover 1,000 Backups: polled once a minute
// when settled they ask for 17 a second, and each new one for three or four
// more to fail. The benchmark measures at 100, as an installation with that
// many Backups would set it. The tick latency benchmark runs the defaults:
// schedules have a rate limiter of their own.
const benchCostReconcileRate = "100"

// A benchProvider is the real provider binary, run as Crossplane runs it
// (its ServiceAccount, the package's RBAC, default flags unless args say
// otherwise) but alone, without leader election.
type benchProvider struct {
	cmd     *exec.Cmd
	log     string
	metrics string
	done    chan struct{}
}

// benchMissedTicks lists the schedules of ns with the ticks each says it
// missed.
func benchMissedTicks(b *testing.B, ns string) string {
	b.Helper()
	l := &v1alpha1.BackupScheduleList{}
	if err := env.Client.List(context.Background(), l, client.InNamespace(ns)); err != nil {
		return err.Error()
	}
	var out []string
	for _, s := range l.Items {
		out = append(out, fmt.Sprintf("%s: %d", s.Name, s.Status.AtProvider.MissedTicks))
	}
	return strings.Join(out, ", ")
}

// benchStartProvider starts the provider with args, killed when the
// benchmark ends.
func benchStartProvider(b *testing.B, args ...string) *benchProvider {
	b.Helper()
	if shared != nil {
		// A provider reconciles every namespace: the tests' would do part
		// of the work measured here.
		b.Fatal("the tests' shared provider process still runs: run the benchmarks alone, with -run '^$'")
	}
	dir := b.TempDir()
	kc := filepath.Join(dir, "kubeconfig")
	if err := env.KubeconfigAs(kc, providerAccount); err != nil {
		b.Fatal(err)
	}
	p := &benchProvider{log: filepath.Join(dir, "provider.log"), metrics: freeAddr(b), done: make(chan struct{})}
	f, err := os.Create(p.log)
	if err != nil {
		b.Fatal(err)
	}
	args = append([]string{"--leader-election=false", "--health-probe-bind-address", "0", "--metrics-bind-address", p.metrics}, args...)
	p.cmd = exec.CommandContext(context.Background(), providerBinary(b), args...)
	p.cmd.Env = append(os.Environ(), "KUBECONFIG="+kc)
	p.cmd.Stdout, p.cmd.Stderr = f, f
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := p.cmd.Start(); err != nil {
		b.Fatal(err)
	}
	go func() { _ = p.cmd.Wait(); _ = f.Close(); close(p.done) }()
	b.Cleanup(func() {
		_ = p.cmd.Process.Signal(syscall.SIGKILL)
		<-p.done
	})
	return p
}

func (p *benchProvider) logTail(n int) string {
	bs, err := os.ReadFile(p.log)
	if err != nil {
		return err.Error()
	}
	if len(bs) > n {
		bs = bs[len(bs)-n:]
	}
	return string(bs)
}

// cpu is the process's user and system CPU time so far.
func (p *benchProvider) cpu(b *testing.B) time.Duration {
	b.Helper()
	bs, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.cmd.Process.Pid))
	if err != nil {
		b.Fatal(err)
	}
	// The command name, in parentheses, may hold spaces: the fields
	// after it start with the third, state.
	s := string(bs)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(fields) < 13 {
		b.Fatalf("cannot parse /proc/<pid>/stat: %q", s)
	}
	var ticks int64
	for _, f := range fields[11:13] { // utime (14th field), stime (15th)
		n, err := strconv.ParseInt(f, 10, 64)
		if err != nil {
			b.Fatalf("cannot parse /proc/<pid>/stat: %q: %v", s, err)
		}
		ticks += n
	}
	return time.Duration(ticks) * time.Second / benchClockTicks
}

// memory returns the process's VmRSS and VmHWM (its peak RSS), in MiB.
func (p *benchProvider) memory(b *testing.B) (rss, hwm float64) {
	b.Helper()
	bs, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		b.Fatal(err)
	}
	for l := range strings.SplitSeq(string(bs), "\n") {
		k, v, ok := strings.Cut(l, ":")
		if !ok || (k != "VmRSS" && k != "VmHWM") {
			continue
		}
		kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
		if err != nil {
			b.Fatalf("cannot parse %q: %v", l, err)
		}
		if k == "VmRSS" {
			rss = kb / 1024
		} else {
			hwm = kb / 1024
		}
	}
	if rss == 0 || hwm == 0 {
		b.Fatalf("no VmRSS or VmHWM in /proc/<pid>/status:\n%s", bs)
	}
	return rss, hwm
}

// benchSchedules creates n schedules name-0... of spec with concurrencyPolicy
// Allow, so that a Backup still running never makes a tick skip, each of a
// QdrantCluster of its own, as composed schedules are: one Backup runs per
// cluster at a time, and the benchmarks measure schedules, not that queue.
// Every cluster is the emulator, asked for a collection it does not have,
// so each Backup fails at once, for good, and then sits settled as a
// cluster's finished Backups do, rather than move data through the
// provider being measured.
func benchSchedules(b *testing.B, ns, name, spec string, n int) {
	b.Helper()
	for i := range n {
		sched := fmt.Sprintf("%s-%d", name, i)
		create(b, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: qdrantv1alpha1.ConnectionSecretName(sched), Namespace: ns}, StringData: map[string]string{
			qdrantv1alpha1.ConnectionKeyEndpoint: emu.URLs()[0],
			qdrantv1alpha1.ConnectionKeyPeerURLs: strings.Join(emu.URLs(), "\n"),
			qdrantv1alpha1.ConnectionKeyAPIKey:   apiKey,
		}})
		create(b, newSchedule(ns, sched, spec, func(s *v1alpha1.BackupSchedule) {
			s.Spec.ForProvider.ConcurrencyPolicy = v1alpha1.ConcurrencyAllow
			s.Spec.ForProvider.Template.ClusterRef = &v1alpha1.LocalReference{Name: sched}
			s.Spec.ForProvider.Template.Collections = []v1alpha1.CollectionName{"not-in-the-cluster"}
		}))
	}
}

// A benchArrival is a Backup the watch saw created, and when.
type benchArrival struct {
	schedule string
	tick     time.Time
	at       time.Time
}

// benchWatch reports every Backup created in ns from now on, with the time
// its ADDED event arrived, until ctx ends. It watches again from the last
// version it saw when the apiserver ends a watch, as an informer does.
func benchWatch(ctx context.Context, b *testing.B, ns string) <-chan benchArrival {
	b.Helper()
	wc, err := client.NewWithWatch(env.Config, client.Options{Scheme: env.Scheme})
	if err != nil {
		b.Fatal(err)
	}
	l := &v1alpha1.BackupList{}
	if err := wc.List(ctx, l, client.InNamespace(ns)); err != nil {
		b.Fatal(err)
	}
	w, err := watchtools.NewRetryWatcherWithContext(ctx, l.ResourceVersion, &toolscache.ListWatch{
		WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			return wc.Watch(ctx, &v1alpha1.BackupList{}, client.InNamespace(ns), &client.ListOptions{Raw: &o})
		},
	})
	if err != nil {
		b.Fatal(err)
	}
	out := make(chan benchArrival, 4096)
	go func() {
		defer close(out)
		defer w.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case e, ok := <-w.ResultChan():
				if !ok {
					return
				}
				at := time.Now()
				bk, isBackup := e.Object.(*v1alpha1.Backup)
				if e.Type != watch.Added || !isBackup {
					continue
				}
				sec, err := strconv.ParseInt(bk.Labels[v1alpha1.LabelScheduleTick], 10, 64)
				if err != nil {
					continue
				}
				select {
				case out <- benchArrival{schedule: bk.Labels[v1alpha1.LabelBackupSchedule], tick: time.Unix(sec, 0), at: at}:
				case <-ctx.Done():
					return
				}
			}
		}
	}()
	return out
}

// benchPercentile is the p-th percentile of sorted ds, nearest rank.
func benchPercentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	i := int(math.Ceil(p/100*float64(len(ds)))) - 1
	return ds[min(max(i, 0), len(ds)-1)]
}

func benchMillis(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// BenchmarkTickLatency measures how long after its scheduled time a tick's
// Backup is created: the real provider binary, as Crossplane runs it, with
// its default flags, and four @every 1s and two @every 2s schedules (five
// ticks a second), over exactly 100 ticks after a warm-up. The time of a tick is its label (whole
// seconds, as the ticks of an @every schedule are); the Backup's creation
// is when this process's watch sees it added, so the figure includes the
// apiserver's write and its watch, as a user's would.
func BenchmarkTickLatency(b *testing.B) {
	const (
		ns     = "bench-latency"
		warmUp = 3 * time.Second
		window = 20 * time.Second
		ticks  = 4*20 + 2*10
	)
	for range b.N {
		ctx, cancel := context.WithCancel(context.Background())
		namespace(b, ns)
		p := benchStartProvider(b)
		arrivals := benchWatch(ctx, b, ns)
		start := time.Now()
		benchSchedules(b, ns, "every1s", "@every 1s", 4)
		benchSchedules(b, ns, "every2s", "@every 2s", 2)

		// The measured ticks are those in [from, to): every schedule
		// exists and has been seen by the provider before from.
		from := start.Truncate(time.Second).Add(warmUp)
		to := from.Add(window)
		seen := map[string]map[int64]time.Duration{}
		deadline := time.After(time.Until(to) + 30*time.Second)
		measured := 0
	collect:
		for measured < ticks {
			select {
			case a, ok := <-arrivals:
				if !ok {
					b.Fatal("the watch of Backups ended")
				}
				if a.tick.Before(from) || !a.tick.Before(to) {
					continue
				}
				if seen[a.schedule] == nil {
					seen[a.schedule] = map[int64]time.Duration{}
				}
				if _, dup := seen[a.schedule][a.tick.Unix()]; dup {
					b.Errorf("schedule %s: a second Backup for the tick at %s", a.schedule, a.tick.UTC())
					continue
				}
				seen[a.schedule][a.tick.Unix()] = a.at.Sub(a.tick)
				measured++
			case <-deadline:
				break collect
			}
		}
		cancel()

		// A tick that got no Backup within 30 s counts as infinitely late,
		// so that a miss cannot improve the percentiles.
		lat := make([]time.Duration, 0, ticks)
		for _, byTick := range seen {
			for _, d := range byTick {
				lat = append(lat, d)
			}
		}
		missing := ticks - len(lat)
		for range missing {
			lat = append(lat, time.Duration(math.MaxInt64))
		}
		slices.Sort(lat)
		p50, p99 := benchPercentile(lat, 50), benchPercentile(lat, 99)
		if missing > 0 {
			b.Errorf("%d of %d ticks got no Backup within 30 s of the window's end; missed ticks by schedule: %s; provider log ends:\n%s", missing, ticks, benchMissedTicks(b, ns), p.logTail(3000))
		}
		b.Logf("%d ticks of 6 schedules (4 @every 1s, 2 @every 2s) between %s and %s: min %.0f ms, p50 %.0f ms, p90 %.0f ms, p99 %.0f ms, max %.0f ms, missing %d",
			ticks, from.UTC().Format(time.TimeOnly), to.UTC().Format(time.TimeOnly),
			benchMillis(lat[0]), benchMillis(p50), benchMillis(benchPercentile(lat, 90)), benchMillis(p99), benchMillis(lat[len(lat)-1]), missing)
		b.ReportMetric(benchMillis(p50), "p50-ms")
		b.ReportMetric(benchMillis(p99), "p99-ms")
		fmt.Printf("tick latency p50: %.0f ms\n", benchMillis(p50))
		fmt.Printf("tick latency p99: %.0f ms\n", benchMillis(p99))
		benchCleanup(b, ns)
	}
}

// benchCleanup deletes a namespace's schedules while the provider still
// runs, so that the garbage collector deletes their Backups and the
// provider releases them, and the next benchmark's provider does not find
// them. It waits a bounded time and only says so if they stay.
func benchCleanup(b *testing.B, ns string) {
	b.Helper()
	ctx := context.Background()
	if err := env.Client.DeleteAllOf(ctx, &v1alpha1.BackupSchedule{}, client.InNamespace(ns)); err != nil && !kerrors.IsNotFound(err) {
		b.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		l := &v1alpha1.BackupList{}
		if err := env.Client.List(ctx, l, client.InNamespace(ns)); err != nil {
			b.Fatal(err)
		}
		if len(l.Items) == 0 {
			return
		}
		if time.Now().After(deadline) {
			b.Logf("%d Backups of %s are still there 30 s after their schedules were deleted", len(l.Items), ns)
			return
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// benchPatchSchedules sets the schedule of every BackupSchedule of ns, ten
// at a time: one by one they take seconds on a loaded apiserver, while the
// old schedule still fires.
func benchPatchSchedules(b *testing.B, ns, spec string) {
	b.Helper()
	l := &v1alpha1.BackupScheduleList{}
	if err := env.Client.List(context.Background(), l, client.InNamespace(ns)); err != nil {
		b.Fatal(err)
	}
	var g errgroup.Group
	g.SetLimit(10)
	for i := range l.Items {
		s := &l.Items[i]
		g.Go(func() error {
			orig := s.DeepCopy()
			s.Spec.ForProvider.Schedule = spec
			if err := env.Client.Patch(context.Background(), s, client.MergeFrom(orig)); err != nil {
				return fmt.Errorf("cannot patch BackupSchedule %s: %w", s.Name, err)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		b.Fatal(err)
	}
}

// benchCreated counts the Backups of ns, reading only their metadata: the
// apiserver is busy enough.
func benchCreated(b *testing.B, ns string) int {
	b.Helper()
	l := &metav1.PartialObjectMetadataList{}
	l.SetGroupVersionKind(v1alpha1.SchemeGroupVersion.WithKind("BackupList"))
	if err := env.Client.List(context.Background(), l, client.InNamespace(ns)); err != nil {
		b.Fatal(err)
	}
	return len(l.Items)
}

// benchCount counts the Backups of ns, and those not settled yet (neither
// Completed nor Failed).
func benchCount(b *testing.B, ns string) (all, unsettled int) {
	b.Helper()
	l := &v1alpha1.BackupList{}
	if err := env.Client.List(context.Background(), l, client.InNamespace(ns)); err != nil {
		b.Fatal(err)
	}
	for i := range l.Items {
		if ph := l.Items[i].Status.AtProvider.Phase; ph != v1alpha1.BackupFailed && ph != v1alpha1.BackupCompleted {
			unsettled++
		}
	}
	return len(l.Items), unsettled
}

// BenchmarkReconcileCost measures what the provider process costs with 100
// schedules and the 1,000 Backups they created: its resident memory, the CPU
// it spends per tick, and what it spends when no tick is due. 100 @every 10s
// schedules create 1,000 Backups (ten ticks a second: faster, the Backups'
// reconciles fall behind their creation); then the schedules stop firing,
// and the provider has up to 20 s to settle the Backups still in flight. The CPU per tick is
// the process's CPU time from the schedules' creation to then, over the
// Backups created: the schedule's reconciles and its Backup's life up to
// Failed (Backups still unsettled then are said, and make it an
// underestimate). Then the process's CPU is measured over 10 s with no tick
// due: the polls of settled resources, and what is left of the backlog
// (also said).
func BenchmarkReconcileCost(b *testing.B) {
	const (
		ns        = "bench-cost"
		schedules = 100
		backups   = 1000
		build     = 150 * time.Second
		drain     = 20 * time.Second
		idle      = 10 * time.Second
	)
	for range b.N {
		namespace(b, ns)
		p := benchStartProvider(b, "--max-reconcile-rate", benchCostReconcileRate)
		// The controllers start within a second or two; the CPU of the
		// start is not the schedules'.
		time.Sleep(3 * time.Second)
		cpu0, start := p.cpu(b), time.Now()
		benchSchedules(b, ns, "cost", "@every 10s", schedules)

		built := 0
		for deadline := time.Now().Add(build); built < backups; time.Sleep(time.Second) {
			if time.Now().After(deadline) {
				b.Fatalf("only %d Backups %s after the schedules were created; provider log ends:\n%s", built, build, p.logTail(3000))
			}
			built = benchCreated(b, ns)
		}
		buildTime := time.Since(start)
		// New Year's midnight: no tick while this runs.
		benchPatchSchedules(b, ns, "0 0 1 1 *")
		var unsettled int
		for deadline := time.Now().Add(drain); ; time.Sleep(2 * time.Second) {
			built, unsettled = benchCount(b, ns)
			if unsettled == 0 || time.Now().After(deadline) {
				break
			}
		}
		cpuTicks, ticksTime := p.cpu(b)-cpu0, time.Since(start)

		cpu1, t1 := p.cpu(b), time.Now()
		time.Sleep(idle)
		cpuIdle, idleTime := p.cpu(b)-cpu1, time.Since(t1)
		_, unsettledAfter := benchCount(b, ns)
		rss, hwm := p.memory(b)

		perTick := cpuTicks / time.Duration(built)
		idleRate := time.Duration(float64(cpuIdle) / idleTime.Seconds())
		b.Logf("%d Backups of %d @every 10s schedules created in %s; %s CPU (%.0f%% of a core) until %s, when %d were not settled; then %s CPU in %s, after which %d were not settled",
			built, schedules, buildTime.Round(time.Second), cpuTicks.Round(time.Millisecond), 100*cpuTicks.Seconds()/ticksTime.Seconds(), ticksTime.Round(time.Second), unsettled,
			cpuIdle.Round(time.Millisecond), idleTime.Round(time.Second), unsettledAfter)
		b.ReportMetric(rss, "VmRSS-MiB")
		b.ReportMetric(hwm, "VmHWM-MiB")
		b.ReportMetric(benchMillis(perTick), "CPU-ms/tick")
		b.ReportMetric(benchMillis(idleRate), "idle-CPU-ms/s")
		fmt.Printf("provider RSS with %d schedules and %d Backups: VmRSS %.1f MiB\n", schedules, built, rss)
		fmt.Printf("provider peak RSS with %d schedules and %d Backups: VmHWM %.1f MiB\n", schedules, built, hwm)
		fmt.Printf("provider CPU per tick (its schedule's reconciles and its Backup's, to Failed) with %d schedules and %d Backups: %.1f ms (%d Backups not settled yet)\n", schedules, built, benchMillis(perTick), unsettled)
		fmt.Printf("provider CPU with %d schedules and %d Backups, no tick due: %.1f ms/s (%d Backups not settled at the start, %d at the end)\n", schedules, built, benchMillis(idleRate), unsettled, unsettledAfter)
	}
}

package jobs

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in time")
		}
		time.Sleep(time.Millisecond)
	}
}

func TestOneJobPerClusterAtATime(t *testing.T) {
	r := NewRunner[int](context.Background(), NewSlots())
	release := make(chan struct{})
	first := r.Start("a", "cluster-1", "ns/first", func(ctx context.Context, report func(int)) (int, error) {
		report(1)
		<-release
		return 2, nil
	})
	waitFor(t, func() bool { return first.State().Progress == 1 })
	second := r.Start("b", "cluster-1", "ns/second", func(context.Context, func(int)) (int, error) { return 3, nil })
	// What a job waits behind is part of its state from the moment it
	// starts, not once its goroutine gets round to it.
	if s := second.State(); !s.Queued || s.Behind != "ns/first" || s.QueuedSince.IsZero() {
		t.Errorf("second job on the same cluster, at once: want queued behind ns/first, got %+v", s)
	}
	other := r.Start("c", "cluster-2", "ns/other", func(context.Context, func(int)) (int, error) { return 4, nil })

	waitFor(t, func() bool { return other.State().Done })
	if s := second.State(); !s.Queued || s.Behind != "ns/first" {
		t.Errorf("second job on the same cluster: want queued behind ns/first, got %+v", s)
	}
	if again := r.Start("a", "cluster-1", "ns/first", nil); again != first {
		t.Error("Start of a running key must return the running job")
	}
	close(release)
	waitFor(t, func() bool { return second.State().Done })
	if s := first.State(); !s.Done || s.Progress != 2 || s.Err != nil {
		t.Errorf("first job: want done with 2, got %+v", s)
	}
	if s := second.State(); s.Progress != 3 {
		t.Errorf("second job: want 3, got %+v", s)
	}
}

func TestCancelStopsAndForgets(t *testing.T) {
	r := NewRunner[int](context.Background(), NewSlots())
	j := r.Start("a", "c", "ns/a", func(ctx context.Context, report func(int)) (int, error) {
		report(7)
		<-ctx.Done()
		return 0, ctx.Err()
	})
	waitFor(t, func() bool { return j.State().Progress == 7 })
	r.Cancel("a")
	waitFor(t, func() bool { return j.State().Done })
	if s := j.State(); !errors.Is(s.Err, context.Canceled) || s.Progress != 7 {
		t.Errorf("cancelled job: want context.Canceled keeping its progress, got %+v", s)
	}
	if _, ok := r.Get("a"); ok {
		t.Error("a cancelled job is forgotten")
	}
	// Its slot is free again.
	next := r.Start("b", "c", "ns/b", func(context.Context, func(int)) (int, error) { return 1, nil })
	waitFor(t, func() bool { return next.State().Done })
}

func TestForgetKeepsRunningJobs(t *testing.T) {
	r := NewRunner[int](context.Background(), NewSlots())
	block := make(chan struct{})
	r.Start("a", "c", "ns/a", func(context.Context, func(int)) (int, error) { <-block; return 0, nil })
	r.Forget("a")
	if _, ok := r.Get("a"); !ok {
		t.Error("Forget dropped a running job")
	}
	close(block)
}

func TestSlotsAreSharedAcrossRunners(t *testing.T) {
	slots := NewSlots()
	backups := NewRunner[int](context.Background(), slots)
	restores := NewRunner[string](context.Background(), slots)
	release := make(chan struct{})
	b := backups.Start("a", "c", "ns/backup", func(ctx context.Context, report func(int)) (int, error) {
		report(1)
		<-release
		return 1, nil
	})
	waitFor(t, func() bool { return b.State().Progress == 1 })
	r := restores.Start("b", "c", "ns/restore", func(context.Context, func(string)) (string, error) { return "done", nil })
	waitFor(t, func() bool { return r.State().Behind == "ns/backup" })
	close(release)
	waitFor(t, func() bool { return r.State().Done })
}

// Jobs of a cluster run in the order they started, and a waiting job that is
// cancelled leaves the queue without holding it up.
func TestQueueIsFIFOAndCancelLeavesIt(t *testing.T) {
	r := NewRunner[int](context.Background(), NewSlots())
	release := make(chan struct{})
	var order []string
	var mu sync.Mutex
	record := func(name string) func(context.Context, func(int)) (int, error) {
		return func(context.Context, func(int)) (int, error) {
			mu.Lock()
			order = append(order, name)
			mu.Unlock()
			return 0, nil
		}
	}
	first := r.Start("a", "c", "ns/a", func(context.Context, func(int)) (int, error) { <-release; return 0, nil })
	b := r.Start("b", "c", "ns/b", record("b"))
	cancelled := r.Start("x", "c", "ns/x", record("x"))
	d := r.Start("d", "c", "ns/d", record("d"))
	r.Cancel("x")
	waitFor(t, func() bool { return cancelled.State().Done })
	if s := d.State(); s.Behind != "ns/a" {
		t.Errorf("want the third waiting job behind ns/a, got %+v", s)
	}
	close(release)
	waitFor(t, func() bool { return first.State().Done && b.State().Done && d.State().Done })
	if diff := cmp.Diff([]string{"b", "d"}, order); diff != "" {
		t.Errorf("run order: -want, +got:\n%s", diff)
	}
}

func TestWaitIsBounded(t *testing.T) {
	r := NewRunner[int](context.Background(), NewSlots(), WithMaxWait(50*time.Millisecond))
	block := make(chan struct{})
	defer close(block)
	r.Start("a", "c", "ns/a", func(context.Context, func(int)) (int, error) { <-block; return 0, nil })
	late := r.Start("b", "c", "ns/b", func(context.Context, func(int)) (int, error) { return 1, nil })
	waitFor(t, func() bool { return late.State().Done })
	if err := late.State().Err; !errors.Is(err, ErrQueueTimeout) {
		t.Errorf("want ErrQueueTimeout, got %v", err)
	}
}

func TestPanicEndsTheJobNotTheProcess(t *testing.T) {
	r := NewRunner[int](context.Background(), NewSlots())
	j := r.Start("a", "c", "ns/a", func(context.Context, func(int)) (int, error) { panic("boom") })
	waitFor(t, func() bool { return j.State().Done })
	if err := j.State().Err; err == nil || !strings.Contains(err.Error(), "internal error: boom") {
		t.Errorf("want the panic as the job's error, got %v", err)
	}
	// The slot is free again.
	next := r.Start("b", "c", "ns/b", func(context.Context, func(int)) (int, error) { return 1, nil })
	waitFor(t, func() bool { return next.State().Done })
}

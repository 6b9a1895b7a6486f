// Package jobs runs long transfers outside reconcile calls, one at a time per
// Qdrant cluster. A reconciler starts a job and returns at once; later
// reconciles read the job's progress and result. Jobs live in the provider's
// memory only: after a restart, resources resume from their persisted status.
package jobs

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// ErrQueueTimeout says that a job waited too long for its cluster.
var ErrQueueTimeout = errors.New("waited too long for the Qdrant cluster")

// Slots hold one job per cluster at a time, across runners: a backup and a
// restore of the same cluster never overlap. Jobs of a cluster queue in the
// order they started.
type Slots struct {
	mu     sync.Mutex
	queues map[string][]*waiter
}

// A waiter is a job's place in its cluster's queue. ready is closed when it
// reaches the head.
type waiter struct {
	name  string
	ready chan struct{}
}

// NewSlots returns empty Slots.
func NewSlots() *Slots {
	return &Slots{queues: map[string][]*waiter{}}
}

// enqueue puts a job at the end of its cluster's queue.
func (s *Slots) enqueue(cluster, name string) *waiter {
	s.mu.Lock()
	defer s.mu.Unlock()
	w := &waiter{name: name, ready: make(chan struct{})}
	s.queues[cluster] = append(s.queues[cluster], w)
	if len(s.queues[cluster]) == 1 {
		close(w.ready)
	}
	return w
}

// leave takes a job out of its cluster's queue, running or waiting, and
// hands the slot to the next one.
func (s *Slots) leave(cluster string, w *waiter) {
	s.mu.Lock()
	defer s.mu.Unlock()
	q := s.queues[cluster]
	for i, x := range q {
		if x != w {
			continue
		}
		q = append(q[:i:i], q[i+1:]...)
		if i == 0 && len(q) > 0 {
			close(q[0].ready)
		}
		break
	}
	if len(q) == 0 {
		delete(s.queues, cluster)
		return
	}
	s.queues[cluster] = q
}

// holder names the job holding a cluster's slot.
func (s *Slots) holder(cluster string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if q := s.queues[cluster]; len(q) > 0 {
		return q[0].name
	}
	return ""
}

// A Runner runs jobs whose progress is reported as S.
type Runner[S any] struct {
	ctx     context.Context
	slots   *Slots
	maxWait time.Duration
	now     func() time.Time

	mu   sync.Mutex
	jobs map[string]*Job[S]
}

// An Option configures a Runner.
type Option func(*runnerOptions)

type runnerOptions struct {
	maxWait time.Duration
	now     func() time.Time
}

// WithMaxWait bounds how long a job waits for its cluster; past it, the job
// ends with ErrQueueTimeout. Zero means no bound.
func WithMaxWait(d time.Duration) Option { return func(o *runnerOptions) { o.maxWait = d } }

// WithClock sets the clock jobs are timed by.
func WithClock(now func() time.Time) Option { return func(o *runnerOptions) { o.now = now } }

// NewRunner returns a Runner whose jobs end when ctx is done.
func NewRunner[S any](ctx context.Context, slots *Slots, opts ...Option) *Runner[S] {
	o := runnerOptions{now: time.Now}
	for _, f := range opts {
		f(&o)
	}
	return &Runner[S]{ctx: ctx, slots: slots, maxWait: o.maxWait, now: o.now, jobs: map[string]*Job[S]{}}
}

// A Job is one running or finished job.
type Job[S any] struct {
	name    string
	cluster string
	slots   *Slots
	cancel  context.CancelFunc
	since   time.Time

	mu       sync.Mutex
	queued   bool
	done     bool
	err      error
	progress S
}

// State is a consistent view of a job.
type State[S any] struct {
	// Queued is true while another job holds the cluster; Behind names it
	// and QueuedSince says since when this one waits.
	Queued      bool
	Behind      string
	QueuedSince time.Time
	Done        bool
	Err         error
	Progress    S
}

// Start starts a job under key, or returns the one already there. The job
// takes its place in its cluster's queue at once, so that its state says
// from the start what it waits behind; it runs when its turn comes. A panic
// in run ends the job with an error instead of the process.
func (r *Runner[S]) Start(key, cluster, name string, run func(ctx context.Context, report func(S)) (S, error)) *Job[S] {
	r.mu.Lock()
	defer r.mu.Unlock()
	if j, ok := r.jobs[key]; ok {
		return j
	}
	ctx, cancel := context.WithCancel(r.ctx)
	j := &Job[S]{name: name, cluster: cluster, slots: r.slots, cancel: cancel, queued: true, since: r.now()}
	r.jobs[key] = j
	w := r.slots.enqueue(cluster, name)
	go func() {
		defer cancel()
		defer r.slots.leave(cluster, w)
		if err := r.wait(ctx, w); err != nil {
			j.finish(*new(S), err)
			return
		}
		j.mu.Lock()
		j.queued = false
		j.mu.Unlock()
		res, err := safely(ctx, run, j.report)
		j.finish(res, err)
	}()
	return j
}

func (r *Runner[S]) wait(ctx context.Context, w *waiter) error {
	var timeout <-chan time.Time
	if r.maxWait > 0 {
		t := time.NewTimer(r.maxWait)
		defer t.Stop()
		timeout = t.C
	}
	select {
	case <-w.ready:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-timeout:
		return fmt.Errorf("%w: %s behind other backups or restores of it", ErrQueueTimeout, r.maxWait)
	}
}

// safely runs a job, turning a panic into its error.
func safely[S any](ctx context.Context, run func(context.Context, func(S)) (S, error), report func(S)) (res S, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("internal error: %v", p)
		}
	}()
	return run(ctx, report)
}

func (j *Job[S]) report(s S) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.progress = s
}

// finish records the result; a failed job keeps its last progress.
func (j *Job[S]) finish(res S, err error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if err == nil {
		j.progress = res
	}
	j.done, j.err, j.queued = true, err, false
}

// State returns the job's state.
func (j *Job[S]) State() State[S] {
	j.mu.Lock()
	defer j.mu.Unlock()
	s := State[S]{Queued: j.queued, Done: j.done, Err: j.err, Progress: j.progress}
	if j.queued {
		s.Behind, s.QueuedSince = j.slots.holder(j.cluster), j.since
	}
	return s
}

// Get returns the job under key.
func (r *Runner[S]) Get(key string) (*Job[S], bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	j, ok := r.jobs[key]
	return j, ok
}

// Cancel stops the job under key, if any, and forgets it.
func (r *Runner[S]) Cancel(key string) {
	r.mu.Lock()
	j, ok := r.jobs[key]
	delete(r.jobs, key)
	r.mu.Unlock()
	if ok {
		j.cancel()
	}
}

// CancelNamed stops and forgets every job started under name: what a
// reconciler can still do when the resource, and with it the key, is gone.
func (r *Runner[S]) CancelNamed(name string) {
	r.mu.Lock()
	var cancel []*Job[S]
	for k, j := range r.jobs {
		if j.name == name {
			cancel = append(cancel, j)
			delete(r.jobs, k)
		}
	}
	r.mu.Unlock()
	for _, j := range cancel {
		j.cancel()
	}
}

// Forget drops a finished job once its result is recorded elsewhere.
func (r *Runner[S]) Forget(key string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if j, ok := r.jobs[key]; ok && j.State().Done {
		delete(r.jobs, key)
	}
}

// Package jobs runs long transfers outside reconcile calls, one at a time per
// Qdrant cluster. A reconciler starts a job and returns at once; later
// reconciles read the job's progress and result. Jobs live in the provider's
// memory only: after a restart, resources resume from their persisted status.
package jobs

import (
	"context"
	"sync"
)

// Slots hold one job per cluster at a time, across runners: a backup and a
// restore of the same cluster never overlap.
type Slots struct {
	mu      sync.Mutex
	slots   map[string]chan struct{}
	holders map[string]string // cluster -> name of the job holding its slot
}

// NewSlots returns empty Slots.
func NewSlots() *Slots {
	return &Slots{slots: map[string]chan struct{}{}, holders: map[string]string{}}
}

func (s *Slots) slot(cluster string) chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.slots[cluster]
	if !ok {
		c = make(chan struct{}, 1)
		s.slots[cluster] = c
	}
	return c
}

func (s *Slots) holder(cluster string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.holders[cluster]
}

func (s *Slots) hold(cluster, name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.holders[cluster] = name
}

// A Runner runs jobs whose progress is reported as S.
type Runner[S any] struct {
	ctx   context.Context
	slots *Slots

	mu   sync.Mutex
	jobs map[string]*Job[S]
}

// NewRunner returns a Runner whose jobs end when ctx is done.
func NewRunner[S any](ctx context.Context, slots *Slots) *Runner[S] {
	return &Runner[S]{ctx: ctx, slots: slots, jobs: map[string]*Job[S]{}}
}

// A Job is one running or finished job.
type Job[S any] struct {
	name   string
	cancel context.CancelFunc

	mu       sync.Mutex
	queued   bool
	behind   string
	done     bool
	err      error
	progress S
}

// State is a consistent view of a job.
type State[S any] struct {
	// Queued is true while another job holds the cluster; Behind names it.
	Queued   bool
	Behind   string
	Done     bool
	Err      error
	Progress S
}

// Start starts a job under key, or returns the one already there. The job
// waits for its cluster's slot, then runs.
func (r *Runner[S]) Start(key, cluster, name string, run func(ctx context.Context, report func(S)) (S, error)) *Job[S] {
	r.mu.Lock()
	defer r.mu.Unlock()
	if j, ok := r.jobs[key]; ok {
		return j
	}
	ctx, cancel := context.WithCancel(r.ctx)
	j := &Job[S]{name: name, cancel: cancel, queued: true}
	r.jobs[key] = j
	slot := r.slots.slot(cluster)
	go func() {
		defer cancel()
		if !r.acquire(ctx, j, cluster, slot) {
			j.finish(*new(S), ctx.Err())
			return
		}
		defer r.release(cluster, slot)
		j.mu.Lock()
		j.queued, j.behind = false, ""
		j.mu.Unlock()
		res, err := run(ctx, j.report)
		j.finish(res, err)
	}()
	return j
}

func (r *Runner[S]) acquire(ctx context.Context, j *Job[S], cluster string, slot chan struct{}) bool {
	for {
		select {
		case slot <- struct{}{}:
			r.slots.hold(cluster, j.name)
			return true
		default:
		}
		j.mu.Lock()
		j.behind = r.slots.holder(cluster)
		j.mu.Unlock()
		select {
		case slot <- struct{}{}:
			r.slots.hold(cluster, j.name)
			return true
		case <-ctx.Done():
			return false
		}
	}
}

func (r *Runner[S]) release(cluster string, slot chan struct{}) {
	r.slots.hold(cluster, "")
	<-slot
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
	return State[S]{Queued: j.queued, Behind: j.behind, Done: j.done, Err: j.err, Progress: j.progress}
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

// Forget drops a finished job once its result is recorded elsewhere.
func (r *Runner[S]) Forget(key string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if j, ok := r.jobs[key]; ok && j.State().Done {
		delete(r.jobs, key)
	}
}

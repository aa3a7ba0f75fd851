package stress

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nogil-lab/nogil/runtime"
)

// errStopped is returned by a step that was interrupted by the end of the
// run while it blocked.
var errStopped = errors.New("stress: run stopped")

// Worker is one worker's view of a run: its runtime thread and its random
// stream. Workloads' steps receive it.
type Worker struct {
	ID      int // 0 .. Threads-1
	Threads int
	// Th is the worker's runtime thread, attached whenever a step runs.
	// Restart replaces it.
	Th   *runtime.Thread
	Rand *rand.Rand

	r        *run
	restarts int
}

// onSetup reports whether Th is the setup thread, lent to a one-worker
// run: the worker detaches it when done and never closes it.
func (w *Worker) onSetup() bool { return w.Th != nil && w.Th == w.r.setupTh }

// Runtime returns the run's runtime.
func (w *Worker) Runtime() *runtime.Runtime { return w.r.rt }

// Violationf records a failed invariant check.
func (w *Worker) Violationf(format string, args ...any) {
	w.r.chk.violationf("worker %d: "+format, append([]any{w.ID}, args...)...)
}

// Stopping returns a channel that is closed when the run is ending; a step
// that blocks must select on it too.
func (w *Worker) Stopping() <-chan struct{} { return w.r.stopCh }

// Blocking detaches the worker's thread around fn (which may block on
// channels or locks), as CPython's Py_BEGIN_ALLOW_THREADS does.
func (w *Worker) Blocking(fn func()) {
	w.Th.Detach()
	defer w.Th.Attach()
	fn()
}

// Restart closes the worker's thread and continues on a new one: the old
// thread exits while objects it owns are still in use. It panics on the
// setup thread, which outlives the run: a workload that restarts its
// threads sets ownThreads.
func (w *Worker) Restart() {
	if w.onSetup() {
		panic("stress: Restart of the setup thread, lent to a one-worker run (the workload must set ownThreads)")
	}
	w.Th.Close()
	w.Th = nil
	w.Th = w.r.rt.NewThread()
	w.restarts++
	w.r.restarts.Add(1)
}

// closeTimeout bounds how long releasing a failed worker's thread may take.
const closeTimeout = 3 * time.Second

// closeThread releases the worker's thread after a failure, if it can:
// closes it, or detaches the setup thread for the teardown to attach. A
// panic inside the runtime may have left one of its locks held, so the
// release runs on a helper goroutine and is given up after closeTimeout
// (the helper then stays blocked: the runtime is wedged anyway).
func (w *Worker) closeThread() {
	if w.Th == nil {
		return
	}
	release := w.Th.Close
	if w.onSetup() {
		release = w.Th.Detach
	}
	w.Th = nil
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = protect(w.ID, func() error { release(); return nil })
	}()
	select {
	case <-done:
	case <-time.After(closeTimeout):
		w.r.unclosed.Add(1)
		w.r.fail(fmt.Errorf("stress: worker %d: its thread could not be released within %v of its failure (a runtime lock left held?)", w.ID, closeTimeout))
	}
}

// checker collects invariant violations from every thread.
type checker struct {
	n       atomic.Int64
	mu      sync.Mutex
	samples []string
}

const maxViolationSamples = 10

func (c *checker) violationf(format string, args ...any) {
	c.n.Add(1)
	c.mu.Lock()
	if len(c.samples) < maxViolationSamples {
		c.samples = append(c.samples, fmt.Sprintf(format, args...))
	}
	c.mu.Unlock()
}

func (c *checker) result() (int, []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return int(c.n.Load()), append([]string(nil), c.samples...)
}

// Final is what a workload's final check sees: the setup thread (attached)
// and the totals of the run.
type final struct {
	th       *runtime.Thread
	chk      *checker
	totalOps uint64
	perOps   []uint64
	failed   bool // a worker failed: its state may be inconsistent
}

func (f *final) violationf(format string, args ...any) {
	f.chk.violationf("check: "+format, args...)
}

// paddedCounter is a per-worker progress counter on its own cache line.
type paddedCounter struct {
	v atomic.Uint64
	_ [56]byte
}

package stress

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/nogil-lab/nogil/runtime"
)

// whoseThread is a workload that records, per op, whether its worker
// works on the setup thread.
type whoseThread struct {
	setupTh        *runtime.Thread
	onSetup, other atomic.Int64
	restart        bool // every 50th op restarts the worker's thread
	finalOnSetup   bool // the final check ran on the setup thread
}

type whoseThreadLoop struct {
	noStop
	s *whoseThread
	n int
}

func (s *whoseThread) start(*Worker) (loop, error) { return &whoseThreadLoop{s: s}, nil }
func (s *whoseThread) finish(f *final)             { s.finalOnSetup = f.th == s.setupTh }

func (l *whoseThreadLoop) step(w *Worker) error {
	o := w.Th.NewList(w.Th.NewInt(int64(l.n)))
	w.Th.DecRef(o)
	if w.Th == l.s.setupTh {
		l.s.onSetup.Add(1)
	} else {
		l.s.other.Add(1)
	}
	if l.n++; l.s.restart && l.n%50 == 0 {
		w.Restart()
	}
	return nil
}

func whoseThreadWorkload(ownThreads, restart bool) (*workload, *whoseThread) {
	st := &whoseThread{restart: restart}
	return &workload{name: "whose-thread", batch: 1, ownThreads: ownThreads, setup: func(s *setupCtx) (state, error) {
		st.setupTh = s.th
		return st, nil
	}}, st
}

// TestOneWorkerOnSetupThread: a one-worker run works on the setup thread,
// as ftscalingbench's single-thread baseline works on the main thread,
// unless Config.FreshThread asks for a thread of its own or the workload's
// threads exit (ownThreads); runs with more workers never do. The final
// check gets the setup thread back either way, and nothing leaks.
func TestOneWorkerOnSetupThread(t *testing.T) {
	cases := []struct {
		threads           int
		fresh, ownThreads bool
		onSetup           bool
	}{
		{threads: 1, onSetup: true},
		{threads: 1, fresh: true},
		{threads: 1, ownThreads: true},
		{threads: 2},
	}
	eachStressMode(t, func(t *testing.T, m runtime.Mode, rc runtime.RefCounting) {
		for _, c := range cases {
			t.Run(fmt.Sprintf("threads=%d/fresh=%v/own=%v", c.threads, c.fresh, c.ownThreads), func(t *testing.T) {
				wl, st := whoseThreadWorkload(c.ownThreads, c.ownThreads)
				res := runWorkload(context.Background(), Config{Mode: m, RefCounting: rc, Threads: c.threads, Ops: 200, FreshThread: c.fresh, StallTimeout: testStall}, wl)
				require.NoError(t, res.Err)
				require.True(t, res.OK(), "%+v", res)
				require.Equal(t, c.onSetup, res.OnSetupThread)
				total := int64(200 * c.threads)
				if c.onSetup {
					require.Equal(t, total, st.onSetup.Load())
					require.Zero(t, st.other.Load())
				} else {
					require.Zero(t, st.onSetup.Load())
					require.Equal(t, total, st.other.Load())
				}
				if c.ownThreads {
					require.Equal(t, 4, res.Restarts)
				}
				require.True(t, st.finalOnSetup)
			})
		}
	})
}

// TestSetupThreadWorkerFails: a one worker that panics on the setup
// thread, attached or detached, gives it back for the final check and the
// teardown: the run reports the panic and nothing else.
func TestSetupThreadWorkerFails(t *testing.T) {
	for _, inBlocking := range []bool{false, true} {
		eachStressMode(t, func(t *testing.T, m runtime.Mode, rc runtime.RefCounting) {
			t.Run(fmt.Sprintf("detached=%v", inBlocking), func(t *testing.T) {
				wl := &workload{name: "panicky", batch: 1, setup: func(*setupCtx) (state, error) { return panicky{inBlocking: inBlocking, worker: 0}, nil }}
				res := runWorkload(context.Background(), Config{Mode: m, RefCounting: rc, Threads: 1, Duration: 10 * time.Second, StallTimeout: testStall}, wl)
				require.True(t, res.OnSetupThread)
				var pe *PanicError
				require.True(t, errors.As(res.Err, &pe), "error %v", res.Err)
				require.Contains(t, fmt.Sprint(pe.Value), "boom")
				require.NotContains(t, res.Err.Error(), "teardown")
				require.NotContains(t, res.Err.Error(), "final check")
				require.Zero(t, res.Leaked, "%v", res.LeakedByType)
				require.Less(t, res.Elapsed, 5*time.Second)
			})
		})
	}
}

// TestRestartOfSetupThreadPanics: a workload that restarts its threads
// without saying so (ownThreads) would close the setup thread: the worker
// panics with a message that names the mistake.
func TestRestartOfSetupThreadPanics(t *testing.T) {
	wl, _ := whoseThreadWorkload(false, true)
	res := runWorkload(context.Background(), Config{Mode: runtime.FreeThreaded, Threads: 1, Ops: 200, StallTimeout: testStall}, wl)
	var pe *PanicError
	require.True(t, errors.As(res.Err, &pe), "error %v", res.Err)
	require.Contains(t, fmt.Sprint(pe.Value), "Restart of the setup thread")
	require.NotContains(t, res.Err.Error(), "teardown")
}

// eachStressMode runs fn as a subtest in every mode.
func eachStressMode(t *testing.T, fn func(t *testing.T, m runtime.Mode, rc runtime.RefCounting)) {
	for _, mode := range ModeNames {
		m, rc, err := ParseMode(mode)
		require.NoError(t, err)
		t.Run(mode, func(t *testing.T) { fn(t, m, rc) })
	}
}

// TestSetupThreadWorkerStartError: a one worker whose start fails on the
// setup thread gives it back: the run reports the start's error and
// nothing else.
func TestSetupThreadWorkerStartError(t *testing.T) {
	eachStressMode(t, func(t *testing.T, m runtime.Mode, rc runtime.RefCounting) {
		wl := &workload{name: "bad-start", batch: 1, setup: func(*setupCtx) (state, error) { return badStart{}, nil }}
		res := runWorkload(context.Background(), Config{Mode: m, RefCounting: rc, Threads: 1, Duration: 10 * time.Second, StallTimeout: testStall}, wl)
		require.True(t, res.OnSetupThread)
		require.ErrorContains(t, res.Err, "no start for worker 0")
		require.NotContains(t, res.Err.Error(), "teardown")
		require.NotContains(t, res.Err.Error(), "final check")
		require.Zero(t, res.Leaked)
	})
}

package stress

import (
	"context"
	"errors"
	"fmt"
	goruntime "runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/nogil-lab/nogil/internal/invariants"
	"github.com/nogil-lab/nogil/runtime"
)

// panicky is a workload whose worker (by ID) panics at its 10th op,
// attached or detached, while the others run (or wait for the GIL).
type panicky struct {
	inBlocking bool
	worker     int
}

func (p panicky) start(*Worker) (loop, error) {
	return &panickyLoop{inBlocking: p.inBlocking, worker: p.worker}, nil
}
func (panicky) finish(*final) {}

type panickyLoop struct {
	noStop
	n          int
	inBlocking bool
	worker     int
}

func (l *panickyLoop) step(w *Worker) error {
	o := w.Th.NewList()
	w.Th.DecRef(o)
	if l.n++; w.ID == l.worker && l.n == 10 {
		if l.inBlocking {
			w.Blocking(func() { panic("boom while detached") })
		}
		panic("boom")
	}
	return nil
}

func TestWorkerPanicBecomesError(t *testing.T) {
	for _, inBlocking := range []bool{false, true} {
		for _, mode := range ModeNames {
			t.Run(fmt.Sprintf("%s/detached=%v", mode, inBlocking), func(t *testing.T) {
				m, rc, err := ParseMode(mode)
				require.NoError(t, err)
				wl := &workload{name: "panicky", batch: 1, setup: func(*setupCtx) (state, error) { return panicky{inBlocking: inBlocking, worker: 1}, nil }}
				res := runWorkload(context.Background(), Config{Mode: m, RefCounting: rc, Threads: 3, Duration: 10 * time.Second, Seed: 1}, wl)
				require.Error(t, res.Err)
				var pe *PanicError
				require.True(t, errors.As(res.Err, &pe), "error %v", res.Err)
				require.Equal(t, 1, pe.Worker)
				require.Contains(t, res.Err.Error(), "boom")
				require.Contains(t, pe.Stack, "panickyLoop", "the stack names the panicking step")
				require.False(t, res.OK())
				// The other workers stopped long before the 10s duration.
				require.Less(t, res.Elapsed, 5*time.Second)
			})
		}
	}
}

// A worker that fails in start does not leave the others waiting.
func TestWorkerStartError(t *testing.T) {
	wl := &workload{name: "bad-start", batch: 1, setup: func(*setupCtx) (state, error) { return badStart{}, nil }}
	res := runWorkload(context.Background(), Config{Mode: runtime.GIL, Threads: 2, Duration: 10 * time.Second}, wl)
	require.ErrorContains(t, res.Err, "no start for worker 0")
	require.Less(t, res.Elapsed, 5*time.Second)
}

type badStart struct{}

func (badStart) start(w *Worker) (loop, error) {
	if w.ID == 0 {
		return nil, errors.New("no start for worker 0")
	}
	return &allocChurnLoop{}, nil
}
func (badStart) finish(*final) {}

func TestDurationAndProgress(t *testing.T) {
	var calls int
	cfg := Config{Workload: "list-contention", Mode: runtime.FreeThreaded, Threads: 2, Duration: 300 * time.Millisecond, Seed: 7, StallTimeout: testStall,
		Progress: func(p Progress) {
			calls++
			require.Equal(t, "list-contention", p.Workload)
			require.Equal(t, ModeFT, p.Mode)
		}, ProgressEvery: 20 * time.Millisecond}
	res, err := Run(context.Background(), cfg)
	require.NoError(t, err)
	requireClean(t, res)
	require.Positive(t, calls)
	require.GreaterOrEqual(t, res.Elapsed, 300*time.Millisecond)
	require.Less(t, res.Elapsed, 3*time.Second)
	require.Positive(t, res.PeakLive)
}

// A run measures the process's CPU time while its workers run (Linux):
// some, no more than the threads the Go scheduler runs could use in that
// time, and the run's ops per CPU second from it.
func TestRunMeasuresCPUTime(t *testing.T) {
	if goruntime.GOOS != "linux" {
		t.Skip("the process's CPU time is read on Linux only")
	}
	for _, mode := range ModeNames {
		t.Run(mode, func(t *testing.T) {
			m, rc, err := ParseMode(mode)
			require.NoError(t, err)
			res, err := Run(context.Background(), Config{Workload: "create-objects", Mode: m, RefCounting: rc,
				Threads: 1, Duration: 100 * time.Millisecond, Seed: 1, StallTimeout: testStall})
			require.NoError(t, err)
			requireClean(t, res)
			require.Positive(t, res.CPUTime)
			require.LessOrEqual(t, res.CPUTime, res.Elapsed*time.Duration(goruntime.GOMAXPROCS(0)+1)+50*time.Millisecond)
			require.InEpsilon(t, float64(res.Ops)/res.CPUTime.Seconds(), res.OpsPerCPUSec, 1e-9)
		})
	}
}

func TestCancel(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	res, err := Run(ctx, Config{Workload: "producer-consumer", Mode: runtime.GIL, Threads: 3, Duration: time.Minute, StallTimeout: testStall})
	require.NoError(t, err)
	requireClean(t, res)
	require.Less(t, res.Elapsed, 10*time.Second)
}

func TestConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		cfg  Config
		want string
	}{
		{Config{Workload: "nope", Mode: runtime.GIL, Threads: 1, Ops: 1}, "unknown workload"},
		{Config{Workload: "mixed", Mode: runtime.GIL, Threads: 0, Ops: 1}, "Threads"},
		{Config{Workload: "mixed", Mode: runtime.GIL, Threads: 1}, "Duration or Ops"},
		{Config{Workload: "mixed", Threads: 1, Ops: 1}, "Mode is required"},
		{Config{Workload: "mixed", Mode: runtime.GIL, RefCounting: runtime.Atomic, Threads: 1, Ops: 1}, "free-threaded mode only"},
	} {
		_, err := Run(context.Background(), tc.cfg)
		require.ErrorContains(t, err, tc.want)
	}
	for _, s := range []string{"gil", "ft", "ft-atomic", "FT", "nogil", "free-threaded"} {
		m, rc, err := ParseMode(s)
		require.NoError(t, err)
		n := ModeName(m, rc)
		require.True(t, n == ModeGIL || n == ModeFT || n == ModeFTAtomic)
	}
	_, _, err := ParseMode("turbo")
	require.ErrorContains(t, err, `unknown mode "turbo"`)
}

func TestPercentile(t *testing.T) {
	require.Zero(t, percentile(nil, 99))
	d := []time.Duration{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	require.Equal(t, time.Duration(5), percentile(d, 50))
	require.Equal(t, time.Duration(10), percentile(d, 99))
	require.Equal(t, time.Duration(10), percentile(d, 100))
	require.Equal(t, time.Duration(1), percentile(d, 1))
}

func TestWorkloadList(t *testing.T) {
	names := Workloads()
	require.Equal(t, []string{"create-objects", "create-dict", "alloc-churn", "binary-trees", "shared-read",
		"shared-read-immortal", "producer-consumer", "cycles", "list-contention", "mixed"}, names)
	for _, n := range names {
		info, ok := Describe(n)
		require.True(t, ok)
		require.NotEmpty(t, info.Description)
	}
	st := StressWorkloads()
	require.Equal(t, "mixed", st[0])
	require.Contains(t, st, "list-contention")
	require.False(t, strings.Contains(strings.Join(st, ","), "create-dict"))
}

// stall is a workload that wedges: worker 0 blocks while attached (a bug
// in a workload, or a lock the runtime left held) and worker 1 then waits
// forever to stop the world for a collection.
type stall struct{ release chan struct{} }

func (s stall) start(w *Worker) (loop, error) { return &stallLoop{s: s}, nil }
func (stall) finish(*final)                   {}

type stallLoop struct {
	noStop
	s stall
	n int
}

func (l *stallLoop) step(w *Worker) error {
	l.n++
	switch {
	case w.ID == 0 && l.n == 5:
		<-l.s.release // attached: nobody can stop the world
	case w.ID == 1 && l.n > 5:
		_, err := w.Th.Collect(0)
		return err
	}
	return nil
}

func TestStallIsReported(t *testing.T) {
	release := make(chan struct{})
	wl := &workload{name: "stall", batch: 1, setup: func(*setupCtx) (state, error) { return stall{release}, nil }}
	res := runWorkload(context.Background(), Config{Mode: runtime.FreeThreaded, Threads: 2, Duration: time.Minute,
		StallTimeout: 300 * time.Millisecond}, wl)
	close(release) // let the stuck goroutines finish, for goleak
	require.ErrorContains(t, res.Err, "no progress for 300ms")
	require.ErrorContains(t, res.Err, "stallLoop", "the goroutine dump shows where it is stuck")
	require.False(t, res.OK())
}

// Every collection stops the world in free-threaded mode, and the run
// reports it; under the GIL there is nothing to report.
func TestRunReportsStopTheWorld(t *testing.T) {
	for _, m := range []string{ModeGIL, ModeFT} {
		mode, rc, err := ParseMode(m)
		require.NoError(t, err)
		res, err := Run(context.Background(), Config{Workload: "cycles", Mode: mode, RefCounting: rc,
			Threads: 2, Ops: 3000, Seed: 1, StallTimeout: testStall})
		require.NoError(t, err)
		require.True(t, res.OK(), "%v", res.Err)
		require.Positive(t, res.GCCollections, "cycles collects")
		if m == ModeGIL {
			require.Zero(t, res.WorldStops)
			require.Zero(t, res.Parks)
			continue
		}
		require.GreaterOrEqual(t, res.WorldStops, uint64(res.GCCollections), "a collection stops the world at least once")
		require.LessOrEqual(t, res.Parks, 2*res.WorldStops, "a worker parks at most once per stop, and there are two")
		if res.Parks > 0 {
			require.Positive(t, res.MaxPark)
			require.LessOrEqual(t, res.MaxPark, res.Parked, "no park outside the measured interval")
		}
	}
}

// TestNoLockFreeReads: Config.NoLockFreeReads reaches the runtime: every
// list read of free-threaded shared-read by a thread that does not own the
// list takes the lock; without it, reads go without the lock (except under
// the race detector).
func TestNoLockFreeReads(t *testing.T) {
	for _, off := range []bool{false, true} {
		res, err := Run(context.Background(), Config{Workload: "shared-read", Mode: runtime.FreeThreaded, RefCounting: runtime.Biased,
			Threads: 1, FreshThread: true, Ops: 2000, Seed: 1, StallTimeout: testStall, Mechanisms: Mechanisms{NoLockFreeReads: off}})
		require.NoError(t, err)
		require.True(t, res.OK(), "%v", res.Err)
		if off || invariants.Race {
			require.Zero(t, res.ListReadsLockFree)
			require.Zero(t, res.ListReadsFellBack)
		} else {
			require.Positive(t, res.ListReadsLockFree)
		}
	}
}

// TestNoFreeLists: Config.NoFreeLists reaches the runtime. With the free
// lists on, a churning workload leaves freed objects waiting on the GIL
// runtime's lists (free-threaded workers give theirs back as they close);
// off, none in any mode.
func TestNoFreeLists(t *testing.T) {
	for _, m := range ModeNames {
		mode, rc, err := ParseMode(m)
		require.NoError(t, err)
		for _, off := range []bool{false, true} {
			res, err := Run(context.Background(), Config{Workload: "alloc-churn", Mode: mode, RefCounting: rc,
				Threads: 1, Ops: 2000, Seed: 1, StallTimeout: testStall, Mechanisms: Mechanisms{NoFreeLists: off}})
			require.NoError(t, err)
			require.True(t, res.OK(), "%v", res.Err)
			if off {
				require.Zero(t, res.FreeListed, m)
			} else if m == ModeGIL {
				require.Positive(t, res.FreeListed, m)
			}
		}
	}
}

package stress

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/nogil-lab/nogil/internal/invariants"
	"github.com/nogil-lab/nogil/runtime"
)

// Audit of package stress against issue 6: the runner's result fields, a
// failure of any kind reaching the result, Compare's speedup and the JSON and
// CSV outputs agreeing.

// requireConsistentResult checks what holds for every clean run.
func requireConsistentResult(t *testing.T, res *Result, threads int) {
	t.Helper()
	requireClean(t, res)
	require.Equal(t, threads, res.Threads)
	require.Len(t, res.PerThreadOps, threads)
	var sum uint64
	for _, n := range res.PerThreadOps {
		require.Positive(t, n, "every worker ran ops")
		sum += n
	}
	require.Equal(t, res.Ops, sum, "Ops is the sum of the per-thread ops")
	require.Positive(t, res.Elapsed)
	require.InEpsilon(t, float64(res.Ops)/res.Elapsed.Seconds(), res.OpsPerSec, 1e-9)
	require.LessOrEqual(t, res.GCPauseP50, res.GCPauseP99)
	require.LessOrEqual(t, res.GCPauseP99, res.GCPauseMax)
	require.GreaterOrEqual(t, res.HeapBytesInUse, int64(0))
	require.GreaterOrEqual(t, res.HeapBytesReserved, res.HeapBytesInUse)
	require.Zero(t, res.Speedup, "Run alone does not know the 1-thread throughput")
}

// TestAuditResultGIL: a GIL-mode run of cycles on two threads reports its
// collections with pause percentiles, GIL switches (some forced, the
// holder made to drop the GIL for a waiter), heap statistics and peak live
// objects, and no free-threaded counters.
func TestAuditResultGIL(t *testing.T) {
	res, err := Run(context.Background(), Config{Workload: "cycles", Mode: runtime.GIL, Threads: 2,
		Duration: 150 * time.Millisecond, Seed: 11, StallTimeout: testStall})
	require.NoError(t, err)
	requireConsistentResult(t, res, 2)
	require.Equal(t, ModeGIL, res.Mode)
	require.Equal(t, int64(11), res.Seed)
	require.GreaterOrEqual(t, res.Elapsed, 150*time.Millisecond)
	require.Positive(t, res.GCCollections)
	require.Positive(t, res.GCPauseMax, "collections take time")
	require.Positive(t, res.GILSwitches, "two threads share the GIL")
	require.Positive(t, res.ForcedSwitches, "a thread that asked for the GIL gets it")
	require.LessOrEqual(t, res.ForcedSwitches, res.GILSwitches)
	require.Positive(t, res.Allocated)
	require.Positive(t, res.Freed)
	require.Positive(t, res.PeakLive)
	require.Positive(t, res.HeapBytesReserved, "the GIL runtime's pools outlive the workers")
	require.Zero(t, res.QueuedMerges, "no biased counting under the GIL")
	require.Zero(t, res.WorldStops)
}

// TestAuditResultQueuedMerges: producer-consumer in free-threaded biased
// mode releases objects on a thread that does not own them: their counts
// are merged through the owner's queue, and the run counts them. With
// all-atomic counting there is nothing to merge, and there is no GIL.
func TestAuditResultQueuedMerges(t *testing.T) {
	for _, m := range []string{ModeFT, ModeFTAtomic} {
		mode, rc, err := ParseMode(m)
		require.NoError(t, err)
		res, err := Run(context.Background(), Config{Workload: "producer-consumer", Mode: mode, RefCounting: rc,
			Threads: 2, Ops: invariants.Scale(3000, 10), Seed: 3, StallTimeout: testStall})
		require.NoError(t, err)
		requireConsistentResult(t, res, 2)
		require.Equal(t, m, res.Mode)
		require.Zero(t, res.GILSwitches, m)
		require.Zero(t, res.ForcedSwitches, m)
		if m == ModeFT {
			require.Positive(t, res.QueuedMerges, "objects released by a thread that does not own them")
		} else {
			require.Zero(t, res.QueuedMerges, m)
		}
	}
}

// violating is a workload whose worker 0 reports a violated invariant at
// its 3rd op, and whose final check reports one more.
type violating struct{}

func (violating) start(*Worker) (loop, error) { return &violatingLoop{}, nil }
func (violating) finish(f *final)             { f.violationf("final check failed") }

type violatingLoop struct {
	noStop
	n int
}

func (l *violatingLoop) step(w *Worker) error {
	if l.n++; w.ID == 0 && l.n == 3 {
		w.Violationf("invariant %d broken", 7)
	}
	return nil
}

// TestAuditViolationsReported: a violated invariant, in a step or in the
// final check, makes the run fail with its description, in every mode.
func TestAuditViolationsReported(t *testing.T) {
	for _, mode := range ModeNames {
		m, rc, err := ParseMode(mode)
		require.NoError(t, err)
		wl := &workload{name: "violating", batch: 1, setup: func(*setupCtx) (state, error) { return violating{}, nil }}
		res := runWorkload(context.Background(), Config{Mode: m, RefCounting: rc, Threads: 2, Ops: 10, StallTimeout: testStall}, wl)
		require.NoError(t, res.Err, mode)
		require.Zero(t, res.Leaked, mode)
		require.Equal(t, 2, res.Violations, mode)
		require.Len(t, res.ViolationSamples, 2)
		require.Contains(t, res.ViolationSamples[0], "invariant 7 broken")
		require.Contains(t, res.ViolationSamples[1], "final check failed")
		require.False(t, res.OK(), mode)

		c := &Comparison{AllResults: []*Result{res}}
		require.Equal(t, 1, c.Failures())
		require.ErrorContains(t, c.Err(), "invariant 7 broken")
	}
}

// leaking is a workload whose worker 0 makes a list at its first op and
// drops its reference on the floor.
type leaking struct{}

func (leaking) start(*Worker) (loop, error) { return &leakingLoop{}, nil }
func (leaking) finish(*final)               {}

type leakingLoop struct {
	noStop
	n int
}

func (l *leakingLoop) step(w *Worker) error {
	if l.n++; w.ID == 0 && l.n == 1 {
		w.Th.NewList() // never released
	}
	return nil
}

// TestAuditLeakReported: an object still alive after the final check, a
// full collection and every thread's Close is a leak, counted by type, and
// the run fails.
func TestAuditLeakReported(t *testing.T) {
	for _, mode := range ModeNames {
		m, rc, err := ParseMode(mode)
		require.NoError(t, err)
		wl := &workload{name: "leaking", batch: 1, setup: func(*setupCtx) (state, error) { return leaking{}, nil }}
		res := runWorkload(context.Background(), Config{Mode: m, RefCounting: rc, Threads: 2, Ops: 5, StallTimeout: testStall}, wl)
		require.Equal(t, 1, res.Leaked, "%s: %v", mode, res.Err)
		require.Equal(t, 1, res.LeakedByType["list"], "%s: %v", mode, res.LeakedByType)
		require.False(t, res.OK(), mode)

		c := &Comparison{AllResults: []*Result{res}}
		require.Equal(t, 1, c.Failures())
		require.ErrorContains(t, c.Err(), "1 objects leaked")
	}
}

// TestAuditSetupPanicBecomesError: a panic in a workload's setup is an
// error of the run, not a crash.
func TestAuditSetupPanicBecomesError(t *testing.T) {
	wl := &workload{name: "bad-setup", batch: 1, setup: func(*setupCtx) (state, error) { panic("setup boom") }}
	res := runWorkload(context.Background(), Config{Mode: runtime.FreeThreaded, Threads: 2, Ops: 5, StallTimeout: testStall}, wl)
	var pe *PanicError
	require.True(t, errors.As(res.Err, &pe), "error %v", res.Err)
	require.Equal(t, -1, pe.Worker)
	require.ErrorContains(t, res.Err, "setup boom")
	require.False(t, res.OK())
}

// TestAuditCompareSpeedupAndOutputs: Compare's speedup is each row's ops/s
// over the same workload and mode's 1-thread ops/s, ops/s is ops over
// seconds, the results carry the rows' speedup, and WriteJSON and WriteCSV
// write the same rows field for field.
func TestAuditCompareSpeedupAndOutputs(t *testing.T) {
	c, err := Compare(context.Background(), CompareConfig{
		Workloads:    []string{"alloc-churn", "list-contention"},
		Modes:        []string{"ft-atomic", "gil", "ft", "gil"}, // a duplicate is dropped, the order kept
		Threads:      []int{3, 2, 2},                            // sorted, duplicates dropped, 1 added
		Ops:          invariants.Scale(1000, 10),
		Seed:         5,
		StallTimeout: testStall,
	})
	require.NoError(t, err)
	require.NoError(t, c.Err())
	require.Equal(t, []string{"ft-atomic", "gil", "ft"}, c.Modes)
	require.Equal(t, []int{1, 2, 3}, c.Threads)
	require.Len(t, c.Rows, 2*3*3)
	require.Len(t, c.Results, len(c.Rows))

	find := func(w, m string, n int) Row {
		for _, r := range c.Rows {
			if r.Workload == w && r.Mode == m && r.Threads == n {
				return r
			}
		}
		t.Fatalf("no row %s/%s/%d", w, m, n)
		return Row{}
	}
	for i, r := range c.Rows {
		require.Equal(t, uint64(r.Threads*invariants.Scale(1000, 10)), r.Ops, "fixed work per thread")
		require.InEpsilon(t, float64(r.Ops)/r.Seconds, r.OpsPerSec, 1e-9)
		one := find(r.Workload, r.Mode, 1)
		require.InEpsilon(t, r.OpsPerSec/one.OpsPerSec, r.Speedup, 1e-12, "%s/%s/%d", r.Workload, r.Mode, r.Threads)
		gil := find(r.Workload, ModeGIL, r.Threads)
		require.InEpsilon(t, r.OpsPerSec/gil.OpsPerSec, r.VsGIL, 1e-12)
		require.Equal(t, r.Speedup, c.Results[i].Speedup)
		require.Equal(t, r.OpsPerSec, c.Results[i].OpsPerSec)
		require.Zero(t, r.Leaked)
		require.Zero(t, r.Violations)
		require.Empty(t, r.Error)
	}

	var jb, cb bytes.Buffer
	require.NoError(t, c.WriteJSON(&jb))
	require.NoError(t, c.WriteCSV(&cb))
	var rows []map[string]any
	dec := json.NewDecoder(&jb)
	dec.UseNumber()
	require.NoError(t, dec.Decode(&rows))
	recs, err := csv.NewReader(&cb).ReadAll()
	require.NoError(t, err)
	require.Len(t, recs, 1+len(rows))
	header := recs[0]
	for i, row := range rows {
		require.Len(t, row, len(header)-1, "the CSV header names every JSON field (error is omitted when empty)")
		for j, k := range header {
			if k == "error" {
				require.NotContains(t, row, k)
				require.Empty(t, recs[1+i][j])
				continue
			}
			v, ok := row[k]
			require.True(t, ok, "JSON row has %s", k)
			got := recs[1+i][j]
			switch v := v.(type) {
			case string:
				require.Equal(t, v, got, k)
			case bool:
				require.Equal(t, strconv.FormatBool(v), got, k)
			case json.Number:
				want, err := v.Float64()
				require.NoError(t, err)
				g, err := strconv.ParseFloat(got, 64)
				require.NoError(t, err, "%s: %q", k, got)
				require.Equal(t, want, g, k)
			case []any:
				require.Len(t, v, len(splitSemi(got)), k)
			default:
				t.Fatalf("%s: unexpected JSON type %T", k, v)
			}
		}
	}
}

func splitSemi(s string) []string {
	if s == "" {
		return nil
	}
	var out []string
	start := 0
	for i := range len(s) {
		if s[i] == ';' {
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}

// TestAuditCompareDuration: with a duration, every run lasts at least that
// long, and a cancelled comparison stops with the context's error and
// what it had so far.
func TestAuditCompareDuration(t *testing.T) {
	c, err := Compare(context.Background(), CompareConfig{
		Workloads: []string{"create-objects"}, Modes: []string{"gil", "ft"}, Threads: []int{1},
		Duration: 30 * time.Millisecond, StallTimeout: testStall,
	})
	require.NoError(t, err)
	require.NoError(t, c.Err())
	require.Len(t, c.Rows, 2)
	for _, r := range c.Rows {
		require.GreaterOrEqual(t, r.Seconds, 0.030)
		require.Positive(t, r.Ops)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	c, err = Compare(ctx, CompareConfig{Workloads: []string{"create-objects"}, Ops: 10, StallTimeout: testStall})
	require.ErrorIs(t, err, context.Canceled)
	require.NotNil(t, c)
	require.Empty(t, c.Rows)
}

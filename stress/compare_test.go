package stress

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	goruntime "runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/nogil-lab/nogil/internal/invariants"
)

func TestCompare(t *testing.T) {
	var progress []int
	c, err := Compare(context.Background(), CompareConfig{
		Workloads:    []string{"create-dict", "shared-read"},
		Modes:        []string{"gil", "ft", "ft-atomic"},
		Threads:      []int{2}, // 1 is added
		Ops:          invariants.Scale(2000, 10),
		Seed:         3,
		StallTimeout: testStall,
		Progress:     func(done, total int, _ Config) { progress = append(progress, done); require.Equal(t, 12, total) },
	})
	require.NoError(t, err)
	require.NoError(t, c.Err())
	require.Zero(t, c.Failures())
	require.Equal(t, []int{1, 2}, c.Threads)
	require.Len(t, c.Rows, 2*2*3)
	require.Equal(t, []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}, progress)
	seen := map[string]bool{}
	for _, r := range c.Rows {
		key := r.Workload + "/" + r.Mode + "/" + string(rune('0'+r.Threads))
		require.False(t, seen[key], "duplicate row %s", key)
		seen[key] = true
		require.Positive(t, r.OpsPerSec)
		require.Positive(t, r.Speedup)
		require.Positive(t, r.VsGIL)
		if r.Threads == 1 {
			require.InDelta(t, 1.0, r.Speedup, 1e-9)
		}
		if r.Mode == ModeGIL {
			require.InDelta(t, 1.0, r.VsGIL, 1e-9)
		} else {
			require.Zero(t, r.GILSwitches)
		}
		if r.Mode != ModeFT {
			require.Zero(t, r.QueuedMerges)
		}
		// Lock-free list reads: free-threaded with biased counting only,
		// not under the race detector (runtime/listview.go), and only by
		// threads that do not own the list: at one thread, shared-read
		// runs on the setup thread, whose list nobody else reads.
		if r.Mode != ModeFT || invariants.Race || r.Workload != "shared-read" || r.Threads == 1 {
			require.Zero(t, r.ListReadsLockFree, "%s/%s", r.Workload, r.Mode)
		} else {
			require.Positive(t, r.ListReadsLockFree, "%s/%s", r.Workload, r.Mode)
		}
	}

	// JSON: an array of objects with the documented fields.
	var buf bytes.Buffer
	require.NoError(t, c.WriteJSON(&buf))
	var rows []map[string]any
	require.NoError(t, json.Unmarshal(buf.Bytes(), &rows))
	require.Len(t, rows, len(c.Rows))
	for _, r := range rows {
		for _, k := range []string{"workload", "mode", "threads", "ops", "seconds", "ops_per_sec", "speedup",
			"gc_collections", "gc_pause_p99_us", "gil_switches", "queued_merges", "peak_live", "leaked"} {
			require.Contains(t, r, k)
		}
		require.Contains(t, []string{"gil", "ft", "ft-atomic"}, r["mode"])
		require.Contains(t, r, "host_steal_ms")
		for _, k := range []string{"stw_stops", "stw_parks", "stw_parked_ms", "stw_park_max_us", "lock_contended", "lock_parked",
			"list_reads_lock_free", "list_reads_fell_back"} {
			require.Contains(t, r, k)
			if r["mode"] == "gil" {
				require.Zero(t, r[k], "%s under the GIL", k)
			}
		}
		if goruntime.GOOS == "linux" {
			require.GreaterOrEqual(t, r["host_steal_ms"], 0.0, "known on Linux")
			// The process's CPU time is measured on Linux: every run has
			// some, and its ops per CPU second.
			require.Positive(t, r["cpu_seconds"])
			require.Positive(t, r["ops_per_cpu_sec"])
			require.Positive(t, r["vs_gil_cpu"])
		}
	}

	// CSV: the header and one record per row, all of the same width.
	buf.Reset()
	require.NoError(t, c.WriteCSV(&buf))
	recs, err := csv.NewReader(&buf).ReadAll()
	require.NoError(t, err)
	require.Len(t, recs, 1+len(c.Rows))
	require.Equal(t, CSVHeader, recs[0])
	for _, rec := range recs[1:] {
		require.Len(t, rec, len(CSVHeader))
	}

	// Table: a header with a column per mode, ratio and speedup, a line
	// per workload and thread count, and the summary.
	buf.Reset()
	require.NoError(t, c.WriteTable(&buf))
	out := buf.String()
	lines := strings.Split(out, "\n")
	for _, h := range []string{"workload", "threads", "gil ops/s", "ft ops/s", "ft-atomic ops/s", "ft/gil", "ft-atomic/gil", "speedup gil", "speedup ft", "speedup ft-atomic", "status"} {
		require.Contains(t, lines[0], h)
	}
	require.Equal(t, 1, strings.Count(out, "create-dict "))
	require.Contains(t, out, "geomean ft/gil at 1 thread")
	require.Contains(t, out, "geomean speedup at 2 threads")
	require.Contains(t, out, "runs: 12, leaked objects: 0, violations: 0, errors: 0")
	if goruntime.GOOS == "linux" {
		require.Contains(t, out, "CPU time the host took from this machine during the runs: ")
		require.Contains(t, out, "the same by ops per CPU second (the host's steal left out): ft/gil ")
	}
	require.Equal(t, 2*2, strings.Count(out, " ok\n"))
}

// With Repeat, each cell runs that many times, round-robin, and its row
// shows the median run, with every run's throughput.
func TestCompareRepeat(t *testing.T) {
	var order []string
	c, err := Compare(context.Background(), CompareConfig{
		Workloads:    []string{"create-objects", "alloc-churn"},
		Modes:        []string{"gil", "ft"},
		Threads:      []int{1},
		Ops:          invariants.Scale(1000, 10),
		Repeat:       3,
		StallTimeout: testStall,
		Progress: func(done, total int, next Config) {
			require.Equal(t, 2*2*3, total)
			if done < total {
				order = append(order, next.Workload+"/"+ModeName(next.Mode, next.RefCounting))
			}
		},
	})
	require.NoError(t, err)
	require.NoError(t, c.Err())
	require.Len(t, c.Rows, 2*2)
	require.Len(t, c.Results, 2*2)
	require.Len(t, c.AllResults, 2*2*3)
	require.Equal(t, []string{
		"create-objects/gil", "create-objects/ft", "create-objects/gil", "create-objects/ft", "create-objects/gil", "create-objects/ft",
		"alloc-churn/gil", "alloc-churn/ft", "alloc-churn/gil", "alloc-churn/ft", "alloc-churn/gil", "alloc-churn/ft",
	}, order, "round-robin within a workload")
	for i, r := range c.Rows {
		require.Equal(t, 3, r.Runs)
		require.Len(t, r.OpsPerSecRuns, 3)
		sorted := slices.Clone(r.OpsPerSecRuns)
		slices.Sort(sorted)
		require.Equal(t, sorted[1], r.OpsPerSec, "the row is the median run")
		require.Equal(t, r.OpsPerSec, c.Results[i].OpsPerSec)
	}
	var buf bytes.Buffer
	require.NoError(t, c.WriteTable(&buf))
	require.Contains(t, buf.String(), "runs: 12, leaked objects: 0")

	// A leak or an error in any run, median or not, counts.
	c.AllResults[1].Leaked = 5
	require.Equal(t, 1, c.Failures())
	require.ErrorContains(t, c.Err(), "5 objects leaked")
}

// The summary gives the share of the workers' time parked for
// stop-the-world pauses, for the modes that stopped the world.
func TestCompareParkedLine(t *testing.T) {
	c, err := Compare(context.Background(), CompareConfig{
		Workloads: []string{"cycles"}, Modes: []string{"gil", "ft"}, Threads: []int{2},
		Ops: 3000, StallTimeout: testStall,
	})
	require.NoError(t, err)
	require.NoError(t, c.Err())
	var buf bytes.Buffer
	require.NoError(t, c.WriteTable(&buf))
	var parked string
	for _, line := range strings.Split(buf.String(), "\n") {
		if strings.HasPrefix(line, "workers' time parked for stop-the-world pauses: ") {
			parked = line
		}
	}
	require.Contains(t, parked, " ft ", "cycles collects, and collections stop the world: %q", buf.String())
	require.NotContains(t, parked, " gil ", "the GIL holder is the stopped world")
}

// With MaxSteal, a run during which the host took more CPU time is run
// again (at most StealRetries times), and the rerun takes its place.
func TestCompareRerunsStolenRuns(t *testing.T) {
	// The first two runs measure 50 ms of steal, the rest none.
	measured := 0
	orig := measureSteal
	measureSteal = func() func() (time.Duration, bool) {
		measured++
		stolen := time.Duration(0)
		if measured <= 2 {
			stolen = 50 * time.Millisecond
		}
		return func() (time.Duration, bool) { return stolen, true }
	}
	defer func() { measureSteal = orig }()
	c, err := Compare(context.Background(), CompareConfig{
		Workloads: []string{"create-dict"}, Modes: []string{"gil"}, Threads: []int{1},
		Ops: 100, Repeat: 2, MaxSteal: 10 * time.Millisecond, StallTimeout: testStall,
	})
	require.NoError(t, err)
	require.NoError(t, c.Err())
	require.Equal(t, 2, c.Rerun, "the first run was run again twice")
	require.Len(t, c.AllResults, 4)
	require.Len(t, c.Rows, 1)
	require.Equal(t, 2, c.Rows[0].Runs, "the reruns replace the stolen run in the row")
	require.Zero(t, c.Rows[0].HostStealMs)
	var buf bytes.Buffer
	require.NoError(t, c.WriteTable(&buf))
	require.Contains(t, buf.String(), "runs repeated because the host took too much CPU time during them: 2")

	// At most StealRetries reruns: then the last run stands.
	measured = -10
	c, err = Compare(context.Background(), CompareConfig{
		Workloads: []string{"create-dict"}, Modes: []string{"gil"}, Threads: []int{1},
		Ops: 100, MaxSteal: 10 * time.Millisecond, StealRetries: 1, StallTimeout: testStall,
	})
	require.NoError(t, err)
	require.Equal(t, 1, c.Rerun)
	require.Len(t, c.AllResults, 2)
	require.InDelta(t, 50.0, c.Rows[0].HostStealMs, 1e-9)
}

func TestCompareErrors(t *testing.T) {
	_, err := Compare(context.Background(), CompareConfig{Workloads: []string{"nope"}, Ops: 1})
	require.ErrorContains(t, err, "unknown workload")
	_, err = Compare(context.Background(), CompareConfig{Modes: []string{"x"}, Ops: 1})
	require.ErrorContains(t, err, "unknown mode")
	_, err = Compare(context.Background(), CompareConfig{Threads: []int{0}, Ops: 1})
	require.ErrorContains(t, err, "not positive")
	_, err = Compare(context.Background(), CompareConfig{})
	require.ErrorContains(t, err, "Duration or Ops")
}

func TestGeomean(t *testing.T) {
	require.InDelta(t, 2.0, geomean([]float64{1, 4}), 1e-12)
	require.Zero(t, geomean(nil))
	require.InDelta(t, 3.0, geomean([]float64{3, 0}), 1e-12)
}

// B5 by CPU time: each cell's ops per CPU second is the median over its
// runs, the ratio to GIL mode is taken per workload at one thread, and
// the summary gives their geometric mean; a cell without CPU time (not
// measured) withholds the figure rather than skew it.
func TestVsGILByCPU(t *testing.T) {
	runs := func(vs ...float64) []*Result {
		rs := make([]*Result, len(vs))
		for i, v := range vs {
			rs[i] = &Result{OpsPerCPUSec: v}
		}
		return rs
	}
	require.Equal(t, 200.0, medianOpsPerCPUSec(runs(300, 100, 200)))
	require.Equal(t, 100.0, medianOpsPerCPUSec(runs(300, 100)), "the lower of two, as the rows' median run")
	require.Zero(t, medianOpsPerCPUSec(runs(300, 0, 200)), "a run without CPU time")

	c := handComparison()
	for i, v := range []float64{100, 50, 100, 100, 100, 200, 100, 100} {
		c.Rows[i].OpsPerCPUSec = v
	}
	c.fillRatios()
	require.Equal(t, 0.5, c.Rows[1].VsGILCPU)
	require.Equal(t, 2.0, c.Rows[5].VsGILCPU)
	g, ok := c.VsGILByCPU("ft")
	require.True(t, ok)
	require.InDelta(t, 1.0, g, 1e-12, "sqrt(0.5 * 2)")
	_, ok = c.VsGILByCPU("ft-atomic")
	require.False(t, ok, "no such cells")
	var buf bytes.Buffer
	require.NoError(t, c.WriteTable(&buf))
	require.Contains(t, buf.String(), "the same by ops per CPU second (the host's steal left out): ft/gil 1.00x\n")

	c.Rows[4].OpsPerCPUSec = 0 // shared-read's GIL cell: not measured
	c.fillRatios()
	require.Zero(t, c.Rows[5].VsGILCPU)
	_, ok = c.VsGILByCPU("ft")
	require.False(t, ok)
	buf.Reset()
	require.NoError(t, c.WriteTable(&buf))
	require.NotContains(t, buf.String(), "ops per CPU second")
}

// TestCompareWorkloadsOnce: a workload named twice runs once per cell, in
// the order first named, as modes and thread counts do.
func TestCompareWorkloadsOnce(t *testing.T) {
	c, err := Compare(context.Background(), CompareConfig{
		Workloads: []string{"create-dict", "alloc-churn", "create-dict"},
		Modes:     []string{"gil"}, Threads: []int{1}, Ops: 50, StallTimeout: testStall,
	})
	require.NoError(t, err)
	require.Equal(t, []string{"create-dict", "alloc-churn"}, c.Workloads)
	require.Len(t, c.Rows, 2)
	for _, r := range c.Rows {
		require.InDelta(t, 1.0, r.Speedup, 1e-9)
	}
}

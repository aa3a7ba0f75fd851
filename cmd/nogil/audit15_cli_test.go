package main

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/nogil-lab/nogil/runtime"
	"github.com/nogil-lab/nogil/stress"
)

// Audit 15 of cmd/nogil against its issue text, README's "Comparing the
// modes" and doc.go: what the earlier tests leave out.

// audit15SpecWorkloads are the workloads the issue names.
var audit15SpecWorkloads = []string{"create-objects", "create-dict", "alloc-churn", "binary-trees", "shared-read",
	"shared-read-immortal", "producer-consumer", "cycles", "list-contention", "mixed"}

// audit15SpecFields are the JSON fields the issue requires in every row,
// with the JSON type each must have ("string", "int" or "number").
var audit15SpecFields = map[string]string{
	"workload": "string", "mode": "string", "threads": "int", "ops": "int", "seconds": "number",
	"ops_per_sec": "number", "speedup": "number", "gc_collections": "int", "gc_pause_p99_us": "number",
	"gil_switches": "int", "queued_merges": "int", "peak_live": "int", "leaked": "int",
}

func audit15Str(t *testing.T, row map[string]any, k string) string {
	t.Helper()
	s, ok := row[k].(string)
	require.True(t, ok, "%s is a JSON string: %#v", k, row[k])
	return s
}

// audit15CheckFields checks every field the issue lists, with its type.
func audit15CheckFields(t *testing.T, row map[string]any) {
	t.Helper()
	for k, typ := range audit15SpecFields {
		require.Contains(t, row, k, "row %v", row)
		switch typ {
		case "string":
			audit15Str(t, row, k)
		case "int":
			jsonInt(t, row, k)
		default:
			jsonFloat(t, row, k)
		}
	}
}

// audit15HookCompare replaces the comparison the command runs.
func audit15HookCompare(t *testing.T, fn func(ctx context.Context, cfg stress.CompareConfig) (*stress.Comparison, error)) {
	t.Helper()
	orig := runCompare
	t.Cleanup(func() { runCompare = orig })
	runCompare = fn
}

// audit15HookStress replaces the stress run the command runs.
func audit15HookStress(t *testing.T, fn func(ctx context.Context, cfg stress.Config) (*stress.Result, error)) {
	t.Helper()
	orig := runStress
	t.Cleanup(func() { runStress = orig })
	runStress = fn
}

// audit15ParseRate parses stress.FormatRate's output: 1.23M, 45.6k, 789.
func audit15ParseRate(t *testing.T, s string) float64 {
	t.Helper()
	mult := 1.0
	switch {
	case strings.HasSuffix(s, "M"):
		mult, s = 1e6, strings.TrimSuffix(s, "M")
	case strings.HasSuffix(s, "k"):
		mult, s = 1e3, strings.TrimSuffix(s, "k")
	}
	v, err := strconv.ParseFloat(s, 64)
	require.NoError(t, err, "a rate: %q", s)
	require.Positive(t, v)
	return v * mult
}

// audit15ParseRatio parses "1.23x".
func audit15ParseRatio(t *testing.T, s string) float64 {
	t.Helper()
	require.True(t, strings.HasSuffix(s, "x"), "a ratio: %q", s)
	v, err := strconv.ParseFloat(strings.TrimSuffix(s, "x"), 64)
	require.NoError(t, err, "a ratio: %q", s)
	return v
}

// TestAudit15CompareDefaults: without flags compare runs the ten
// workloads in the three modes at 1 and 2 threads, seed 1, in about a
// minute of runs (README: about 45 s on 2 cores); the flags reach the
// comparison's configuration.
func TestAudit15CompareDefaults(t *testing.T) {
	var got []stress.CompareConfig
	audit15HookCompare(t, func(_ context.Context, cfg stress.CompareConfig) (*stress.Comparison, error) {
		got = append(got, cfg)
		return &stress.Comparison{Workloads: cfg.Workloads, Modes: cfg.Modes, Threads: cfg.Threads}, nil
	})
	code, stdout, stderr := runArgs("compare")
	require.Equal(t, exitOK, code, stderr)
	require.Contains(t, stdout, "gil ops/s")
	require.Len(t, got, 1)
	cfg := got[0]
	require.ElementsMatch(t, audit15SpecWorkloads, cfg.Workloads)
	require.Equal(t, []string{"gil", "ft", "ft-atomic"}, cfg.Modes)
	require.Equal(t, []int{1, 2}, cfg.Threads)
	require.Equal(t, int64(defaultSeed), cfg.Seed)
	require.Zero(t, cfg.Ops)
	runs := len(cfg.Workloads) * len(cfg.Modes) * len(cfg.Threads) * max(cfg.Repeat, 1)
	total := time.Duration(runs) * cfg.Duration
	require.LessOrEqual(t, total, time.Minute, "the defaults' runs take about a minute on 2 cores, not %v", total)
	require.GreaterOrEqual(t, total, 15*time.Second, "the defaults measure for a while: %v", total)

	got = nil
	code, stdout, stderr = runArgs("compare", "-workloads", "cycles,create-dict", "-modes", "ft-atomic,gil",
		"-threads", "4,1", "-duration", "250ms", "-repeat", "3", "-seed", "77", "-max-steal", "5ms", "-fresh-thread", "-json")
	require.Equal(t, exitOK, code, stderr)
	require.Equal(t, "[]", strings.TrimSpace(stdout))
	require.Len(t, got, 1)
	cfg = got[0]
	require.Equal(t, []string{"cycles", "create-dict"}, cfg.Workloads)
	require.Equal(t, []string{"ft-atomic", "gil"}, cfg.Modes)
	require.ElementsMatch(t, []int{1, 4}, cfg.Threads)
	require.Equal(t, 250*time.Millisecond, cfg.Duration)
	require.Equal(t, 3, cfg.Repeat)
	require.Equal(t, int64(77), cfg.Seed)
	require.Equal(t, 5*time.Millisecond, cfg.MaxSteal)
	require.True(t, cfg.FreshThread)
}

// TestAudit15StressDefaults: without flags stress runs mixed and the
// contention workloads in every mode, 8 threads each, 30 s in all, one
// seed (picked and printed) for every run; the flags reach every run.
func TestAudit15StressDefaults(t *testing.T) {
	var got []stress.Config
	audit15HookStress(t, func(_ context.Context, cfg stress.Config) (*stress.Result, error) {
		got = append(got, cfg)
		return &stress.Result{Workload: cfg.Workload, Mode: stress.ModeName(cfg.Mode, cfg.RefCounting),
			Threads: cfg.Threads, Seed: cfg.Seed, Ops: 1, OpsPerSec: 1}, nil
	})
	code, stdout, stderr := runArgs("stress")
	require.Equal(t, exitOK, code, "stdout:\n%s\nstderr:\n%s", stdout, stderr)
	wls := stress.StressWorkloads()
	require.Len(t, got, 3*len(wls))
	var total time.Duration
	modes := map[string]int{}
	for i, cfg := range got {
		m := stress.ModeName(cfg.Mode, cfg.RefCounting)
		modes[m]++
		require.Equal(t, wls[i%len(wls)], cfg.Workload, "every stress workload in every mode")
		require.Equal(t, 8, cfg.Threads)
		require.Equal(t, got[0].Seed, cfg.Seed, "one seed for every run")
		require.False(t, cfg.Debug)
		total += cfg.Duration
	}
	require.Equal(t, map[string]int{"gil": len(wls), "ft": len(wls), "ft-atomic": len(wls)}, modes)
	require.Contains(t, wls, "mixed")
	require.NotZero(t, got[0].Seed, "a seed is picked")
	require.Contains(t, stdout, "seed "+strconv.FormatInt(got[0].Seed, 10), "the picked seed is printed")
	require.InDelta(t, float64(30*time.Second), float64(total), float64(time.Millisecond), "30 s in all")
	require.Contains(t, stdout, "all "+strconv.Itoa(len(got))+" runs clean")

	got = nil
	code, stdout, stderr = runArgs("stress", "-workloads", "mixed,list-contention", "-modes", "ft", "-threads", "3",
		"-duration", "1s", "-seed", "42", "-debug")
	require.Equal(t, exitOK, code, "stdout:\n%s\nstderr:\n%s", stdout, stderr)
	require.Len(t, got, 2)
	for i, cfg := range got {
		require.Equal(t, []string{"mixed", "list-contention"}[i], cfg.Workload)
		require.Equal(t, runtime.FreeThreaded, cfg.Mode)
		require.Equal(t, runtime.Biased, cfg.RefCounting)
		require.Equal(t, 3, cfg.Threads)
		require.Equal(t, 500*time.Millisecond, cfg.Duration)
		require.Equal(t, int64(42), cfg.Seed)
		require.True(t, cfg.Debug)
	}
	require.Contains(t, stdout, "seed 42")
}

// TestAudit15UsageErrors: every bad flag or value exits 2 with a message
// naming the flag, prints nothing on stdout, starts no run and (compare)
// leaves no -svg file behind.
func TestAudit15UsageErrors(t *testing.T) {
	calls := 0
	audit15HookCompare(t, func(context.Context, stress.CompareConfig) (*stress.Comparison, error) {
		calls++
		return nil, errors.New("audit15: must not run")
	})
	audit15HookStress(t, func(context.Context, stress.Config) (*stress.Result, error) {
		calls++
		return nil, errors.New("audit15: must not run")
	})
	dir := t.TempDir()
	for i, tc := range []struct {
		args  []string
		want  string
		noSVG bool // do not add -svg (the case is about -svg or makes a file first)
	}{
		{args: []string{"compare", "-threads", "0"}, want: "-threads"},
		{args: []string{"compare", "-threads", "abc"}, want: `-threads: "abc"`},
		{args: []string{"compare", "-threads", "1,2,abc"}, want: `-threads: "abc"`},
		{args: []string{"compare", "-duration", "-1s"}, want: "-duration"},
		{args: []string{"compare", "-modes", "bogus"}, want: `-modes: unknown mode "bogus"`},
		{args: []string{"compare", "-workloads", "bogus"}, want: `-workloads: unknown workload "bogus"`},
		{args: []string{"compare", "-repeat", "0"}, want: "-repeat"},
		{args: []string{"compare", "-repeat", "-2"}, want: "-repeat"},
		{args: []string{"compare", "-repeat", "abc"}, want: `invalid value "abc" for flag -repeat`},
		{args: []string{"compare", "-ops", "abc"}, want: `invalid value "abc" for flag -ops`},
		{args: []string{"compare", "-max-steal", "soon"}, want: `invalid value "soon" for flag -max-steal`},
		{args: []string{"compare", "-fresh-thread=maybe"}, want: "-fresh-thread"},
		{args: []string{"compare", "-no-freelists=2"}, want: "-no-freelists"},
		{args: []string{"compare", "-unknown-flag"}, want: "-unknown-flag"},
		{args: []string{"compare", "-json", "-csv"}, want: "-json and -csv"},
		{args: []string{"compare", "-csv", "-json"}, want: "-json and -csv"},
		{args: []string{"compare", "-svg", dir}, want: "-svg", noSVG: true},
		{args: []string{"compare", "-cpuprofile", filepath.Join(dir, "no", "such", "cpu.prof")}, want: "-cpuprofile", noSVG: true},
		{args: []string{"stress", "-threads", "abc"}, want: `invalid value "abc" for flag -threads`},
		{args: []string{"stress", "-threads", "1025"}, want: "-threads: 1025"},
		{args: []string{"stress", "-modes", "bogus"}, want: `-modes: unknown mode "bogus"`},
		{args: []string{"stress", "-workloads", "mixed,,list-contention"}, want: "-workloads: malformed list"},
		{args: []string{"stress", "-workloads", "create-objects,bogus"}, want: `-workloads: unknown workload "bogus"`},
		{args: []string{"stress", "-duration", "0"}, want: "-duration"},
		{args: []string{"stress", "-stall", "soon"}, want: `invalid value "soon" for flag -stall`},
		{args: []string{"stress", "-debug=maybe"}, want: "-debug"},
		{args: []string{"stress", "-seed", "abc"}, want: `invalid value "abc" for flag -seed`},
		{args: []string{"stress", "-json"}, want: "flag provided but not defined: -json"},
	} {
		args := tc.args
		svg := filepath.Join(dir, "case"+strconv.Itoa(i)+".svg")
		if args[0] == "compare" && !tc.noSVG {
			args = append([]string{"compare", "-svg", svg}, args[1:]...)
		}
		code, stdout, stderr := runArgs(args...)
		require.Equal(t, exitUsage, code, "args %q: stderr %s", args, stderr)
		require.Contains(t, stderr, tc.want, "args %q: the message names the flag", args)
		require.Empty(t, stdout, "args %q", args)
		require.NotContains(t, stderr, "audit15: must not run", "args %q", args)
		require.Zero(t, calls, "args %q: no run started", args)
		if args[0] == "compare" && !tc.noSVG {
			_, err := os.Stat(svg)
			require.ErrorIs(t, err, os.ErrNotExist, "args %q: no -svg file made", args)
		}
	}
}

// TestAudit15CompareEveryWorkloadJSON: every workload the issue names runs
// in every mode through compare; every row has the fields with
// their JSON types, mode is exactly gil, ft or ft-atomic, nothing leaked
// or was violated, and the rows keep the -workloads order.
func TestAudit15CompareEveryWorkloadJSON(t *testing.T) {
	order := slices.Clone(audit15SpecWorkloads)
	slices.Reverse(order)
	code, stdout, stderr := runArgs("compare", "-workloads", strings.Join(order, ","), "-threads", "1",
		"-duration", "10ms", "-repeat", "1", "-json")
	require.Equal(t, exitOK, code, stderr)
	rows := jsonRows(t, stdout)
	require.Len(t, rows, len(order)*3)
	var seen []string
	cells := map[string]bool{}
	for _, r := range rows {
		audit15CheckFields(t, r)
		w, m := audit15Str(t, r, "workload"), audit15Str(t, r, "mode")
		require.Contains(t, []string{"gil", "ft", "ft-atomic"}, m)
		require.Equal(t, int64(1), jsonInt(t, r, "threads"))
		require.Equal(t, 1.0, jsonFloat(t, r, "speedup"), "speedup is 1 at one thread: %v", r)
		require.Positive(t, jsonInt(t, r, "ops"), "%s %s", w, m)
		require.Zero(t, jsonInt(t, r, "leaked"), "%s %s", w, m)
		require.Zero(t, jsonInt(t, r, "violations"), "%s %s", w, m)
		require.NotContains(t, r, "error")
		require.False(t, cells[w+"/"+m], "one row per cell: %s %s", w, m)
		cells[w+"/"+m] = true
		if len(seen) == 0 || seen[len(seen)-1] != w {
			seen = append(seen, w)
		}
	}
	require.Equal(t, order, seen, "rows in -workloads order, each workload's rows together")
}

// TestAudit15CompareTableConsistent: the table keeps the -workloads order,
// has a row per thread count, and its ft/gil, ft-atomic/gil and speedup
// columns are the ratios of its ops/s columns (speedup 1.00x at 1 thread).
func TestAudit15CompareTableConsistent(t *testing.T) {
	code, stdout, stderr := runArgs("compare", "-workloads", "cycles,create-dict", "-threads", "2,1",
		"-duration", "20ms", "-repeat", "1")
	require.Equal(t, exitOK, code, stderr)
	lines := strings.Split(stdout, "\n")
	require.Equal(t, "workload threads gil ops/s ft ops/s ft-atomic ops/s ft/gil ft-atomic/gil speedup gil speedup ft speedup ft-atomic status",
		strings.Join(strings.Fields(lines[0]), " "))
	type tableRow struct {
		workload string
		threads  int
		rates    [3]float64
		vsGIL    [2]float64
		speedup  [3]float64
	}
	var rows []tableRow
	cur := ""
	for _, line := range lines[1:] {
		if strings.TrimSpace(line) == "" {
			break
		}
		f := strings.Fields(line)
		if _, err := strconv.Atoi(f[0]); err != nil {
			cur, f = f[0], f[1:]
		}
		require.Len(t, f, 10, "threads, 3 rates, 2 ratios, 3 speedups, status: %q", line)
		n, err := strconv.Atoi(f[0])
		require.NoError(t, err, line)
		require.Equal(t, "ok", f[9], line)
		r := tableRow{workload: cur, threads: n}
		for i := range 3 {
			r.rates[i] = audit15ParseRate(t, f[1+i])
			r.speedup[i] = audit15ParseRatio(t, f[6+i])
		}
		for i := range 2 {
			r.vsGIL[i] = audit15ParseRatio(t, f[4+i])
		}
		rows = append(rows, r)
	}
	require.Len(t, rows, 4)
	near := func(printed, want float64) bool {
		return math.Abs(printed-want) <= 0.006+0.015*want
	}
	for i, r := range rows {
		require.Equal(t, []string{"cycles", "cycles", "create-dict", "create-dict"}[i], r.workload)
		require.Equal(t, []int{1, 2, 1, 2}[i], r.threads, "thread counts in increasing order")
		one := rows[i-i%2]
		for m := range 3 {
			if r.threads == 1 {
				require.Equal(t, 1.0, r.speedup[m], "speedup 1.00x at one thread")
			}
			want := r.rates[m] / one.rates[m]
			require.True(t, near(r.speedup[m], want), "%s %d threads mode %d: speedup %.2f, ops/s ratio %.3f", r.workload, r.threads, m, r.speedup[m], want)
		}
		for m := range 2 {
			want := r.rates[1+m] / r.rates[0]
			require.True(t, near(r.vsGIL[m], want), "%s %d threads: ratio to gil %.2f, ops/s ratio %.3f", r.workload, r.threads, r.vsGIL[m], want)
		}
	}
	require.Contains(t, stdout, "runs: 12, leaked objects: 0, violations: 0, errors: 0")
}

// TestAudit15CompareRepeatMedianPerThread: with -repeat 3 every row had
// three runs, lists their throughputs and reports the median; with -ops N
// every thread did N ops (per_thread_ops), and speedup is ftscalingbench's
// t1 * n / tn.
func TestAudit15CompareRepeatMedianPerThread(t *testing.T) {
	const ops = 200
	code, stdout, stderr := runArgs("compare", "-workloads", "create-dict", "-modes", "gil,ft", "-threads", "1,2",
		"-ops", strconv.Itoa(ops), "-repeat", "3", "-json")
	require.Equal(t, exitOK, code, stderr)
	rows := jsonRows(t, stdout)
	require.Len(t, rows, 4)
	secs1 := map[string]float64{}
	for _, r := range rows {
		if jsonInt(t, r, "threads") == 1 {
			secs1[audit15Str(t, r, "mode")] = jsonFloat(t, r, "seconds")
		}
	}
	for _, r := range rows {
		n := jsonInt(t, r, "threads")
		m := audit15Str(t, r, "mode")
		require.Equal(t, int64(3), jsonInt(t, r, "runs"))
		raw, ok := r["ops_per_sec_runs"].([]any)
		require.True(t, ok, "ops_per_sec_runs is an array: %v", r["ops_per_sec_runs"])
		require.Len(t, raw, 3)
		var runs []float64
		for _, v := range raw {
			f, err := v.(json.Number).Float64()
			require.NoError(t, err)
			runs = append(runs, f)
		}
		slices.Sort(runs)
		require.Equal(t, runs[1], jsonFloat(t, r, "ops_per_sec"), "the row is the median run: %v", r)

		per, ok := r["per_thread_ops"].([]any)
		require.True(t, ok, "per_thread_ops is an array")
		require.Len(t, per, int(n))
		var sum int64
		for _, v := range per {
			k, err := v.(json.Number).Int64()
			require.NoError(t, err)
			require.Equal(t, int64(ops), k, "fixed work per thread")
			sum += k
		}
		require.Equal(t, sum, jsonInt(t, r, "ops"))

		want := secs1[m] * float64(n) / jsonFloat(t, r, "seconds")
		require.InEpsilon(t, want, jsonFloat(t, r, "speedup"), 1e-6, "ftscalingbench's t1*n/tn: %s %d", m, n)
	}
}

// TestAudit15CompareModeAliasesAndThreadDuplicates: the modes' other
// names give rows named gil, ft and ft-atomic, and a mode or thread count
// given twice gives one row per cell.
func TestAudit15CompareModeAliasesAndThreadDuplicates(t *testing.T) {
	code, stdout, stderr := runArgs("compare", "-workloads", "create-objects", "-modes", "GIL,nogil,atomic,ft-biased,gil",
		"-threads", "2,1,2", "-ops", "50", "-repeat", "1", "-json")
	require.Equal(t, exitOK, code, stderr)
	rows := jsonRows(t, stdout)
	got := map[string]int{}
	for _, r := range rows {
		got[audit15Str(t, r, "mode")+"/"+strconv.FormatInt(jsonInt(t, r, "threads"), 10)]++
	}
	require.Equal(t, map[string]int{"gil/1": 1, "gil/2": 1, "ft/1": 1, "ft/2": 1, "ft-atomic/1": 1, "ft-atomic/2": 1}, got)
}

// TestAudit15CompareDuplicateWorkload: a workload named twice is still one
// row per workload × mode × thread count, and every 1-thread row has
// speedup 1.
func TestAudit15CompareDuplicateWorkload(t *testing.T) {
	code, stdout, stderr := runArgs("compare", "-workloads", "create-dict,create-dict", "-modes", "gil,ft",
		"-threads", "1,2", "-ops", "100", "-repeat", "1", "-json")
	require.Equal(t, exitOK, code, stderr)
	rows := jsonRows(t, stdout)
	cells := map[string]int{}
	for _, r := range rows {
		n := jsonInt(t, r, "threads")
		cells[audit15Str(t, r, "workload")+"/"+audit15Str(t, r, "mode")+"/"+strconv.FormatInt(n, 10)]++
		if n == 1 {
			require.Equal(t, 1.0, jsonFloat(t, r, "speedup"), "speedup against 1 thread is 1 at 1 thread: %v", r)
		}
	}
	for k, v := range cells {
		require.Equal(t, 1, v, "one row for %s", k)
	}
	require.Len(t, rows, 4)
}

// TestAudit15CompareSeedReproducible: -seed makes what is deterministic
// reproducible: one thread of mixed doing a fixed number of ops allocates
// the same objects for the same seed, and not for another.
func TestAudit15CompareSeedReproducible(t *testing.T) {
	allocated := func(seed string) map[string]int64 {
		code, stdout, stderr := runArgs("compare", "-workloads", "mixed", "-threads", "1", "-ops", "300",
			"-repeat", "1", "-seed", seed, "-json")
		require.Equal(t, exitOK, code, stderr)
		out := map[string]int64{}
		for _, r := range jsonRows(t, stdout) {
			require.Equal(t, int64(300), jsonInt(t, r, "ops"))
			out[audit15Str(t, r, "mode")] = jsonInt(t, r, "allocated")
		}
		require.Len(t, out, 3)
		return out
	}
	a, b, c := allocated("3"), allocated("3"), allocated("4")
	require.Equal(t, a, b, "same seed, same work")
	require.NotEqual(t, a, c, "another seed, other random choices")
}

// TestAudit15CompareJSONCounters: the JSON carries each run's own
// figures: GIL switches in GIL mode with two threads (none elsewhere),
// queued merges in ft's list-contention with two threads, collections and
// their pauses and peak live objects in cycles.
func TestAudit15CompareJSONCounters(t *testing.T) {
	code, stdout, stderr := runArgs("compare", "-workloads", "cycles,list-contention", "-threads", "1,2",
		"-duration", "50ms", "-repeat", "1", "-json")
	require.Equal(t, exitOK, code, stderr)
	rows := jsonRows(t, stdout)
	require.Len(t, rows, 12)
	for _, r := range rows {
		audit15CheckFields(t, r)
		w, m, n := audit15Str(t, r, "workload"), audit15Str(t, r, "mode"), jsonInt(t, r, "threads")
		switch {
		case m == "gil" && n == 2:
			require.Positive(t, jsonInt(t, r, "gil_switches"), "%s gil 2 threads share the GIL", w)
		case m != "gil":
			require.Zero(t, jsonInt(t, r, "gil_switches"), "%s %s has no GIL", w, m)
		}
		if m != "ft" {
			require.Zero(t, jsonInt(t, r, "queued_merges"), "%s %s has no merge queues", w, m)
		}
		if w == "list-contention" && m == "ft" && n == 2 {
			require.Positive(t, jsonInt(t, r, "queued_merges"), "two threads share the lists' items")
		}
		if w == "cycles" {
			require.Positive(t, jsonInt(t, r, "gc_collections"), "cycles %s %d", m, n)
			require.Positive(t, jsonFloat(t, r, "gc_pause_p99_us"), "cycles %s %d", m, n)
			require.Positive(t, jsonInt(t, r, "peak_live"), "cycles %s %d", m, n)
		}
	}
}

// TestAudit15CompareSVGSubset: with -json and -svg, stdout holds the JSON
// and the SVG (well-formed, in the SVG namespace) has a panel per
// workload with a series for each mode asked for only, and the thread
// counts as ticks.
func TestAudit15CompareSVGSubset(t *testing.T) {
	path := filepath.Join(t.TempDir(), "chart.svg")
	code, stdout, stderr := runArgs("compare", "-workloads", "shared-read,cycles", "-modes", "gil,ft",
		"-threads", "1,4", "-ops", "50", "-repeat", "1", "-json", "-svg", path)
	require.Equal(t, exitOK, code, stderr)
	require.Len(t, jsonRows(t, stdout), 2*2*2)
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	root, texts := svgTexts(t, data) // requires the SVG namespace
	require.Equal(t, "svg", root)
	count := map[string]int{}
	for _, s := range texts {
		count[s]++
	}
	require.Equal(t, 1, count["shared-read"])
	require.Equal(t, 1, count["cycles"])
	require.Equal(t, 2, count["gil"], "a gil series per panel")
	require.Equal(t, 2, count["ft"], "an ft series per panel")
	require.Zero(t, count["ft-atomic"], "no series for a mode not asked for")
	require.GreaterOrEqual(t, count["1"], 2, "thread count 1 on each x axis")
	require.GreaterOrEqual(t, count["4"], 2, "thread count 4 on each x axis")
}

// TestAudit15CompareWorkerErrorExit1: a run that ended with a worker's
// panic (an error, not a crash) makes compare exit 1, shows ERROR in its
// table row and the error in its JSON row, and names it on stderr.
func TestAudit15CompareWorkerErrorExit1(t *testing.T) {
	for _, asJSON := range []bool{false, true} {
		orig := runCompare
		audit15HookCompare(t, func(ctx context.Context, cfg stress.CompareConfig) (*stress.Comparison, error) {
			c, err := orig(ctx, cfg)
			if err == nil {
				perr := &stress.PanicError{Worker: 0, Value: "audit15 boom", Stack: "stack"}
				c.AllResults[0].Err = perr
				c.Rows[0].Error = perr.Error()
			}
			return c, err
		})
		args := []string{"compare", "-workloads", "create-dict", "-modes", "gil,ft", "-threads", "1", "-ops", "20", "-repeat", "1"}
		if asJSON {
			args = append(args, "-json")
		}
		code, stdout, stderr := runArgs(args...)
		require.Equal(t, exitFailed, code, "stdout:\n%s\nstderr:\n%s", stdout, stderr)
		require.Contains(t, stderr, "1 run(s) failed")
		require.Contains(t, stderr, "create-dict gil 1 threads")
		require.Contains(t, stderr, "audit15 boom")
		if asJSON {
			rows := jsonRows(t, stdout)
			require.Len(t, rows, 2)
			require.Contains(t, audit15Str(t, rows[0], "error"), "audit15 boom")
			require.NotContains(t, rows[1], "error")
		} else {
			require.Contains(t, stdout, "gil ERROR")
			require.Contains(t, stdout, "errors: 1")
		}
		runCompare = orig
	}
}

// TestAudit15StressGILOnly: stress -modes gil runs mixed and the
// contention workloads in GIL mode only, at the thread count asked for,
// prints a summary row for each and exits 0 when every run is clean.
func TestAudit15StressGILOnly(t *testing.T) {
	wls := stress.StressWorkloads()
	code, stdout, stderr := runArgs("stress", "-modes", "gil", "-threads", "2", "-duration", "500ms", "-seed", "6", "-stall", "10s")
	require.Equal(t, exitOK, code, "stdout:\n%s\nstderr:\n%s", stdout, stderr)
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	require.Contains(t, lines[0], strconv.Itoa(len(wls))+" runs of")
	require.Contains(t, lines[0], "2 threads, seed 6")
	require.True(t, strings.HasPrefix(lines[1], "workload"), lines[1])
	var got []string
	for _, line := range lines[2:] {
		if strings.HasPrefix(line, "nogil stress:") {
			break
		}
		f := strings.Fields(line)
		require.GreaterOrEqual(t, len(f), 4, line)
		require.Equal(t, "gil", f[1], "only GIL mode: %q", line)
		require.Equal(t, "2", f[2], line)
		require.Equal(t, "ok", f[len(f)-1], line)
		got = append(got, f[0])
	}
	require.Equal(t, wls, got)
	require.Equal(t, "nogil stress: all "+strconv.Itoa(len(wls))+" runs clean", lines[len(lines)-1])
}

// TestAudit15StressPlainStatusLine: when stderr is not a terminal, stress's
// status goes there as plain lines (no carriage returns or escapes), each
// naming the ops, live objects, collections and merges; stdout has none.
func TestAudit15StressPlainStatusLine(t *testing.T) {
	code, stdout, stderr := runArgs("stress", "-workloads", "list-contention", "-modes", "ft", "-threads", "2",
		"-duration", "700ms", "-seed", "2", "-stall", "10s")
	require.Equal(t, exitOK, code, "stdout:\n%s\nstderr:\n%s", stdout, stderr)
	require.NotContains(t, stderr, "\r")
	require.NotContains(t, stderr, "\033")
	require.NotEmpty(t, strings.TrimSpace(stderr), "a status line while it runs")
	for _, line := range strings.Split(strings.TrimSuffix(stderr, "\n"), "\n") {
		require.True(t, strings.HasPrefix(line, "[1/1] list-contention ft:"), "a status line: %q", line)
		for _, s := range []string{" ops ", " live ", " collections ", " merges "} {
			require.Contains(t, line, s)
		}
	}
	for _, line := range strings.Split(stdout, "\n") {
		require.False(t, strings.HasPrefix(line, "[1/1]"), "no status line on stdout: %q", line)
	}
	require.Contains(t, stdout, "all 1 runs clean")
}

// TestAudit15StressHelp: stress -h describes its flags on stderr and exits
// 0, with nothing on stdout.
func TestAudit15StressHelp(t *testing.T) {
	code, stdout, stderr := runArgs("stress", "-h")
	require.Equal(t, exitOK, code)
	require.Empty(t, stdout)
	for _, f := range []string{"-modes", "-threads", "-duration", "-seed", "-workloads"} {
		require.Contains(t, stderr, f)
	}
}

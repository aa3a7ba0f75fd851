package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/nogil-lab/nogil/internal/invariants"
	"github.com/nogil-lab/nogil/internal/leaktest"
	"github.com/nogil-lab/nogil/stress"
)

func TestMain(m *testing.M) { leaktest.Main(m) }

func runArgs(args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	code = run(args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "usage: nogil"},
		{[]string{"frobnicate"}, `unknown command "frobnicate"`},
		{[]string{"compare", "-nope"}, "flag provided but not defined: -nope"},
		{[]string{"compare", "-threads", "0"}, `-threads: "0" is not a thread count`},
		{[]string{"compare", "-threads", "1,x"}, `-threads: "x" is not a thread count`},
		{[]string{"compare", "-threads", ""}, "-threads: empty list"},
		{[]string{"compare", "-modes", "gil,turbo"}, `-modes: unknown mode "turbo"`},
		{[]string{"compare", "-workloads", "create-dict,nope"}, `-workloads: unknown workload "nope"`},
		{[]string{"compare", "-duration", "-1s"}, "-duration: must be positive"},
		{[]string{"compare", "-duration", "soon"}, `invalid value "soon" for flag -duration`},
		{[]string{"compare", "-ops", "-3"}, "-ops: must not be negative"},
		{[]string{"compare", "-repeat", "0"}, "-repeat: must be at least 1"},
		{[]string{"compare", "-max-steal", "-1ms"}, "-max-steal: must not be negative"},
		{[]string{"compare", "-json", "-csv"}, "-json and -csv are exclusive"},
		{[]string{"compare", "-seed", "x"}, `invalid value "x" for flag -seed`},
		{[]string{"compare", "extra"}, `unexpected argument "extra"`},
		{[]string{"compare", "-svg", filepath.Join(t.TempDir(), "no", "such", "dir.svg")}, "-svg:"},
		{[]string{"stress", "-threads", "0"}, "-threads: 0 is not a thread count"},
		{[]string{"stress", "-duration", "0s"}, "-duration: must be positive"},
		{[]string{"stress", "-modes", ""}, "-modes: empty list"},
		{[]string{"stress", "-bogus"}, "flag provided but not defined: -bogus"},
		{[]string{"stress", "-stall", "0s"}, "-stall: must be positive"},
	} {
		code, stdout, stderr := runArgs(tc.args...)
		require.Equal(t, 2, code, "args %q: stderr %s", tc.args, stderr)
		require.Contains(t, stderr, tc.want, "args %q", tc.args)
		require.Empty(t, stdout, "args %q", tc.args)
	}
}

func TestHelp(t *testing.T) {
	code, stdout, _ := runArgs("help")
	require.Equal(t, 0, code)
	require.Contains(t, stdout, "compare")
	code, _, stderr := runArgs("compare", "-h")
	require.Equal(t, 0, code)
	require.Contains(t, stderr, "-workloads")
}

func TestCompareJSON(t *testing.T) {
	code, stdout, stderr := runArgs("compare", "-workloads", "create-objects,list-contention",
		"-threads", "1,2", "-ops", "300", "-json")
	require.Equal(t, 0, code, stderr)
	var rows []map[string]any
	require.NoError(t, json.Unmarshal([]byte(stdout), &rows), stdout)
	require.Len(t, rows, 2*3*2)
	modes := map[string]int{}
	for _, r := range rows {
		for _, k := range []string{"workload", "mode", "threads", "ops", "seconds", "ops_per_sec", "speedup",
			"gc_collections", "gc_pause_p99_us", "gil_switches", "queued_merges", "peak_live", "leaked"} {
			require.Contains(t, r, k)
		}
		modes[r["mode"].(string)]++
		require.Zero(t, r["leaked"])
		require.Positive(t, r["ops_per_sec"])
		if r["threads"].(float64) == 1 {
			require.Equal(t, 1.0, r["speedup"])
		}
	}
	require.Equal(t, map[string]int{"gil": 4, "ft": 4, "ft-atomic": 4}, modes)
}

func TestCompareCSVAndSVG(t *testing.T) {
	svg := filepath.Join(t.TempDir(), "out.svg")
	code, stdout, stderr := runArgs("compare", "-workloads", "create-dict,cycles", "-modes", "gil,ft",
		"-threads", "2", "-ops", "200", "-csv", "-svg", svg)
	require.Equal(t, 0, code, stderr)
	recs, err := csv.NewReader(strings.NewReader(stdout)).ReadAll()
	require.NoError(t, err)
	require.Equal(t, stress.CSVHeader, recs[0])
	require.Equal(t, "workload", recs[0][0])
	require.Len(t, recs, 1+2*2*2) // 1 thread is added to 2
	data, err := os.ReadFile(svg)
	require.NoError(t, err)
	s := strings.TrimSpace(string(data))
	require.True(t, strings.HasPrefix(s, "<?xml") || strings.HasPrefix(s, "<svg"), s[:min(len(s), 80)])
	require.Contains(t, s, "</svg>")
	require.Contains(t, s, "create-dict")
}

func TestCompareTable(t *testing.T) {
	code, stdout, stderr := runArgs("compare", "-workloads", "shared-read-immortal", "-threads", "1,2", "-duration", "20ms")
	require.Equal(t, 0, code, stderr)
	require.Contains(t, stdout, "gil ops/s")
	require.Contains(t, stdout, "ft/gil")
	require.Contains(t, stdout, "speedup ft-atomic")
	require.Contains(t, stdout, "shared-read-immortal")
	require.Contains(t, stdout, "runs: 42, leaked objects: 0, violations: 0, errors: 0", "7 runs (the default) of 6 cells")
	require.Contains(t, stdout, "7 runs per row (median shown)")
	require.NotContains(t, stderr, "\r", "no line rewritten in place when stderr is not a terminal")
	// Elsewhere the progress is a plain line, at most one every 5 s: the
	// first run's, and whatever a slow machine adds.
	require.True(t, strings.HasPrefix(stderr, "[1/42] shared-read-immortal gil 1 threads"), stderr)
	for _, line := range strings.Split(strings.TrimSuffix(stderr, "\n"), "\n") {
		require.True(t, strings.HasPrefix(line, "["), "a progress line: %q", line)
	}
}

func TestStressShort(t *testing.T) {
	code, stdout, stderr := runArgs("stress", "-threads", "3", "-duration", "600ms", "-seed", "5", "-stall", "10s")
	require.Equal(t, 0, code, "stdout:\n%s\nstderr:\n%s", stdout, stderr)
	require.Contains(t, stdout, "seed 5")
	for _, wl := range stress.StressWorkloads() {
		require.Contains(t, stdout, wl)
	}
	require.Contains(t, stdout, fmt.Sprintf("all %d runs clean", 3*len(stress.StressWorkloads())))
}

// compareJSONRows runs a short single-thread comparison with args, and
// with the mechanism flag when off, and returns its JSON rows.
func compareJSONRows(t *testing.T, off bool, flag string, args ...string) []map[string]any {
	t.Helper()
	args = append([]string{"compare", "-threads", "1", "-ops", "300", "-repeat", "1", "-json"}, args...)
	if off {
		args = append(args, flag)
	}
	code, stdout, stderr := runArgs(args...)
	require.Equal(t, 0, code, stderr)
	var rows []map[string]any
	require.NoError(t, json.Unmarshal([]byte(stdout), &rows), stdout)
	return rows
}

// TestCompareNoFreeLists: -no-freelists reaches every run; the JSON rows
// say how many freed objects waited on the free lists (the GIL runtime's,
// which outlive the workers).
func TestCompareNoFreeLists(t *testing.T) {
	for _, off := range []bool{false, true} {
		rows := compareJSONRows(t, off, "-no-freelists", "-workloads", "alloc-churn", "-modes", "gil")
		require.Len(t, rows, 1)
		if off {
			require.Zero(t, rows[0]["free_listed"])
		} else {
			require.Positive(t, rows[0]["free_listed"])
		}
	}
}

// TestCompareNoHugePages: -no-hugepages reaches every run.
func TestCompareNoHugePages(t *testing.T) {
	for _, off := range []bool{false, true} {
		rows := compareJSONRows(t, off, "-no-hugepages", "-workloads", "create-objects", "-modes", "gil,ft")
		require.Len(t, rows, 2)
		for _, r := range rows {
			require.Equal(t, !off, r["huge_pages"], "%v", r)
		}
	}
}

// TestCompareNoLockFreeReads: -no-lockfree-reads reaches every run: no
// list read of free-threaded shared-read by a thread that does not own the
// list (-fresh-thread) goes without the lock, where without the flag most
// do (except under the race detector, whose builds always lock).
func TestCompareNoLockFreeReads(t *testing.T) {
	for _, off := range []bool{false, true} {
		rows := compareJSONRows(t, off, "-no-lockfree-reads", "-workloads", "shared-read", "-modes", "ft", "-fresh-thread")
		require.Len(t, rows, 1)
		if off || invariants.Race {
			require.Zero(t, rows[0]["list_reads_lock_free"])
			require.Zero(t, rows[0]["list_reads_fell_back"])
		} else {
			require.Positive(t, rows[0]["list_reads_lock_free"])
		}
	}
}

// TestStressNoFreeLists: stress takes -no-freelists, -no-lockfree-reads and
// -no-hugepages too and runs clean.
func TestStressNoFreeLists(t *testing.T) {
	code, stdout, stderr := runArgs("stress", "-modes", "gil,ft", "-threads", "2", "-duration", "300ms", "-seed", "7", "-stall", "10s", "-no-freelists", "-no-lockfree-reads", "-no-hugepages")
	require.Equal(t, 0, code, "stdout:\n%s\nstderr:\n%s", stdout, stderr)
	require.Contains(t, stdout, fmt.Sprintf("all %d runs clean", 2*len(stress.StressWorkloads())))
}

// TestCompareFreshThread: a one-thread cell runs on the setup thread unless
// -fresh-thread is given; mixed, whose threads exit, never does.
func TestCompareFreshThread(t *testing.T) {
	for _, fresh := range []bool{false, true} {
		rows := compareJSONRows(t, fresh, "-fresh-thread", "-workloads", "shared-read,mixed", "-modes", "gil,ft")
		require.Len(t, rows, 4)
		for _, r := range rows {
			onSetup := !fresh && r["workload"] != "mixed"
			require.Equal(t, onSetup, r["on_setup_thread"], "%v", r)
			require.Zero(t, r["leaked"], "%v", r)
		}
	}
}

// TestStressFreshThread: stress passes -fresh-thread to every run, and a
// one-thread stress runs clean both ways.
func TestStressFreshThread(t *testing.T) {
	for _, fresh := range []bool{false, true} {
		orig := runStress
		t.Cleanup(func() { runStress = orig })
		var got []bool
		runStress = func(ctx context.Context, cfg stress.Config) (*stress.Result, error) {
			got = append(got, cfg.FreshThread)
			return orig(ctx, cfg)
		}
		args := []string{"stress", "-workloads", "shared-read,list-contention", "-modes", "gil,ft", "-threads", "1", "-duration", "200ms", "-seed", "3", "-stall", "10s"}
		if fresh {
			args = append(args, "-fresh-thread")
		}
		code, stdout, stderr := runArgs(args...)
		require.Equal(t, 0, code, "stdout:\n%s\nstderr:\n%s", stdout, stderr)
		require.Contains(t, stdout, "all 4 runs clean")
		require.Equal(t, []bool{fresh, fresh, fresh, fresh}, got)
		runStress = orig
	}
}

// TestCompareBadCPUProfileLeavesNoSVG: a -cpuprofile that cannot be
// written fails before -svg's file is made.
func TestCompareBadCPUProfileLeavesNoSVG(t *testing.T) {
	dir := t.TempDir()
	svg := filepath.Join(dir, "out.svg")
	code, stdout, stderr := runArgs("compare", "-workloads", "create-dict", "-ops", "10", "-repeat", "1",
		"-cpuprofile", filepath.Join(dir, "missing", "cpu.prof"), "-svg", svg)
	require.Equal(t, exitUsage, code)
	require.Empty(t, stdout)
	require.Contains(t, stderr, "-cpuprofile")
	_, err := os.Stat(svg)
	require.True(t, os.IsNotExist(err), "no SVG file left behind: %v", err)
}

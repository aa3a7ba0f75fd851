package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"encoding/xml"
	"errors"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/nogil-lab/nogil/stress"
)

// Audit of cmd/nogil against issue 6: every flag, bad values, the JSON,
// CSV and SVG outputs, the progress line and the exit statuses.

func TestAuditUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"compare", "-threads", "-1"}, `-threads: "-1" is not a thread count`},
		{[]string{"compare", "-threads", "1,,2"}, `-threads: malformed list "1,,2"`},
		{[]string{"compare", "-threads", "1,2,"}, `-threads: malformed list`},
		{[]string{"compare", "-threads", "1;2"}, `-threads: "1;2" is not a thread count`},
		{[]string{"compare", "-threads", "1.5"}, `-threads: "1.5" is not a thread count`},
		{[]string{"compare", "-threads", "5000"}, `-threads: "5000" is not a thread count`},
		{[]string{"compare", "-modes", ""}, "-modes: empty list"},
		{[]string{"compare", "-modes", "gil,,ft"}, `-modes: malformed list`},
		{[]string{"compare", "-modes", "GIL-ish"}, `-modes: unknown mode "GIL-ish"`},
		{[]string{"compare", "-workloads", ","}, `-workloads: malformed list`},
		{[]string{"compare", "-workloads", "mixed,"}, `-workloads: malformed list`},
		{[]string{"compare", "-workloads", "nope"}, "known: create-objects, create-dict"},
		{[]string{"compare", "-duration", "0s"}, "-duration: must be positive"},
		{[]string{"compare", "-duration", "5"}, `invalid value "5" for flag -duration`},
		{[]string{"compare", "-json=maybe"}, `invalid boolean value "maybe" for -json`},
		{[]string{"compare", "-svg"}, "flag needs an argument: -svg"},
		{[]string{"compare", "-threads", "1", "extra", "args"}, `unexpected argument "extra"`},
		{[]string{"stress", "-threads", "-2"}, "-threads: -2 is not a thread count"},
		{[]string{"stress", "-threads", "x"}, `invalid value "x" for flag -threads`},
		{[]string{"stress", "-threads", "1,2"}, `invalid value "1,2" for flag -threads`},
		{[]string{"stress", "-modes", "gil,turbo"}, `-modes: unknown mode "turbo"`},
		{[]string{"stress", "-modes", "ft,"}, `-modes: malformed list`},
		{[]string{"stress", "-workloads", "nope"}, `-workloads: unknown workload "nope"`},
		{[]string{"stress", "-duration", "-1s"}, "-duration: must be positive"},
		{[]string{"stress", "-duration", "long"}, `invalid value "long" for flag -duration`},
		{[]string{"stress", "-seed", "1.5"}, `invalid value "1.5" for flag -seed`},
		{[]string{"stress", "now"}, `unexpected argument "now"`},
	} {
		code, stdout, stderr := runArgs(tc.args...)
		require.Equal(t, exitUsage, code, "args %q: stderr %s", tc.args, stderr)
		require.Contains(t, stderr, tc.want, "args %q", tc.args)
		require.Empty(t, stdout, "args %q", tc.args)
	}
	// Spaces around items are fine, and so is an empty -workloads (the
	// default).
	code, _, stderr := runArgs("compare", "-workloads", " create-dict , cycles ", "-modes", "gil, ft", "-threads", " 1 ", "-ops", "20", "-repeat", "1", "-json")
	require.Equal(t, exitOK, code, stderr)
}

// jsonRows decodes compare's JSON output with numbers kept as written.
func jsonRows(t *testing.T, out string) []map[string]any {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(out))
	dec.UseNumber()
	var rows []map[string]any
	require.NoError(t, dec.Decode(&rows), out)
	_, err := dec.Token()
	require.ErrorIs(t, err, io.EOF, "nothing but the array on stdout")
	return rows
}

func jsonInt(t *testing.T, row map[string]any, k string) int64 {
	t.Helper()
	n, ok := row[k].(json.Number)
	require.True(t, ok, "%s is a number: %v", k, row[k])
	v, err := n.Int64()
	require.NoError(t, err, "%s is an integer: %s", k, n)
	return v
}

func jsonFloat(t *testing.T, row map[string]any, k string) float64 {
	t.Helper()
	n, ok := row[k].(json.Number)
	require.True(t, ok, "%s is a number: %v", k, row[k])
	v, err := n.Float64()
	require.NoError(t, err)
	require.False(t, math.IsNaN(v) || math.IsInf(v, 0), k)
	return v
}

// TestAuditCompareJSONRows: -json with three thread counts and every mode
// gives one row per workload × mode × thread count, the fields with
// the right types, ops/s = ops / seconds, speedup = ops/s over the same
// workload and mode's 1-thread ops/s, nothing leaked.
func TestAuditCompareJSONRows(t *testing.T) {
	const ops = 150
	code, stdout, stderr := runArgs("compare", "-workloads", "create-objects,shared-read",
		"-modes", "gil,ft,ft-atomic", "-threads", "1,2,4", "-ops", strconv.Itoa(ops), "-repeat", "1", "-seed", "9", "-json")
	require.Equal(t, exitOK, code, stderr)
	rows := jsonRows(t, stdout)
	require.Len(t, rows, 2*3*3)

	type key struct {
		w, m string
		n    int64
	}
	byKey := map[key]map[string]any{}
	for _, r := range rows {
		w, ok := r["workload"].(string)
		require.True(t, ok)
		m, ok := r["mode"].(string)
		require.True(t, ok)
		require.Contains(t, []string{"gil", "ft", "ft-atomic"}, m)
		n := jsonInt(t, r, "threads")
		require.Contains(t, []int64{1, 2, 4}, n)
		k := key{w, m, n}
		require.NotContains(t, byKey, k, "one row per cell")
		byKey[k] = r

		require.Equal(t, n*ops, jsonInt(t, r, "ops"), "-ops is ops per thread")
		secs := jsonFloat(t, r, "seconds")
		require.Positive(t, secs)
		require.InEpsilon(t, float64(jsonInt(t, r, "ops"))/secs, jsonFloat(t, r, "ops_per_sec"), 1e-6)
		require.GreaterOrEqual(t, jsonInt(t, r, "gc_collections"), int64(0))
		require.GreaterOrEqual(t, jsonFloat(t, r, "gc_pause_p99_us"), 0.0)
		gs := jsonInt(t, r, "gil_switches")
		qm := jsonInt(t, r, "queued_merges")
		require.GreaterOrEqual(t, jsonInt(t, r, "peak_live"), int64(0))
		require.Zero(t, jsonInt(t, r, "leaked"))
		if m != "gil" {
			require.Zero(t, gs, "no GIL in %s", m)
		}
		if m != "ft" {
			require.Zero(t, qm, "no merge queues in %s", m)
		}
		require.NotContains(t, r, "error")
	}
	for k, r := range byKey {
		one := byKey[key{k.w, k.m, 1}]
		require.NotNil(t, one)
		want := jsonFloat(t, r, "ops_per_sec") / jsonFloat(t, one, "ops_per_sec")
		require.InEpsilon(t, want, jsonFloat(t, r, "speedup"), 1e-9, "%v", k)
	}
}

// TestAuditCompareDurationAndSeed: -duration sets each run's length, and the
// table's footer names the -seed and -duration used.
func TestAuditCompareDurationAndSeed(t *testing.T) {
	code, stdout, stderr := runArgs("compare", "-workloads", "create-dict", "-modes", "ft", "-threads", "1",
		"-duration", "40ms", "-repeat", "1", "-json")
	require.Equal(t, exitOK, code, stderr)
	rows := jsonRows(t, stdout)
	require.Len(t, rows, 1)
	require.GreaterOrEqual(t, jsonFloat(t, rows[0], "seconds"), 0.040)
	require.Less(t, jsonFloat(t, rows[0], "seconds"), 5.0)

	code, stdout, stderr = runArgs("compare", "-workloads", "create-dict", "-modes", "gil", "-threads", "1",
		"-duration", "10ms", "-repeat", "1", "-seed", "4242")
	require.Equal(t, exitOK, code, stderr)
	require.Contains(t, stdout, "seed 4242")
	require.Contains(t, stdout, "(10ms per run, 1 runs per row")
}

// TestAuditCompareCSVMatchesJSON: -csv writes a header naming the JSON
// fields and one record per JSON row, for the same cells (with -ops the
// work, hence ops, is the same in both).
func TestAuditCompareCSVMatchesJSON(t *testing.T) {
	args := []string{"compare", "-workloads", "alloc-churn,list-contention", "-modes", "gil,ft-atomic", "-threads", "2", "-ops", "100", "-repeat", "1"}
	code, jout, stderr := runArgs(append(args, "-json")...)
	require.Equal(t, exitOK, code, stderr)
	rows := jsonRows(t, jout)
	code, cout, stderr := runArgs(append(args, "-csv")...)
	require.Equal(t, exitOK, code, stderr)
	recs, err := csv.NewReader(strings.NewReader(cout)).ReadAll()
	require.NoError(t, err)
	require.Len(t, recs, 1+len(rows))
	header := recs[0]
	col := map[string]int{}
	for i, h := range header {
		col[h] = i
	}
	for k := range rows[0] {
		require.Contains(t, col, k, "the CSV has a column for JSON field %s", k)
	}
	for i, r := range rows {
		rec := recs[1+i]
		require.Len(t, rec, len(header))
		require.Equal(t, r["workload"], rec[col["workload"]])
		require.Equal(t, r["mode"], rec[col["mode"]])
		require.Equal(t, r["threads"].(json.Number).String(), rec[col["threads"]])
		require.Equal(t, r["ops"].(json.Number).String(), rec[col["ops"]])
		require.Equal(t, "0", rec[col["leaked"]])
		for _, k := range []string{"seconds", "ops_per_sec", "speedup", "gc_pause_p99_us"} {
			_, err := strconv.ParseFloat(rec[col[k]], 64)
			require.NoError(t, err, k)
		}
		for _, k := range []string{"gc_collections", "gil_switches", "queued_merges", "peak_live"} {
			_, err := strconv.ParseInt(rec[col[k]], 10, 64)
			require.NoError(t, err, k)
		}
	}
}

// svgTexts parses an SVG document as XML and returns its root element's
// name and the text of every <text> element.
func svgTexts(t *testing.T, data []byte) (root string, texts []string) {
	t.Helper()
	dec := xml.NewDecoder(bytes.NewReader(data))
	depth, inText := 0, false
	var cur strings.Builder
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err, "the SVG is well-formed XML")
		switch tok := tok.(type) {
		case xml.StartElement:
			if depth == 0 {
				root = tok.Name.Local
				require.Equal(t, "http://www.w3.org/2000/svg", tok.Name.Space)
			}
			depth++
			if tok.Name.Local == "text" {
				inText = true
				cur.Reset()
			}
		case xml.EndElement:
			depth--
			if tok.Name.Local == "text" {
				inText = false
				texts = append(texts, strings.TrimSpace(cur.String()))
			}
		case xml.CharData:
			if inText {
				cur.Write(tok)
			}
		}
	}
	require.Zero(t, depth, "every element closed")
	return root, texts
}

// TestAuditCompareSVG: -svg writes well-formed SVG with a panel per
// workload, titled with its name, and in each a series per mode (its
// legend entry), while stdout keeps the table.
func TestAuditCompareSVG(t *testing.T) {
	path := filepath.Join(t.TempDir(), "chart.svg")
	workloads := []string{"create-objects", "binary-trees", "list-contention", "mixed"}
	code, stdout, stderr := runArgs("compare", "-workloads", strings.Join(workloads, ","), "-modes", "gil,ft,ft-atomic",
		"-threads", "1,2", "-ops", "4", "-repeat", "1", "-svg", path)
	require.Equal(t, exitOK, code, stderr)
	require.Contains(t, stdout, "ft/gil", "the table still goes to stdout")
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	root, texts := svgTexts(t, data)
	require.Equal(t, "svg", root)
	count := map[string]int{}
	for _, s := range texts {
		count[s]++
	}
	for _, w := range workloads {
		require.Equal(t, 1, count[w], "one panel titled %s", w)
	}
	for _, m := range []string{"gil", "ft", "ft-atomic"} {
		require.Equal(t, len(workloads), count[m], "a %s series in every panel", m)
	}
	require.Equal(t, len(workloads), count["threads"], "x axis")
}

// ttyStderr makes the command treat stderr as a terminal, so that it draws
// its status line there.
func ttyStderr(t *testing.T, stderr io.Writer) {
	orig := isTerminal
	isTerminal = func(w io.Writer) bool { return w == stderr }
	t.Cleanup(func() { isTerminal = orig })
}

// TestAuditCompareProgressOnStderr: on a terminal, compare draws its
// one-line progress indicator on stderr, rewriting it in place, and clears
// it; stdout holds the JSON alone.
func TestAuditCompareProgressOnStderr(t *testing.T) {
	var out, errb bytes.Buffer
	ttyStderr(t, &errb)
	code := run([]string{"compare", "-workloads", "create-dict,cycles", "-modes", "gil,ft", "-threads", "1",
		"-ops", "50", "-repeat", "1", "-json"}, &out, &errb)
	require.Equal(t, exitOK, code, errb.String())
	require.Contains(t, errb.String(), "\r\033[K[1/4] create-dict gil 1 threads")
	require.Contains(t, errb.String(), "[4/4] cycles ft 1 threads")
	require.True(t, strings.HasSuffix(errb.String(), "\r\033[K"), "the line is cleared at the end: %q", errb.String())
	require.NotContains(t, errb.String(), "\n", "one line, rewritten in place")
	require.NotContains(t, out.String(), "\r")
	require.NotContains(t, out.String(), "\033")
	require.Len(t, jsonRows(t, out.String()), 4)
}

// TestAuditStressStatusLine: on a terminal, stress draws a live status line
// (ops, live objects, collections, merges) on stderr; the summary table
// goes to stdout.
func TestAuditStressStatusLine(t *testing.T) {
	var out, errb bytes.Buffer
	ttyStderr(t, &errb)
	code := run([]string{"stress", "-workloads", "list-contention", "-modes", "ft", "-threads", "2",
		"-duration", "500ms", "-seed", "3", "-stall", "10s"}, &out, &errb)
	require.Equal(t, exitOK, code, "stdout:\n%s\nstderr:\n%s", out.String(), errb.String())
	for _, s := range []string{"[1/1] list-contention ft:", " ops ", " live ", " collections ", " merges "} {
		require.Contains(t, errb.String(), s)
	}
	require.NotContains(t, out.String(), "\r")
	for _, s := range []string{"workload", "ops/s", "collections", "pause p99", "merges", "peak live", "leaked", "violations", "status",
		"list-contention", "seed 3", "all 1 runs clean"} {
		require.Contains(t, out.String(), s)
	}
}

// TestAuditStressExitStatus: stress exits 1 when a run leaks, violates an
// invariant or has a worker panic, naming the run and what went wrong, and
// still runs the others; 0 when every run is clean.
func TestAuditStressExitStatus(t *testing.T) {
	for _, tc := range []struct {
		name   string
		spoil  func(*stress.Result)
		status string
		want   string
	}{
		{"clean", func(*stress.Result) {}, "ok", "all 2 runs clean"},
		{"leak", func(r *stress.Result) { r.Leaked, r.LeakedByType = 3, map[string]int{"list": 3} }, "LEAK", "leaked 3 objects: map[list:3]"},
		{"violation", func(r *stress.Result) { r.Violations, r.ViolationSamples = 1, []string{"refcount went negative"} }, "VIOLATION", "violation: refcount went negative"},
		{"panic", func(r *stress.Result) { r.Err = &stress.PanicError{Worker: 1, Value: "boom"} }, "ERROR", "error: "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			orig := runStress
			t.Cleanup(func() { runStress = orig })
			var ran []string
			runStress = func(ctx context.Context, cfg stress.Config) (*stress.Result, error) {
				ran = append(ran, stress.ModeName(cfg.Mode, cfg.RefCounting))
				res, err := orig(ctx, cfg)
				if err == nil && len(ran) == 1 {
					tc.spoil(res)
				}
				return res, err
			}
			code, stdout, stderr := runArgs("stress", "-workloads", "create-dict", "-modes", "gil,ft", "-threads", "2",
				"-duration", "60ms", "-seed", "8", "-stall", "10s")
			require.Equal(t, []string{"gil", "ft"}, ran, "every run runs")
			if tc.status == "ok" {
				require.Equal(t, exitOK, code, stderr)
				require.Contains(t, stdout, tc.want)
				return
			}
			require.Equal(t, exitFailed, code, "stdout:\n%s\nstderr:\n%s", stdout, stderr)
			require.Contains(t, stdout, tc.status)
			require.Contains(t, stderr, "create-dict gil 2 threads seed 8 FAILED")
			require.Contains(t, stderr, tc.want)
			require.Contains(t, stderr, "FAILED: 1 of 2 runs")
			require.NotContains(t, stdout, "runs clean")
		})
	}
}

// TestAuditCompareFailureExitStatus: compare exits 1 when a run leaked,
// after printing its rows (the leak shows in the row), and says which.
func TestAuditCompareFailureExitStatus(t *testing.T) {
	orig := runCompare
	t.Cleanup(func() { runCompare = orig })
	runCompare = func(ctx context.Context, cfg stress.CompareConfig) (*stress.Comparison, error) {
		c, err := orig(ctx, cfg)
		if err == nil {
			c.AllResults[0].Leaked = 2
			c.Rows[0].Leaked = 2
		}
		return c, err
	}
	code, stdout, stderr := runArgs("compare", "-workloads", "create-dict", "-modes", "gil", "-threads", "1", "-ops", "10", "-repeat", "1", "-json")
	require.Equal(t, exitFailed, code, stderr)
	rows := jsonRows(t, stdout)
	require.Len(t, rows, 1)
	require.Equal(t, int64(2), jsonInt(t, rows[0], "leaked"))
	require.Contains(t, stderr, "1 run(s) failed")
	require.Contains(t, stderr, "create-dict gil 1 threads: 2 objects leaked")
}

// TestAuditStressDefaultsNameWorkloads: every workload the issue names
// exists, and stress runs mixed plus the contention workloads by default.
func TestAuditStressDefaultsNameWorkloads(t *testing.T) {
	for _, w := range []string{"create-objects", "create-dict", "alloc-churn", "binary-trees", "shared-read",
		"shared-read-immortal", "producer-consumer", "cycles", "list-contention", "mixed"} {
		_, ok := stress.Describe(w)
		require.True(t, ok, w)
	}
	want := []string{"mixed"}
	for _, w := range stress.Workloads() {
		if info, _ := stress.Describe(w); info.Contention {
			want = append(want, w)
		}
	}
	require.ElementsMatch(t, want, stress.StressWorkloads())
	require.Contains(t, stress.StressWorkloads(), "list-contention")
	require.Contains(t, stress.StressWorkloads(), "shared-read")
}

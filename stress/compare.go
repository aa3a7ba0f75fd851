package stress

import (
	"cmp"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// CompareConfig is a side-by-side comparison: every workload in every mode
// at every thread count.
type CompareConfig struct {
	Workloads []string // default: every workload
	Modes     []string // "gil", "ft", "ft-atomic"; default: all three
	// Threads are the thread counts; 1 is always run (added if missing)
	// since speedup is measured against it.
	Threads  []int
	Duration time.Duration // per run; used when Ops is 0
	Ops      int           // ops per thread per run (fixed work, as ftscalingbench)
	// Repeat is how many runs each workload × mode × thread count gets
	// (0 means 1). The runs of a workload go round-robin over its modes and
	// thread counts, and each row reports the run with the median
	// throughput: a burst of load from elsewhere on a shared machine then
	// spoils one run of a cell, not the cell.
	Repeat int
	// MaxSteal, when positive, is the most CPU time the hypervisor may take
	// from the machine during a run (Result.HostSteal): a run with more is
	// run again, up to StealRetries times (default 3), and the rerun
	// replaces it in its row. Every run still counts for leaks, violations
	// and errors, and Comparison.Rerun says how many were replaced.
	MaxSteal     time.Duration
	StealRetries int
	Seed         int64
	// FreshThread is each run's Config.FreshThread: one-worker runs on a
	// thread of their own rather than the setup thread.
	FreshThread bool
	// Mechanisms are each run's Config.Mechanisms.
	Mechanisms
	// StallTimeout is each run's Config.StallTimeout.
	StallTimeout time.Duration
	// Progress, when set, is called before each run (done runs so far,
	// total runs, the run about to start) and, with Run.Progress, during it.
	Progress    func(done, total int, next Config)
	RunProgress func(Progress)
}

// Row is one cell of a comparison (a workload in a mode at a thread count):
// its median run's figures, with what the other runs add (see Runs). Its
// JSON and CSV field names are part of the command line's output format.
type Row struct {
	Workload     string   `json:"workload"`
	Mode         string   `json:"mode"`
	Threads      int      `json:"threads"`
	Ops          uint64   `json:"ops"`
	Seconds      float64  `json:"seconds"`
	OpsPerSec    float64  `json:"ops_per_sec"`
	Speedup      float64  `json:"speedup"` // ops/s over the same mode's 1-thread ops/s; 0 if unknown
	VsGIL        float64  `json:"vs_gil"`  // ops/s over GIL mode's at the same thread count; 0 if unknown
	PerThreadOps []uint64 `json:"per_thread_ops"`
	// OnSetupThread: the one worker worked on the setup thread
	// (Result.OnSetupThread).
	OnSetupThread bool `json:"on_setup_thread"`
	// Runs is how many runs the cell had; OpsPerSecRuns their throughputs
	// in the order they ran. The row's other figures are the median run's,
	// except Leaked, Violations and Restarts, which add up every run.
	Runs          int       `json:"runs"`
	OpsPerSecRuns []float64 `json:"ops_per_sec_runs"`
	// HostStealMs is the CPU time in ms the hypervisor took from the
	// machine during the median run (-1 when unknown: not Linux).
	HostStealMs float64 `json:"host_steal_ms"`
	// CPUSeconds is the process's CPU time during the median run;
	// OpsPerCPUSec the median over the cell's runs of ops per CPU second
	// (its own median: not necessarily the median run's), and VsGILCPU
	// that over GIL mode's at the same thread count (0 if unknown). At one
	// thread they leave the host's steal out (Result.CPUTime).
	CPUSeconds    float64 `json:"cpu_seconds"`
	OpsPerCPUSec  float64 `json:"ops_per_cpu_sec"`
	VsGILCPU      float64 `json:"vs_gil_cpu"`
	GCCollections int     `json:"gc_collections"`
	GCPauseP50us  float64 `json:"gc_pause_p50_us"`
	GCPauseP99us  float64 `json:"gc_pause_p99_us"`
	GCPauseMaxus  float64 `json:"gc_pause_max_us"`
	GILSwitches   uint64  `json:"gil_switches"`
	ForcedSwitch  uint64  `json:"forced_switches"`
	// Stop-the-worlds and what they cost the threads that parked for
	// them (free-threaded; 0 under the GIL).
	WorldStops   uint64  `json:"stw_stops"`
	Parks        uint64  `json:"stw_parks"`
	ParkedMs     float64 `json:"stw_parked_ms"`
	MaxParkus    float64 `json:"stw_park_max_us"`
	QueuedMerges uint64  `json:"queued_merges"`
	// Per-object lock acquisitions that found the lock held, and those
	// that blocked (free-threaded).
	LockContended uint64 `json:"lock_contended"`
	LockParked    uint64 `json:"lock_parked"`
	// ListGet calls answered without the list's lock, and lock-free
	// attempts that took it after all (free-threaded, biased counting).
	ListReadsLockFree uint64 `json:"list_reads_lock_free"`
	ListReadsFellBack uint64 `json:"list_reads_fell_back"`
	Allocated         uint64 `json:"allocated"`
	PeakLive          int    `json:"peak_live"`
	HeapReserved      int64  `json:"heap_bytes_reserved"`
	RemoteFrees       int64  `json:"remote_frees"`
	FreeListed        int    `json:"free_listed"` // see Result.FreeListed
	HugePages         bool   `json:"huge_pages"`  // see Result.HugePages
	Leaked            int    `json:"leaked"`
	Violations        int    `json:"violations"`
	Restarts          int    `json:"restarts"`
	Error             string `json:"error,omitempty"`
}

// Comparison is the outcome of Compare.
type Comparison struct {
	Workloads []string
	Modes     []string
	Threads   []int
	Rows      []Row
	Results   []*Result // Rows[i] summarizes Results[i], its median run
	// AllResults holds every run, in the order they ran (those replaced
	// for steal included).
	AllResults []*Result
	// Rerun counts the runs replaced because the host took more than
	// CompareConfig.MaxSteal during them.
	Rerun int
}

// Compare runs cfg's workloads × modes × thread counts and fills in speedup
// (throughput at n threads over throughput at one thread, same workload and
// mode: ftscalingbench's t1*n/tn) and the ratio to GIL mode. It stops early
// if ctx is cancelled; an invalid configuration gives an error.
func Compare(ctx context.Context, cfg CompareConfig) (*Comparison, error) {
	c := &Comparison{Workloads: cfg.Workloads, Modes: cfg.Modes, Threads: slices.Clone(cfg.Threads)}
	if len(c.Workloads) == 0 {
		c.Workloads = Workloads()
	}
	if len(c.Modes) == 0 {
		c.Modes = ModeNames
	}
	if len(c.Threads) == 0 {
		c.Threads = []int{1, 2}
	}
	for _, n := range c.Threads {
		if n < 1 {
			return nil, fmt.Errorf("stress: thread count %d is not positive", n)
		}
	}
	if !slices.Contains(c.Threads, 1) {
		c.Threads = append(c.Threads, 1)
	}
	slices.Sort(c.Threads)
	c.Threads = slices.Compact(c.Threads)
	var workloads []string // in order, each once (as Modes and Threads)
	for _, w := range c.Workloads {
		if lookup(w) == nil {
			return nil, fmt.Errorf("stress: unknown workload %q (known: %s)", w, strings.Join(Workloads(), ", "))
		}
		if !slices.Contains(workloads, w) {
			workloads = append(workloads, w)
		}
	}
	c.Workloads = workloads
	type variant struct {
		name string
		cfg  Config
	}
	var variants []variant
	for _, m := range c.Modes {
		mode, rc, err := ParseMode(m)
		if err != nil {
			return nil, fmt.Errorf("stress: %w", err)
		}
		name := ModeName(mode, rc)
		if slices.ContainsFunc(variants, func(v variant) bool { return v.name == name }) {
			continue
		}
		variants = append(variants, variant{name, Config{Mode: mode, RefCounting: rc}})
	}
	c.Modes = c.Modes[:0:0]
	for _, v := range variants {
		c.Modes = append(c.Modes, v.name)
	}
	if cfg.Ops < 0 || (cfg.Ops == 0 && cfg.Duration <= 0) {
		return nil, fmt.Errorf("stress: need a positive Duration or Ops")
	}

	repeat := max(cfg.Repeat, 1)
	cells := len(c.Threads) * len(variants)
	total := len(c.Workloads) * cells * repeat
	done := 0
	for _, w := range c.Workloads {
		// The runs of one workload go round-robin over thread counts and
		// modes, so that slow drifts of a noisy machine hit every cell
		// alike, and a burst hits one run of a cell.
		runs := make([][]*Result, cells)
		finish := func() {
			for _, rs := range runs {
				if len(rs) > 0 {
					c.addCell(rs)
				}
			}
			c.fillRatios()
		}
		for range repeat {
			cell := 0
			for _, n := range c.Threads {
				for _, v := range variants {
					if err := ctx.Err(); err != nil {
						finish()
						return c, err
					}
					rc := v.cfg
					rc.Workload, rc.Threads, rc.Duration, rc.Ops, rc.Seed = w, n, cfg.Duration, cfg.Ops, cfg.Seed
					rc.Progress = cfg.RunProgress
					rc.StallTimeout = cfg.StallTimeout
					rc.Mechanisms = cfg.Mechanisms
					rc.FreshThread = cfg.FreshThread
					if cfg.Progress != nil {
						cfg.Progress(done, total, rc)
					}
					res, err := c.runWithin(ctx, rc, cfg)
					if err != nil {
						finish()
						return c, err
					}
					runs[cell] = append(runs[cell], res)
					cell++
					done++
				}
			}
		}
		finish()
	}
	if cfg.Progress != nil {
		cfg.Progress(total, total, Config{})
	}
	c.fillRatios()
	return c, nil
}

// runWithin runs rc, and again while the host stole more than
// cfg.MaxSteal from it (at most cfg.StealRetries more times, default 3).
// It returns the last run; every run joins AllResults.
func (c *Comparison) runWithin(ctx context.Context, rc Config, cfg CompareConfig) (*Result, error) {
	retries := cfg.StealRetries
	if retries <= 0 {
		retries = 3
	}
	for try := 0; ; try++ {
		res, err := Run(ctx, rc)
		if err != nil {
			return nil, err
		}
		c.AllResults = append(c.AllResults, res)
		if cfg.MaxSteal <= 0 || !res.HostStealKnown || res.HostSteal <= cfg.MaxSteal || try == retries || !res.OK() {
			return res, nil
		}
		c.Rerun++
	}
}

// addCell adds the row of one cell's runs: the median-throughput run's
// figures (the lower middle one of an even number), with every run's
// throughput, leaks, violations and restarts, and the first error.
func (c *Comparison) addCell(rs []*Result) {
	sorted := slices.Clone(rs)
	slices.SortStableFunc(sorted, func(a, b *Result) int { return cmp.Compare(a.OpsPerSec, b.OpsPerSec) })
	med := sorted[(len(sorted)-1)/2]
	row := rowOf(med)
	row.Runs = len(rs)
	row.OpsPerSecRuns = make([]float64, len(rs))
	row.Leaked, row.Violations, row.Restarts = 0, 0, 0
	row.OpsPerCPUSec = medianOpsPerCPUSec(rs)
	for i, r := range rs {
		row.OpsPerSecRuns[i] = r.OpsPerSec
		row.Leaked += r.Leaked
		row.Violations += r.Violations
		row.Restarts += r.Restarts
		if row.Error == "" && r.Err != nil {
			row.Error = r.Err.Error()
		}
	}
	c.Results = append(c.Results, med)
	c.Rows = append(c.Rows, row)
}

// medianOpsPerCPUSec is the median of the runs' ops per CPU second; 0 if
// any run has none (its CPU time was not measured).
func medianOpsPerCPUSec(rs []*Result) float64 {
	vs := make([]float64, len(rs))
	for i, r := range rs {
		if r.OpsPerCPUSec <= 0 {
			return 0
		}
		vs[i] = r.OpsPerCPUSec
	}
	slices.Sort(vs)
	return vs[(len(vs)-1)/2]
}

func us(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e3 }

func rowOf(r *Result) Row {
	row := Row{
		Workload: r.Workload, Mode: r.Mode, Threads: r.Threads,
		Ops: r.Ops, Seconds: r.Elapsed.Seconds(), OpsPerSec: r.OpsPerSec,
		PerThreadOps: r.PerThreadOps, OnSetupThread: r.OnSetupThread,
		GCCollections: r.GCCollections,
		GCPauseP50us:  us(r.GCPauseP50), GCPauseP99us: us(r.GCPauseP99), GCPauseMaxus: us(r.GCPauseMax),
		GILSwitches: r.GILSwitches, ForcedSwitch: r.ForcedSwitches,
		WorldStops: r.WorldStops, Parks: r.Parks,
		ParkedMs: float64(r.Parked) / float64(time.Millisecond), MaxParkus: us(r.MaxPark),
		QueuedMerges: r.QueuedMerges, LockContended: r.LockContended, LockParked: r.LockParked,
		ListReadsLockFree: r.ListReadsLockFree, ListReadsFellBack: r.ListReadsFellBack,
		Allocated: r.Allocated,
		PeakLive:  r.PeakLive, HeapReserved: r.HeapBytesReserved, RemoteFrees: r.RemoteFrees, FreeListed: r.FreeListed,
		HugePages: r.HugePages,
		Leaked:    r.Leaked, Violations: r.Violations, Restarts: r.Restarts,
		HostStealMs: -1,
		CPUSeconds:  r.CPUTime.Seconds(),
	}
	if r.HostStealKnown {
		row.HostStealMs = float64(r.HostSteal) / float64(time.Millisecond)
	}
	if r.Err != nil {
		row.Error = r.Err.Error()
	}
	return row
}

// cell returns the row of a workload in a mode at a thread count, nil if
// there is none.
func (c *Comparison) cell(workload, mode string, threads int) *Row {
	for i := range c.Rows {
		if r := &c.Rows[i]; r.Workload == workload && r.Mode == mode && r.Threads == threads {
			return r
		}
	}
	return nil
}

// row returns the row of a cell, nil if there is none or it failed.
func (c *Comparison) row(workload, mode string, threads int) *Row {
	if r := c.cell(workload, mode, threads); r != nil && r.Error == "" {
		return r
	}
	return nil
}

// fillRatios sets Speedup and VsGIL, and the Results' Speedup.
func (c *Comparison) fillRatios() {
	for i := range c.Rows {
		r := &c.Rows[i]
		if one := c.row(r.Workload, r.Mode, 1); one != nil && one.OpsPerSec > 0 && r.Error == "" {
			r.Speedup = r.OpsPerSec / one.OpsPerSec
		}
		if g := c.row(r.Workload, ModeGIL, r.Threads); g != nil && g.OpsPerSec > 0 && r.Error == "" {
			r.VsGIL = r.OpsPerSec / g.OpsPerSec
			r.VsGILCPU = 0
			if g.OpsPerCPUSec > 0 {
				r.VsGILCPU = r.OpsPerCPUSec / g.OpsPerCPUSec
			}
		}
		if i < len(c.Results) {
			c.Results[i].Speedup = r.Speedup
		}
	}
}

// Failures counts the runs with an error, a leak or a violation.
func (c *Comparison) Failures() int {
	n := 0
	for _, r := range c.AllResults {
		if !r.OK() {
			n++
		}
	}
	return n
}

// Err returns the runs' errors, leaks and violations as one error (nil if
// every run was clean).
func (c *Comparison) Err() error {
	var errs []error
	for _, r := range c.AllResults {
		if r.OK() {
			continue
		}
		if r.Err != nil {
			errs = append(errs, fmt.Errorf("%s %s %d threads: %w", r.Workload, r.Mode, r.Threads, r.Err))
		}
		if r.Leaked != 0 {
			errs = append(errs, fmt.Errorf("%s %s %d threads: %d objects leaked %v", r.Workload, r.Mode, r.Threads, r.Leaked, r.LeakedByType))
		}
		if r.Violations != 0 {
			errs = append(errs, fmt.Errorf("%s %s %d threads: %d violations: %s", r.Workload, r.Mode, r.Threads, r.Violations, strings.Join(r.ViolationSamples, "; ")))
		}
	}
	return errors.Join(errs...)
}

// writeParked adds, for each mode that stopped the world, the share of
// its workers' time they spent parked for it, over the rows shown (every
// workload and thread count), and the longest park.
func (c *Comparison) writeParked(b *strings.Builder) {
	var parts []string
	for _, m := range c.Modes {
		var parked, worst time.Duration
		var workerTime float64
		stopped := false
		for i, r := range c.Rows {
			if r.Mode != m || i >= len(c.Results) {
				continue
			}
			res := c.Results[i]
			stopped = stopped || res.WorldStops > 0
			parked += res.Parked
			worst = max(worst, res.MaxPark)
			workerTime += res.Elapsed.Seconds() * float64(res.Threads)
		}
		if stopped && workerTime > 0 {
			parts = append(parts, fmt.Sprintf("%s %.2f%% (longest %v)", m,
				100*parked.Seconds()/workerTime, worst.Round(time.Microsecond)))
		}
	}
	if len(parts) > 0 {
		fmt.Fprintf(b, "workers' time parked for stop-the-world pauses: %s\n", strings.Join(parts, ", "))
	}
}

// WriteJSON writes the rows as a JSON array.
func (c *Comparison) WriteJSON(w io.Writer) error {
	rows := c.Rows
	if rows == nil {
		rows = []Row{}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(rows)
}

// CSVHeader is the header line WriteCSV writes: Row's JSON names.
var CSVHeader = []string{
	"workload", "mode", "threads", "ops", "seconds", "ops_per_sec", "speedup", "vs_gil",
	"per_thread_ops", "on_setup_thread", "runs", "ops_per_sec_runs", "host_steal_ms", "cpu_seconds", "ops_per_cpu_sec", "vs_gil_cpu", "gc_collections", "gc_pause_p50_us", "gc_pause_p99_us", "gc_pause_max_us",
	"gil_switches", "forced_switches", "stw_stops", "stw_parks", "stw_parked_ms", "stw_park_max_us", "queued_merges", "lock_contended", "lock_parked", "list_reads_lock_free", "list_reads_fell_back", "allocated", "peak_live",
	"heap_bytes_reserved", "remote_frees", "free_listed", "huge_pages", "leaked",
	"violations", "restarts", "error",
}

// WriteCSV writes the rows as CSV with a header line (per_thread_ops and
// ops_per_sec_runs are written as numbers separated by ';').
func (c *Comparison) WriteCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(CSVHeader); err != nil {
		return err
	}
	f := func(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }
	u := func(v uint64) string { return strconv.FormatUint(v, 10) }
	for _, r := range c.Rows {
		per := make([]string, len(r.PerThreadOps))
		for i, n := range r.PerThreadOps {
			per[i] = u(n)
		}
		runs := make([]string, len(r.OpsPerSecRuns))
		for i, v := range r.OpsPerSecRuns {
			runs[i] = f(v)
		}
		rec := []string{
			r.Workload, r.Mode, strconv.Itoa(r.Threads), u(r.Ops), f(r.Seconds), f(r.OpsPerSec),
			f(r.Speedup), f(r.VsGIL), strings.Join(per, ";"), strconv.FormatBool(r.OnSetupThread), strconv.Itoa(r.Runs), strings.Join(runs, ";"), f(r.HostStealMs),
			f(r.CPUSeconds), f(r.OpsPerCPUSec), f(r.VsGILCPU),
			strconv.Itoa(r.GCCollections),
			f(r.GCPauseP50us), f(r.GCPauseP99us), f(r.GCPauseMaxus),
			u(r.GILSwitches), u(r.ForcedSwitch), u(r.WorldStops), u(r.Parks), f(r.ParkedMs), f(r.MaxParkus), u(r.QueuedMerges), u(r.LockContended), u(r.LockParked), u(r.ListReadsLockFree), u(r.ListReadsFellBack), u(r.Allocated),
			strconv.Itoa(r.PeakLive), strconv.FormatInt(r.HeapReserved, 10), strconv.FormatInt(r.RemoteFrees, 10), strconv.Itoa(r.FreeListed),
			strconv.FormatBool(r.HugePages),
			strconv.Itoa(r.Leaked), strconv.Itoa(r.Violations),
			strconv.Itoa(r.Restarts), r.Error,
		}
		if err := cw.Write(rec); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// FormatRate formats ops/s with a unit: 1.23M, 456k.
func FormatRate(v float64) string {
	switch {
	case v <= 0:
		return "-"
	case v >= 1e6:
		return fmt.Sprintf("%.2fM", v/1e6)
	case v >= 1e3:
		return fmt.Sprintf("%.1fk", v/1e3)
	}
	return fmt.Sprintf("%.0f", v)
}

func ratio(v float64) string {
	if v <= 0 || math.IsNaN(v) || math.IsInf(v, 0) {
		return "-"
	}
	return fmt.Sprintf("%.2fx", v)
}

// geomean returns the geometric mean of the positive values, 0 if none.
func geomean(vs []float64) float64 {
	s, n := 0.0, 0
	for _, v := range vs {
		if v > 0 {
			s += math.Log(v)
			n++
		}
	}
	if n == 0 {
		return 0
	}
	return math.Exp(s / float64(n))
}

// WriteTable writes the comparison as an aligned table: for each workload
// and thread count, ops/s per mode, each mode's ratio to GIL mode, and each
// mode's speedup against one thread. A summary follows: the geometric means
// behind targets B5 (1-thread ratio to GIL mode) and B4 (speedup of the
// thread-private workloads), and the runs that failed.
func (c *Comparison) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	hasGIL := slices.Contains(c.Modes, ModeGIL)
	var others []string
	for _, m := range c.Modes {
		if m != ModeGIL {
			others = append(others, m)
		}
	}
	width := len("workload")
	for _, wl := range c.Workloads {
		width = max(width, len(wl))
	}
	left := func(s string) string { return fmt.Sprintf("%-*s", width, s) }
	head := []string{left("workload"), "threads"}
	for _, m := range c.Modes {
		head = append(head, m+" ops/s")
	}
	if hasGIL {
		for _, m := range others {
			head = append(head, m+"/gil")
		}
	}
	for _, m := range c.Modes {
		head = append(head, "speedup "+m)
	}
	head = append(head, "  status") // not a column: left-aligned
	fmt.Fprintln(tw, strings.Join(head, "\t"))

	for _, wl := range c.Workloads {
		for ti, n := range c.Threads {
			name := left(wl)
			if ti > 0 {
				name = left("")
			}
			cells := []string{name, strconv.Itoa(n)}
			var problems []string
			any := false
			for _, m := range c.Modes {
				r := c.cell(wl, m, n)
				if r == nil {
					cells = append(cells, "")
					continue
				}
				any = true
				cells = append(cells, FormatRate(r.OpsPerSec))
				switch {
				case r.Error != "":
					problems = append(problems, m+" ERROR")
				case r.Leaked != 0:
					problems = append(problems, fmt.Sprintf("%s LEAK %d", m, r.Leaked))
				case r.Violations != 0:
					problems = append(problems, fmt.Sprintf("%s VIOLATION %d", m, r.Violations))
				}
			}
			status := "ok"
			if len(problems) > 0 {
				status = strings.Join(problems, ", ")
			}
			if !any {
				continue
			}
			if hasGIL {
				for _, m := range others {
					if r := c.cell(wl, m, n); r != nil {
						cells = append(cells, ratio(r.VsGIL))
					} else {
						cells = append(cells, "")
					}
				}
			}
			for _, m := range c.Modes {
				if r := c.cell(wl, m, n); r != nil {
					cells = append(cells, ratio(r.Speedup))
				} else {
					cells = append(cells, "")
				}
			}
			cells = append(cells, "  "+status)
			fmt.Fprintln(tw, strings.Join(cells, "\t"))
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	return c.writeSummary(w, hasGIL, others)
}

// VsGILByCPU is B5 by CPU time: the geometric mean over workloads of
// mode's 1-thread ops per CPU second over GIL mode's (Row.VsGILCPU). It
// reports false when a workload that has both cells lacks the figure (CPU
// time not measured) or no workload has both.
func (c *Comparison) VsGILByCPU(mode string) (float64, bool) {
	var vs []float64
	for _, w := range c.Workloads {
		r, g := c.row(w, mode, 1), c.row(w, ModeGIL, 1)
		if r == nil || g == nil {
			continue
		}
		if r.VsGILCPU <= 0 {
			return 0, false
		}
		vs = append(vs, r.VsGILCPU)
	}
	if len(vs) == 0 {
		return 0, false
	}
	return geomean(vs), true
}

func (c *Comparison) writeSummary(w io.Writer, hasGIL bool, others []string) error {
	var b strings.Builder
	b.WriteString("\n")
	if hasGIL {
		for _, m := range others {
			var vs []float64
			for _, r := range c.Rows {
				if r.Mode == m && r.Threads == 1 {
					vs = append(vs, r.VsGIL)
				}
			}
			fmt.Fprintf(&b, "geomean %s/gil at 1 thread, all workloads (B5): %s%s\n", m, ratio(geomean(vs)), roundSpread(c.VsGILByRound(m)))
		}
		var byCPU []string
		for _, m := range others {
			if g, ok := c.VsGILByCPU(m); ok {
				byCPU = append(byCPU, fmt.Sprintf("%s/gil %s", m, ratio(g)))
			}
		}
		if len(byCPU) > 0 {
			fmt.Fprintf(&b, "the same by ops per CPU second (the host's steal left out): %s\n", strings.Join(byCPU, ", "))
		}
	}
	for _, n := range c.Threads {
		if n == 1 {
			continue
		}
		var parts []string
		for _, m := range c.Modes {
			var vs []float64
			for _, r := range c.Rows {
				if info, ok := Describe(r.Workload); ok && info.Private && r.Mode == m && r.Threads == n {
					vs = append(vs, r.Speedup)
				}
			}
			if len(vs) > 0 {
				parts = append(parts, fmt.Sprintf("%s %s%s", m, ratio(geomean(vs)), roundSpread(c.SpeedupByRound(m, n))))
			}
		}
		if len(parts) > 0 {
			fmt.Fprintf(&b, "geomean speedup at %d threads, thread-private workloads (B4): %s\n", n, strings.Join(parts, ", "))
		}
	}
	c.writeParked(&b)
	var leaked, violations, errs int
	for _, r := range c.AllResults {
		leaked += r.Leaked
		violations += r.Violations
		if r.Err != nil {
			errs++
		}
	}
	fmt.Fprintf(&b, "runs: %d, leaked objects: %d, violations: %d, errors: %d\n", len(c.AllResults), leaked, violations, errs)
	var steal, worst time.Duration
	known := len(c.AllResults) > 0
	for _, r := range c.AllResults {
		known = known && r.HostStealKnown
		steal += r.HostSteal
		worst = max(worst, r.HostSteal)
	}
	if known {
		fmt.Fprintf(&b, "CPU time the host took from this machine during the runs: %v (at most %v in one run)\n",
			steal.Round(time.Millisecond), worst.Round(time.Millisecond))
	}
	if c.Rerun > 0 {
		fmt.Fprintf(&b, "runs repeated because the host took too much CPU time during them: %d\n", c.Rerun)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

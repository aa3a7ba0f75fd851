package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/nogil-lab/nogil/stress"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	code := runContext(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// Exit statuses.
const (
	exitOK      = 0
	exitFailed  = 1 // a run leaked, violated an invariant or panicked
	exitUsage   = 2 // bad command line
	defaultSeed = 1
)

const usage = `usage: nogil <command> [flags]

commands:
  compare   run workloads in GIL and free-threaded modes side by side
  stress    run the mixed and contention workloads, fail on any leak,
            violation or panic

Run "nogil <command> -h" for the flags of a command.
`

// run is the command line without the process: tests call it directly.
func run(args []string, stdout, stderr io.Writer) int {
	return runContext(context.Background(), args, stdout, stderr)
}

func runContext(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitUsage
	}
	switch args[0] {
	case "compare":
		return cmdCompare(ctx, args[1:], stdout, stderr)
	case "stress":
		return cmdStress(ctx, args[1:], stdout, stderr)
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return exitOK
	}
	fmt.Fprintf(stderr, "nogil: unknown command %q\n\n%s", args[0], usage)
	return exitUsage
}

// usageError is a bad flag value: reported with exit status 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func badValue(format string, args ...any) error { return &usageError{fmt.Sprintf(format, args...)} }

// mechanismFlags defines the flags, common to compare and stress, that
// take a mechanism away to show what it is worth, and returns where they
// are parsed to.
func mechanismFlags(fs *flag.FlagSet) *stress.Mechanisms {
	m := new(stress.Mechanisms)
	fs.BoolVar(&m.NoFreeLists, "no-freelists", false, "turn the runtimes' free lists off (every free goes to the allocator)")
	fs.BoolVar(&m.NoLockFreeReads, "no-lockfree-reads", false, "read lists under their lock every time (free-threaded mode otherwise reads shared lists without it)")
	fs.BoolVar(&m.NoHugePages, "no-hugepages", false, "keep the object heap on small pages (otherwise large heaps ask the kernel for transparent huge pages)")
	return m
}

// parseFlags parses args, reporting errors with exit status 2 (0 for -h).
func parseFlags(fs *flag.FlagSet, args []string, stderr io.Writer) (int, bool) {
	fs.SetOutput(stderr)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK, false
		}
		return exitUsage, false // the flag package printed the error and the usage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "nogil %s: unexpected argument %q\n", fs.Name(), fs.Arg(0))
		fs.Usage()
		return exitUsage, false
	}
	return 0, true
}

// splitList splits a comma-separated flag value. An empty value is an
// empty list (callers say so); an empty item ("1,,2", "gil,") is a
// malformed list.
func splitList(flagName, s string) ([]string, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p == "" {
			return nil, badValue("%s: malformed list %q (an empty item)", flagName, s)
		}
		out = append(out, p)
	}
	return out, nil
}

func parseWorkloads(s string, def []string) ([]string, error) {
	switch s {
	case "":
		return def, nil
	case "all":
		return stress.Workloads(), nil
	}
	names, err := splitList("-workloads", s)
	if err != nil {
		return nil, err
	}
	if len(names) == 0 {
		return nil, badValue("-workloads: empty list")
	}
	var out []string // in order, each once
	for _, n := range names {
		if _, ok := stress.Describe(n); !ok {
			return nil, badValue("-workloads: unknown workload %q (known: %s)", n, strings.Join(stress.Workloads(), ", "))
		}
		if !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out, nil
}

func parseModes(s string) ([]string, error) {
	names, err := splitList("-modes", s)
	if err != nil {
		return nil, err
	}
	if len(names) == 0 {
		return nil, badValue("-modes: empty list")
	}
	var out []string
	for _, n := range names {
		m, rc, err := stress.ParseMode(n)
		if err != nil {
			return nil, badValue("-modes: %v", err)
		}
		if name := stress.ModeName(m, rc); !slices.Contains(out, name) {
			out = append(out, name)
		}
	}
	return out, nil
}

func parseThreads(s string) ([]int, error) {
	parts, err := splitList("-threads", s)
	if err != nil {
		return nil, err
	}
	if len(parts) == 0 {
		return nil, badValue("-threads: empty list")
	}
	var out []int
	for _, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 1024 {
			return nil, badValue("-threads: %q is not a thread count (1..1024)", p)
		}
		out = append(out, n)
	}
	return out, nil
}

// isTerminal reports whether w is a terminal (a character device); a
// variable so that tests can have the status line drawn into a buffer.
var isTerminal = func(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// statusLine writes a one-line status to a terminal, rewriting it in place
// (\r, clear to end of line); elsewhere it writes nothing, or a line every
// plainEvery if that is set. Safe for concurrent use.
type statusLine struct {
	mu         sync.Mutex
	w          io.Writer
	tty        bool
	plainEvery time.Duration
	last       time.Time
	shown      bool
}

func (s *statusLine) set(format string, args ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	line := fmt.Sprintf(format, args...)
	switch {
	case s.tty:
		fmt.Fprintf(s.w, "\r\033[K%s", line)
		s.shown = true
	case s.plainEvery > 0 && time.Since(s.last) >= s.plainEvery:
		s.last = time.Now()
		fmt.Fprintln(s.w, line)
	}
}

func (s *statusLine) clear() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tty && s.shown {
		fmt.Fprint(s.w, "\r\033[K")
		s.shown = false
	}
}

// ---- compare ----

func cmdCompare(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("compare", flag.ContinueOnError)
	workloads := fs.String("workloads", "all", "comma-separated workloads (all: "+strings.Join(stress.Workloads(), ",")+")")
	modes := fs.String("modes", "gil,ft,ft-atomic", "comma-separated modes: gil, ft (biased counting), ft-atomic")
	threads := fs.String("threads", "1,2", "comma-separated thread counts (1 is always run: speedup is against it)")
	duration := fs.Duration("duration", 100*time.Millisecond, "how long each run lasts")
	ops := fs.Int("ops", 0, "if > 0, ops per thread per run instead of -duration (fixed work, like ftscalingbench)")
	repeat := fs.Int("repeat", 7, "runs per workload, mode and thread count, round-robin; each row shows the median run")
	maxSteal := fs.Duration("max-steal", 0, "if > 0, run again (up to 3 times) a run during which the host took more CPU time than this from the machine (Linux)")
	seed := fs.Int64("seed", defaultSeed, "seed of the workloads' random choices")
	asJSON := fs.Bool("json", false, "print the rows as JSON instead of the table")
	asCSV := fs.Bool("csv", false, "print the rows as CSV instead of the table")
	svg := fs.String("svg", "", "also draw throughput against threads into this SVG file")
	cpuprofile := fs.String("cpuprofile", "", "write a CPU profile of the whole comparison to this file")
	freshThread := fs.Bool("fresh-thread", false, "run one-thread cells on a thread of their own, not on the setup thread that made the workload's objects (ftscalingbench's baseline runs on the main thread)")
	mechanisms := mechanismFlags(fs)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: nogil compare [flags]\n\nRuns every workload in every mode at every thread count and compares them.\n\n")
		fs.PrintDefaults()
	}
	if code, ok := parseFlags(fs, args, stderr); !ok {
		return code
	}
	cfg, err := func() (stress.CompareConfig, error) {
		var cfg stress.CompareConfig
		var err error
		if cfg.Workloads, err = parseWorkloads(*workloads, stress.Workloads()); err != nil {
			return cfg, err
		}
		if cfg.Modes, err = parseModes(*modes); err != nil {
			return cfg, err
		}
		if cfg.Threads, err = parseThreads(*threads); err != nil {
			return cfg, err
		}
		if *duration <= 0 {
			return cfg, badValue("-duration: must be positive, got %v", *duration)
		}
		if *ops < 0 {
			return cfg, badValue("-ops: must not be negative, got %d", *ops)
		}
		if *repeat < 1 {
			return cfg, badValue("-repeat: must be at least 1, got %d", *repeat)
		}
		if *maxSteal < 0 {
			return cfg, badValue("-max-steal: must not be negative, got %v", *maxSteal)
		}
		cfg.MaxSteal = *maxSteal
		if *asJSON && *asCSV {
			return cfg, badValue("-json and -csv are exclusive")
		}
		cfg.Duration, cfg.Ops, cfg.Seed, cfg.Repeat = *duration, *ops, *seed, *repeat
		cfg.Mechanisms = *mechanisms
		cfg.FreshThread = *freshThread
		return cfg, nil
	}()
	if err != nil {
		fmt.Fprintf(stderr, "nogil compare: %v\n", err)
		return exitUsage
	}
	if *cpuprofile != "" {
		stop, err := startCPUProfile(*cpuprofile)
		if err != nil {
			fmt.Fprintf(stderr, "nogil compare: -cpuprofile: %v\n", err)
			return exitUsage
		}
		defer stop()
	}
	if *svg != "" {
		// Fail now, not after a minute of work (and after every other
		// check, so that a failed one leaves no empty file behind).
		f, err := os.Create(*svg)
		if err != nil {
			fmt.Fprintf(stderr, "nogil compare: -svg: %v\n", err)
			return exitUsage
		}
		f.Close()
	}
	status := &statusLine{w: stderr, tty: isTerminal(stderr), plainEvery: 5 * time.Second}
	start := time.Now()
	cfg.Progress = func(done, total int, next stress.Config) {
		if done < total {
			status.set("[%d/%d] %s %s %d threads  %s", done+1, total, next.Workload,
				stress.ModeName(next.Mode, next.RefCounting), next.Threads, time.Since(start).Round(time.Second))
		}
	}
	cfg.RunProgress = func(p stress.Progress) {
		status.set("%s %s %d threads: %s ops/s  %s", p.Workload, p.Mode, p.Threads,
			stress.FormatRate(float64(p.Ops)/max(p.Elapsed.Seconds(), 1e-9)), time.Since(start).Round(time.Second))
	}
	c, err := runCompare(ctx, cfg)
	status.clear()
	if err != nil && c == nil {
		fmt.Fprintf(stderr, "nogil compare: %v\n", err)
		return exitUsage
	}
	if err != nil {
		fmt.Fprintf(stderr, "nogil compare: stopped: %v\n", err)
	}
	switch {
	case *asJSON:
		err = c.WriteJSON(stdout)
	case *asCSV:
		err = c.WriteCSV(stdout)
	default:
		err = c.WriteTable(stdout)
		if err == nil {
			_, err = fmt.Fprintf(stdout, "(%s per run, %d runs per row (median shown), seed %d, %s total)\n",
				runLength(cfg), cfg.Repeat, cfg.Seed, time.Since(start).Round(100*time.Millisecond))
		}
	}
	if err != nil {
		fmt.Fprintf(stderr, "nogil compare: %v\n", err)
		return exitFailed
	}
	if *svg != "" {
		if err := writeSVGFile(*svg, c); err != nil {
			fmt.Fprintf(stderr, "nogil compare: -svg: %v\n", err)
			return exitFailed
		}
	}
	if err := c.Err(); err != nil {
		fmt.Fprintf(stderr, "nogil compare: %d run(s) failed:\n%v\n", c.Failures(), err)
		return exitFailed
	}
	return exitOK
}

// runCompare runs the comparison; a variable so that tests can make a run
// fail and see the exit status.
var runCompare = stress.Compare

// startCPUProfile starts profiling into path and returns the function that
// stops and closes it.
func startCPUProfile(path string) (func(), error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}, nil
}

func runLength(cfg stress.CompareConfig) string {
	if cfg.Ops > 0 {
		return fmt.Sprintf("%d ops per thread", cfg.Ops)
	}
	return cfg.Duration.String()
}

func writeSVGFile(path string, c *stress.Comparison) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := writeSVG(f, c); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// ---- stress ----

// runStress runs one stress run; a variable so that tests can make a run
// fail and see the exit status.
var runStress = stress.Run

func cmdStress(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("stress", flag.ContinueOnError)
	workloads := fs.String("workloads", "", "comma-separated workloads, or all (default: "+strings.Join(stress.StressWorkloads(), ",")+")")
	modes := fs.String("modes", "gil,ft,ft-atomic", "comma-separated modes: gil, ft (biased counting), ft-atomic")
	threads := fs.Int("threads", 8, "worker threads per run")
	duration := fs.Duration("duration", 30*time.Second, "total time, split evenly between the runs")
	seed := fs.Int64("seed", 0, "seed of the random choices (0: pick one from the clock and print it)")
	debug := fs.Bool("debug", false, "run the runtimes in Debug mode (freed objects poisoned)")
	freshThread := fs.Bool("fresh-thread", false, "with -threads 1, run on a thread of its own, not on the setup thread that made the workload's objects")
	mechanisms := mechanismFlags(fs)
	stall := fs.Duration("stall", stress.DefaultStallTimeout, "give a run up as deadlocked after this long without progress")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: nogil stress [flags]\n\nRuns the mixed and contention workloads in every mode; exits 1 on any leak,\nviolated invariant or worker panic. Build with -race to have the race detector judge.\n\n")
		fs.PrintDefaults()
	}
	if code, ok := parseFlags(fs, args, stderr); !ok {
		return code
	}
	wls, err := parseWorkloads(*workloads, stress.StressWorkloads())
	var ms []string
	if err == nil {
		ms, err = parseModes(*modes)
	}
	if err == nil && (*threads < 1 || *threads > 1024) {
		err = badValue("-threads: %d is not a thread count (1..1024)", *threads)
	}
	if err == nil && *duration <= 0 {
		err = badValue("-duration: must be positive, got %v", *duration)
	}
	if err == nil && *stall <= 0 {
		err = badValue("-stall: must be positive, got %v", *stall)
	}
	if err != nil {
		fmt.Fprintf(stderr, "nogil stress: %v\n", err)
		return exitUsage
	}
	if *seed == 0 {
		*seed = time.Now().UnixNano()&(1<<62-1) | 1
	}
	runs := len(wls) * len(ms)
	per := *duration / time.Duration(runs)
	fmt.Fprintf(stdout, "nogil stress: %d runs of %v, %d threads, seed %d\n", runs, per.Round(time.Millisecond), *threads, *seed)

	status := &statusLine{w: stderr, tty: isTerminal(stderr), plainEvery: 5 * time.Second}
	var results []*stress.Result
	k := 0
outer:
	for _, m := range ms {
		mode, rc, _ := stress.ParseMode(m)
		for _, wl := range wls {
			if ctx.Err() != nil {
				break outer
			}
			k++
			cfg := stress.Config{
				Workload: wl, Mode: mode, RefCounting: rc, Threads: *threads, Duration: per, Seed: *seed, Debug: *debug, Mechanisms: *mechanisms,
				FreshThread:   *freshThread,
				StallTimeout:  *stall,
				ProgressEvery: 200 * time.Millisecond,
				Progress: func(p stress.Progress) {
					status.set("[%d/%d] %s %s: %v  ops %d  live %d  collections %d  merges %d  restarts %d",
						k, runs, p.Workload, p.Mode, p.Elapsed.Round(100*time.Millisecond), p.Ops, p.Live, p.Collections, p.Merges, p.Restarts)
				},
			}
			res, err := runStress(ctx, cfg)
			if err != nil { // cannot happen: the flags were checked
				status.clear()
				fmt.Fprintf(stderr, "nogil stress: %v\n", err)
				return exitUsage
			}
			results = append(results, res)
			status.clear()
			if !res.OK() {
				reportFailure(stderr, res)
			}
		}
	}
	status.clear()
	failed := writeStressSummary(stdout, results)
	if ctx.Err() != nil {
		fmt.Fprintln(stderr, "nogil stress: interrupted")
	}
	if failed > 0 {
		fmt.Fprintf(stderr, "nogil stress: FAILED: %d of %d runs leaked, violated an invariant or panicked (seed %d)\n", failed, len(results), *seed)
		return exitFailed
	}
	fmt.Fprintf(stdout, "nogil stress: all %d runs clean\n", len(results))
	return exitOK
}

func reportFailure(w io.Writer, r *stress.Result) {
	fmt.Fprintf(w, "nogil stress: %s %s %d threads seed %d FAILED\n", r.Workload, r.Mode, r.Threads, r.Seed)
	if r.Err != nil {
		fmt.Fprintf(w, "  error: %v\n", r.Err)
	}
	if r.Leaked != 0 {
		fmt.Fprintf(w, "  leaked %d objects: %v\n", r.Leaked, r.LeakedByType)
	}
	for _, v := range r.ViolationSamples {
		fmt.Fprintf(w, "  violation: %s\n", v)
	}
	if r.Violations > len(r.ViolationSamples) {
		fmt.Fprintf(w, "  ... %d violations in all\n", r.Violations)
	}
}

func writeStressSummary(w io.Writer, results []*stress.Result) (failed int) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "workload\tmode\tthreads\tops\tops/s\tcollections\tpause p99\tmerges\tpeak live\trestarts\tleaked\tviolations\tstatus")
	for _, r := range results {
		st := "ok"
		switch {
		case r.Err != nil:
			st = "ERROR"
		case r.Leaked != 0:
			st = "LEAK"
		case r.Violations != 0:
			st = "VIOLATION"
		}
		if st != "ok" {
			failed++
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%s\t%d\t%v\t%d\t%d\t%d\t%d\t%d\t%s\n",
			r.Workload, r.Mode, r.Threads, r.Ops, stress.FormatRate(r.OpsPerSec), r.GCCollections,
			r.GCPauseP99.Round(time.Microsecond), r.QueuedMerges, r.PeakLive, r.Restarts, r.Leaked, r.Violations, st)
	}
	tw.Flush()
	return failed
}

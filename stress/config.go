package stress

import (
	"fmt"
	"runtime/debug"
	"strings"
	"time"

	"github.com/nogil-lab/nogil/runtime"
)

// The mode names used by the command line, the table, JSON and CSV.
const (
	ModeGIL      = "gil"       // runtime.GIL
	ModeFT       = "ft"        // runtime.FreeThreaded, runtime.Biased
	ModeFTAtomic = "ft-atomic" // runtime.FreeThreaded, runtime.Atomic
)

// ModeNames lists the three modes in the order tables show them.
var ModeNames = []string{ModeGIL, ModeFT, ModeFTAtomic}

// ModeName returns the name of a mode and reference-counting strategy:
// "gil", "ft" or "ft-atomic".
func ModeName(m runtime.Mode, rc runtime.RefCounting) string {
	switch {
	case m == runtime.GIL:
		return ModeGIL
	case m == runtime.FreeThreaded && rc == runtime.Atomic:
		return ModeFTAtomic
	case m == runtime.FreeThreaded:
		return ModeFT
	}
	return fmt.Sprintf("%v/%v", m, rc)
}

// ParseMode parses "gil", "ft" (also "free-threaded", "nogil", "ft-biased")
// or "ft-atomic" (also "atomic").
func ParseMode(s string) (runtime.Mode, runtime.RefCounting, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "gil":
		return runtime.GIL, runtime.Biased, nil
	case "ft", "free-threaded", "nogil", "ft-biased", "biased":
		return runtime.FreeThreaded, runtime.Biased, nil
	case "ft-atomic", "atomic":
		return runtime.FreeThreaded, runtime.Atomic, nil
	}
	return 0, 0, fmt.Errorf("unknown mode %q (want gil, ft or ft-atomic)", s)
}

// Mechanisms are the runtime's mechanisms a run can do without (each one
// the runtime.Config field of the same name), to show what they are worth.
type Mechanisms struct {
	// NoFreeLists turns the runtime's free lists off: every free goes to
	// the allocator.
	NoFreeLists bool
	// NoLockFreeReads makes every list read take the list's lock.
	NoLockFreeReads bool
	// NoHugePages keeps the object heap on small pages.
	NoHugePages bool
}

// apply sets cfg's fields of the same names.
func (m Mechanisms) apply(cfg *runtime.Config) {
	cfg.NoFreeLists, cfg.NoLockFreeReads, cfg.NoHugePages = m.NoFreeLists, m.NoLockFreeReads, m.NoHugePages
}

// Config is one run: one workload, one mode, a number of threads.
type Config struct {
	Workload    string              // a name from Workloads()
	Mode        runtime.Mode        // runtime.GIL or runtime.FreeThreaded
	RefCounting runtime.RefCounting // free-threaded only: runtime.Biased or runtime.Atomic
	Threads     int                 // worker threads, >= 1
	// Duration is how long the workers run. Ignored when Ops is set.
	Duration time.Duration
	// Ops, when > 0, is the number of ops every worker runs (fixed work per
	// thread, as in ftscalingbench); the run lasts until the slowest is done.
	Ops int
	// Seed seeds the workloads' random choices (each worker gets its own
	// stream derived from it).
	Seed int64
	// Debug turns on the runtime's Debug mode (freed objects poisoned).
	Debug bool
	// FreshThread gives a one-worker run a thread of its own. Without it
	// the one worker works on the setup thread, the thread that made the
	// workload's shared objects, as a single-threaded program does and as
	// ftscalingbench times its single-thread baseline (on the main thread,
	// which made the module's objects). With it, a one-worker run of
	// shared-read or list-contention reads another thread's objects: a
	// non-owner's reference-count and lock costs, without contention.
	// Workloads whose threads exit and restart (mixed) always run on
	// threads of their own.
	FreshThread bool
	// Mechanisms takes mechanisms of the runtime away, to show what they
	// are worth.
	Mechanisms
	// StallTimeout: a run whose workers make no progress for this long is
	// given up as deadlocked (Result.Err has every goroutine's stack; the
	// stuck goroutines are left behind). 0 means DefaultStallTimeout.
	StallTimeout time.Duration
	// Progress, when set, is called about every ProgressEvery (default
	// 200ms) from a monitoring goroutine while the workers run.
	Progress      func(Progress)
	ProgressEvery time.Duration
}

// DefaultStallTimeout is Config.StallTimeout's default.
const DefaultStallTimeout = 30 * time.Second

// Progress is a snapshot of a run in progress.
type Progress struct {
	Workload    string
	Mode        string
	Threads     int
	Elapsed     time.Duration
	Ops         uint64 // as of each worker's last safe point
	Live        int    // Stats().Live
	Collections int    // collections so far
	Merges      uint64 // queued merges so far
	Restarts    int    // threads that exited and restarted (mixed)
}

func (c *Config) validate() (*workload, error) {
	wl := lookup(c.Workload)
	if wl == nil {
		return nil, fmt.Errorf("stress: unknown workload %q (known: %s)", c.Workload, strings.Join(Workloads(), ", "))
	}
	if c.Threads < 1 {
		return nil, fmt.Errorf("stress: Threads must be at least 1, got %d", c.Threads)
	}
	if c.Ops < 0 {
		return nil, fmt.Errorf("stress: Ops must not be negative, got %d", c.Ops)
	}
	if c.Ops == 0 && c.Duration <= 0 {
		return nil, fmt.Errorf("stress: need a positive Duration or Ops, got %v and %d", c.Duration, c.Ops)
	}
	switch c.Mode {
	case runtime.GIL:
		if c.RefCounting != runtime.Biased {
			return nil, fmt.Errorf("stress: RefCounting %v applies to free-threaded mode only", c.RefCounting)
		}
	case runtime.FreeThreaded:
		if c.RefCounting != runtime.Biased && c.RefCounting != runtime.Atomic {
			return nil, fmt.Errorf("stress: unknown RefCounting %d", c.RefCounting)
		}
	default:
		return nil, fmt.Errorf("stress: Mode is required (runtime.GIL or runtime.FreeThreaded), got %d", c.Mode)
	}
	return wl, nil
}

// Result is the outcome of one run.
type Result struct {
	Workload string
	Mode     string // "gil", "ft" or "ft-atomic"
	Threads  int
	Seed     int64

	Ops          uint64        // total ops of all workers
	Elapsed      time.Duration // from the common start to the last worker's stop
	OpsPerSec    float64
	PerThreadOps []uint64
	// OnSetupThread: the run's one worker worked on the setup thread (see
	// Config.FreshThread).
	OnSetupThread bool
	// Speedup is OpsPerSec over the 1-thread OpsPerSec of the same workload
	// and mode; set by Compare (0 when unknown).
	Speedup float64
	// HostSteal is the CPU time the hypervisor took from the machine while
	// the workers ran (Linux; HostStealKnown false elsewhere): the run's
	// figures are the machine's as much as the code's when it is large.
	HostSteal      time.Duration
	HostStealKnown bool
	// CPUTime is the CPU time, user and system, that the whole process
	// used from the workers' start to the last worker's stop (0 where it
	// is not measured), and OpsPerCPUSec is Ops over it. The kernel leaves
	// the host's steal out of it on this project's machines
	// (CONFIG_PARAVIRT_TIME_ACCOUNTING), so with one worker, which never
	// waits, it is a throughput the host's load moves far less than
	// OpsPerSec. With more workers it is an efficiency (work per CPU
	// second, a worker waiting for the GIL using none), not a throughput.
	CPUTime      time.Duration
	OpsPerCPUSec float64

	// Collections during the measured interval and their durations (from
	// the collector's start callback to its stop callback: the stopped-world
	// phases plus finalizers and weakref callbacks).
	GCCollections int
	GCPauseP50    time.Duration
	GCPauseP99    time.Duration
	GCPauseMax    time.Duration

	// GIL statistics during the measured interval (GIL mode; 0 otherwise).
	GILSwitches    uint64
	ForcedSwitches uint64
	DropRequests   uint64
	GILWait        time.Duration // total time threads waited for the GIL

	// Stopping the world during the measured interval (free-threaded; 0
	// under the GIL): worlds stopped, the times a worker parked for one
	// and the total time parked, and the longest park (since the runtime
	// started).
	WorldStops uint64
	Parks      uint64
	Parked     time.Duration
	MaxPark    time.Duration

	// QueuedMerges counts objects that went through a biased merge queue
	// (free-threaded biased mode; 0 otherwise).
	QueuedMerges uint64
	// LockContended counts per-object lock acquisitions that found the
	// lock held, LockParked those that then blocked (free-threaded; 0
	// under the GIL).
	LockContended uint64
	LockParked    uint64
	// ListReadsLockFree counts ListGet calls answered without the list's
	// lock, ListReadsFellBack lock-free attempts that took it after all
	// (free-threaded biased mode without the race detector; 0 otherwise:
	// runtime.Stats).
	ListReadsLockFree uint64
	ListReadsFellBack uint64

	// Heap statistics of the measured interval.
	Allocated uint64 // objects allocated
	Freed     uint64 // objects freed
	PeakLive  int    // highest Stats().Live sampled while the workers ran
	// The allocator's state once the workers stopped (before teardown):
	// memory it holds and uses, frees of another thread's slot, pages
	// abandoned by closing threads and adopted by others.
	HeapBytesReserved int64
	HeapBytesInUse    int64
	RemoteFrees       int64
	AbandonedPages    int64
	AdoptedPages      int64
	// FreeListed is how many freed objects waited on the runtime's free
	// lists for reuse (counted in the bytes in use): in GIL mode the
	// runtime's lists; free-threaded, only those of the threads still open
	// then (a closing worker gives its lists back).
	FreeListed int
	// HugePages: the run's allocator asked the kernel for huge pages
	// (runtime.Config.NoHugePages was off; mimallocish/hugepages.go).
	HugePages bool
	Restarts  int // worker threads that closed and were replaced (mixed)

	// Leaked is Stats().Live after the workload's check, a full collection
	// and every thread's Close, minus its value before setup. Must be 0.
	Leaked       int
	LeakedByType map[string]int
	// Violations counts failed invariant checks; must be 0. The first few
	// are described in ViolationSamples.
	Violations       int
	ViolationSamples []string

	// Err is a worker's error or panic (with its stack), or a failure to
	// set up or tear down.
	Err error
}

// OK reports a clean run: no error, no leak, no violation.
func (r *Result) OK() bool { return r.Err == nil && r.Leaked == 0 && r.Violations == 0 }

// PanicError is a worker's panic, turned into an error.
type PanicError struct {
	Worker int    // the worker's index, or -1 for the setup thread
	Value  any    // what was passed to panic
	Stack  string // the goroutine's stack at the panic
}

func (e *PanicError) Error() string {
	who := fmt.Sprintf("worker %d", e.Worker)
	if e.Worker < 0 {
		who = "setup thread"
	}
	return fmt.Sprintf("stress: %s panicked: %v\n%s", who, e.Value, e.Stack)
}

func stack() string { return string(debug.Stack()) }

// protect runs fn and turns a panic into a *PanicError.
func protect(worker int, fn func() error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = &PanicError{Worker: worker, Value: p, Stack: stack()}
		}
	}()
	return fn()
}

// Package stress runs named workloads against a nogil runtime in either mode
// (GIL, or free-threaded with biased or atomic reference counting) on any
// number of runtime threads, checks the invariants every run must end with
// (nothing leaked, no violated invariant, no worker panic), and compares the
// modes side by side: the engine behind `nogil compare` and `nogil stress`.
//
// # Workloads
//
// Each workload has a setup (shared state, made on a setup thread), a
// per-thread step (one op: one iteration of its loop body, like one
// iteration of a benchmark in CPython's Tools/ftscalingbench/ftscalingbench.py)
// and a final check run after every worker has stopped. See [Workloads] for
// the list and what an op is in each.
//
// # Runner
//
// [Run] creates a fresh runtime for each run. Every worker is a runtime
// thread driven by its own goroutine under an errgroup; workers are released
// together, run until the duration is up (or a fixed op count per thread,
// like ftscalingbench), and call Checkpoint every few ops. A run with one
// worker works on the setup thread, which made the workload's shared
// objects, as ftscalingbench's single-thread baseline runs on the main
// thread (its module's objects are the main thread's): a single-threaded
// program never touches another thread's objects. [Config].FreshThread
// gives it a thread of its own instead, to show a non-owner's costs
// without contention; a workload whose threads exit (mixed) always has
// threads of its own. A worker that
// blocks (a channel in producer-consumer) detaches around it. A panic in a
// worker becomes an error (with the stack) in [Result].Err, never a crash.
// After the workers stop, the workload's check runs on the setup thread, the
// runtime runs a full collection, and every object allocated since setup
// must have been freed: [Result].Leaked is Stats().Live minus its starting
// value.
//
// # Speedup
//
// ftscalingbench runs the same fixed work once on one thread (time t1) and
// once on each of n threads in parallel (time tn), and prints
// speedup = t1 * n / tn: total throughput at n threads over throughput at
// one thread. [Compare] computes exactly that ratio from measured throughput:
// Speedup = OpsPerSec(n threads) / OpsPerSec(1 thread), same workload, same
// mode. With [Config].Ops (a fixed number of ops per thread) a run is the
// ftscalingbench measurement itself; with [Config].Duration it is the same
// ratio measured over a fixed time instead of a fixed amount of work.
//
// # Noise
//
// The machines this runs on are shared virtual machines. [CompareConfig].Repeat
// runs each cell several times, round-robin over the modes and thread
// counts of a workload, and a row reports the median run;
// [Comparison.VsGILByRound] and [Comparison.SpeedupByRound] give the B5
// and B4 means of each round (every cell run once), whose spread shows how
// far one round can lie from the medians' figure. Every [Result]
// carries the CPU time the hypervisor took from the machine while its
// workers ran (HostSteal, from /proc/stat on Linux): a run with much steal
// measured the host as much as the code. It also carries the process's CPU
// time over the same interval (CPUTime, OpsPerCPUSec), which the kernel of
// these machines keeps free of steal: with one worker, ops per CPU second is
// a throughput the host's steal does not move, and [Comparison.VsGILByCPU]
// is B5 taken from it (docs/benchmarks.md gives both figures of every
// comparison it records). WorldStops, Parks and Parked say what stopping the
// world cost the free-threaded workers.
package stress

// Command nogil runs the workloads of package stress against both of the
// runtime's modes.
//
//	nogil compare [-workloads a,b] [-modes gil,ft,ft-atomic] [-threads 1,2]
//	              [-duration 100ms | -ops N] [-repeat 7] [-max-steal D] [-seed N]
//	              [-json | -csv] [-svg FILE] [-cpuprofile FILE] [-fresh-thread]
//	              [-no-freelists] [-no-lockfree-reads] [-no-hugepages]
//	nogil stress  [-workloads a,b] [-modes gil,ft,ft-atomic] [-threads 8]
//	              [-duration 30s] [-seed N] [-debug] [-fresh-thread]
//	              [-no-freelists] [-no-lockfree-reads] [-no-hugepages]
//
// compare runs every workload in every mode at every thread count and prints
// a table (with a progress line on stderr: rewritten in place on a
// terminal, a plain line at most every 5 s elsewhere): ops/s per mode, each
// free-threaded mode's ratio to GIL mode, and each mode's speedup against
// one thread (ftscalingbench's definition:
// throughput at n threads over throughput at one thread). Each row is the
// median of -repeat runs, taken round-robin over a workload's modes and
// thread counts so that a burst of load elsewhere on a shared machine spoils
// one run rather than a ratio; the summary gives the geometric means
// behind targets B4 and B5 with their range over the rounds (the same
// means over the runs of one round: what the machine's noise does to a
// single round), B5 again from ops per CPU second (the process's CPU
// time, which leaves the host's steal out: steadier than the wall-clock
// figure on a shared machine), the workers' time parked for
// stop-the-world pauses and the CPU time the host stole from the machine.
// -json and -csv print the rows instead (with every run's throughput, the
// steal, the CPU time and the stop-the-world figures); -svg also draws
// throughput against threads. A one-thread cell works on the thread that set
// the workload up, as a single-threaded program and ftscalingbench's
// single-thread baseline do (mixed, whose threads exit, excepted);
// -fresh-thread gives it a thread of its own, so that shared-read and
// list-contention show a non-owner's costs without contention. -no-freelists
// runs the runtimes without CPython's free lists
// (runtime.Config.NoFreeLists), to see what they are worth in each mode;
// -no-lockfree-reads reads every list under its lock
// (runtime.Config.NoLockFreeReads), to see what lock-free reads of shared
// lists are worth to free-threaded mode; -no-hugepages keeps the object heap
// on the kernel's small pages (runtime.Config.NoHugePages; run it as a
// process of its own: a window of memory once advised stays so).
//
// stress runs the mixed workload and the contention workloads in every mode
// with a live status line, prints a summary, and exits 1 on any leak,
// violated invariant or worker panic. Build it with -race to have the race
// detector judge both modes: go run -race ./cmd/nogil stress.
//
// Bad flags or values exit with status 2.
package main

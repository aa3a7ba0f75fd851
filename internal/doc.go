// Package internal holds nothing itself; its subpackages are the helpers that
// every nogil package shares:
//
//   - invariants: a build-tag pair that turns expensive assertions on under
//     the race detector (and the nogil_debug tag) and compiles them away
//     otherwise, so hot paths pay nothing in benchmarks.
//   - cacheline: the cache-line size and a padding type for per-thread and
//     per-shard hot state (never for objects: they stay small).
//   - leaktest: the TestMain every package uses, which fails the run when a
//     goroutine the library started is still running at the end.
//   - inlinecheck: asks the compiler whether the hot paths still inline.
//   - hoststeal: the CPU time the hypervisor took from this machine
//     (/proc/stat), reported beside figures that it disturbs.
//   - cputime: the thread's and the process's CPU clocks, which the
//     hypervisor's steal does not advance, for the benchmarks.
//   - atomiccount: a command that counts the atomic instructions a run
//     executed, per function, from a callgrind profile (what sharing costs
//     the free-threaded build, which instruction counts do not show).
//   - thp: whether the kernel would back an address with a transparent huge
//     page (/proc/self/smaps), for the tests of mimallocish's huge-page
//     advice.
//   - prefetch: PREFETCHT0 over a slice of pointers (amd64 assembly; plain
//     loads elsewhere), for the collector's traversal of a big heap, which
//     waits on the cache misses of the objects it reaches.
package internal

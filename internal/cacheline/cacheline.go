// Package cacheline gives the cache-line size of the machines nogil runs on
// and a padding type, so per-thread and per-shard hot state never shares a
// line with another thread's (false sharing costs as much as a real atomic
// contention: the line ping-pongs between cores).
//
// Objects are never padded: they must stay small (DESIGN.md B10).
package cacheline

// Size is the cache-line size in bytes. x86-64 and most arm64 cores use 64;
// the adjacent-line prefetcher on x86 makes 128 the safe distance, which is
// also what the Go runtime uses for its own per-P state on amd64.
const Size = 128

// Pad is placed between hot fields written by different threads.
type Pad [Size]byte

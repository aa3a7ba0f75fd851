// Package cputime reads CPU clocks for the benchmarks. The machines they
// run on are virtual and shared: when the host takes a virtual CPU away
// (steal), wall time goes on but the guest's CPU clocks do not, so a
// single-threaded figure taken from the thread's CPU clock is the one the
// host's load leaves alone.
package cputime

import "time"

// Thread returns the CPU time the calling OS thread has used (0 where it
// is not measured). The caller locks its goroutine to the thread
// (runtime.LockOSThread) for as long as it compares readings.
func Thread() time.Duration { return thread() }

// Process returns the CPU time, user and system, that every thread of the
// process has used (0 where it is not measured).
func Process() time.Duration { return process() }

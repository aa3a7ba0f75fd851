// Package invariants gates expensive self-checks.
//
// Enabled is a constant: true when the binary is built with the race detector
// (`-race`) or with the `nogil_debug` build tag, false otherwise. Code writes
//
//	if invariants.Enabled { check(...) }
//
// and the compiler removes the check entirely from ordinary builds, so hot
// paths that carry assertions cost nothing in benchmarks. The race detector
// builds are the ones CI runs, so every assertion is exercised there.
//
// Scale lets stress tests shrink their sizes under the race detector (which
// slows code 5-20x) without skipping them: loops multiply their counts by it.
package invariants

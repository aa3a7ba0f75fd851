//go:build !race && !nogil_debug

package invariants

// Enabled reports that expensive invariant checks are compiled in.
const Enabled = false

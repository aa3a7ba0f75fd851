package invariants

import "fmt"

// Scale returns n scaled for the current build: n/div under the race detector
// (at least 1), n otherwise. Stress tests use it to stay within CI's budget
// under -race while still running every case.
func Scale(n, div int) int {
	if div <= 0 {
		panic(fmt.Sprintf("invariants.Scale: divisor %d is not positive", div))
	}
	if !Race {
		return n
	}
	if s := n / div; s > 0 {
		return s
	}
	return 1
}

// Assert panics with msg when cond is false and checks are enabled. The
// message is built by the caller only when it is needed: pass a constant.
func Assert(cond bool, msg string) {
	if Enabled && !cond {
		panic("nogil: invariant violated: " + msg)
	}
}

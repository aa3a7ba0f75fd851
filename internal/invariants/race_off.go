//go:build !race

package invariants

// Race reports that the binary was built with the race detector.
const Race = false

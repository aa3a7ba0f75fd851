// Package stress will hold the named workloads, the runner that executes
// them in either mode on any number of runtime threads, the invariant checks
// every run ends with, and the side-by-side comparison behind `nogil compare`.
package stress

package prefetch

import "unsafe"

// lines issues PREFETCHT0 on each of the n pointers from p on (n > 0).
// Implemented in prefetch_amd64.s.
//
//go:noescape
func lines(p unsafe.Pointer, n int)

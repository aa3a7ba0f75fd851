//go:build !amd64

package prefetch

import (
	"sync/atomic"
	"unsafe"
)

// sink keeps the loads of lines from being optimized away (atomic: any
// number of goroutines may call Lines at once).
var sink atomic.Uintptr

// lines loads a byte from each non-nil pointer of the n from p on, in a
// loop that does nothing else, so that their misses overlap.
func lines(p unsafe.Pointer, n int) {
	var sum uintptr
	for _, q := range unsafe.Slice((*unsafe.Pointer)(p), n) {
		if q != nil {
			sum += uintptr(*(*byte)(q))
		}
	}
	sink.Store(sum)
}

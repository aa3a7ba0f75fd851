package prefetch

import "unsafe"

// Lines starts loading, into every cache level, the line each pointer of
// ps points into (nil pointers included, harmlessly). On amd64 it returns
// at once and the loads complete in the background; elsewhere it waits
// for them (see the package documentation). ps is only read.
func Lines[T any](ps []*T) {
	if len(ps) > 0 {
		lines(unsafe.Pointer(unsafe.SliceData(ps)), len(ps))
	}
}

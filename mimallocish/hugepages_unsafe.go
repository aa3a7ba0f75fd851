package mimallocish

import "unsafe"

// addressRange returns the address and length in bytes of a slot array,
// for madvise (hugepages.go): the address is used at once, as a number,
// and kept only as a window number, never converted back to a pointer.
func addressRange[T any](s []T) (base, bytes uintptr) {
	if len(s) == 0 {
		return 0, 0
	}
	return uintptr(unsafe.Pointer(unsafe.SliceData(s))), uintptr(len(s)) * unsafe.Sizeof(s[0])
}

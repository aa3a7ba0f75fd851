package gc

import "unsafe"

// obj returns the fake object whose Header is h. Header is the first field
// of fobj, so the conversion is the one the runtime makes from a header to
// its object; the magic number checks it.
func obj(h *Header) *fobj {
	o := (*fobj)(unsafe.Pointer(h))
	if o.magic != fobjMagic {
		panic("gc test: Header of something that is not a fake object")
	}
	return o
}

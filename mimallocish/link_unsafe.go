package mimallocish

import "unsafe"

// The free-list link of a free slot lives in the slot itself, in a uint16 or
// uint32 field of T named by its byte offset (see doc.go, "Free lists
// through the slots"). This file is the only one of the package that uses
// package unsafe: the accessors below turn a slot's address and the link's
// offset into the link's address. The offset was checked when the class
// was made (checkLink): the 2 bytes at it lie inside one integer field of
// T, never over a pointer word, so writing them cannot hide a pointer from
// Go's GC or forge one. The address is derived from the slot's own address
// and stays inside the slot, so checkptr (-race) accepts it.
//
// The link is the 2 bytes at the offset (the whole field for a uint16, its
// first two bytes in memory for a uint32, whose other half stays zero; no
// one but the allocator reads the field while the slot is free, so the
// byte order does not matter). It is stored complemented (^next): a zeroed
// field reads as noSlot, the end of a list. A slot's link is therefore
// "end of list" as soon as the slot is zeroed, and popping a slot clears
// the field to zero, which is what Alloc hands out.

// getLink returns the link of the free slot s.
func getLink[T any](s *T, off uintptr) uint16 {
	return ^*(*uint16)(unsafe.Add(unsafe.Pointer(s), off))
}

// setLink makes next the link of the free slot s.
func setLink[T any](s *T, off uintptr, next uint16) {
	*(*uint16)(unsafe.Add(unsafe.Pointer(s), off)) = ^next
}

// popLink returns the link of the free slot s and clears it, so that s is
// all zero again.
func popLink[T any](s *T, off uintptr) uint16 {
	p := (*uint16)(unsafe.Add(unsafe.Pointer(s), off))
	next := ^*p
	*p = 0
	return next
}

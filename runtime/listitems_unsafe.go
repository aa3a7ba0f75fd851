package runtime

import (
	"math"
	"sync/atomic"
	"unsafe"
)

// From a small item array (or a small dict table's entries) back to its allocator slot: the array is the
// slot struct's first field, so the slice's data pointer is the struct's
// address. cap(a) says which class it is (listitems.go's invariant).

func items4Of(a []*Object) *items4 {
	checkItemsCap(a, 4)
	return (*items4)(unsafe.Pointer(unsafe.SliceData(a)))
}

func items8Of(a []*Object) *items8 {
	checkItemsCap(a, 8)
	return (*items8)(unsafe.Pointer(unsafe.SliceData(a)))
}

func items16Of(a []*Object) *items16 {
	checkItemsCap(a, maxSmallItems)
	return (*items16)(unsafe.Pointer(unsafe.SliceData(a)))
}

func smallTableOf(entries []dictEntry) *smallTable {
	if cap(entries) != smallEntries {
		misuse("internal: dict entries of capacity %d taken for a small table", cap(entries))
	}
	return (*smallTable)(unsafe.Pointer(unsafe.SliceData(entries)))
}

func checkItemsCap(a []*Object, c int) {
	if cap(a) != c {
		misuse("internal: item array of capacity %d taken for class %d", cap(a), c)
	}
}

// itemSlice returns l's items (listitems.go): the array's first item, length
// and capacity, put back together.
func (l *listObject) itemSlice() []*Object {
	return unsafe.Slice(l.first, l.capacity)[:l.n]
}

// setItems makes a l's items.
func (l *listObject) setItems(a []*Object) {
	if cap(a) > math.MaxInt32 {
		panic("runtime: a list cannot hold more than 2147483647 items")
	}
	l.first = unsafe.SliceData(a)
	l.n, l.capacity = int32(len(a)), int32(cap(a))
}

// loadItem loads an item of a shared list's array with an atomic load (a
// plain MOV on amd64), for a reader that does not hold the list's lock.
func loadItem(p **Object) *Object {
	return (*Object)(atomic.LoadPointer((*unsafe.Pointer)(unsafe.Pointer(p))))
}

package runtime

import "unsafe"

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

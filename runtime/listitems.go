package runtime

import "github.com/nogil-lab/nogil/mimallocish"

// A list's items live in a separate array, as in CPython (ob_item), so that
// the list can grow. Small arrays come from the allocator, in three
// capacity classes (mimallocish "capacity classes for item arrays"): a
// list of up to maxSmallItems items costs no allocation from Go's heap, and
// short-lived lists leave Go's collector nothing to do. Larger arrays come
// from Go's heap.
//
// Invariants:
//   - The array's capacity is 0 (no array), one of the small capacities
//     (an allocator slot: its itemsN struct begins at the first item), or
//     above maxSmallItems (Go's heap). Only the functions in this file and
//     listview.go give a list a new array.
//   - The items past the list's length are nil (lock-free readers take a
//     nil item for the end of the list, listview.go).
//   - A shared list (view set) has an array from Go's heap, and its view
//     is that array.
//
// The array belongs to the list: it is written under the list's lock (or
// the GIL) and freed by whoever replaces it or frees the list, to the
// freeing thread's heap like any slot (a Go heap array is left to Go's
// collector, which keeps it for as long as a lock-free reader holds it).
//
// The list holds the array as a pointer to its first item and two int32s
// (listitems_unsafe.go), 8 bytes less than a slice header: they pay for
// the view (B10 allows an empty list 96 bytes, all of them in use).

const maxSmallItems = 16

// The capacity classes. Each array is first in its struct, so a slice of
// it leads back to the struct (listitems_unsafe.go); slot is its SlotID.
type (
	items4 struct {
		a    [4]*Object
		slot mimallocish.SlotID
	}
	items8 struct {
		a    [8]*Object
		slot mimallocish.SlotID
	}
	items16 struct {
		a    [16]*Object
		slot mimallocish.SlotID
	}
)

// itemsCapacity returns the capacity of the array that holds n items:
// a small class, or, above them, room to grow by half again (CPython's
// list_resize over-allocates by about an eighth; a larger step copies less
// often, and here a copy is most of an append's cost).
func itemsCapacity(n int) int {
	switch {
	case n <= 4:
		return 4
	case n <= 8:
		return 8
	case n <= maxSmallItems:
		return maxSmallItems
	default:
		return n + n/2
	}
}

// newItems returns an empty array with room for n items.
func (th *Thread) newItems(n int) []*Object {
	if n == 0 {
		return nil
	}
	switch c := itemsCapacity(n); c {
	case 4:
		var o *items4
		var id mimallocish.SlotID
		if p := th.pools; p != nil {
			o, id = p.items4.Alloc()
		} else {
			o, id = th.heaps.items4.Alloc()
		}
		o.slot = id
		return o.a[:0]
	case 8:
		var o *items8
		var id mimallocish.SlotID
		if p := th.pools; p != nil {
			o, id = p.items8.Alloc()
		} else {
			o, id = th.heaps.items8.Alloc()
		}
		o.slot = id
		return o.a[:0]
	case maxSmallItems:
		var o *items16
		var id mimallocish.SlotID
		if p := th.pools; p != nil {
			o, id = p.items16.Alloc()
		} else {
			o, id = th.heaps.items16.Alloc()
		}
		o.slot = id
		return o.a[:0]
	default:
		return make([]*Object, 0, c)
	}
}

// freeItems gives an array back. Its items must have been dropped or moved.
// It needs no clearing first: the allocator zeroes a small array's slot,
// and a larger array is simply left to Go's collector.
func (th *Thread) freeItems(a []*Object) {
	switch cap(a) {
	case 0:
	case 4:
		id := items4Of(a).slot
		if p := th.pools; p != nil {
			p.items4.Free(id)
		} else {
			th.heaps.items4.Free(id)
		}
	case 8:
		id := items8Of(a).slot
		if p := th.pools; p != nil {
			p.items8.Free(id)
		} else {
			th.heaps.items8.Free(id)
		}
	case maxSmallItems:
		id := items16Of(a).slot
		if p := th.pools; p != nil {
			p.items16.Free(id)
		} else {
			th.heaps.items16.Free(id)
		}
	}
}

// listReserve makes room for extra more items in l's array, moving them to
// a larger one when needed, and returns the items, to which the caller
// appends (and then stores them with setItems). Called under the list's
// lock.
func (th *Thread) listReserve(l *listObject, extra int) []*Object {
	items := l.itemSlice()
	n := len(items)
	if n+extra <= cap(items) {
		return items
	}
	if l.view.Load() != nil {
		return th.moveSharedItems(l, items, n+extra)
	}
	a := th.newItems(n + extra)[:n]
	copy(a, items)
	th.freeItems(items)
	l.setItems(a)
	return a
}

// listAppend appends v (whose reference the list takes) to l. Called under
// the list's lock.
func (th *Thread) listAppend(l *listObject, v *Object) {
	a := th.listReserve(l, 1)
	l.setItems(append(a, v))
}

// takeItems empties l and returns its array, for the caller to drop the
// items and then give the array back with freeItems. A shared list becomes
// private again: lock-free readers see no array and take the lock.
func takeItems(l *listObject) []*Object {
	a := l.itemSlice()
	l.setItems(nil)
	if l.view.Load() != nil {
		l.view.Store(nil)
	}
	return a
}

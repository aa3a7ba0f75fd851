package mimallocish

import (
	"fmt"
	"reflect"
)

// SlotID names one slot of one size class: the id of the page (or pool) in
// the class's directory in the high PageBits bits and the slot's index in
// that page in the low SlotBits bits. The runtime keeps it in the object
// header so that a free finds the page in O(1) without address arithmetic.
//
// Page ids start at 1, so the zero SlotID never names a slot: a header whose
// SlotID is 0 belongs to an object that no allocator gave out (an immortal
// static object, say), and freeing it panics.
type SlotID uint32

const (
	// SlotBits is the number of low bits of a SlotID that hold the slot's
	// index in its page.
	SlotBits = 12
	// MaxSlotsPerPage is the largest number of slots a page (or pool) may
	// have: 4096 (a 64 KiB page of 16-byte objects).
	MaxSlotsPerPage = 1 << SlotBits
	// PageBits is the number of high bits of a SlotID that hold the page id.
	PageBits = 32 - SlotBits
	// MaxPages is the largest number of pages (or pools) a class may have
	// alive at once: ids 1..MaxPages (id 0 is reserved). With 64 KiB pages
	// that is 64 GiB per class. Ids of released pages are reused.
	MaxPages = 1<<PageBits - 1

	// NoSlot is the SlotID that never names a slot.
	NoSlot SlotID = 0

	slotMask = MaxSlotsPerPage - 1

	// The page directory is a two-level table: a fixed top array of
	// pointers to leaves of leafSize entries. Entries never move, so a
	// reader needs no lock.
	leafBits = 10
	leafSize = 1 << leafBits
	leafMask = leafSize - 1
	topSize  = 1 << (PageBits - leafBits)

	// noSlot ends a free list (slot indexes are below MaxSlotsPerPage).
	noSlot = 0xFFFF
)

// Page returns the page (or pool) id part of id.
func (id SlotID) Page() uint32 { return uint32(id) >> SlotBits }

// Index returns the slot's index in its page.
func (id SlotID) Index() int { return int(uint32(id) & slotMask) }

func (id SlotID) String() string {
	return fmt.Sprintf("%#x(page %d, slot %d)", uint32(id), id.Page(), id.Index())
}

// directory maps page ids to pages. Writes happen under the owner's lock
// (Class.mu) or the GIL; reads need no lock: a reader looks up the page of a
// slot it holds, and the page was entered in the directory before that slot
// was first handed out, so the write happens before the read.
type directory[P comparable] struct {
	top [topSize]*[leafSize]P
}

// get returns the entry for id, or the zero P.
func (d *directory[P]) get(id uint32) P {
	var zero P
	if id > MaxPages {
		return zero
	}
	leaf := d.top[id>>leafBits]
	if leaf == nil {
		return zero
	}
	return leaf[id&leafMask]
}

func (d *directory[P]) set(id uint32, p P) {
	leaf := d.top[id>>leafBits]
	if leaf == nil {
		leaf = new([leafSize]P)
		d.top[id>>leafBits] = leaf
	}
	leaf[id&leafMask] = p
}

// idAllocator hands out page ids 1..MaxPages, reusing released ones (LIFO, so
// ids stay dense and the directory small).
type idAllocator struct {
	next uint32 // highest id handed out so far
	free []uint32
}

func (a *idAllocator) alloc(kind, name string) uint32 {
	if n := len(a.free); n > 0 {
		id := a.free[n-1]
		a.free = a.free[:n-1]
		return id
	}
	if a.next >= MaxPages {
		panic(fmt.Sprintf("mimallocish: class %q: out of %s ids (at most %d alive)", name, kind, MaxPages))
	}
	a.next++
	return a.next
}

func (a *idAllocator) release(id uint32) { a.free = append(a.free, id) }

// defaultSlots returns the number of slots of a T that fill about bytes,
// within [1, MaxSlotsPerPage].
func defaultSlots[T any](bytes int) int {
	size := sizeOf[T]()
	if size == 0 {
		return MaxSlotsPerPage
	}
	n := bytes / size
	return max(1, min(n, MaxSlotsPerPage))
}

func checkSlots(kind, name string, n int) {
	if n < 1 || n > MaxSlotsPerPage {
		panic(fmt.Sprintf("mimallocish: class %q: %d slots per %s (want 1..%d)", name, n, kind, MaxSlotsPerPage))
	}
}

// Misuse messages, shared by both allocators.

func panicDoubleFree(name string, id SlotID) {
	panic(fmt.Sprintf("mimallocish: double free of slot %#x in class %q", uint32(id), name))
}

func panicNeverAllocated(name string, id SlotID) {
	panic(fmt.Sprintf("mimallocish: free of never-allocated slot %#x in class %q", uint32(id), name))
}

func panicUnknownSlot(name string, id SlotID) {
	panic(fmt.Sprintf("mimallocish: free of unknown slot %#x in class %q (no such page: never allocated, or freed and its page released)", uint32(id), name))
}

// Debug slot states (invariants.Enabled only).
const (
	dbgNever = iota // never handed out
	dbgLive         // handed out, not freed
	dbgFreed        // freed
)

// checkLink checks that off, the byte offset of T's link field (where a
// free slot keeps its free-list link, doc.go), names the start of a uint16
// or uint32 field of T, found through nested structs and arrays: 2 bytes
// that hold no pointer and are not padding. It panics otherwise.
func checkLink[T any](name string, off uintptr) {
	t := reflect.TypeFor[T]()
	if t.Size() < 2 || off > t.Size()-2 {
		panic(fmt.Sprintf("mimallocish: class %q: link offset %d is out of range for %v (%d bytes; the 2-byte link must fit)", name, off, t, t.Size()))
	}
	ft, rel, path, ok := fieldAt(t, off)
	var found string
	switch {
	case !ok:
		found = fmt.Sprintf("padding in %s", path)
	case rel != 0:
		found = fmt.Sprintf("byte %d of %s (%v)", rel, path, ft)
	case ft.Kind() != reflect.Uint16 && ft.Kind() != reflect.Uint32:
		found = fmt.Sprintf("%s (%v)", path, ft)
	default:
		return
	}
	panic(fmt.Sprintf("mimallocish: class %q: link offset %d of %v must be the start of a uint16 or uint32 field "+
		"(the allocator keeps a free slot's free-list link there, so it must hold no pointer); found %s", name, off, t, found))
}

// fieldAt descends from t through struct fields and array elements to the
// innermost field that holds byte off (off < t.Size()). It returns that
// field's type, off relative to it and its path ("T.a.b[2]"), or ok false
// if off falls in padding (path then names the enclosing field).
func fieldAt(t reflect.Type, off uintptr) (ft reflect.Type, rel uintptr, path string, ok bool) {
	path = t.String()
	for {
		switch t.Kind() {
		case reflect.Struct:
			var in *reflect.StructField
			for i := range t.NumField() {
				if f := t.Field(i); off >= f.Offset && off-f.Offset < f.Type.Size() {
					in = &f
					break
				}
			}
			if in == nil {
				return t, off, path, false
			}
			t, off, path = in.Type, off-in.Offset, path+"."+in.Name
		case reflect.Array:
			es := t.Elem().Size() // > 0: off < t.Size()
			i := off / es
			t, off, path = t.Elem(), off-i*es, fmt.Sprintf("%s[%d]", path, i)
		default:
			return t, off, path, true
		}
	}
}

// sizeOf returns the size of a T in bytes.
func sizeOf[T any]() int { return int(reflect.TypeFor[T]().Size()) }

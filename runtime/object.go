package runtime

import (
	"sync/atomic"

	"github.com/nogil-lab/nogil/biasedrc"
	"github.com/nogil-lab/nogil/gc"
	"github.com/nogil-lab/nogil/mimallocish"
)

// Object is the header every object begins with; a *Object is the handle the
// API passes around. Concrete objects embed it as their first field (see
// cast_unsafe.go). 40 bytes.
type Object struct {
	// typ is the object's type. Written when the object is allocated and,
	// in Debug mode, when it is freed (poisoned to the type's freed twin,
	// so a use after free is caught; otherwise the allocator zeroes the
	// freed slot); read by every thread that holds a reference.
	typ *Type
	// rc is the reference-count word. Its fields say what protects them.
	rc biasedrc.Count
	// mu is the per-object lock of free-threaded mode (CPython's ob_mutex).
	// Atomic; never used in GIL mode.
	mu objectMutex
	// slot names the allocator slot the object lives in (alloc.go).
	// Written when the object is allocated, before it is published.
	slot mimallocish.SlotID
}

// Type returns the object's type.
func (o *Object) Type() *Type { return o.typ }

// container is the header of every object the collector can track: the
// object header followed by the collector's. 72 bytes.
type container struct {
	Object
	gc gc.Header
}

type intObject struct {
	Object
	v int64
}

type floatObject struct {
	Object
	v float64
}

type strObject struct {
	Object
	s string
}

type tupleObject struct {
	container
	// items never change after construction, except that Clear (the
	// collector breaking a cycle) empties them. A tuple of up to
	// len(inline) items keeps them in inline (CPython's tuples hold their
	// items in the object): pairs, the commonest tuples, cost no
	// allocation from Go's heap.
	items  []*Object
	inline [2]*Object
}

type listObject struct {
	container
	// first, n and capacity are the item array (listitems.go): a slice
	// header in 16 bytes instead of 24, read with itemSlice and written
	// with setItems (ListPop shortens n in place). Protected by mu in
	// free-threaded mode, by the GIL otherwise.
	first       **Object
	n, capacity int32
	// view is nil while the list is private. Once a thread that does not
	// own the list has read it (free-threaded, biased counting), it is the
	// list's current array, which readers load without the lock
	// (listview.go). Atomic; stored under mu.
	view atomic.Pointer[itemView]
}

type dictObject struct {
	container
	// table is protected by mu in free-threaded mode, by the GIL otherwise.
	table dictTable
}

type instanceObject struct {
	container
	// weakrefs heads the list of weak references to this object.
	// Protected by the runtime's weakref stripe lock for this object.
	weakrefs *weakrefObject
	// values and more hold the attributes (instattrs.go). Protected by mu
	// in free-threaded mode, by the GIL otherwise. They fill the slot to
	// 128 bytes: an instance starts a cache line, which holds its type,
	// count and the collector's list, refs and flags, and its first
	// attributes are in the next line, which the collector reaching the
	// instance reads with it (B6, B11).
	values [inlineAttrs]*Object
	more   *moreAttrs
}

type weakrefObject struct {
	container
	// target is the referent, nil once it died. Atomic (WeakRefGet reads
	// it without the stripe lock first); written under the stripe lock of
	// the referent.
	target atomic.Pointer[Object]
	// callback runs once when the referent dies, if this weak reference
	// is still alive. Immutable.
	callback func(th *Thread, ref *Object)
	// prev, next link the referent's weak references. Protected by the
	// stripe lock of the referent.
	prev, next *weakrefObject
	// hash is the referent's hash, kept from the first time the weak
	// reference was hashed while the referent lived (CPython's
	// weakref.hash), with hashKnown set after it. Atomic: threads hashing
	// the same weak reference store the same value.
	hash      atomic.Uint64
	hashKnown atomic.Bool
}

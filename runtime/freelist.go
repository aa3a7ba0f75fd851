package runtime

// Free lists (CPython's _Py_freelists, Include/internal/pycore_freelist.h).
// CPython keeps a short stack of freed objects for its commonest types and
// reuses them before it asks the allocator: float_dealloc pushes, and
// PyFloat_FromDouble pops, so that a loop that makes and drops floats never
// reaches obmalloc or mimalloc. We do the same for ints, floats, lists and
// dicts, with CPython's bounds (Py_ints_MAXFREELIST and
// Py_floats_MAXFREELIST: 100; Py_lists_MAXFREELIST and
// Py_dicts_MAXFREELIST: 80). A kept list or dict is the bare object: its
// item array or table went back to the allocator first, as in CPython.
//
//  1. freeSlot of an int or a float, and finishFree of a list or a dict
//     that is off the collector's lists, push it while its list has room:
//     the header's type is poisoned (the type's freed twin, so a use after
//     free panics as it does in Debug mode), the count word zeroed (so
//     that a stale lock-free reader refuses it: biasedrc's ResetDead) and
//     a container's collector header zeroed, so that the object looks
//     like a slot fresh from the allocator. The slot stays handed out:
//     AllocatorStats counts it in SlotsInUse and in FreeListed. Stats
//     counts the object as freed.
//  2. NewInt, NewFloat, NewList and NewDict pop before they ask the
//     allocator.
//  3. A full list sends the slot to the allocator, as before.
//  4. Every collection of the oldest generation empties all free lists
//     into the allocator (CPython's _PyGC_ClearAllFreeLists, which
//     gc.collect() documents), and so does a closing free-threaded thread
//     before it abandons its heaps.
//
// Where the lists live follows CPython: per runtime in GIL mode (the
// interpreter's, protected by the GIL: a thread reuses what any thread
// freed), per thread in free-threaded mode (owned by the thread: a thread
// reuses what it freed itself, wherever the slot was allocated; a slot of
// another thread's page goes back to that page's thread_free list when it
// finally leaves the list). Thread.freeLists points at the one to use, so
// the hot paths do not look at the mode.
//
// Config.NoFreeLists and Debug mode (which never reuses a slot) set every
// bound to zero: each free then goes to the allocator (or quarantine).

// CPython's bounds: freeListMax for ints and floats (the longest),
// containerFreeListMax for lists and dicts.
const (
	freeListMax          = 100
	containerFreeListMax = 80
)

// freeList is a stack of freed objects of one kind, ready for reuse: their
// headers are poisoned (the type is the freed twin) and their count words
// zero. Protected as its freeLists says.
type freeList struct {
	n int // objects on the stack: items[:n]
	// items has CPython's bound as its length, or none when free lists are
	// off or the kind has none: a push's one compare against the length is
	// also the index's bounds check, and a pop's one unsigned compare both
	// the empty test and the bounds check.
	items []*Object
}

// pop returns the object pushed last; ok is false when the list is empty.
// (The caller's test of ok reuses the flags of pop's one compare, where a
// nil test of the object was a second test.)
func (fl *freeList) pop() (o *Object, ok bool) {
	items := fl.items
	if n := fl.n - 1; uint(n) < uint(len(items)) {
		o = items[n]
		fl.n = n
		return o, true
	}
	return nil, false
}

// freeLists are one runtime's (GIL mode: protected by the GIL) or one
// thread's (free-threaded: owned by the thread; read by a thread that has
// stopped the world). They are indexed by kind, so that a free that has
// just tested its type's kind indexes them without a second test; the
// kinds below kindDict without a list (freed, None, bool, str, tuple)
// have an empty one, which costs a slice header each.
type freeLists struct {
	lists [kindDict + 1]freeList
}

func newFreeLists(on bool) *freeLists {
	fls := &freeLists{}
	if on {
		fls.lists[kindInt].items = make([]*Object, freeListMax)
		fls.lists[kindFloat].items = make([]*Object, freeListMax)
		fls.lists[kindList].items = make([]*Object, containerFreeListMax)
		fls.lists[kindDict].items = make([]*Object, containerFreeListMax)
	}
	return fls
}

// keep pushes o, a dying scalar of type t and kind k (t.kind, which the
// caller has tested), on its kind's free list if it has one with room,
// poisoned and with its count word zeroed, and reports whether it did
// (step 1). Small enough to inline into freeSlot and DecRef.
func (fls *freeLists) keep(o *Object, t *Type, k kind) bool {
	if !fls.push(o, k) {
		return false
	}
	o.typ = t.freed
	o.rc.ResetDead()
	return true
}

// push pushes o, of kind k, on its kind's free list if it has one with
// room, and reports whether it did; the caller makes o look fresh (keep,
// or finishFree for a container, which has poisoned it already).
func (fls *freeLists) push(o *Object, k kind) bool {
	if k > kindDict {
		return false
	}
	fl := &fls.lists[k]
	if n := uint(fl.n); n < uint(len(fl.items)) {
		fl.items[n] = o
		fl.n = int(n + 1)
		return true
	}
	return false
}

// len is the number of objects on the lists.
func (fls *freeLists) len() (n int) {
	for i := range fls.lists {
		n += fls.lists[i].n
	}
	return n
}

// clear gives every object on the lists back to the allocator, through
// th's heaps (free-threaded) or the runtime's pools.
func (fls *freeLists) clear(th *Thread) {
	for i := range fls.lists {
		fl := &fls.lists[i]
		for fl.n > 0 {
			fl.n--
			o := fl.items[fl.n]
			fl.items[fl.n] = nil
			th.releaseSlot(o, o.typ.original)
		}
	}
}

// freeListsOn reports whether the runtime keeps free lists: not when the
// configuration turns them off, nor in Debug mode, whose quarantine never
// lets a slot be reused.
func (rt *Runtime) freeListsOn() bool { return !rt.cfg.NoFreeLists && !rt.cfg.Debug }

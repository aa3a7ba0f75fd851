package runtime

import (
	"github.com/nogil-lab/nogil/biasedrc"
	"github.com/nogil-lab/nogil/internal/invariants"
)

// Lock-free list reads (free-threaded mode, biased counting): CPython 3.14's
// list_get_item_ref and _Py_TryXGetRef, in Go.
//
// A list that only its owner reads is read under its lock, or with no lock
// at all when the reader holds the only reference (needsLock). The first
// time a thread that does not own the list reads it (under the lock, as
// CPython's _PyObject_GC_SET_SHARED does), the list becomes shared, and
// from then on ListGet tries to read it without the lock:
//
//  0. A reader whose lock-free read fell back reads under the lock, and
//     marks the item's count word maybe-weakref when another thread owns
//     it (biasedrc.MarkMaybeWeakref; CPython's PyUnstable_EnableTryIncRef
//     does the same for an extension's objects). A non-owner's try-incref
//     refuses a word whose shared part is zero, because its owner may free
//     it without a compare-and-swap; once marked, the owner's last
//     decrement merges with one, and the next lock-free read of the item
//     succeeds. CPython 3.14 does not mark list items: its readers of an
//     item owned by another live thread, with no shared references, take
//     the lock every time. The price: such an item's owner pays a merge
//     (a compare-and-swap) when it frees the item.
//  1. The writer side, always under the list's lock: a shared list's array
//     comes from Go's heap, never from the allocator, and is never written
//     again once replaced; the list's view is an immutable descriptor of the
//     current array (itemView), stored atomically whenever the array is
//     replaced. Items past the length are nil.
//  2. The reader loads the view (one atomic load), loads item i of its
//     array (another), and takes a reference with TryIncBiased, which
//     refuses a dead object (and, for a non-owner, a count word that its
//     owner could free without a compare-and-swap: biasedrc, step 9).
//  3. It then loads the view and the item again. If both are unchanged, the
//     object it holds a reference to is item i of the list at that moment:
//     the read happened there. Otherwise it drops the reference (which may
//     free the object) and falls back, as it does for a nil item, an index
//     past the array, a negative index or a refusal: it takes the lock.
//
// Why it is safe. The array the reader loaded stays valid memory however
// late the reader is: Go's collector keeps it while the reader's pointer
// exists, and since nobody writes a replaced array, what the reader loads
// from it is an object pointer the list held. That object may have been
// freed since, and its slot reused: slots are type-stable (mimallocish,
// "Reuse safety"). A dead object's count word refuses TryIncBiased (its
// owner's local part is zero; the shared part is zero or merged-zero), and
// so does a freed slot's, which is all zero (the allocator zeroes the
// slot; a free list's keep resets the word). A reused slot holds a live
// object of the same type: TryIncBiased may take a reference to it, and
// step 3 then finds that it is not (or no longer) item i — unless it is, in
// which case returning it is right.
//
// The collector. It frees the garbage it finds whatever the objects' counts
// say (gc.Env.Free), so a reader must never take a reference to one of
// them. It cannot: ListGet has no safe point, so no reader holds a view
// across the pause in which a collection decides what is garbage, and
// after that pause an unreachable object is in no list that anyone can
// still read (a finalizer that puts it back in one makes it reachable, and
// the second pause keeps it). Adding a safe point between step 2 and step 3
// would break this. (A drop in step 3 may free an object, run its
// finalizer and so reach a safe point, but the reader is done with the view
// by then.)
//
// CPython frees replaced arrays with QSBR (_PyMem_FreeDelayed); Go's
// collector gives the same guarantee for free, at the price of a Go heap
// array per shared list (the allocator's small classes serve private lists
// only).
//
// The race detector. The protocol reads memory that other threads write
// without synchronizing with the reader: the items of the current array
// (plain stores under the lock, as CPython's are relaxed stores on x86) and
// the count word of an object that may have been freed, which the
// allocator zeroes and InitFresh re-initializes with plain stores. Go's
// memory model defines such word-sized races (the load sees one of the
// values written), and the protocol only relies on that; but the race
// detector reports them. So binaries built with -race read shared lists
// under the lock (lockFreeListReads is false) and still maintain the views,
// which the race tests exercise; the lock-free reads themselves are tested
// without -race (TestListBecomesShared, TestListGetSharedStale,
// TestListGetLockFreeConcurrent, stress's shared-read), which CI runs as
// well.
//
// ft-atomic (atomic counting) reads under the lock, as the naive baseline:
// its objects have no owner, so every list would turn shared on its first
// read.
//
// Costs, made visible: Stats.ListReadsLockFree and ListReadsFellBack; and
// Config.NoLockFreeReads turns the whole scheme off (no list is ever
// shared), for a comparison in one binary.

// lockFreeListReads turns the lock-free path on, except under the race
// detector (see above).
const lockFreeListReads = !invariants.Race

// itemView is a shared list's array, as readers without the lock see it:
// the whole array (its full capacity). Immutable.
type itemView struct {
	a []*Object
}

// listGetShared is steps 2 and 3: item i of the shared list l, whose view
// was v, with a new reference, or nil when the reader must take the lock.
// Lists have views only under biased counting (noteSharedRead makes the
// first), so the reference is TryIncBiased's, inlined here (tryIncref's
// switch over the strategies cannot inline).
func (th *Thread) listGetShared(l *listObject, v *itemView, i int) *Object {
	if a := v.a; i < len(a) {
		if p := loadItem(&a[i]); p != nil && p.rc.TryIncBiased(th.id) {
			// Nested, not &&: the compiler materialized the && as a
			// flag and tested it again.
			if l.view.Load() == v {
				if loadItem(&a[i]) == p {
					th.stats.countListRead(true)
					return p
				}
			}
			th.decref(p)
		}
	}
	th.stats.countListRead(false)
	return nil
}

// noteSharedRead runs after a read of item it of l (the list o) under the
// lock, by a thread that does not hold o alone: a read by a thread that does
// not own the list makes the list shared, and a read of a shared list's
// item that the reader does not own marks the item's count word
// maybe-weakref (step 0).
func (th *Thread) noteSharedRead(o *Object, l *listObject, it *Object) {
	if th.strategy != biasedrc.Biased || th.rt.cfg.NoLockFreeReads {
		return
	}
	if l.view.Load() == nil {
		if o.rc.Owner() == th.id {
			return
		}
		th.shareList(l)
	}
	if it.rc.Owner() != th.id {
		it.rc.MarkMaybeWeakref()
	}
}

// shareList gives l a view (step 1), moving its items to Go's heap.
func (th *Thread) shareList(l *listObject) {
	items := l.itemSlice()
	if cap(items) > maxSmallItems {
		l.view.Store(&itemView{a: items[:cap(items)]}) // already Go's heap
		return
	}
	// An allocator slot (or none): move the items to Go's heap. Nobody
	// reads the old array without the lock (the list had no view), so it
	// goes back to the allocator at once.
	th.moveSharedItems(l, items, len(items))
	th.freeItems(items)
}

// moveSharedItems is listReserve for a shared list: it moves the items to a
// new Go heap array with room for need, publishes it, and returns the
// items. The old array is left as it is, to readers that still hold it and
// then to Go's collector.
func (th *Thread) moveSharedItems(l *listObject, items []*Object, need int) []*Object {
	a := make([]*Object, len(items), sharedCapacity(need))
	copy(a, items)
	l.setItems(a)
	l.view.Store(&itemView{a: a[:cap(a)]})
	return a
}

// sharedCapacity is the capacity of a shared list's array for n items:
// itemsCapacity's, but always above the small classes, whose capacities
// mark allocator slots (listitems.go).
func sharedCapacity(n int) int {
	return max(itemsCapacity(n), maxSmallItems+1)
}

package gc

import "math"

// Header is the collector's part of every object that can be tracked: the
// links of the list the object is on (CPython's PyGC_Head), the list itself
// (so an unlink knows whose list it touches), the scratch count of a
// collection (gc_refs) and flag bits. The runtime embeds it in containers.
//
// Ownership: the links and list are written by whoever may write the list
// the object is on: its owning thread for a thread's young list; the
// collector while the world is stopped; a holder of List.Mu for a shared
// list (a generation) in free-threaded mode while the world runs; the GIL
// holder in GIL mode. A collection's private lists (generation Private) are
// written by the collecting thread only, and hold only objects it holds a
// reference to, so no other thread has a reason to unlink them. refs and
// the scratch flags are written only by the collector during a collection
// (with the world stopped, or on objects no other thread can reach); they
// are meaningless between collections and the flags are clear then. The
// finalized bit is written by the thread that finalizes the object, which
// holds a reference to it.
//
// refs is 32 bits, like the free-threaded build's ob_ref_local that its
// collector borrows for gc_refs, so that a Header is four words: a count
// too big for it is saturated (see setRefs), which keeps an object that
// has that many references reachable, as it must be.
type Header struct {
	// list, refs and flags come first: they are what a collection reads
	// of every object it reaches, and right after the runtime's object
	// header they share its cache line when the object starts one.
	list       *List
	refs       int32
	flags      uint32
	prev, next *Header
}

const (
	flagFinalized   uint32 = 1 << iota // PEP 442: Finalize has run
	flagUnreachable                    // found unreachable: in the collection's unreachable set
	flagReachable                      // marked reachable from outside the set
	flagUncounted                      // never tracked: its death is not subtracted from generation 0's count
	flagClosed                         // step 2: everything it refers to is in the set (or immortal)
	flagPending                        // step 2: in the set, its count not read yet: refs is minus the references subtracted (see Subtraction)

	// The rest of flags is the epoch of the collection that last examined
	// the object: an object is in the set being examined (refs is its
	// count) when its epoch is the running collection's. Survivors keep
	// their epoch, which is never a later collection's, so a collection
	// that finds everything reachable need not visit its set again to
	// clear a flag; 0 is no collection's epoch.
	epochShift        = 8
	maxEpoch   uint32 = 1<<(32-epochShift) - 1
	epochMask  uint32 = maxEpoch << epochShift

	// scratchFlags are the bits a collection sets and clears again (the
	// epoch included: a cleared object is in no collection's set).
	scratchFlags = epochMask | flagUnreachable | flagReachable | flagClosed | flagPending
)

// epoch returns the epoch of the collection that last examined h, or 0.
func (h *Header) epoch() uint32 { return h.flags >> epochShift }

// setRefs stores a reference count into refs, saturating.
func (h *Header) setRefs(rc int64) {
	h.refs = int32(min(rc, math.MaxInt32))
}

// IsTracked reports whether the object is on a collector list.
func (h *Header) IsTracked() bool { return h.list != nil }

// List returns the list the object is on, or nil.
func (h *Header) List() *List { return h.list }

// Generation returns the generation of the list the object is on: 0, 1, 2,
// Permanent, or -1 when untracked or on one of a collection's private lists.
func (h *Header) Generation() int {
	if h.list == nil {
		return -1
	}
	return h.list.gen
}

// Finalized reports whether the object's PEP 442 finalizer has run.
func (h *Header) Finalized() bool { return h.flags&flagFinalized != 0 }

// SetFinalized records that the finalizer has run (or is about to).
func (h *Header) SetFinalized() { h.flags |= flagFinalized }

// SetUncounted records that the object was born untracked (a tuple of
// atomic objects): generation 0's count is net tracked allocations, so
// its birth was not added and its death must not be subtracted. Written
// before the object is published.
func (h *Header) SetUncounted() { h.flags |= flagUncounted }

// Counted reports whether the object's birth was added to generation 0's
// count (see SetUncounted).
func (h *Header) Counted() bool { return h.flags&flagUncounted == 0 }

package gc

// Header is the collector's part of every object that can be tracked: the
// links of the list the object is on (CPython's PyGC_Head), the list itself
// (so an unlink knows whose list it touches), the scratch count of a
// collection (gc_refs) and flag bits. The runtime embeds it in containers.
//
// Ownership: the links and list are written by whoever may write the list
// the object is on (its owning thread for a thread's young list; the
// collector while the world is stopped; a holder of List.mu for a shared
// list in free-threaded mode; the GIL holder in GIL mode). refs and the
// collection bits are written only by the collector during a collection.
// The finalized bit is written by the thread that finalizes the object,
// which holds a reference to it.
type Header struct {
	prev, next *Header
	list       *List
	refs       int64
	flags      uint32
}

const (
	flagFinalized   uint32 = 1 << iota // PEP 442: Finalize has run
	flagCollecting                     // in the set being collected
	flagUnreachable                    // found unreachable by the current collection
	flagReachable                      // scratch mark of a traversal
)

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

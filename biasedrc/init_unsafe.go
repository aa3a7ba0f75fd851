package biasedrc

import (
	"unsafe"

	"github.com/nogil-lab/nogil/internal/invariants"
)

// Fresh is the word Init would give a new object of one owner under one
// strategy, worked out once (by NewFresh, which validates the owner) so
// that InitFresh, on every allocation, is three plain stores with no
// test: a thread keeps its own.
type Fresh struct {
	owner  uint64
	shared int64
	local  uint32
}

// NewFresh returns the word Init(s, owner) writes. It panics as Init does
// on an unknown strategy or an invalid Biased owner.
func NewFresh(s Strategy, owner ThreadID) Fresh {
	var c Count
	c.Init(s, owner)
	return Fresh{owner: c.owner.Load(), shared: c.shared.Load(), local: c.local}
}

// InitFresh is Init for a word that is not yet published (a slot an
// allocator or a free list just handed out), from the word f that NewFresh
// worked out, with plain stores. An atomic store is a full-barrier
// exchange on amd64 (about as costly as the rest of an allocation
// together), and nobody can be reading a word that was never published:
// whoever touched the slot in its previous life did so before it was
// freed, and the free and the reuse are ordered by the allocator's own
// synchronization. The one exception is a lock-free reader that still
// holds a pointer to the slot's previous object (the runtime's lock-free
// list reads, step 9): its atomic loads and compare-and-swap may meet
// these stores. Go's memory model defines that race for word-sized values
// (it sees the old word or the new one, and refuses or re-checks either
// way: the word it starts from is all zeroes, see ResetDead, and the
// stores go owner first), and the race detector, which would report it,
// runs builds whose readers take locks.
func (c *Count) InitFresh(f Fresh) {
	*(*uint64)(unsafe.Pointer(&c.owner)) = f.owner
	*(*int64)(unsafe.Pointer(&c.shared)) = f.shared
	c.local = f.local
}

// ResetDead zeroes the word of an object whose count reached zero and
// whose slot is handed out again without the allocator, which zeroes
// (a free list). A lock-free reader that meets the slot between its death
// and its next InitFresh then refuses it, whichever thread reuses it: the
// dead word of an owner's last reference still names that owner, which,
// reading through a stale pointer, would test the plain local part the
// next owner's InitFresh writes. Plain stores, for the reasons InitFresh
// gives: nobody holds a reference to a dead object, every thread that
// touched the word did so before the atomic update or the owner's merge
// that reported the death, and a lock-free reader that meets the stores
// refuses the word before and after them.
func (c *Count) ResetDead() {
	*(*uint64)(unsafe.Pointer(&c.owner)) = 0
	*(*int64)(unsafe.Pointer(&c.shared)) = 0
	c.local = 0
}

// disown stores Unowned in the owner word of a word being merged, with a
// plain store where it can (CPython's merges store ob_tid relaxed too). An
// atomic store is an exchange on amd64, a full barrier: one of the two
// atomic instructions of every merge (the other is its compare-and-swap),
// and in producer-consumer one of six per object handed to another
// thread.
//
// The caller's next write to the word is its compare-and-swap of the
// shared part to merged, and that orders the store before it: the
// compiler keeps a store before an atomic operation, amd64's locked
// instruction drains the store buffer first, and arm64's
// compare-and-swap is a release. So whoever sees the merged state sees no
// owner, as with the atomic store. Until then a thread may still read the
// old owner: as if it had read just before an atomic store, which it could
// (it takes the owned path, which queues rather than frees, and its
// change of the shared word fails the merge's compare-and-swap, which
// reloads). The race detector would report the plain store against those
// loads, so race builds store atomically.
func (c *Count) disown() {
	if invariants.Race {
		c.owner.Store(uint64(Unowned))
		return
	}
	*(*uint64)(unsafe.Pointer(&c.owner)) = uint64(Unowned)
}

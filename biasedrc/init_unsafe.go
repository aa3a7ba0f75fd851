package biasedrc

import "unsafe"

// InitFresh is Init for a word that is all zeroes and not yet published (a
// slot an allocator just handed out zeroed): it writes only what is not
// zero, with plain stores. An atomic store is a full-barrier exchange on
// amd64 (about as costly as the rest of an allocation together), and
// nobody can be reading a word that was never published: whoever touched
// the slot in its previous life did so before it was freed, and the free
// and the reuse are ordered by the allocator's own synchronization. The
// one exception is a lock-free reader that still holds a pointer to the
// slot's previous object (the runtime's lock-free list reads, step 9): its
// atomic loads and compare-and-swap may meet these stores. Go's memory
// model defines that race for word-sized values (it sees the old word or
// the new one, and refuses or re-checks either way), and the race
// detector, which would report it, runs builds whose readers take locks.
func (c *Count) InitFresh(s Strategy, owner ThreadID) {
	switch s {
	case Plain:
		c.local = 1
	case Atomic:
		*(*int64)(unsafe.Pointer(&c.shared)) = sharedUnit
	case Biased:
		if owner == Unowned || owner == immortalOwner {
			panic("biasedrc: Init with an invalid owner id")
		}
		*(*uint64)(unsafe.Pointer(&c.owner)) = uint64(owner)
		c.local = 1
	default:
		panic("biasedrc: Init with an unknown strategy")
	}
}

// ResetDead zeroes the word of an object whose count reached zero, so that
// its slot can be handed out again without the allocator zeroing it (a
// free list: the next InitFresh expects zeroes). Plain stores, for the
// reasons InitFresh gives: nobody holds a reference to a dead object,
// every thread that touched the word did so before the atomic update or
// the owner's merge that reported the death, and a lock-free reader that
// meets the stores refuses the word before and after them.
func (c *Count) ResetDead() {
	*(*uint64)(unsafe.Pointer(&c.owner)) = 0
	*(*int64)(unsafe.Pointer(&c.shared)) = 0
	c.local = 0
}

package biasedrc

import "unsafe"

// InitFresh is Init for a word that is all zeroes and not yet published (a
// slot an allocator just handed out zeroed): it writes only what is not
// zero, with plain stores. An atomic store is a full-barrier exchange on
// amd64 (about as costly as the rest of an allocation together), and
// nobody can be reading a word that was never published: whoever touched
// the slot in its previous life did so before it was freed, and the free
// and the reuse are ordered by the allocator's own synchronization.
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
// reason InitFresh gives: nobody holds a reference to a dead object, and
// every thread that touched the word did so before the atomic update or
// the owner's merge that reported the death.
func (c *Count) ResetDead() {
	*(*uint64)(unsafe.Pointer(&c.owner)) = 0
	*(*int64)(unsafe.Pointer(&c.shared)) = 0
	c.local = 0
}

package biasedrc

import (
	"math"
	"sync/atomic"
)

// ThreadID names the owner of a biased count. An id is registered by one
// thread at a time (Registry.Register); a thread that registers the id of
// an exited one owns that thread's objects from then on, so an owner id
// names the registered thread, or none.
type ThreadID uint64

const (
	// Unowned is the owner id of a merged count: every thread uses the
	// shared part.
	Unowned ThreadID = 0
	// immortalOwner marks an immortal object. Keeping immortality in the
	// owner word (not in the owner's plain local part, as CPython does) lets
	// every thread test it with one atomic load that never races the
	// owner's plain writes.
	immortalOwner ThreadID = math.MaxUint64
)

// State is the low two bits of the shared word (CPython's _Py_REF_* flags).
// States only move up.
type State uint8

const (
	StateDefault      State = 0 // owned; shared part may be used by others
	StateMaybeWeakref State = 1 // a weak reference may exist: the owner must CAS to free
	StateQueued       State = 2 // handed to the owner's merge queue, which holds one reference
	StateMerged       State = 3 // owner gave up: the shared part is the whole count
)

const (
	stateBits  = 2
	stateMask  = 1<<stateBits - 1
	sharedUnit = 1 << stateBits // one reference in the shared word
)

// Outcome is what a count operation tells its caller. biasedrc never frees
// anything: the caller acts on the outcome.
type Outcome uint8

const (
	// Alive: the object is still referenced.
	Alive Outcome = iota
	// Dead: the count reached zero; the caller must free the object now.
	// Reported exactly once per object.
	Dead
	// MustQueue: a non-owner's decrement would have taken the shared part
	// below zero; the word is now queued and the caller must hand the
	// object (with the reference it was dropping) to Registry.Enqueue.
	MustQueue
	// Underflow: the count went below zero — a caller bug.
	Underflow
)

func (o Outcome) String() string {
	switch o {
	case Alive:
		return "alive"
	case Dead:
		return "dead"
	case MustQueue:
		return "must-queue"
	case Underflow:
		return "underflow"
	}
	return "outcome?"
}

// Count is the reference-count word embedded in every object header. Which
// fields are used depends on the strategy the runtime chose; a runtime uses
// one strategy for all of its objects.
//
// Size: 24 bytes.
type Count struct {
	// owner is the owning thread (Biased), immortalOwner, or Unowned.
	// Atomic, except for one plain store: written once before the object
	// is published, and again only by the owner when it merges (or by a
	// merger that has a happens-before edge with the exited owner), with a
	// plain store that the merge's compare-and-swap orders (disown). Read
	// atomically by every thread.
	owner atomic.Uint64
	// shared is the shared part shifted left by two, with the State in the
	// low two bits (Biased); the whole count shifted the same way (Atomic).
	// Atomic.
	shared atomic.Int64
	// local is the owner's part (Biased) or the whole count (Plain).
	// Plain: written only by the owner (Biased) or under the caller's
	// exclusion (Plain, the GIL). Others read it only after a
	// happens-before edge with the owner: the registry lock at its exit,
	// its merge's compare-and-swap, or a stopped world (see doc.go).
	local uint32
}

// Strategy is how a runtime counts references.
type Strategy uint8

const (
	Plain  Strategy = iota // one non-atomic count; the caller guarantees exclusion (GIL)
	Atomic                 // one atomic count: the naive no-GIL baseline
	Biased                 // PEP 703 biased reference counting
)

func (s Strategy) String() string {
	switch s {
	case Plain:
		return "plain"
	case Atomic:
		return "atomic"
	case Biased:
		return "biased"
	}
	return "strategy?"
}

// Init gives a new, unpublished object a count of one, owned by owner under
// Biased (owner is ignored by the other strategies).
func (c *Count) Init(s Strategy, owner ThreadID) {
	switch s {
	case Plain:
		c.owner.Store(uint64(Unowned))
		c.shared.Store(0)
		c.local = 1
	case Atomic:
		c.owner.Store(uint64(Unowned))
		c.shared.Store(sharedUnit)
		c.local = 0
	case Biased:
		if owner == Unowned || owner == immortalOwner {
			panic("biasedrc: Init with an invalid owner id")
		}
		c.owner.Store(uint64(owner))
		c.shared.Store(0)
		c.local = 1
	default:
		panic("biasedrc: Init with an unknown strategy")
	}
}

// InitImmortal makes an unpublished object immortal: its count is never
// written again by any strategy.
func (c *Count) InitImmortal() {
	c.owner.Store(uint64(immortalOwner))
	c.shared.Store(0)
	c.local = math.MaxUint32
}

// IsImmortal reports whether the object is immortal. Safe from any thread.
func (c *Count) IsImmortal() bool { return ThreadID(c.owner.Load()) == immortalOwner }

// Owner returns the owning thread, or Unowned. Safe from any thread.
func (c *Count) Owner() ThreadID {
	if o := ThreadID(c.owner.Load()); o != immortalOwner {
		return o
	}
	return Unowned
}

// UniqueTo reports whether thread me holds the only reference: me owns
// the word, its local part is 1 and the whole shared word (count and
// state) is 0 (CPython's _PyObject_IsUniquelyReferenced). No other thread
// can then reach the object, nor make a reference to it: a weak reference
// would have set the shared state first. Owner only (it reads the plain
// local part).
func (c *Count) UniqueTo(me ThreadID) bool {
	if ThreadID(c.owner.Load()) != me || c.local != 1 {
		return false
	}
	return c.shared.Load() == 0
}

// SharedState returns the state bits of the shared word. Safe from any thread.
func (c *Count) SharedState() State { return State(c.shared.Load() & stateMask) }

// Shared returns the shared part (a count, without the state). Safe from any
// thread.
func (c *Count) Shared() int64 { return c.shared.Load() >> stateBits }

// LocalUnsynchronized returns the owner's plain part. The caller must have a
// happens-before edge with the owner (be the owner, hold the GIL, or have
// stopped the world).
func (c *Count) LocalUnsynchronized() uint32 { return c.local }

// Value returns the true count under s; immortal objects report
// math.MaxUint32. Plain and Biased read the owner's plain part, so the
// caller needs the happens-before edge LocalUnsynchronized describes.
// It loads the owner word once and fits the compiler's inlining budget:
// a loop with a constant s (the collector's RefCounts) reads a count in a
// few instructions, with no call and no switch.
func (c *Count) Value(s Strategy) int64 {
	o := ThreadID(c.owner.Load())
	switch {
	case o == immortalOwner:
		return math.MaxUint32
	case s == Plain:
		return int64(c.local)
	case s == Atomic || o == Unowned: // Unowned: merged, the local part is gone
		return c.Shared()
	}
	return int64(c.local) + c.Shared()
}

// ---- Plain: the GIL build's count -----------------------------------------

// IncPlain adds a reference. The caller guarantees exclusion.
func (c *Count) IncPlain() {
	if c.IsImmortal() {
		return
	}
	c.local++
}

// DecPlain drops a reference: Dead when it was the last.
func (c *Count) DecPlain() Outcome {
	if c.IsImmortal() {
		return Alive
	}
	switch c.local {
	case 0:
		return Underflow
	case 1:
		c.local = 0
		return Dead
	}
	c.local--
	return Alive
}

// ---- Atomic: every update is an atomic add --------------------------------

// IncAtomic adds a reference atomically.
func (c *Count) IncAtomic() {
	if c.IsImmortal() {
		return
	}
	c.shared.Add(sharedUnit)
}

// DecAtomic drops a reference atomically: Dead for exactly one caller.
func (c *Count) DecAtomic() Outcome {
	if c.IsImmortal() {
		return Alive
	}
	switch n := c.shared.Add(-sharedUnit); {
	case n > 0:
		return Alive
	case n == 0:
		return Dead
	default:
		return Underflow
	}
}

// TryIncAtomic adds a reference unless the count already reached zero.
func (c *Count) TryIncAtomic() bool {
	if c.IsImmortal() {
		return true
	}
	for {
		n := c.shared.Load()
		if n <= 0 {
			return false
		}
		if c.shared.CompareAndSwap(n, n+sharedUnit) {
			return true
		}
	}
}

// ---- Any strategy ----------------------------------------------------------

// Inc adds a reference under strategy s on behalf of thread me: IncPlain,
// IncAtomic or IncBiased, chosen by the owner word rather than by a switch
// on s first. Under Plain and Atomic the owner word is Unowned or
// immortalOwner, never me (thread ids are never Unowned), so the first
// test only ever holds for a biased owner. Small enough (cost 42 of the
// inliner's 80) that a caller with s in a field inlines it whole: the
// runtime's internal increment is then no call in any mode.
func (c *Count) Inc(s Strategy, me ThreadID) {
	switch o := ThreadID(c.owner.Load()); {
	case o == me:
		c.local++
	case o == immortalOwner:
	case s == Plain:
		c.local++
	default:
		c.shared.Add(sharedUnit)
	}
}

package biasedrc

// Biased reference counting (PEP 703; CPython's Include/internal/
// pycore_object.h and Objects/object.c). See doc.go for the protocol.

// IncBiased adds a reference on behalf of thread me: the owner bumps its
// plain local part; everyone else adds to the shared part atomically.
func (c *Count) IncBiased(me ThreadID) {
	switch ThreadID(c.owner.Load()) {
	case me:
		c.local++
	case immortalOwner:
	default:
		c.shared.Add(sharedUnit)
	}
}

// DecBiased drops a reference on behalf of thread me. The outcome is Alive,
// Dead (free now), MustQueue (hand the object to Registry.Enqueue) or
// Underflow.
//
// The common case — the owner dropping a reference that is not its last —
// is kept small enough to inline into the caller: one atomic load (a plain
// MOV on amd64), one compare, and a plain decrement. Everything else goes
// through decBiasedSlow.
func (c *Count) DecBiased(me ThreadID) Outcome {
	// The && keeps non-owners from reading the owner's plain local part.
	if ThreadID(c.owner.Load()) == me && c.local > 1 {
		c.local--
		return Alive
	}
	return c.decBiasedSlow(me)
}

// decBiasedSlow is DecBiased's out-of-line part: the owner's last local
// reference, an immortal object, or a non-owner. The owner word cannot have
// become me since DecBiased loaded it (it only ever changes to Unowned), so
// loading it again gives the same answer for the owner.
//
//go:noinline
func (c *Count) decBiasedSlow(me ThreadID) Outcome {
	switch ThreadID(c.owner.Load()) {
	case me:
		// The owner's local part is never zero while it owns the object:
		// reaching zero either frees or merges, and merging disowns.
		if c.local == 0 {
			return Underflow
		}
		c.local--
		if c.local != 0 {
			return Alive
		}
		return c.mergeZeroLocal()
	case immortalOwner:
		return Alive
	default:
		return c.decShared()
	}
}

// mergeZeroLocal runs on the owner when its local part reaches zero.
func (c *Count) mergeZeroLocal() Outcome {
	shared := c.shared.Load()
	if shared == 0 {
		// Nobody else holds a reference, nobody can take one (a lock-free
		// reader's TryIncBiased refuses a zero shared word), and no weak
		// reference may exist: free without a compare-and-swap.
		return Dead
	}
	// Disown before publishing the merged state, so that a thread that sees
	// merged also sees no owner.
	c.owner.Store(uint64(Unowned))
	for {
		merged := shared&^stateMask | int64(StateMerged)
		if c.shared.CompareAndSwap(shared, merged) {
			switch n := merged >> stateBits; {
			case n == 0:
				return Dead
			case n < 0:
				return Underflow
			}
			return Alive
		}
		shared = c.shared.Load()
	}
}

// decShared is a non-owner's decrement (CPython's _Py_DecRefShared).
func (c *Count) decShared() Outcome {
	for {
		shared := c.shared.Load()
		if shared == 0 || shared == int64(StateMaybeWeakref) {
			// The shared part would go below zero: the owner's local part
			// holds the rest of the count. Queue the object to its owner
			// instead; the queue keeps the reference being dropped.
			if c.shared.CompareAndSwap(shared, int64(StateQueued)) {
				return MustQueue
			}
			continue
		}
		next := shared - sharedUnit
		if !c.shared.CompareAndSwap(shared, next) {
			continue
		}
		if State(next&stateMask) == StateMerged {
			switch n := next >> stateBits; {
			case n == 0:
				return Dead
			case n < 0:
				return Underflow
			}
		}
		// In the queued state the shared part may be negative: the
		// owner's local part makes up the difference, and the queued
		// entry guarantees the two are merged. (In the default and
		// maybe-weakref states it never is: a decrement from zero queues.)
		return Alive
	}
}

// MarkMaybeWeakref records that a weak reference may point at the object, so
// that its owner frees it only through a compare-and-swap that a concurrent
// TryIncBiased can lose against (CPython's _PyObject_SetMaybeWeakref).
//
// It is a no-op on immortal objects, on merged (unowned) objects, whose owner
// can no longer free them without a compare-and-swap, and on objects counted
// with the Plain or Atomic strategy, which are unowned too and whose shared
// word has no state bits to set.
func (c *Count) MarkMaybeWeakref() {
	switch ThreadID(c.owner.Load()) {
	case immortalOwner, Unowned:
		// Unowned under Biased means merged, or about to be: the owner that
		// just disowned is in the loop that publishes the merged state.
		return
	}
	for {
		shared := c.shared.Load()
		if shared&stateMask != 0 {
			return // maybe-weakref, queued or merged: already safe
		}
		if c.shared.CompareAndSwap(shared, shared|int64(StateMaybeWeakref)) {
			return
		}
	}
}

// TryIncBiased takes a reference for a lock-free reader that found the
// object through a pointer it does not own a reference through (a weak
// reference, a slot another thread may be clearing). It fails when the
// object is dead or could be freed by its owner without a compare-and-swap
// (shared word zero); the reader then falls back to a slower path.
func (c *Count) TryIncBiased(me ThreadID) bool {
	switch ThreadID(c.owner.Load()) {
	case immortalOwner:
		return true
	case me:
		if c.local == 0 {
			return false
		}
		c.local++
		return true
	}
	for {
		shared := c.shared.Load()
		if shared == 0 || shared == int64(StateMerged) {
			return false
		}
		if c.shared.CompareAndSwap(shared, shared+sharedUnit) {
			return true
		}
	}
}

// Merge folds the owner's local part into the shared part, adds extra, marks
// the word merged and disowns it (CPython's _Py_ExplicitMergeRefcount). It
// returns the merged count and Dead when that is zero.
//
// The caller is the owner, or has a happens-before edge with it (the owner
// exited through Registry.Deregister, or the world is stopped).
func (c *Count) Merge(extra int64) (int64, Outcome) {
	if c.IsImmortal() {
		return int64(c.local), Alive
	}
	for {
		shared := c.shared.Load()
		n := shared>>stateBits + int64(c.local) + extra
		if c.shared.CompareAndSwap(shared, n<<stateBits|int64(StateMerged)) {
			c.local = 0
			c.owner.Store(uint64(Unowned))
			switch {
			case n == 0:
				return n, Dead
			case n < 0:
				return n, Underflow
			}
			return n, Alive
		}
	}
}

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
// is small enough to inline into the caller: one atomic load of the owner
// word (a plain MOV on amd64), a compare, and a plain decrement of the local
// part. Everything else goes through decBiasedSlow. The function sits right
// at the compiler's inlining budget (80); TestHotPathInlines guards it.
// The named result and bare return are part of that: out is Alive (zero)
// there, and the bare return costs one node less than "return Alive".
func (c *Count) DecBiased(me ThreadID) (out Outcome) {
	// The && keeps non-owners from reading the owner's plain local part.
	if ThreadID(c.owner.Load()) == me && c.local > 1 {
		c.local--
		return // Alive
	}
	return c.decBiasedSlow(me)
}

// DecBiasedNoCall is DecBiased without an out-of-line call, for callers
// that are not inlined themselves and so have room for more of it inline
// (the runtime's DecRef and dropRef). Besides the owner's drop of a
// reference that is not its last, it finishes inline
//   - a drop of a reference to an immortal object (Alive);
//   - the owner's last reference to an object no other thread counted
//     (mergeZeroLocal's fast case: Dead), the end of every object that
//     never left its thread;
//   - a non-owner's drop of a reference to an owned word that neither
//     crosses zero nor finds the word merged: decBiasedSlow's one atomic
//     add and a test of its result (sharedAlive), Alive.
//
// dead reports the second case: the object is to be freed (rest is Done).
// It is a bool, tested first, rather than an Outcome beside rest: the
// owner's last reference then reaches the caller's free after one test
// instead of three (callgrind, B3's loop in ft-biased: 140 instructions
// against 143).
//
// rest says what is left of the decrement. Done: nothing; the outcome is
// Dead or Alive as dead says. Started: a non-owner's add is done but its
// result needs the rest of decBiasedSlow's shared path (a crossing of
// zero to queue, a merged word to judge); DecBiasedFinish(rest) gives the
// outcome. Neither: nothing was changed (the owner's last local reference
// to an object others counted, a merged word, or a caller bug);
// DecBiasedSlow gives the outcome. Either way a decrement costs at most
// the one call DecBiased would make, and the common ones none.
//
// It sits one node under the compiler's inlining budget (80), which
// TestHotPathInlines guards: a call costs 57 of the 80 and does not fit
// beside the add, which is why the rest goes back to the caller. The bare
// returns (false and Done are both zero) and sharedAlive written out (its
// call costs 3 more) are part of that.
func (c *Count) DecBiasedNoCall(me ThreadID) (dead bool, rest DecRest) {
	switch ThreadID(c.owner.Load()) {
	case me:
		if l := c.local; l > 1 {
			c.local = l - 1
			return // Alive, done
		} else if l == 1 {
			if c.shared.Load() == 0 {
				c.local = 0
				return true, restDone
			}
		}
	case immortalOwner:
		return // Alive, done
	case Unowned:
		// Merged, or being merged: decBiasedSlow's one atomic add, behind
		// the call (there is no room left for it here).
	default:
		// A non-owner's decrement of an owned word: decBiasedSlow's
		// (whose comment says why one add is enough) up to sharedAlive.
		if rest = DecRest(c.shared.Add(-sharedUnit)); rest^DecRest(StateMerged) > 0 {
			rest = restDone
		}
		return
	}
	return false, restAll
}

// DecRest is what DecBiasedNoCall leaves of a decrement: nothing (Done),
// the end of a non-owner's decrement whose add is done (Started: the value
// is the shared word the add left, always negative or merged-zero), or
// everything.
type DecRest int64

const (
	restDone DecRest = 0
	// restAll: nothing done. Never the word after a Started add, which
	// would be maybe-weakref with count zero, a word that is Alive.
	restAll DecRest = 1
)

// Done reports that the decrement is finished: DecBiasedNoCall's dead
// tells its outcome.
func (r DecRest) Done() bool { return r == restDone }

// Started reports that a non-owner's atomic add is done and its outcome
// is left to DecBiasedFinish. (Neither Done nor Started: DecBiasedSlow.)
func (r DecRest) Started() bool { return uint64(r) > uint64(restAll) }

// DecBiasedFinish finishes a non-owner's decrement that DecBiasedNoCall
// started (rest.Started()): the call that DecBiasedNoCall had no room for.
func (c *Count) DecBiasedFinish(rest DecRest) Outcome { return c.decSharedEnd(int64(rest)) }

// DecBiasedSlow is DecBiased without its inlined part, for the caller of
// DecBiasedNoCall when rest is neither Done nor Started: the call DecBiased
// would make, without loading and comparing the owner word once more first.
func (c *Count) DecBiasedSlow(me ThreadID) Outcome { return c.decBiasedSlow(me) }

// decBiasedSlow is DecBiased's out-of-line part: a non-owner (the shared
// path, kept in this function so that its common drop costs one call; the
// rare ends cost a second, decSharedEnd), an immortal object, or the
// owner's last local reference. The owner word cannot have
// become me since DecBiased loaded it (it only ever changes to Unowned), so
// loading it again gives the same answer for the owner.
//
//go:noinline
func (c *Count) decBiasedSlow(me ThreadID) Outcome {
	switch ThreadID(c.owner.Load()) {
	case me:
		// The owner's last local reference (or a local part of 0: a
		// caller bug). Written out here, with mergeZeroLocal's common case
		// inlined, so that the owner's free of an object nobody else
		// counted costs this one call.
		//
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
	case Unowned:
		// Merged, or being merged: the owner stored Unowned after its local
		// part reached zero for good and before its compare-and-swap to
		// merged. Either way the true count is the shared count, which the
		// caller's own reference keeps at one or more, so this decrement
		// cannot be the one that must queue and one atomic add does it
		// (CPython always uses the compare-and-swap loop below). If it
		// takes a not-yet-merged word to zero, the owner's compare-and-swap
		// fails, reloads the zero and reports Dead; if the word is merged,
		// the add's result says Dead.
		return mergedOutcome(c.shared.Add(-sharedUnit))
	}
	// A non-owner's decrement of an owned word: one atomic add, where
	// CPython's _Py_DecRefShared loads and compares-and-swaps. At zero
	// (default or maybe-weakref) the shared part must not go below zero,
	// since only the owner's local part knows whether the true count did;
	// the thread whose add crossed zero takes its unit back and marks the
	// word queued in one compare-and-swap, and the queue keeps the
	// reference being dropped. In between the word is briefly negative in
	// the default state; that is harmless: the dropped reference is still
	// in the owner's local part, so the owner cannot reach zero meanwhile,
	// and the crossing thread's compare-and-swap folds in whatever other
	// threads added or dropped. (Two threads can both cross if another
	// adds in between; each then queues the object once with its own
	// reference, and merging twice is exact.)
	//
	// (Loading the word first, to queue a word at zero with the one
	// compare-and-swap, saves an atomic operation on that drop but costs
	// every other non-owner decrement about 3 ns: the load waits for the
	// locked instruction before it. Measured and not kept.)
	next := c.shared.Add(-sharedUnit)
	if sharedAlive(next) {
		return Alive
	}
	return c.decSharedEnd(next)
}

// sharedAlive reports that a non-owner's decrement of an owned word, whose
// add left the shared word at next, is finished and the object Alive: next
// is not negative (so the add did not cross zero) and not merged-zero. That
// covers every common drop. The words it leaves to decSharedEnd are the
// crossings, a merged word's drop to zero or below, and the rare Alive ones
// (a queued word gone negative, a word another thread's crossing has made
// negative for an instant). The XOR maps exactly merged-zero (3) to zero
// and keeps the sign, so one signed test does it. DecBiasedNoCall has it
// written out.
func sharedAlive(next int64) bool { return next^int64(StateMerged) > 0 }

// decSharedEnd is the end of a non-owner's decrement of an owned word that
// sharedAlive did not settle, from next, the shared word its atomic add
// left (decBiasedSlow's and DecBiasedFinish's).
//
//go:noinline
func (c *Count) decSharedEnd(next int64) Outcome {
	if prev := next + sharedUnit; prev == 0 || prev == int64(StateMaybeWeakref) {
		// Our add crossed zero: take the unit back and mark the word
		// queued (decBiasedSlow says why).
		for {
			s := c.shared.Load()
			if State(s&stateMask) == StateMerged {
				// The owner cannot merge while our reference is in its
				// local part, but when it has exited another thread's
				// Enqueue merges the word itself (Registry.Enqueue), and
				// it may have done so since our add. Its compare-and-swap
				// read our decrement (it came before, or the swap would
				// have failed and read again): the merged count includes
				// it, and the merging thread was told Dead if that count
				// was zero. Reporting Dead here too would free twice.
				return Alive
			}
			queued := (s+sharedUnit)&^stateMask | int64(StateQueued)
			if c.shared.CompareAndSwap(s, queued) {
				return MustQueue
			}
		}
	}
	// In the queued state the shared part may be negative: the owner's
	// local part makes up the difference, and the queued entry guarantees
	// the two are merged.
	return mergedOutcome(next)
}

// mergedOutcome tells a non-owner what its decrement, which left the word
// at next, did: Dead when it took a merged word to zero, Underflow below.
func mergedOutcome(next int64) Outcome {
	if State(next&stateMask) == StateMerged {
		switch n := next >> stateBits; {
		case n == 0:
			return Dead
		case n < 0:
			return Underflow
		}
	}
	return Alive
}

// mergeZeroLocal runs on the owner when its local part reaches zero
// (CPython's _Py_MergeZeroLocalRefcount). Its common case (nobody else
// ever counted) inlines into decBiasedSlow; the merge is out of line.
func (c *Count) mergeZeroLocal() Outcome {
	shared := c.shared.Load()
	if shared == 0 {
		// Nobody else holds a reference, nobody can take one (a lock-free
		// reader's TryIncBiased refuses a zero shared word), and no weak
		// reference may exist: free without a compare-and-swap.
		return Dead
	}
	return c.disownAndMerge(shared)
}

// disownAndMerge is mergeZeroLocal's merge, from shared, the owner's last
// load of the word.
//
//go:noinline
func (c *Count) disownAndMerge(shared int64) Outcome {
	// Disown before publishing the merged state, so that a thread that sees
	// merged also sees no owner.
	c.disown()
	return c.publishMerged(shared)
}

// publishMerged is the end of mergeZeroLocal: it sets the merged state,
// keeping the count, starting from shared, the owner's last load of the
// word. Non-owners that saw Unowned may decrement the word in between (see
// decBiasedSlow); readers may try-incref it; the compare-and-swap then
// fails and the loop merges what they left.
func (c *Count) publishMerged(shared int64) Outcome {
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
	// An object merged before has no local part left, and other threads
	// may be reading it (they saw the owner word cleared, which orders
	// them after the merge's write): neither read nor write it again.
	//
	// Nothing may be written once the merged state is published: from then
	// on another thread's decrement may free the object (and its slot be
	// reused). So the owner's part is taken out of the word and the word
	// disowned first, while it is not merged and nobody can free it
	// (CPython's _Py_ExplicitMergeRefcount clears ob_ref_local and ob_tid
	// after its compare-and-swap instead), and the compare-and-swap below
	// adds that part back with extra. Meanwhile the word holds less than
	// the true count, even zero or less, and that is harmless: a non-owner
	// that still sees the owner takes the owned path, which queues at zero
	// rather than free; one that sees Unowned adds and, the word not being
	// merged, is told Alive; a reader's TryIncBiased may refuse a zero
	// word, and falls back. One compare-and-swap and a plain store
	// (disown), where CPython's merge makes the same: the owner's part used
	// to be added to the shared word first, and the store was an atomic
	// exchange, two more atomic operations on every merge.
	switch ThreadID(c.owner.Load()) {
	case immortalOwner:
		return int64(c.local), Alive
	case Unowned:
	default:
		extra += int64(c.local)
		c.local = 0
		c.disown()
	}
	for {
		shared := c.shared.Load()
		n := shared>>stateBits + extra
		if c.shared.CompareAndSwap(shared, n<<stateBits|int64(StateMerged)) {
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

package gc

import (
	"fmt"

	"github.com/nogil-lab/nogil/internal/invariants"
)

// scratchKeep is the largest scratch slice kept between collections; larger
// ones are dropped so that one big collection does not pin memory.
const scratchKeep = 1 << 16

// Collect collects generation gen and every younger one (gc.collect(gen))
// and returns how many unreachable objects it found collectable and how
// many it set aside as uncollectable (legacy finalizers and what they
// reach). It runs the callbacks, updates the counts and the statistics. It
// returns (0, 0) at once, doing nothing, when a collection is already
// running on any thread (CPython's collecting flag): a finalizer or callback
// that asks for a collection gets nothing. gen outside 0..2 panics.
//
// See the package documentation for the steps.
func (c *Collector) Collect(env Env, gen int) (collected, uncollectable int) {
	if gen < 0 || gen >= NumGenerations {
		panic(fmt.Sprintf("gc: Collect of invalid generation %d", gen))
	}
	if !c.collecting.CompareAndSwap(false, true) {
		return 0, 0
	}
	defer c.collecting.Store(false)

	c.invokeCallbacks(PhaseStart, Info{Generation: gen})
	collected, uncollectable = c.collect(env, gen)

	c.mu.Lock()
	s := &c.stats[gen]
	s.Collections++
	s.Collected += collected
	s.Uncollectable += uncollectable
	c.mu.Unlock()

	c.invokeCallbacks(PhaseStop, Info{Generation: gen, Collected: collected, Uncollectable: uncollectable})
	return collected, uncollectable
}

// collect is gc_collect_main without the callbacks and statistics.
func (c *Collector) collect(env Env, gen int) (m, n int) {
	old := &c.gens[min(gen+1, NumGenerations-1)]
	young := &c.young

	// ---- Pause 1: find the unreachable objects. ----
	env.StopTheWorld()
	env.GatherYoung(&c.gens[0])

	// Step 1: counts, then merge the generations being collected.
	if gen+1 < NumGenerations {
		c.count[gen+1].Add(1)
	}
	for g := 0; g <= gen; g++ {
		c.count[g].Store(0)
	}
	young.Splice(&c.gens[gen])
	for g := 0; g < gen; g++ {
		young.Splice(&c.gens[g])
	}

	// Steps 2-4: update_refs, subtract_refs, move_unreachable.
	c.updateRefs(env, young, 0)
	c.subtractRefs(env, young)
	c.moveUnreachable(env, young, &c.unreachable)

	// Step 5: untrack what may be untracked, and promote the survivors.
	for h := young.Front(); h != nil; {
		next := young.Next(h)
		if env.Untrackable(h) {
			Unlink(h)
			env.Untracked(h)
		}
		h = next
	}
	switch survivors := int64(young.Len()); gen {
	case NumGenerations - 2:
		c.longLivedPending.Add(survivors)
	case NumGenerations - 1:
		c.longLivedPending.Store(0)
		c.longLivedTotal.Store(survivors)
	}
	old.Splice(young)

	// Step 6: legacy finalizers and everything they reach are set aside.
	for h := c.unreachable.Front(); h != nil; {
		next := c.unreachable.Next(h)
		h.flags &^= flagUnreachable
		if env.HasLegacyFinalizer(h) {
			h.flags &^= flagCollecting
			MoveTo(h, &c.finalizers)
		}
		h = next
	}
	for h := c.finalizers.Front(); h != nil; h = c.finalizers.Next(h) {
		env.Traverse(h, c.visitMoveFn) // the list grows while we walk it
	}

	// Step 7: hold every unreachable object, so that nothing can free one
	// while the world runs, and find those that need finalizing.
	held := c.held[:0]
	toFinalize := c.toFinalize[:0]
	for h := c.unreachable.Front(); h != nil; h = c.unreachable.Next(h) {
		env.IncRef(h)
		held = append(held, h)
		if !h.Finalized() && env.HasFinalizer(h) {
			toFinalize = append(toFinalize, h)
		}
	}
	fin := c.fin[:0]
	for h := c.finalizers.Front(); h != nil; h = c.finalizers.Next(h) {
		env.IncRef(h)
		fin = append(fin, h)
	}
	// The legacy set is not collected: it joins the old generation now,
	// while nobody else can look at its links.
	old.Splice(&c.finalizers)

	// Step 8: clear the weak references to the unreachable objects and
	// collect the callbacks to run (those of weakrefs that are not garbage).
	cbs := c.cbs[:0]
	for h := c.unreachable.Front(); h != nil; h = c.unreachable.Next(h) {
		cbs = env.ClearWeakrefs(h, c.isGarbageFn, cbs)
	}
	resurrectionCheck := len(toFinalize) > 0
	if !resurrectionCheck {
		// Nothing can resurrect: the unreachable set is final.
		clearScratch(held)
	}
	env.StartTheWorld()

	// ---- World running: weakref callbacks and PEP 442 finalizers. ----
	for i, wr := range cbs {
		env.RunWeakrefCallback(wr)
		env.DecRef(wr)
		cbs[i] = nil
	}
	c.cbs = keep(cbs[:0])
	for i, h := range toFinalize {
		if !h.Finalized() {
			h.SetFinalized()
			env.Finalize(h)
		}
		toFinalize[i] = nil
	}
	c.toFinalize = keep(toFinalize[:0])

	garbage := &c.unreachable
	if resurrectionCheck {
		// ---- Pause 2: what did the finalizers resurrect? ----
		env.StopTheWorld()
		// An object a finalizer untracked has left the unreachable list;
		// it is only released with the others below.
		c.updateRefs(env, &c.unreachable, 1) // the hold is not a reference
		c.subtractRefs(env, &c.unreachable)
		c.moveUnreachable(env, &c.unreachable, &c.still)
		old.Splice(&c.unreachable) // the resurrected, and what they reach
		garbage = &c.still
		for h := garbage.Front(); h != nil; h = garbage.Next(h) {
			// Weak references made by the finalizers: no callbacks.
			cbs = env.ClearWeakrefs(h, c.alwaysGarbageFn, cbs)
		}
		clearScratch(held)
		env.StartTheWorld()
		if len(cbs) > 0 {
			panic("gc: Env.ClearWeakrefs returned a callback for a garbage weak reference")
		}
	}

	// ---- World running: break the cycles (delete_garbage). ----
	// Only this thread can reach the garbage, and it holds every object, so
	// the list changes only if Clear untracks something: take the front
	// each time.
	m = garbage.Len()
	for h := garbage.Front(); h != nil; h = garbage.Front() {
		MoveTo(h, &c.cleared)
		env.Clear(h)
	}
	// What survives clearing stays tracked in the old generation; move it
	// there before the holds are dropped (a freed object is unlinked by the
	// runtime, under the list's Mu in free-threaded mode).
	old.Mu.Lock()
	old.Splice(&c.cleared)
	old.Mu.Unlock()
	for i, h := range held {
		env.DecRef(h) // frees happen here
		held[i] = nil
	}
	c.held = keep(held[:0])

	// ---- handle_legacy_finalizers ----
	n = len(fin)
	for _, h := range fin {
		if env.HasLegacyFinalizer(h) {
			env.AppendGarbage(h)
		}
	}
	for i, h := range fin {
		env.DecRef(h)
		fin[i] = nil
	}
	c.fin = keep(fin[:0])
	return m, n
}

// keep returns s for reuse unless it grew too big to keep.
func keep(s []*Header) []*Header {
	if cap(s) > scratchKeep {
		return nil
	}
	return s
}

// clearScratch removes the collection's flag bits from the held objects.
func clearScratch(held []*Header) {
	for _, h := range held {
		h.flags &^= flagCollecting | flagUnreachable | flagReachable
	}
}

// updateRefs is CPython's update_refs: every object of l gets refs = its
// reference count less bias (the collector's own holds) and joins the set
// being examined.
func (c *Collector) updateRefs(env Env, l *List, bias int64) {
	for h := l.Front(); h != nil; h = l.Next(h) {
		rc := env.RefCount(h)
		if invariants.Enabled && rc <= 0 {
			panic(fmt.Sprintf("gc: tracked object with reference count %d seen by the collector", rc))
		}
		h.refs = rc - bias
		h.flags |= flagCollecting
	}
}

// subtractRefs is CPython's subtract_refs: every reference from inside the
// set is subtracted, so refs becomes the number of references from outside.
func (c *Collector) subtractRefs(env Env, l *List) {
	for h := l.Front(); h != nil; h = l.Next(h) {
		env.Traverse(h, c.visitDecrefFn)
	}
	if invariants.Enabled {
		for h := l.Front(); h != nil; h = l.Next(h) {
			if h.refs < 0 {
				panic("gc: Traverse reported more references to an object than RefCount counts")
			}
		}
	}
}

func visitDecref(r *Header) {
	if r.flags&flagCollecting != 0 {
		r.refs--
	}
}

func isCollecting(h *Header) bool { return h.flags&flagCollecting != 0 }

// moveUnreachable is CPython's move_unreachable: it walks young once, from
// front to back. An object with refs > 0 is reachable: it is traversed (its
// referents in the set get refs = 1, and those already moved to unreachable
// come back to the end of young, to be walked in their turn) and leaves the
// set (flagCollecting cleared). An object with refs == 0 is, for now,
// presumed unreachable and moved to unreachable with flagUnreachable. When
// the walk ends, young holds exactly the objects reachable from outside the
// set and unreachable the rest, which keep flagCollecting. The walk is a
// loop over a list that grows at its end, so its depth is constant however
// long the chains of references are.
func (c *Collector) moveUnreachable(env Env, young, unreachable *List) {
	c.scan = young
	for h := young.Front(); h != nil; {
		if h.refs > 0 {
			env.Traverse(h, c.visitReachableFn)
			h.flags &^= flagCollecting
			h = young.Next(h) // after Traverse: it may have appended
		} else {
			next := young.Next(h)
			MoveTo(h, unreachable)
			h.flags |= flagUnreachable
			h = next
		}
	}
	c.scan = nil
}

func (c *Collector) visitReachable(r *Header) {
	switch {
	case r.flags&flagCollecting == 0:
		// Outside the set, or already walked.
	case r.flags&flagUnreachable != 0:
		r.flags &^= flagUnreachable
		MoveTo(r, c.scan)
		r.refs = 1
	case r.refs == 0:
		r.refs = 1 // ahead of the walk: it will be traversed
	}
}

// visitMove is CPython's visit_move for move_legacy_finalizer_reachable: an
// unreachable object reached from the legacy set joins it.
func (c *Collector) visitMove(r *Header) {
	if r.flags&flagCollecting != 0 {
		r.flags &^= flagCollecting
		MoveTo(r, &c.finalizers)
	}
}

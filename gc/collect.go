package gc

import (
	"fmt"
	"slices"

	"github.com/nogil-lab/nogil/internal/invariants"
)

// scratchKeep is the capacity of scratch slice always kept between
// collections; a larger one is kept only while it is at least a quarter
// used, so that one big collection does not pin its memory forever, while
// repeated big collections do not allocate (and so do not make Go's own
// collector run during ours).
const scratchKeep = 1 << 16

// Collect collects generation gen and every younger one (gc.collect(gen))
// and returns how many unreachable objects it found collectable and how
// many it set aside as uncollectable (legacy finalizers and what they
// reach). It runs the callbacks, updates the counts and the statistics. It
// returns (0, 0) at once, doing nothing, when a collection is already
// running on any thread (CPython's collecting flag): a finalizer or callback
// that asks for a collection gets nothing. gen outside 0..2 panics.
//
// Env methods must not panic; if one does, the collector is left unusable.
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

// collect is gc_collect_main without the callbacks and statistics. The
// step numbers are those of the package documentation.
func (c *Collector) collect(env Env, gen int) (m, n int) {
	old := &c.gens[min(gen+1, NumGenerations-1)]
	young := &c.gens[gen]
	unreachable := &c.unreachable
	c.env = env
	defer func() { c.env = nil }()

	// ---- Pause 1: find the unreachable objects. ----
	env.StopTheWorld()
	env.GatherYoung(&c.gens[0])

	// Step 1: counts.
	if gen+1 < NumGenerations {
		c.count[gen+1].Add(1)
	}
	for g := 0; g <= gen; g++ {
		c.count[g].Store(0)
	}

	// Step 2: update_refs and subtract_refs, in the one walk of the lists
	// of generations gen, 0, ..., gen-1; the set is recorded in objs, which
	// every later step walks instead of a list. The younger generations are
	// merged into the one being collected, which is examined in place:
	// their members are relabeled as the walk passes them and their chains
	// are linked in afterwards, so the merge costs no walk of its own.
	c.members = [NumGenerations]*List{}
	for g := 0; g <= gen; g++ {
		c.members[g] = &c.gens[g]
	}
	objs := c.objs[:0]
	anyLegacy := false
	for g := gen; ; g = (g + 1) % (gen + 1) {
		l := &c.gens[g]
		objs = slices.Grow(objs, l.Len())
		for h := l.Front(); h != nil; h = l.Next(h) {
			objs = append(objs, h)
			h.list = young
			if h.flags&flagCollecting == 0 {
				c.initRefs(h)
			}
			env.Traverse(h, c.visitSubtractFn)
			if !anyLegacy && env.HasLegacyFinalizer(h) {
				anyLegacy = true
			}
		}
		if g == gen-1 || gen == 0 {
			break
		}
	}
	for g := 0; g < gen; g++ {
		young.adopt(&c.gens[g])
	}
	c.members = [NumGenerations]*List{}
	if invariants.Enabled {
		checkRefs(objs)
	}

	// Step 3: mark what is reachable from outside the set.
	c.markReachable(env, objs)

	// Step 4: survivors stay (untracked if they may be: untrack_tuples,
	// oldest first), the rest moves to the unreachable list; objs keeps
	// the unreachable objects only. When no object of the set has a legacy
	// finalizer (the common case), the unreachable set is final here and
	// steps 7-8 are done in the same pass.
	toFinalize := c.toFinalize[:0]
	cbs := c.cbs[:0]
	k := 0
	for _, h := range objs {
		if h.flags&flagReachable != 0 {
			h.flags &^= scratchFlags
			if env.Untrackable(h) {
				Unlink(h)
				env.Untracked(h)
			} else if young != old {
				h.list = old // relabeled; young is adopted by old below
			}
			continue
		}
		MoveTo(h, unreachable)
		h.flags |= flagUnreachable
		objs[k] = h
		k++
		if !anyLegacy {
			c.hold(env, h, &toFinalize, &cbs)
		}
	}
	clear(objs[k:])
	held := objs[:k]

	// Step 5: promote the survivors.
	switch survivors := int64(young.Len()); gen {
	case NumGenerations - 2:
		c.longLivedPending.Add(survivors)
	case NumGenerations - 1:
		c.longLivedPending.Store(0)
		c.longLivedTotal.Store(survivors)
	}
	old.adopt(young) // nothing to do when young is generation 2

	if anyLegacy {
		// Step 6: legacy finalizers and everything they reach are set
		// aside (move_legacy_finalizers, move_legacy_finalizer_reachable).
		for _, h := range held {
			if env.HasLegacyFinalizer(h) {
				h.flags &^= scratchFlags
				MoveTo(h, &c.finalizers)
			}
		}
		for h := c.finalizers.Front(); h != nil; h = c.finalizers.Next(h) {
			env.Traverse(h, c.visitMoveFn) // the list grows while we walk it
		}
		held = slices.DeleteFunc(held, func(h *Header) bool { return h.list != unreachable })
		// Steps 7-8 for what remains.
		for _, h := range held {
			c.hold(env, h, &toFinalize, &cbs)
		}
	}
	fin := slices.Grow(c.fin[:0], c.finalizers.Len())
	for h := c.finalizers.Front(); h != nil; h = c.finalizers.Next(h) {
		env.IncRef(h)
		fin = append(fin, h)
	}
	// The legacy set is not collected: it joins the old generation now,
	// while nobody else can look at its links.
	old.Splice(&c.finalizers)
	resurrectionCheck := len(toFinalize) > 0
	env.StartTheWorld()

	// ---- World running. Step 9: weakref callbacks; step 10: PEP 442
	// finalizers (finalize_garbage). ----
	for i, wr := range cbs {
		env.RunWeakrefCallback(wr)
		env.DecRef(wr)
		cbs[i] = nil
	}
	cbs = cbs[:0]
	for i, h := range toFinalize {
		if !h.Finalized() {
			h.SetFinalized()
			env.Finalize(h)
		}
		toFinalize[i] = nil
	}
	c.toFinalize = keep(toFinalize, len(toFinalize))

	garbage := held
	if resurrectionCheck {
		// ---- Pause 2. Step 11: what did the finalizers resurrect?
		// (handle_resurrected_objects) ----
		env.StopTheWorld()
		set := slices.Grow(c.set[:0], len(held))
		for _, h := range held {
			if h.list != unreachable {
				// A finalizer untracked it: out of the set; it is only
				// released with the others below.
				h.flags &^= scratchFlags
				continue
			}
			rc := env.RefCount(h)
			if invariants.Enabled && rc < 1 {
				panic(fmt.Sprintf("gc: held object with reference count %d", rc))
			}
			h.setRefs(rc - 1) // the hold is not a reference
			set = append(set, h)
		}
		for _, h := range set {
			env.Traverse(h, c.visitDecrefFn)
		}
		if invariants.Enabled {
			checkRefs(set)
		}
		c.markReachable(env, set)
		k := 0
		for _, h := range set {
			if h.flags&flagReachable != 0 {
				h.flags &^= scratchFlags
				MoveTo(h, old) // resurrected
				continue
			}
			// Step 12: weak references the finalizers made; no callbacks.
			cbs = env.ClearWeakrefs(h, c.alwaysGarbageFn, cbs)
			h.flags &^= scratchFlags
			set[k] = h
			k++
		}
		clear(set[k:])
		garbage = set[:k]
		c.set = set
		env.StartTheWorld()
		if len(cbs) > 0 {
			panic("gc: Env.ClearWeakrefs returned a callback for a garbage weak reference")
		}
	}
	c.cbs = keep(cbs, len(cbs))

	// ---- World running. Step 13: break the cycles (delete_garbage). ----
	// Only this thread can reach the garbage, and it holds every object of
	// it, so none of them is freed here (Clear may free others); an object
	// someone untracked meanwhile has left the unreachable list and is
	// skipped.
	m = unreachable.Len()
	for _, h := range garbage {
		if h.list == unreachable {
			env.Clear(h)
		}
	}
	// What survives clearing stays tracked in the old generation: it moves
	// there before the holds are dropped (a freed object is unlinked by the
	// runtime, under the list's Mu in free-threaded mode).
	old.Mu.Lock()
	relabeled := 0
	for _, h := range garbage {
		if h.list == unreachable {
			h.list = old
			relabeled++
		}
	}
	if relabeled != unreachable.Len() {
		old.Mu.Unlock()
		panic("gc: an object joined the collector's unreachable list")
	}
	old.adopt(unreachable)
	old.Mu.Unlock()
	if resurrectionCheck {
		clear(garbage)
		c.set = keep(c.set, len(held))
	}
	for i, h := range held {
		if !resurrectionCheck {
			// Still flagged since pause 1, and invisible to every other
			// thread: this thread may write the flags now.
			h.flags &^= scratchFlags
		}
		env.DecRef(h) // frees happen here
		held[i] = nil
	}
	c.objs = keep(objs, len(objs))

	// Step 14: handle_legacy_finalizers.
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
	c.fin = keep(fin, len(fin))
	return m, n
}

// keep returns s, emptied, for reuse, unless it is much bigger than the
// used elements it held (which the caller has cleared).
func keep(s []*Header, used int) []*Header {
	if cap(s) > scratchKeep && cap(s) > 4*used {
		return nil
	}
	return s[:0]
}

// hold is steps 7 and 8 for one unreachable object: take a reference to
// it, so that nothing can free it while the world runs; note it if its
// PEP 442 finalizer must run; clear the weak references to it, keeping
// those whose callbacks must run (handle_weakrefs: those of weak references
// that are not garbage themselves).
func (c *Collector) hold(env Env, h *Header, toFinalize, cbs *[]*Header) {
	env.IncRef(h)
	if !h.Finalized() && env.HasFinalizer(h) {
		*toFinalize = append(*toFinalize, h)
	}
	*cbs = env.ClearWeakrefs(h, c.isGarbageFn, *cbs)
}

// initRefs starts h's count: refs = its reference count, flagCollecting.
func (c *Collector) initRefs(h *Header) {
	rc := c.env.RefCount(h)
	// Zero is allowed: an object whose last reference the runtime's pause
	// dropped (a merged queued count) is left to the collection as
	// garbage (see Env.RefCount).
	if invariants.Enabled && rc < 0 {
		panic(fmt.Sprintf("gc: tracked object with reference count %d seen by the collector", rc))
	}
	h.setRefs(rc)
	h.flags |= flagCollecting
}

// visitSubtract is visit_decref for the first pause. Membership of the set
// is known from the list an object is on (one of members: the generation
// collected, or a younger one not walked yet), so an object's count is started
// lazily: when the walk reaches it, or when an object before it refers to
// it, whichever comes first. When the walk ends every object of the set
// has flagCollecting and refs = the number of references from outside.
func (c *Collector) visitSubtract(r *Header) {
	if l := r.list; l == nil || (l != c.members[0] && l != c.members[1] && l != c.members[2]) {
		return
	}
	if r.flags&flagCollecting == 0 {
		c.initRefs(r)
	}
	r.refs--
}

// visitDecref is visit_decref for the resurrection check, whose set is
// flagged beforehand.
func visitDecref(r *Header) {
	if r.flags&flagCollecting != 0 {
		r.refs--
	}
}

func checkRefs(objs []*Header) {
	for _, h := range objs {
		if h.refs < 0 {
			panic("gc: Traverse reported more references to an object than RefCount counts")
		}
	}
}

// isGarbage tells ClearWeakrefs whether a weak reference is itself in the
// unreachable set. It is right at any time after the mark of the first
// pause: a member of the set that was not marked reachable is unreachable,
// whether or not the partition has reached it yet; survivors and the legacy
// set have no flag left.
func isGarbage(h *Header) bool {
	return h.flags&(flagCollecting|flagReachable) == flagCollecting
}

// markReachable marks with flagReachable every object of objs that is
// referenced from outside the set (refs > 0), and everything in the set
// reachable from those. This is the free-threaded collector's
// mark_reachable (CPython's default build gets the same result from
// move_unreachable, walking its list): an explicit stack, so the depth of
// the graph never becomes the depth of the Go stack.
func (c *Collector) markReachable(env Env, objs []*Header) {
	stack := c.stack[:0]
	depth := 0
	for _, h := range objs {
		if h.refs == 0 || h.flags&flagReachable != 0 {
			continue
		}
		h.flags |= flagReachable
		stack = append(stack, h)
		for len(stack) > 0 {
			depth = max(depth, len(stack))
			x := stack[len(stack)-1]
			stack[len(stack)-1] = nil // pin nothing
			stack = stack[:len(stack)-1]
			c.stack = stack
			env.Traverse(x, c.visitMarkFn)
			stack = c.stack
		}
	}
	c.stack = keep(stack, depth)
}

func (c *Collector) visitMark(r *Header) {
	if r.flags&(flagCollecting|flagReachable) == flagCollecting {
		r.flags |= flagReachable
		c.stack = append(c.stack, r)
	}
}

// visitMove is CPython's visit_move for move_legacy_finalizer_reachable: an
// unreachable object reached from the legacy set joins it.
func (c *Collector) visitMove(r *Header) {
	if r.flags&flagUnreachable != 0 {
		r.flags &^= scratchFlags
		MoveTo(r, &c.finalizers)
	}
}

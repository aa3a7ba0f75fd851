package gc

import (
	"fmt"
	"math"
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
	return c.collectCounted(env, gen, true)
}

// CollectAtShutdown is the full collection of a runtime's shutdown
// (CPython's _Py_GC_REASON_SHUTDOWN, _PyGC_CollectNoFail): Collect(env,
// 2) without the callbacks, which the program's shutdown no longer
// expects to run.
func (c *Collector) CollectAtShutdown(env Env) (collected, uncollectable int) {
	return c.collectCounted(env, NumGenerations-1, false)
}

// collectCounted is Collect, with the callbacks or without.
func (c *Collector) collectCounted(env Env, gen int, callbacks bool) (collected, uncollectable int) {
	if gen < 0 || gen >= NumGenerations {
		panic(fmt.Sprintf("gc: Collect of invalid generation %d", gen))
	}
	if !c.collecting.CompareAndSwap(false, true) {
		return 0, 0
	}
	defer c.collecting.Store(false)

	if callbacks {
		c.invokeCallbacks(PhaseStart, Info{Generation: gen})
	}
	collected, uncollectable = c.collect(env, gen)

	c.mu.Lock()
	s := &c.stats[gen]
	s.Collections++
	s.Collected += collected
	s.Uncollectable += uncollectable
	c.mu.Unlock()

	if callbacks {
		c.invokeCallbacks(PhaseStop, Info{Generation: gen, Collected: collected, Uncollectable: uncollectable})
	}
	return collected, uncollectable
}

// collect is gc_collect_main without the callbacks and statistics. The
// step numbers are those of the package documentation.
func (c *Collector) collect(env Env, gen int) (m, n int) {
	old := &c.gens[min(gen+1, NumGenerations-1)]
	unreachable := &c.unreachable
	c.env = env
	defer func() { c.env = nil }()

	// ---- Pause 1: find the unreachable objects. ----
	env.StopTheWorld()
	env.GatherYoung(&c.gens[0])

	c.nextEpoch()

	// Step 1: counts.
	if gen+1 < NumGenerations {
		c.count[gen+1].Add(1)
	}
	for g := 0; g <= gen; g++ {
		c.count[g].Store(0)
	}

	// Step 2: update_refs and subtract_refs, in the one walk of the lists
	// of generations gen, 0, ..., gen-1; the set is recorded in objs, which
	// every later step walks instead of a list (step 4 rebuilds the lists
	// from it, which also merges the younger generations). Every
	// traverseBatch objects walked, their referents are subtracted; c.zeros
	// counts the objects whose refs reach zero, for step 3.
	c.members = [NumGenerations]*List{}
	for g := 0; g <= gen; g++ {
		c.members[g] = &c.gens[g]
	}
	c.zeros = 0
	objs, traits := c.walk(env, gen)
	c.members = [NumGenerations]*List{}
	if invariants.Enabled {
		checkRefs(objs)
	}

	anyLegacy := traits&TraitLegacy != 0

	// Step 3: mark what is reachable from outside the set.
	mark := c.markReachable(env, objs, c.zeros)
	if mark == markedAll && traits&TraitUntrackable == 0 {
		// Steps 4-5 when everything survives and nothing may be
		// untracked: the set is promoted without being visited again.
		// Its members keep this collection's epoch, which no later
		// collection has, and no other flag but closed, which only the
		// collection that set it reads.
		c.promoteAll(env, gen, old, objs)
		return 0, 0
	}

	// Step 4: survivors stay (untracked if they may be: untrack_tuples,
	// oldest first), the rest moves to the unreachable list; objs keeps
	// the unreachable objects only. When no object of the set has a legacy
	// finalizer (the common case), the unreachable set is final here and
	// steps 7-8 are done in the same pass. objs holds every member of
	// generations 0..gen, so their lists are rebuilt from it rather than
	// relinked one object at a time: each object is written once and its
	// neighbours are not touched. Survivors are appended to the old
	// generation (step 5: promotion; when gen is 2 that is the list being
	// rebuilt).
	toFinalize := c.toFinalize[:0]
	cbs := c.cbs[:0]
	for g := 0; g <= gen; g++ {
		c.gens[g].reset()
	}
	survivors := 0
	otail := old.head.prev
	utail := &unreachable.head
	k, unheld := 0, 0
	open := 0 // unreachable objects not flagged closed (see discardGarbage)
	for _, h := range objs {
		if mark.reachable(h) {
			h.flags &^= scratchFlags
			if env.Untrackable(h) {
				h.prev, h.next, h.list = nil, nil, nil
				env.Untracked(h)
				continue
			}
			h.list = old
			h.prev = otail
			otail.next = h
			otail = h
			survivors++
			continue
		}
		h.flags |= flagUnreachable // set already unless markedNone
		if h.flags&flagClosed == 0 {
			open++
		}
		h.list = unreachable
		h.prev = utail
		utail.next = h
		utail = h
		objs[k] = h
		k++
		if !anyLegacy && k-unheld == traverseBatch {
			toFinalize, cbs = env.Hold(objs[unheld:k], c.isGarbageFn, toFinalize, cbs)
			unheld = k
		}
	}
	if !anyLegacy && k > unheld {
		toFinalize, cbs = env.Hold(objs[unheld:k], c.isGarbageFn, toFinalize, cbs)
	}
	otail.next = &old.head
	old.head.prev = otail
	old.n += survivors
	utail.next = &unreachable.head
	unreachable.head.prev = utail
	unreachable.n = k
	clear(objs[k:])
	held := objs[:k]

	// Step 5: promote the survivors (linked into old above).
	c.countSurvivors(gen, survivors)

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
			c.one[0] = h
			for _, r := range c.referents(env, c.one[:]) {
				c.visitMove(r) // the list grows while we walk it
			}
		}
		c.one[0] = nil
		held = slices.DeleteFunc(held, func(h *Header) bool { return h.list != unreachable })
		// Steps 7-8 for what remains.
		for i := 0; i < len(held); i += traverseBatch {
			toFinalize, cbs = env.Hold(held[i:min(i+traverseBatch, len(held))], c.isGarbageFn, toFinalize, cbs)
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
		zeros := 0 // members of set with refs 0
		for _, h := range held {
			if h.list != unreachable {
				// A finalizer untracked it: out of the set; it is only
				// released with the others below.
				h.flags &^= scratchFlags
				continue
			}
			h.flags &^= flagUnreachable // markReachable sets it again
			if invariants.Enabled && h.flags&(epochMask|flagReachable) != c.epochBits {
				panic("gc: unreachable object with wrong flags in the resurrection check")
			}
			rc := env.RefCount(h)
			if invariants.Enabled && rc < 1 {
				panic(fmt.Sprintf("gc: held object with reference count %d", rc))
			}
			h.setRefs(rc - 1) // the hold is not a reference
			if h.refs == 0 {
				zeros++
			}
			set = append(set, h)
		}
		for i := 0; i < len(set); i += traverseBatch {
			for _, r := range c.referents(env, set[i:min(i+traverseBatch, len(set))]) {
				if r.flags&epochMask == c.epochBits {
					r.refs--
					if r.refs == 0 {
						zeros++
					}
				}
			}
		}
		if invariants.Enabled {
			checkRefs(set)
		}
		mark := c.markReachable(env, set, zeros)
		k := 0
		for _, h := range set {
			if mark.reachable(h) {
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

	// ---- World running. Step 13: break the cycles (delete_garbage:
	// delete.go). ----
	m = unreachable.Len()
	if mark == markedNone && !anyLegacy && !resurrectionCheck && traits&TraitUnclearable == 0 {
		c.discardGarbage(env, held, open)
	} else {
		c.clearGarbage(env, garbage, held, resurrectionCheck)
	}
	// What survived (an object that Clear could not break free, kept
	// alive by another that survived) stays tracked in the old generation.
	if !unreachable.Empty() {
		old.Mu.Lock()
		old.Splice(unreachable)
		old.Mu.Unlock()
	}
	c.objs = keep(objs, len(objs))
	c.releaseRefs()

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

// promoteAll is steps 4 and 5 when every object of the set objs (the
// members of generations 0..gen, in the order gen, 0, ..., gen-1) survives
// and none may be untracked: the generations are appended to old in that
// order, as the partition would rebuild them, without looking at an
// object of a generation that is already old (the whole heap, at a full
// collection of a live heap). The world is restarted; there is no garbage.
func (c *Collector) promoteAll(env Env, gen int, old *List, objs []*Header) {
	skip := 0
	if old == &c.gens[gen] {
		skip = old.Len()
	}
	for _, h := range objs[skip:] {
		h.list = old
	}
	old.adopt(&c.gens[gen])
	for g := 0; g < gen; g++ {
		old.adopt(&c.gens[g])
	}
	c.countSurvivors(gen, len(objs))
	clear(objs)
	c.objs = keep(objs, len(objs))
	c.members = [NumGenerations]*List{}
	env.StartTheWorld()
	c.releaseRefs()
}

// nextEpoch starts a collection's epoch (world stopped, young objects
// gathered). When the epochs run out, every tracked object's epoch is
// cleared first (an untracked one has none: see Unlink), so that none
// carries the epoch about to be reused.
func (c *Collector) nextEpoch() {
	if c.epoch == maxEpoch {
		for g := range c.gens {
			l := &c.gens[g]
			for h := l.Front(); h != nil; h = l.Next(h) {
				h.flags &^= scratchFlags
			}
		}
		c.epoch = 0
	}
	c.epoch++
	c.epochBits = c.epoch << epochShift
}

// walk is step 2's walk of the lists of generations gen, 0, ..., gen-1. It
// returns the set, in that order, and what Subtract reported of it.
func (c *Collector) walk(env Env, gen int) (objs []*Header, traits Traits) {
	objs = c.objs[:0]
	c.sub = Subtraction{c: c, ep: c.epochBits}
	for g := gen; ; g = (g + 1) % (gen + 1) {
		l := &c.gens[g]
		objs = slices.Grow(objs, l.Len())
		for h := l.Front(); h != nil; {
			start := len(objs)
			objs, h = walkBatch(l, h, objs)
			objs = c.initBatch(env, objs, start)
			traits |= env.Subtract(objs[start:], &c.sub)
		}
		if g == gen-1 || gen == 0 {
			break
		}
	}
	c.zeros += c.sub.zeros
	return objs, traits
}

// walkBatch appends to objs up to traverseBatch members of l from h on and
// returns the extended objs and the member after them (nil at the end).
// A member gathered from a young list (generation 0 only) is relabeled
// here rather than in a walk of its own.
func walkBatch(l *List, h *Header, objs []*Header) ([]*Header, *Header) {
	for n := 0; h != nil && n < traverseBatch; n++ {
		if h.list != l {
			h.list = l
		}
		objs = append(objs, h)
		h = l.Next(h)
	}
	return objs, h
}

// initBatch starts the count of each object of objs[start:], the batch the
// walk just reached, with one Env.RefCounts for the whole batch: refs =
// the reference count for an object not in the set yet, refs += it for one
// an object before it referred to (flagPending: refs is minus the
// references subtracted so far; see Subtraction). Either way h joins the
// set with refs final but for the references still to be subtracted, and
// is counted in c.zeros if that is zero: a pending object's refs was
// negative until now, so no visit counted it. One that is being destroyed
// (count -1) stays out of the set: it is unlinked, handed to Dying and
// dropped from objs, which initBatch returns. Only the walk can meet such
// an object (nothing refers to it); a pending one panics.
//
// One call per batch replaces an interface call per object (from here, or
// from visit for an object reached as a referent first, half the objects
// of a live heap), and lets the runtime choose how to read a count once
// per batch: B11's collection runs about 43 fewer instructions per object.
func (c *Collector) initBatch(env Env, objs []*Header, start int) []*Header {
	hs := objs[start:]
	rcs := c.rcs[:len(hs)]
	env.RefCounts(hs, rcs)
	ep := c.epochBits
	zeros := 0
	dying := false
	for i, h := range hs {
		rc := rcs[i]
		f := h.flags
		if invariants.Enabled && (f&epochMask == ep) != (f&flagPending != 0) {
			panic("gc: object of the set reached by the walk with its count started")
		}
		if rc < 0 {
			if invariants.Enabled && rc != -1 {
				panic(fmt.Sprintf("gc: tracked object with reference count %d seen by the collector", rc))
			}
			if f&flagPending != 0 {
				panic("gc: Env.Subtract reported an object that is being destroyed")
			}
			dying = true // stays out of the set
			continue
		}
		// Zero is allowed: an object whose last reference the runtime's
		// pause dropped (a merged queued count) is left to the collection
		// as garbage (see Env.RefCount).
		var refs int32 // minus what was subtracted while pending
		if f&flagPending != 0 {
			refs = h.refs
		}
		refs += int32(min(rc, math.MaxInt32)) // saturating, as setRefs
		h.refs = refs
		h.flags = f&^scratchFlags | ep
		if refs == 0 {
			zeros++
		}
	}
	c.zeros += zeros
	if !dying {
		return objs
	}
	k := start
	for _, h := range hs {
		if h.flags&epochMask != ep {
			Unlink(h)
			env.Dying(h)
			continue
		}
		objs[k] = h
		k++
	}
	clear(objs[k:])
	return objs[:k]
}

// traverseBatch is how many objects the collector gives Env.Subtract and
// Env.Referents at a time: enough for their referents' cache misses to
// overlap, few enough that the referents of a batch stay in the caches
// while it works through them.
const traverseBatch = 32

// referents returns the referents of hs (Env.Referents) in the reusable
// buffer c.refs, which holds only the last batch's.
func (c *Collector) referents(env Env, hs []*Header) []*Header {
	c.refs = env.Referents(hs, c.refs[:0])
	c.refsUsed = max(c.refsUsed, len(c.refs))
	return c.refs
}

// releaseRefs empties the referents buffer so that it pins nothing, and
// keeps it unless it is much bigger than this collection needed.
func (c *Collector) releaseRefs() {
	r := c.refs[:c.refsUsed]
	clear(r)
	c.refs = keep(r[:0], c.refsUsed)
	c.refsUsed = 0
	b := c.batch[:cap(c.batch)]
	clear(b)
	c.batch = b[:0]
}

// Subtraction is visit_decref for the first pause, done by Env.Subtract
// as it traverses a batch (see walk): each reference goes straight from
// the object that holds it to its referent's count, instead of being
// written to a buffer that the collector reads back. Membership of the set
// is known from the list an object is on (one of members: the generation
// collected, or a younger one), so an object joins the set when the walk
// reaches it or when an object before it refers to it, whichever comes
// first. Its count is read only when the walk reaches it (initBatch, a
// batch at a time): one that joins as a referent is flagged pending, with
// refs 0 less the references subtracted, until then. When the walk ends
// every object of the set has the collection's epoch, no pending flag,
// and refs = the number of references from outside. A member gathered
// from a young list may still name it (see List.Gather) until the walk
// reaches it.
type Subtraction struct {
	c     *Collector
	ep    uint32 // the collection's epochBits
	zeros int    // counts that Visit brought to zero (walk adds them to c.zeros)
}

// Visit subtracts a reference to r, the Header of a container that an
// object of the batch refers to (tracked or not), and reports whether r is
// in the set; false means that the reference leads out of it, so the
// object that holds it is not closed. It is small enough to be inlined in
// the runtime's traversal, at each reference: the epoch says "in the set"
// at once for most referents, and most counts do not reach zero; the
// others (a referent that joins the set now, one out of the set, a count
// that reaches zero and must be counted) are left to visit, out of line.
// The count of 1 goes there too, rather than a test after the decrement,
// which would not fit the compiler's inlining budget. A pending referent
// takes the inline path: its refs is negative, never 1.
func (s *Subtraction) Visit(r *Header) bool {
	if r.flags&epochMask == s.ep && r.refs != 1 {
		r.refs--
		return true
	}
	return s.visit(r)
}

// visit is Visit for a count that reaches zero, or a referent without the
// collection's epoch: one on a member list joins the set, pending (its
// count is read when the walk reaches it: initBatch), with refs -1 for the
// reference subtracted. A pending object's refs stays negative until
// initBatch adds its count, so it never reaches zero here: initBatch
// counts it if it is zero then.
func (s *Subtraction) visit(r *Header) bool {
	if r.flags&epochMask != s.ep {
		c := s.c
		if l := r.list; l == nil || (l != c.members[0] && l != c.members[1] && l != c.members[2] && !l.young) {
			return false
		}
		r.flags = r.flags&^scratchFlags | s.ep | flagPending
		r.refs = -1
		return true
	}
	r.refs--
	if r.refs == 0 {
		s.zeros++
	}
	return true
}

// Close flags closed h, an object of the batch given to Env.Subtract whose
// references all lead into the set (or to immortal objects): if the whole
// set turns out to be garbage, clearing it need not count them down
// (Env.Free).
func (s *Subtraction) Close(h *Header) { h.flags |= flagClosed }

func checkRefs(objs []*Header) {
	for _, h := range objs {
		if h.refs < 0 {
			panic("gc: Referents reported more references to an object than RefCount counts")
		}
	}
}

// isGarbage tells ClearWeakrefs whether a weak reference is itself in the
// unreachable set. It is right at any time after the mark of the first
// pause: a member of the set that was not marked reachable is unreachable,
// whether or not the partition has reached it yet; survivors and the legacy
// set have no flag left.
func (c *Collector) isGarbage(h *Header) bool {
	return h.flags&(epochMask|flagReachable) == c.epochBits
}

// markReachable finds what is reachable in objs: every object referenced
// from outside the set (refs > 0), and everything in the set reachable
// from those. zeros is the number of objects of objs with refs 0 (the
// subtraction counts them as their counts reach zero). objs must carry no
// flag but the collection's epoch (and flagFinalized).
//
// When zeros is 0, every object is referenced from outside: all of objs is
// reachable; when it is len(objs), none is, and nothing is reachable from
// outside: all of objs is unreachable. Either way markReachable traverses
// nothing, sets no flag and says so (markedAll, markedNone). Otherwise it
// flags the reachable objects flagReachable and the others
// flagUnreachable (markedFlags).
//
// It walks objs in order with a cursor, as CPython's move_unreachable walks
// its list: an object that is already marked, or has refs > 0, is marked
// and traversed when the cursor reaches it; any other is passed and
// flagged unreachable, tentatively. A visit marks the set members it
// reaches: one the cursor has not reached yet is only marked (the cursor
// traverses it when it gets there); one already passed loses its
// unreachable flag and is traversed at once, through an explicit work list
// (the free-threaded collector's mark_reachable), so the depth of the graph
// never becomes the depth of the Go stack. Every reachable object is
// traversed at most once, and in the common case (objects reached before
// the cursor passes them) in the order of objs, which is the order they
// were allocated in, rather than in a depth-first order that jumps across
// the heap and misses the caches at every step. The cursor takes
// traverseBatch objects at a time, and the work list is drained in batches
// too (Env.Referents).
//
// The mark also counts down the objects with refs 0 that are not marked
// yet. Once none is left, every object not marked yet has refs > 0, so
// everything is reachable: the rest of objs is flagged without being
// traversed. A live heap held from outside (each object referenced by
// something outside the set, or everything hanging from one root met
// early) is thus marked without a second traversal.
func (c *Collector) markReachable(env Env, objs []*Header, zeros int) marked {
	switch zeros {
	case 0:
		return markedAll
	case len(objs):
		return markedNone
	}
	stack := c.stack[:0]
	batch := c.batch[:0]
	depth := 0
	ep := c.epochBits
	i := 0
	for i < len(objs) && zeros > 0 {
		batch = batch[:0]
		for ; i < len(objs) && len(batch) < traverseBatch; i++ {
			h := objs[i]
			if h.flags&flagReachable == 0 {
				if h.refs == 0 {
					h.flags |= flagUnreachable // until a visit finds it
					continue
				}
				h.flags |= flagReachable
			}
			batch = append(batch, h)
		}
		for len(batch) > 0 && zeros > 0 {
			for _, r := range c.referents(env, batch) {
				f := r.flags
				if f&epochMask != ep {
					continue // not in the set
				}
				switch f & (flagReachable | flagUnreachable) {
				case 0: // ahead of the cursor: traversed there
					r.flags |= flagReachable
					if r.refs == 0 {
						zeros--
					}
				case flagUnreachable: // passed: traverse it now
					r.flags ^= flagUnreachable | flagReachable
					zeros--
					stack = append(stack, r)
				}
			}
			depth = max(depth, len(stack))
			batch = batch[:0]
			for len(stack) > 0 && len(batch) < traverseBatch {
				x := stack[len(stack)-1]
				stack[len(stack)-1] = nil // pin nothing
				stack = stack[:len(stack)-1]
				batch = append(batch, x)
			}
		}
	}
	if zeros == 0 {
		// Everything left is reachable: what is on the work list was
		// marked already, the rest of objs has refs > 0 or was marked.
		clear(stack)
		stack = stack[:0]
		for _, h := range objs[i:] {
			h.flags |= flagReachable
		}
	}
	clear(batch)
	c.batch = batch[:0]
	c.stack = keep(stack, depth)
	return markedFlags
}

// marked is what markReachable found.
type marked uint8

const (
	markedFlags marked = iota // flagReachable or flagUnreachable on each object
	markedAll                 // everything reachable; no flag set
	markedNone                // nothing reachable; no flag set
)

// reachable reports whether h, a member of the set given to markReachable,
// was found reachable.
func (m marked) reachable(h *Header) bool {
	switch m {
	case markedAll:
		return true
	case markedNone:
		return false
	}
	return h.flags&flagReachable != 0
}

// visitMove is CPython's visit_move for move_legacy_finalizer_reachable: an
// unreachable object reached from the legacy set joins it.
func (c *Collector) visitMove(r *Header) {
	if r.flags&flagUnreachable != 0 {
		r.flags &^= scratchFlags
		MoveTo(r, &c.finalizers)
	}
}

// countSurvivors keeps the figures of the 25% rule for a full collection:
// survivors of the middle generation await their first full collection;
// a full collection's survivors are the long-lived ones.
func (c *Collector) countSurvivors(gen, survivors int) {
	switch gen {
	case NumGenerations - 2:
		c.longLivedPending.Add(int64(survivors))
	case NumGenerations - 1:
		c.longLivedPending.Store(0)
		c.longLivedTotal.Store(int64(survivors))
	}
}

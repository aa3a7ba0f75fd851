package runtime

import (
	"github.com/nogil-lab/nogil/biasedrc"
	"github.com/nogil-lab/nogil/gc"
	"github.com/nogil-lab/nogil/internal/invariants"
	"github.com/nogil-lab/nogil/internal/prefetch"
)

// The collector's part of the API, and the gc.Env that lets package gc
// reach this runtime's objects and threads.

// GenStats, Phase and Info describe collections (gc.get_stats, gc.callbacks).
type (
	GenStats = gc.GenStats
	Phase    = gc.Phase
	Info     = gc.Info
)

// The phases a collection callback is called with.
const (
	PhaseStart = gc.PhaseStart
	PhaseStop  = gc.PhaseStop
)

// GC is a runtime's collector, like Python's gc module.
type GC struct{ rt *Runtime }

// GC returns the runtime's collector.
func (rt *Runtime) GC() *GC { return &rt.gcAPI }

// Enable turns automatic collection on.
func (g *GC) Enable() { g.rt.collector.Enable() }

// Disable turns automatic collection off; Collect still works.
func (g *GC) Disable() { g.rt.collector.Disable() }

// IsEnabled reports whether automatic collection is on.
func (g *GC) IsEnabled() bool { return g.rt.collector.IsEnabled() }

// SetThreshold sets the collection thresholds; a negative one gives
// ErrValue. A first threshold of zero turns automatic collection off.
func (g *GC) SetThreshold(t0, t1, t2 int) error {
	if t0 < 0 || t1 < 0 || t2 < 0 {
		return errorf(ErrValue, "thresholds must not be negative: (%d, %d, %d)", t0, t1, t2)
	}
	if err := g.rt.collector.SetThreshold(t0, t1, t2); err != nil {
		return errorf(ErrValue, "%v", err)
	}
	return nil
}

// Threshold returns the collection thresholds.
func (g *GC) Threshold() (t0, t1, t2 int) { return g.rt.collector.Threshold() }

// Count returns the collection counts (gc.get_count). The first figure
// includes what every thread has allocated and freed
// since its last safe point, which it gives the collector in batches:
// read without stopping the threads, so that an allocation shows at once,
// as in CPython (whose free-threaded get_count flushes the caller's
// batch). A thread's batch that nets below zero lowers it, never below
// zero.
func (g *GC) Count() (c0, c1, c2 int) {
	c0, c1, c2 = g.rt.collector.Count()
	rt := g.rt
	rt.worldMu.Lock()
	for _, th := range rt.threads {
		c0 += int(th.gcDelta.get())
	}
	rt.worldMu.Unlock()
	return max(c0, 0), c1, c2
}

// Stats returns the per-generation statistics.
func (g *GC) Stats() [3]GenStats { return g.rt.collector.Stats() }

// FreezeCount returns the number of objects in the permanent generation.
func (g *GC) FreezeCount() int { return g.rt.collector.FreezeCount() }

// IsTracked reports whether the collector tracks o.
func (g *GC) IsTracked(o *Object) bool {
	if o != nil && o.typ.kind == kindFreed {
		misuse("use after free of a %s object", o.typ.name)
	}
	if o == nil || o.typ.rt != g.rt {
		misuse("IsTracked of an object of another runtime")
	}
	return o.typ.kind.container() && asContainer(o).gc.IsTracked()
}

// Garbage returns the list of uncollectable objects (gc.garbage). The list
// is immortal; clear it with ListPop.
func (g *GC) Garbage() *Object { return g.rt.garbage }

// AddCallback registers fn to run at the start and stop of every
// collection (gc.callbacks) and returns the function that removes it.
func (g *GC) AddCallback(fn func(phase Phase, info Info)) (remove func()) {
	if fn == nil {
		misuse("AddCallback with a nil function")
	}
	return g.rt.collector.AddCallback(fn)
}

// Collect runs a collection of generation (0, 1 or 2) and every younger one
// and returns the number of unreachable objects found.
func (th *Thread) Collect(generation int) (int, error) {
	th.mustBeAttached()
	if generation < 0 || generation >= gc.NumGenerations {
		return 0, errorf(ErrValue, "invalid generation %d", generation)
	}
	return th.collectGeneration(generation), nil
}

func (th *Thread) collectGeneration(g int) int { return th.collectFor(g, false) }

// collectFor collects generation g, or, at shutdown (Runtime.Close), the
// oldest without the callbacks (gc.Collector.CollectAtShutdown).
func (th *Thread) collectFor(g int, shutdown bool) int {
	if th.collecting {
		return 0
	}
	th.collecting = true
	defer func() { th.collecting = false }()
	th.safePoint()
	full := g == gc.NumGenerations-1
	env := &collectEnv{th: th, strategy: th.rt.strategy, full: full}
	var collected, uncollectable int
	if shutdown {
		collected, uncollectable = th.rt.collector.CollectAtShutdown(env)
	} else {
		collected, uncollectable = th.rt.collector.Collect(env, g)
	}
	if full && th.rt.mode == GIL {
		// CPython's gc_collect_main clears the free lists at the end of
		// a collection of the oldest generation (free-threaded mode does
		// it in the pause: GatherYoung).
		th.rt.freeLists.clear(th)
	}
	th.rt.gcDoneMu.Lock()
	th.rt.gcDone.Broadcast()
	th.rt.gcDoneMu.Unlock()
	// The collection's frees were counted on this thread; give them to the
	// collector now, where they fall on the count the collection zeroed
	// (CPython decrements only while it is positive), not later, where
	// they would cancel the allocations made after the collection.
	th.flushGCCount()
	return collected + uncollectable
}

// Freeze moves every tracked object to the permanent generation (gc.freeze).
func (th *Thread) Freeze() {
	th.mustBeAttached()
	th.safePoint()
	th.rt.collector.Freeze(&collectEnv{th: th, strategy: th.rt.strategy})
}

// Unfreeze moves the permanent generation back to the oldest one.
func (th *Thread) Unfreeze() {
	th.mustBeAttached()
	th.rt.collector.Unfreeze(&collectEnv{th: th, strategy: th.rt.strategy})
}

// collectEnv is the gc.Env of one collection, bound to the collecting
// thread.
type collectEnv struct {
	th *Thread
	// strategy is the runtime's, for RefCount without two loads through th.
	strategy biasedrc.Strategy
	// full: a collection of the oldest generation, which empties the free
	// lists.
	full bool
	// deadInPause are objects whose queued counts merged to zero while the
	// world was stopped; they are freed once it runs again.
	deadInPause []*Object
	// pauseHeld are the tracked containers among them: they stay tracked,
	// with a reference of ours that RefCount does not count, so that the
	// collection sees them as the garbage they are (count 0) and their
	// references as internal — CPython's free-threaded merge_queued_objects
	// leaves them to the collector "as if they were cyclic trash". Our
	// reference is dropped when the world runs again (after the collector
	// took its hold on the garbage).
	pauseHeld map[*Object]struct{}
	// drop is the scratch buffer of Clear.
	drop []*Object
}

func (e *collectEnv) StopTheWorld() { e.th.stopTheWorld() }

func (e *collectEnv) StartTheWorld() {
	e.th.startTheWorld()
	dead := e.deadInPause
	e.deadInPause = nil
	held := e.pauseHeld
	e.pauseHeld = nil
	for _, o := range dead {
		if _, ok := held[o]; ok {
			e.th.decref(o) // frees it unless the collector holds it
			continue
		}
		e.th.trash = append(e.th.trash, o)
	}
	if len(dead) > 0 && e.th.freeState != freeing {
		e.th.free(nil)
	}
}

// GatherYoung moves every free-threaded thread's generation 0 onto the
// shared one, after unlinking the objects other threads freed and merging
// every queued reference count so the counts the collector reads are true.
// The merges come first: one may unlink an object from a young list, which
// must still be the list the object names. The lists move in constant time
// (gc.List.Gather); the collector's walk of generation 0 relabels their
// members and, through RefCount and Dying, sets aside those being
// destroyed.
func (e *collectEnv) GatherYoung(gen0 *gc.List) {
	rt := e.th.rt
	if rt.mode == GIL {
		return
	}
	rt.worldMu.Lock()
	threads := rt.threads
	orphans := rt.orphans
	rt.orphans = nil
	for _, t := range threads {
		t.young.drainRemote(e.th)
		if t.queue != nil {
			t.stats.countMerges(t.queue.DrainWith(e.mergeInPause))
		}
		// What a parked thread queued and has not handed over yet.
		t.stats.countMerges(t.brcBatch.DrainWith(e.mergeInPause))
	}
	for _, y := range orphans {
		y.drainRemote(e.th)
	}
	for _, t := range threads {
		gen0.Gather(&t.young.list)
		if e.full {
			// Every thread's free lists, while no thread can allocate
			// from them (CPython's free-threaded collector does this in
			// its second pause, which ours takes only after finalizers).
			t.freeLists.clear(e.th)
		}
	}
	for _, y := range orphans {
		gen0.Gather(&y.list)
	}
	rt.worldMu.Unlock()
}

// Dying puts a young object that a thread is destroying (RefCount -1) on
// the dying list, out of the collections' way, until its destroyer
// unlinks it (see Thread.untrack).
func (e *collectEnv) Dying(h *gc.Header) {
	e.th.rt.dyingList.PushBack(h)
}

// mergeInPause merges a queued count while the world is stopped; an object
// that dies is taken off the collector's lists at once and freed when the
// world runs again, since freeing may run user code.
func (e *collectEnv) mergeInPause(o *Object) {
	_, out := o.rc.Merge(-1)
	switch out {
	case biasedrc.Dead:
		if o.typ.kind.container() {
			if h := &asContainer(o).gc; h.IsTracked() {
				if o.typ.legacyDel == nil {
					// Garbage for the collection (see pauseHeld); an object
					// with a LegacyDel dies by reference count instead,
					// running it, as the API promises.
					o.rc.Merge(1)
					if e.pauseHeld == nil {
						e.pauseHeld = make(map[*Object]struct{})
					}
					e.pauseHeld[o] = struct{}{}
					e.deadInPause = append(e.deadInPause, o)
					return
				}
				gc.Unlink(h)
			}
		}
		e.deadInPause = append(e.deadInPause, o)
	case biasedrc.Underflow:
		misuse("reference count of a %s object went below zero", o.typ.name)
	}
}

// RefCount returns the true count; -1 for an object with no references
// that is not one of pauseHeld: a thread is destroying it, and may not
// unlink it from a young list (see Thread.untrack). Only objects on young
// lists can be in that state when a pause starts.
func (e *collectEnv) RefCount(h *gc.Header) int64 {
	o := fromGC(h)
	rc := o.rc.Value(e.strategy)
	if e.pauseHeld != nil {
		if _, ok := e.pauseHeld[o]; ok {
			return rc - 1 // our reference is not one (see pauseHeld)
		}
	}
	return dyingIfZero(rc)
}

// RefCounts is RefCount for a batch of the collector's walk (see gc.Env).
// The strategy is looked at once, and each loop reads the counts with
// Value inlined for that strategy: no call and no switch per object.
// Zero (a thread is destroying the object) becomes -1 in the same loop;
// the objects of pauseHeld, whose count has our reference in it, are
// looked up only when there are any.
func (e *collectEnv) RefCounts(hs []*gc.Header, rcs []int64) {
	rcs = rcs[:len(hs)]
	switch e.strategy {
	case biasedrc.Plain:
		for i, h := range hs {
			rcs[i] = dyingIfZero(fromGC(h).rc.Value(biasedrc.Plain))
		}
	case biasedrc.Atomic:
		for i, h := range hs {
			rcs[i] = dyingIfZero(fromGC(h).rc.Value(biasedrc.Atomic))
		}
	default:
		for i, h := range hs {
			rcs[i] = dyingIfZero(fromGC(h).rc.Value(biasedrc.Biased))
		}
	}
	if e.pauseHeld != nil {
		for i, h := range hs {
			if _, ok := e.pauseHeld[fromGC(h)]; ok {
				rcs[i]-- // at least 1 with our reference, so not made -1 above
			}
		}
	}
}

// dyingIfZero is RefCount's -1 for a count of zero.
func dyingIfZero(rc int64) int64 {
	if rc == 0 {
		return -1
	}
	return rc
}

// Referents appends the tracked objects that the objects of hs reference
// (CPython's tp_traverse). It first has the processor start loading every
// object the batch refers to (prefetchReferents), so that their cache
// misses overlap — a collection of a big heap spends most of its time
// waiting for referents — and then looks at each. (Without any such first
// loop Referents runs a third fewer instructions, but B11 took 15% longer
// when the machine's memory was slow.)
func (e *collectEnv) Referents(hs []*gc.Header, buf []*gc.Header) []*gc.Header {
	prefetchReferents(hs)
	for _, h := range hs {
		o := fromGC(h)
		if kd := o.typ.kind; kd == kindInstance { // tested first: the switch's binary search would reach it last
			// Written out: a loop over the five slots cost twice the
			// instructions.
			inst := asInstance(o)
			used := o.typ.attrKeys.inline.Load()
			if used > 0 {
				if r := inst.values[0]; r != nil {
					buf = appendReferent(buf, r)
				}
				if used > 1 {
					if r := inst.values[1]; r != nil {
						buf = appendReferent(buf, r)
					}
					if used > 2 {
						if r := inst.values[2]; r != nil {
							buf = appendReferent(buf, r)
						}
						if used > 3 {
							if r := inst.values[3]; r != nil {
								buf = appendReferent(buf, r)
							}
							if used > 4 {
								if r := inst.values[4]; r != nil {
									buf = appendReferent(buf, r)
								}
							}
						}
					}
				}
			}
			if m := inst.more; m != nil {
				buf = m.appendReferents(buf)
			}
		} else {
			switch kd {
			case kindList:
				for _, r := range asList(o).itemSlice() {
					buf = appendReferent(buf, r)
				}
			case kindTuple:
				for _, r := range asTuple(o).items {
					buf = appendReferent(buf, r)
				}
			case kindDict:
				asDict(o).table.each(func(k, v *Object) {
					buf = appendReferent(buf, k)
					buf = appendReferent(buf, v)
				})
			}
		}
	}
	return buf
}

// Subtract is Referents for the collector's subtraction (see gc.Env): the
// same traversal, each reference to a container handed to s.Visit instead
// of appended to a buffer that the collector reads back. s.Visit is
// written out at each reference rather than called from a helper like
// appendReferent: with it inlined, no such helper fits the compiler's
// inlining budget, and a call per reference is what the batches are there
// to avoid. Only a reference that Visit reports out of the set is looked
// at again (leadsOut), and only until the object is found open. It also
// reports whether any object of hs has a LegacyDel (never
// TraitUntrackable: see Untrackable; never TraitUnclearable: Clear empties
// every container).
func (e *collectEnv) Subtract(hs []*gc.Header, s *gc.Subtraction) (traits gc.Traits) {
	prefetchReferents(hs)
	for _, h := range hs {
		o := fromGC(h)
		var open bool
		if kd := o.typ.kind; kd == kindInstance { // tested first: the switch's binary search would reach it last
			if o.typ.legacyDel != nil {
				traits = gc.TraitLegacy
			}
			inst := asInstance(o)
			used := o.typ.attrKeys.inline.Load()
			if used > 0 {
				if r := inst.values[0]; r != nil && !(r.typ.kind.container() && s.Visit(&asContainer(r).gc)) {
					open = open || leadsOut(r)
				}
				if used > 1 {
					if r := inst.values[1]; r != nil && !(r.typ.kind.container() && s.Visit(&asContainer(r).gc)) {
						open = open || leadsOut(r)
					}
					if used > 2 {
						if r := inst.values[2]; r != nil && !(r.typ.kind.container() && s.Visit(&asContainer(r).gc)) {
							open = open || leadsOut(r)
						}
						if used > 3 {
							if r := inst.values[3]; r != nil && !(r.typ.kind.container() && s.Visit(&asContainer(r).gc)) {
								open = open || leadsOut(r)
							}
							if used > 4 {
								if r := inst.values[4]; r != nil && !(r.typ.kind.container() && s.Visit(&asContainer(r).gc)) {
									open = open || leadsOut(r)
								}
							}
						}
					}
				}
			}
			if m := inst.more; m != nil {
				open = m.subtractReferents(s, open)
			}
		} else {
			switch kd {
			case kindList:
				for _, r := range asList(o).itemSlice() {
					if !(r.typ.kind.container() && s.Visit(&asContainer(r).gc)) {
						open = open || leadsOut(r)
					}
				}
			case kindTuple:
				for _, r := range asTuple(o).items {
					if !(r.typ.kind.container() && s.Visit(&asContainer(r).gc)) {
						open = open || leadsOut(r)
					}
				}
			case kindDict:
				asDict(o).table.each(func(k, v *Object) {
					if !(k.typ.kind.container() && s.Visit(&asContainer(k).gc)) {
						open = open || leadsOut(k)
					}
					if !(v.typ.kind.container() && s.Visit(&asContainer(v).gc)) {
						open = open || leadsOut(v)
					}
				})
			}
		}
		if !open {
			s.Close(h)
		}
	}
	return traits
}

// Referents, Subtract, prefetchReferents, takeAttrs and releaseAttrs write
// out the five inline attribute slots: this stops the build if inlineAttrs
// changes.
const _, _ = uint(inlineAttrs - 5), uint(5 - inlineAttrs)

// prefetchReferents has the processor start loading the first cache line
// of every object that the objects of hs refer to (its type, count and
// collector header: what Subtract's Visit and Referents read), and
// returns without waiting for them (internal/prefetch: PREFETCHT0 on
// amd64). The addresses are gathered into an array on the stack (no write
// barrier) and handed over a few dozen at a time; a list's or tuple's
// items are handed over as they are.
//
// It replaced plain loads of the same lines (touchReferents), which
// overlapped their misses too but could not retire before their lines
// came, while a prefetch retires at once, so the traversal that follows
// starts while the lines are on their way (the likely reason; this
// machine has no hardware counters to confirm it). It runs about 20 more
// instructions per object than the loads did, and B11 takes 12-17% less
// time (docs/benchmarks.md, eighth session). Prefetching the next batch's
// referents instead, one batch ahead, did no better.
func prefetchReferents(hs []*gc.Header) {
	var buf [128]*Object // four references per object of a batch of 32 (gc's traverseBatch)
	n := 0
	for _, h := range hs {
		o := fromGC(h)
		if kd := o.typ.kind; kd == kindInstance { // tested first: the switch's binary search would reach it last
			if n > len(buf)-inlineAttrs {
				prefetch.Lines(buf[:n])
				n = 0
			}
			inst := asInstance(o)
			used := o.typ.attrKeys.inline.Load()
			if used > 0 {
				if r := inst.values[0]; r != nil {
					buf[n] = r
					n++
				}
				if used > 1 {
					if r := inst.values[1]; r != nil {
						buf[n] = r
						n++
					}
					if used > 2 {
						if r := inst.values[2]; r != nil {
							buf[n] = r
							n++
						}
						if used > 3 {
							if r := inst.values[3]; r != nil {
								buf[n] = r
								n++
							}
							if used > 4 {
								if r := inst.values[4]; r != nil {
									buf[n] = r
									n++
								}
							}
						}
					}
				}
			}
		} else {
			switch kd {
			case kindList:
				prefetch.Lines(asList(o).itemSlice())
			case kindTuple:
				prefetch.Lines(asTuple(o).items)
			}
		}
	}
	prefetch.Lines(buf[:n])
}

// appendReferent appends r's header to buf if r is a tracked container.
func appendReferent(buf []*gc.Header, r *Object) []*gc.Header {
	if r.typ.kind.container() {
		if rh := &asContainer(r).gc; rh.IsTracked() {
			return append(buf, rh)
		}
	}
	return buf
}

// leadsOut reports whether r, a referent that Subtract's s.Visit did not
// find in the collector's set (or not a container), makes the object
// holding it open (see gc.Env.Subtract): a tracked container (out of the
// set), or anything else that is not immortal.
func leadsOut(r *Object) bool {
	if r.typ.kind.container() && asContainer(r).gc.IsTracked() {
		return true
	}
	return !r.rc.IsImmortal()
}

// Untrackable is never true here. CPython's collector untracks a tuple
// that holds only untracked objects (_PyTuple_MaybeUntrack) because C code
// may fill a tracked tuple after its birth; NewTuple knows every item at
// birth and leaves such a tuple untracked then (mayBeTracked), and a
// tracked tuple always holds, possibly through tracked tuples, a container
// other than a tuple, which counts as trackable for as long as it is held
// (as with _PyObject_GC_MAY_BE_TRACKED).
// So Subtract never reports TraitUntrackable and the collector does not ask.
func (e *collectEnv) Untrackable(*gc.Header) bool { return false }

func (e *collectEnv) Untracked(*gc.Header) {}

// Hold takes the collector's hold on a batch of unreachable objects (world
// stopped), notes those whose finalizer must run and clears the weak
// references to them.
func (e *collectEnv) Hold(hs []*gc.Header, isGarbage func(*gc.Header) bool, toFinalize, cbs []*gc.Header) ([]*gc.Header, []*gc.Header) {
	for _, h := range hs {
		o := fromGC(h)
		e.IncRef(h)
		if o.typ.kind == kindInstance {
			if o.typ.finalize != nil && !h.Finalized() {
				toFinalize = append(toFinalize, h)
			}
			if asInstance(o).weakrefs == nil {
				continue // the common case: no weak reference to clear
			}
		}
		cbs = e.ClearWeakrefs(h, isGarbage, cbs)
	}
	return toFinalize, cbs
}

func (e *collectEnv) HasLegacyFinalizer(h *gc.Header) bool {
	o := fromGC(h)
	return o.typ.kind == kindInstance && o.typ.legacyDel != nil
}

// ClearWeakrefs clears the weak references to an unreachable object (world
// stopped) and keeps, with a new reference, those whose callbacks must run.
func (e *collectEnv) ClearWeakrefs(h *gc.Header, isGarbage func(*gc.Header) bool, cbs []*gc.Header) []*gc.Header {
	o := fromGC(h)
	switch o.typ.kind {
	case kindWeakref:
		// A weak reference that is garbage itself never calls back.
		e.th.unlinkWeakref(asWeakref(o))
	case kindInstance:
		if asInstance(o).weakrefs == nil {
			// The world is stopped: nobody can be adding one, and the
			// common case costs no stripe lock.
			return cbs
		}
		e.th.detachWeakrefs(o,
			func(wr *weakrefObject) bool { return isGarbage(&wr.gc) },
			func(wr *weakrefObject) { cbs = append(cbs, &wr.gc) })
	}
	return cbs
}

func (e *collectEnv) RunWeakrefCallback(h *gc.Header) {
	wr := asWeakref(fromGC(h))
	wr.callback(e.th, &wr.Object)
}

func (e *collectEnv) Finalize(h *gc.Header) {
	o := fromGC(h)
	o.typ.finalize(e.th, o)
}

// Clear drops every reference the unreachable objects hs hold (tp_clear).
// The references of the whole batch are taken out first, then the objects
// they refer to are loaded together, so that their cache misses overlap,
// and only then dropped, in order: which may free objects and run user
// code. Nothing is copied but the references themselves, into a buffer
// kept for the collection.
//
// No object lock is taken: the collector hands Clear only garbage, which
// no other thread can reach (it was unreachable with the world stopped,
// its weak references are cleared, and what finalizers resurrected has
// left the set), and the stop-the-world handshake orders every earlier
// write to it before this.
func (e *collectEnv) Clear(hs []*gc.Header) {
	th := e.th
	drop := e.drop[:0]
	for _, h := range hs {
		o := fromGC(h)
		switch o.typ.kind {
		case kindTuple:
			t := asTuple(o)
			drop = append(drop, t.items...)
			t.items = nil
		case kindList:
			a := takeItems(asList(o))
			drop = append(drop, a...)
			th.freeItems(a)
		case kindDict:
			d := asDict(o)
			d.table.each(func(k, v *Object) { drop = append(drop, k, v) })
			th.freeTable(&d.table)
		case kindInstance:
			drop = asInstance(o).takeAttrs(drop)
		}
	}
	// Start loading what the drops will touch, so that the misses overlap
	// (as prefetchReferents does for the traversal).
	prefetch.Lines(drop)
	for i, r := range drop {
		drop[i] = nil
		th.decref(r)
	}
	e.drop = drop[:0]
}

// Free frees an object of the collector's garbage whatever its count
// says (see gc.Env): what it still refers to is dropped without being
// counted down — its item array, table or attribute storage given back —
// and it is then freed as destroy's end frees (finishFree). The collector
// has untracked it; no finalizer is due; the weak references to the
// garbage were cleared in the pause (nobody could make one since), so
// destroy's first steps, and the stripe lock that clearing weak
// references takes in free-threaded mode, are skipped.
func (e *collectEnv) Free(h *gc.Header) {
	th := e.th
	o := fromGC(h)
	t := o.typ
	if t.kind == kindFreed {
		misuse("double free of a %s object", t.name)
	}
	if invariants.Enabled && !freeableGarbage(o) {
		panic("runtime: the collector's Free of a tracked object, or of an instance with weak references or a finalizer due")
	}
	switch t.kind {
	case kindTuple:
		asTuple(o).items = nil
	case kindList:
		th.freeItems(takeItems(asList(o)))
	case kindDict:
		th.freeTable(&asDict(o).table)
	case kindInstance:
		asInstance(o).clearAttrs()
	case kindWeakref:
		th.unlinkWeakref(asWeakref(o))
	}
	th.finishFree(o, t)
}

// freeableGarbage checks what the collector promises of an object it
// hands Free (builds with invariants only).
func freeableGarbage(o *Object) bool {
	if asContainer(o).gc.IsTracked() {
		return false
	}
	if t := o.typ; t.kind == kindInstance {
		inst := asInstance(o)
		return inst.weakrefs == nil && t.legacyDel == nil && (t.finalize == nil || inst.gc.Finalized())
	}
	return true
}

// IncRef is the collector's hold, taken with the world stopped. Under
// biased counting, on an object another thread owns, it merges the owner's
// part first and takes the hold in the shared part (CPython's
// _Py_ExplicitMergeRefcount(op, 1)): the object is then unowned, so the
// collector's last DecRef frees it at once instead of queuing it to an
// owner that may stay detached indefinitely. The collecting thread's own
// objects keep the plain owner path.
func (e *collectEnv) IncRef(h *gc.Header) {
	o := fromGC(h)
	if e.th.rt.strategy == biasedrc.Biased && o.rc.Owner() != e.th.id {
		o.rc.Merge(1)
		return
	}
	e.th.incref(o)
}
func (e *collectEnv) DecRef(h *gc.Header) { e.th.decref(fromGC(h)) }

// AppendGarbage puts an uncollectable object into gc.garbage.
func (e *collectEnv) AppendGarbage(h *gc.Header) {
	_ = e.th.ListAppend(e.th.rt.garbage, fromGC(h))
}

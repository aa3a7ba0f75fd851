package runtime

import (
	"github.com/nogil-lab/nogil/biasedrc"
	"github.com/nogil-lab/nogil/gc"
)

// Deallocation. An object whose count reaches zero is pushed on the
// thread's trash work list; the outermost free drains it, so that freeing a
// chain of any length (each object's release dropping the next one's last
// reference) never recurses (CPython's trashcan, Py_TRASHCAN_BEGIN).
//
// An object is untracked the moment its count reaches zero (dying), before
// it waits on the work list. Then destroy, for one object:
//  1. instances with a PEP 442 Finalize that has not run: mark finalized,
//     resurrect temporarily (count one, owned by this thread), run it;
//     if the object is referenced again afterwards it lives on.
//  2. clear the weak references to it and run their callbacks.
//  3. instances with a LegacyDel: as in 1, every time they die; weak
//     references it made are then cleared without their callbacks
//     (CPython's subtype_dealloc: tp_finalize, weak references, tp_del).
//  4. drop the references it holds (pushing the containers that die on the
//     work list; scalars that die are freed at once), count the free and
//     give the slot back (poisoning the header in Debug mode, freeSlot).
//
// The program's code that steps 1-3 run (runUserCode) frees at once, as
// CPython's does: an object whose last reference a finalizer or a callback
// drops is destroyed, its own finalizer and callbacks run, before that
// code goes on. Each such level sets the outer free's work list aside;
// past maxUserFreeDepth levels the frees wait on the work list instead,
// as CPython's trashcan defers deallocations nested too deep.

// free frees o, whose count just reached zero.
// A nil o only drains objects already on the work list.
func (th *Thread) free(o *Object) {
	if o != nil {
		if t := o.typ; !t.kind.container() {
			th.freeScalar(o, t)
			return
		}
	}
	th.freeContainer(o)
}

// freeScalar frees a scalar (int, float, str) whose count reached zero. A
// scalar holds no references, has no finalizer and is never tracked:
// nothing can run or die because of its free, so it is freed at once, even
// in the middle of another free, without the work list. Scalars are
// builtin types, counted at their fixed index. Small enough to inline.
func (th *Thread) freeScalar(o *Object, t *Type) {
	th.stats.countBuiltinFree(t.index)
	th.freeSlot(o, t)
}

// freeState is what a thread's free does with a container whose count
// reaches zero.
type freeState uint8

const (
	// notFreeing: destroy it at once, and what that frees through the
	// work list (the outermost free).
	notFreeing freeState = iota
	// freeing: push it on the work list, which the outermost free drains.
	// A thread that is freeing neither parks at an allocation nor runs a
	// due collection.
	freeing
	// inUserCode: the program's code that a free runs (runUserCode):
	// destroy it at once, as when not freeing, unless it is an object
	// whose finalizer is running. That one waits on the work list, and
	// runFinalizer's drop of the reference it resurrected the object with
	// then reports the misuse (a finalizer dropped a reference to its
	// object that it did not own), as it did before frees ran at once.
	inUserCode
)

// freeContainer is free for a container (or nil): it destroys o, and what
// that frees, through the work list.
func (th *Thread) freeContainer(o *Object) {
	prev := th.freeState
	if prev != notFreeing && (prev == freeing || th.finalizing(o)) {
		if o != nil {
			th.dying(o)
			th.trash = append(th.trash, o)
		}
		return
	}
	if o != nil {
		if k := o.typ.kind; k >= kindTuple && k <= kindDict {
			// A tuple, a list or a dict runs no code of its own: its free
			// needs no deferred reset, which costs every other free (a
			// misuse found on the way, a count that underflows, resets
			// the state itself: dropRefSlow). What it releases goes on
			// the work list, drained below when there is any.
			th.freeState = freeing
			th.dying(o)
			th.dispose(o, o.typ)
			th.freeState = prev
			if len(th.trash) == 0 {
				return
			}
			o = nil
		}
	}
	th.freeState = freeing
	// A finalizer that panics (or a misuse found on the way) unwinds
	// through here: the thread must stay usable, and what is left on the
	// work list is freed by its next free.
	defer th.endFreeing(prev)
	if o != nil {
		// The outermost free destroys its object directly; only what that
		// releases goes through the work list.
		th.dying(o)
		th.destroy(o)
	}
	for n := len(th.trash); n > 0; n = len(th.trash) {
		o := th.trash[n-1]
		th.trash[n-1] = nil
		th.trash = th.trash[:n-1]
		th.destroy(o)
	}
}

func (th *Thread) endFreeing(prev freeState) { th.freeState = prev }

// popFinalizer takes the innermost object off the finalizers stack (also
// when its finalizer panics).
func (th *Thread) popFinalizer() {
	n := len(th.finalizers) - 1
	th.finalizers[n] = nil
	th.finalizers = th.finalizers[:n]
}

// finalizing reports whether o's finalizer is running on this thread.
func (th *Thread) finalizing(o *Object) bool {
	for _, f := range th.finalizers {
		if f == o {
			return true
		}
	}
	return false
}

// maxUserFreeDepth bounds how many frees run at once from within the
// program's code that another free runs (CPython's trashcan nests 50
// deallocations before it defers).
const maxUserFreeDepth = 50

// runUserCode runs fn, the program's code (a finalizer, a weak
// reference's callback), from within a free: with a work list of its own
// and not freeing (inUserCode), so that what fn frees is destroyed at
// once rather than after fn returns, and fn may park for a stop and run a
// due collection as code outside a free does. The outer free's state is
// consistent meanwhile: the object whose finalizer runs is resurrected
// and tracked, and what waits on the outer work list is untracked with a
// count of zero, so a collection counts its references as external. A
// panic in fn leaves its leftovers on the outer work list, for the next
// free.
func (th *Thread) runUserCode(fn func()) {
	if th.freeState != freeing || th.userFreeDepth >= maxUserFreeDepth {
		fn()
		return
	}
	outer := th.trash
	th.trash, th.freeState = outer[len(outer):], inUserCode
	th.userFreeDepth++
	defer func() {
		th.userFreeDepth--
		th.trash = append(outer, th.trash...)
		th.freeState = freeing
	}()
	fn()
}

// dropRef drops a reference without freeing: it reports whether the count
// reached zero. The common outcome (still alive) returns from the inlined
// part.
//
// Under biased counting an immortal object is tested for first, as
// CPython's Py_DECREF does: dropRef releases what containers hold (a
// dict's keys and values, an instance's attributes, a tuple's items),
// where None, small ints and interned strs are common, and
// DecBiasedNoCall reaches its own immortal case only after the owner and
// unowned tests. Instructions per op, ft (callgrind): binary-trees
// 1,929,829 -> 1,902,804, create-objects 1,221 -> 1,201, mixed 1,111 ->
// 1,091; alloc-churn, whose containers hold the thread's own ints and
// floats, 1,864 -> 1,871. (DecRef keeps the owner test first: there the
// thread's own objects dominate.)
//
// DecBiasedNoCall comes next, rather than DecBiased: DecBiased's inlined
// part (at the compiler's budget) sends the owner's last reference and
// every non-owner's drop through its out-of-line call, and the first is
// among the commonest drops of all (every object that dies on the thread
// that made it), the second the common one on objects that other threads
// made. Its rest says which single call, if any, finishes the decrement:
// DecBiasedFinish the rare end of a non-owner's (a crossing of zero, a
// merged word), DecBiasedSlow the rest.
func (th *Thread) dropRef(o *Object) bool {
	var out biasedrc.Outcome
	switch th.strategy {
	case biasedrc.Biased:
		if o.rc.IsImmortal() {
			return false
		}
		dead, rest := o.rc.DecBiasedNoCall(th.id)
		switch {
		case dead:
			return true
		case rest.Done():
			return false
		case rest.Started():
			out = o.rc.DecBiasedFinish(rest)
		default:
			out = o.rc.DecBiasedSlow(th.id)
		}
	case biasedrc.Plain:
		out = o.rc.DecPlain()
	default:
		out = o.rc.DecAtomic()
	}
	switch out {
	case biasedrc.Alive:
		return false
	case biasedrc.Dead:
		return true
	}
	return th.dropRefSlow(o, out)
}

// dropRefSlow handles the outcomes other than Alive.
func (th *Thread) dropRefSlow(o *Object, out biasedrc.Outcome) bool {
	if out == biasedrc.MustQueue {
		owner := o.rc.Owner()
		if th.brcBatch.Add(owner, o) {
			return false
		}
		out = th.rt.brc.EnqueueBatched(&th.brcBatch, owner, o, th.freeDead)
	}
	if out == biasedrc.Underflow {
		th.underflow(o)
	}
	return out == biasedrc.Dead
}

// underflow panics on o's count going below zero (a reference dropped
// twice). The panic may unwind through a free that does not reset its state
// (freeContainer's tuples, lists and dicts): the thread stays usable, and
// its next free drains what the work list holds.
func (th *Thread) underflow(o *Object) {
	th.freeState = notFreeing
	misuse("reference count of a %s object went below zero", o.typ.name)
}

// dying takes an object whose count reached zero off the collector's lists
// before anything else happens to it (CPython untracks before it deposits
// an object in the trashcan): a collection that runs meanwhile, from a
// finalizer or another thread, must never find an object with no
// references and free it a second time. The one exception is an object on
// another free-threaded thread's young list, whose links only that thread
// may write: it stays there until destroy is done with it, and the
// collector's pause sets such objects aside (their count is zero).
func (th *Thread) dying(o *Object) {
	if o.typ.kind.container() {
		th.untrack(asContainer(o), false)
	}
}

// runFinalizer resurrects o for the duration of fn and reports whether o
// is still referenced afterwards.
func (th *Thread) runFinalizer(o *Object, fn func(*Thread, *Object)) (resurrected bool) {
	// While fn runs, o is owned by this thread with a zero shared part, so
	// another thread's WeakRefGet (a try-incref) cannot take a reference to
	// a dying object (CPython's _PyObject_ResurrectStart does the same).
	// Under biased counting a weak reference may exist only if the state
	// bits were set; remember that for afterwards.
	weak := th.strategy == biasedrc.Biased && o.rc.SharedState() != biasedrc.StateDefault
	th.initCount(o)
	// Track o again before fn can publish it, like CPython's
	// subtype_dealloc (_PyObject_GC_TRACK before the finalizer): once fn
	// has run, another thread may hold a reference and drop it at once, so
	// o must not be touched after dropRef says it lives.
	th.retrack(asContainer(o))
	returned := false
	if weak {
		// A finalizer that panics leaves o alive with its reference (the
		// panic goes on up): o's weak references must still be found
		// when it dies later, or they would outlive it pointing at its
		// slot.
		defer func() {
			if !returned {
				th.remarkWeak(o, false)
			}
		}()
	}
	th.finalizers = append(th.finalizers, o)
	th.runUserCode(func() {
		defer th.popFinalizer()
		fn(th, o)
	})
	returned = true
	var dead bool
	if weak {
		dead = th.remarkWeak(o, true)
	} else {
		dead = th.dropRef(o)
	}
	if dead {
		th.dying(o)
		return false
	}
	return true
}

// remarkWeak marks o's count maybe-weakref again after its finalizer
// (clearWeakrefs relies on it, and a survivor must be reachable through
// its weak references) and, with drop, drops the finalizer's reference,
// under the weak references' lock, so that no WeakRefGet slips in
// between. It reports whether the drop left o dead.
func (th *Thread) remarkWeak(o *Object, drop bool) (dead bool) {
	mu := th.rt.weakLock(o)
	lockIf(mu)
	o.rc.MarkMaybeWeakref()
	if drop {
		dead = th.dropRef(o)
	}
	unlockIf(mu)
	return dead
}

func (th *Thread) destroy(o *Object) {
	t := o.typ
	if t.kind == kindFreed {
		misuse("double free of a %s object", t.name)
	}
	if t.kind == kindInstance {
		inst := asInstance(o)
		if t.finalize != nil && !inst.gc.Finalized() {
			inst.gc.SetFinalized()
			if th.runFinalizer(o, t.finalize) {
				return
			}
		}
		// CPython's subtype_dealloc order: the weak references are cleared
		// and their callbacks run after tp_finalize but *before* tp_del,
		// so a legacy finalizer finds them dead (and a resurrection by it
		// leaves them dead); weak references it makes are cleared without
		// their callbacks.
		th.clearWeakrefs(inst)
		if t.legacyDel != nil {
			if th.runFinalizer(o, t.legacyDel) {
				return
			}
			th.clearWeakrefsNoCallbacks(inst)
		}
	}
	th.dispose(o, t)
}

// dispose is the end of destroy, once no finalizer is due and o's weak
// references are cleared: drop what o holds, count the free and give the
// slot back (finishFree, where the collector's Free also ends).
func (th *Thread) dispose(o *Object, t *Type) {
	switch t.kind {
	case kindTuple:
		th.releaseAll(asTuple(o).items)
		asTuple(o).items = nil
	case kindList:
		// A list that never had an array nor a view has nothing to drop.
		if l := asList(o); l.capacity != 0 || l.view.Load() != nil {
			items := takeItems(l)
			th.releaseAll(items)
			th.freeItems(items)
		}
	case kindDict:
		// Entries die in insertion order, each key before its value (as
		// CPython's free_keys_object drops them); a list's and a tuple's
		// items, released from the front, die from the end, as theirs.
		d := asDict(o)
		start := len(th.trash)
		d.table.each(func(k, v *Object) {
			th.release(k)
			th.release(v)
		})
		if len(th.trash)-start > 1 {
			th.dieInOrder(start)
		}
		th.freeTable(&d.table)
	case kindInstance:
		th.releaseAttrs(asInstance(o))
	case kindWeakref:
		th.unlinkWeakref(asWeakref(o))
	}
	if !t.kind.container() {
		th.freeScalar(o, t)
		return
	}
	th.finishFree(o, t)
}

// finishFree is the end of a container's free, once it holds nothing:
// count the free, poison it and give the slot back.
func (th *Thread) finishFree(o *Object, t *Type) {
	th.stats.countFree(t)
	c := asContainer(o)
	if c.gc.Counted() {
		if th.gcDelta.add(-1) <= -gcCountBatch {
			th.flushGCCount()
		}
	}
	// Poisoned here, before the untrack that may hand it to another
	// thread, which frees its slot later (releaseSlot poisons only in Debug).
	o.typ = t.freed
	if c.gc.IsTracked() && th.untrack(c, true) {
		return // the young list's owner unlinks it and frees its slot
	}
	if th.freeLists.push(o, t.kind) { // a list or a dict (freelist.go)
		o.rc.ResetDead()
		c.gc = gc.Header{}
		return
	}
	th.releaseSlot(o, t)
}

// release drops a reference held by an object being freed; a container
// that dies goes on the work list, a scalar is freed at once.
func (th *Thread) release(o *Object) {
	if th.dropRef(o) {
		if t := o.typ; !t.kind.container() {
			th.freeScalar(o, t)
			return
		}
		th.dying(o)
		th.trash = append(th.trash, o)
	}
}

// dieInOrder reverses the containers released since the work list had
// start entries, so that the list, drained from its end, destroys them in
// the order they were released.
func (th *Thread) dieInOrder(start int) {
	t := th.trash
	for i, j := start, len(t)-1; i < j; i, j = i+1, j-1 {
		t[i], t[j] = t[j], t[i]
	}
}

func (th *Thread) releaseAll(items []*Object) {
	for i, it := range items {
		th.release(it)
		items[i] = nil
	}
}

// track puts a new container on the allocating thread's generation 0.
func (th *Thread) track(c *container) {
	if th.young != nil {
		th.young.list.PushBack(&c.gc)
	} else {
		th.rt.collector.Generation(0).PushBack(&c.gc)
	}
	if th.gcDelta.add(1) >= gcCountBatch {
		th.flushGCCount()
	}
}

// untrack takes a dying container off the collector list it is on; who may
// touch that list decides how:
//
//   - GIL mode, a collection's private list, this thread's young list:
//     unlink directly;
//   - a shared list (a generation, the dying list): under its mutex;
//   - another thread's young list: only its owner may unlink. Before
//     destroy is done (final false) the object simply stays there; at the
//     end (final true) it is queued to the owner, which unlinks it and
//     frees its slot at its next safe point, and untrack reports true. An
//     orphaned list (its thread closed) is unlinked under its mutex.
func (th *Thread) untrack(c *container, final bool) (queued bool) {
	h := &c.gc
	l := h.List()
	switch {
	case l == nil:
	case th.rt.mode == GIL, th.young != nil && l == &th.young.list, l.Gen() == gc.Private:
		// The young list before the private generation: free-threaded
		// mode's common case, tested with one test less.
		gc.Unlink(h)
	case th.rt.isSharedList(l):
		l.Mu.Lock()
		gc.Unlink(h)
		l.Mu.Unlock()
	default:
		y := youngOf(l)
		y.mu.Lock()
		switch {
		case y.orphaned:
			gc.Unlink(h)
		case final:
			y.remote = append(y.remote, c)
			y.pending.Store(true)
			queued = true
		}
		y.mu.Unlock()
	}
	return queued
}

// retrack puts a resurrected container back under the collector: onto this
// thread's generation 0 if a dying untrack took it off, or off the dying
// list where a pause set it aside. On another thread's young list it is
// still tracked and stays.
func (th *Thread) retrack(c *container) {
	h := &c.gc
	switch l := h.List(); {
	case l == nil:
	case l == &th.rt.dyingList:
		l.Mu.Lock()
		gc.Unlink(h)
		l.Mu.Unlock()
	default:
		return
	}
	th.track(c)
	// Tracking it again is not an allocation: the collector's count rose
	// when it was born and falls once, when it is freed.
	th.gcDelta.add(-1)
}

func (rt *Runtime) isSharedList(l *gc.List) bool {
	if l == &rt.dyingList {
		return true
	}
	for g := 0; g <= gc.Permanent; g++ {
		if l == rt.collector.Generation(g) {
			return true
		}
	}
	return false
}

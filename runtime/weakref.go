package runtime

import (
	"sync"

	"github.com/nogil-lab/nogil/biasedrc"
)

// Weak references (CPython's Objects/weakrefobject.c). An instance heads a
// doubly linked list of the weak references to it; in free-threaded mode
// the list and every weakref's target are guarded by a mutex striped by the
// referent's address, and creating a weak reference marks the referent's
// count maybe-weakref so that its owner can only free it through a
// compare-and-swap that a concurrent WeakRefGet's try-incref can lose.

func (rt *Runtime) weakLock(target *Object) *sync.Mutex {
	if rt.mode != FreeThreaded {
		return nil
	}
	return &rt.weakStripes[identityHash(target)%weakStripeCount].Mutex
}

func lockIf(mu *sync.Mutex) {
	if mu != nil {
		mu.Lock()
	}
}

func unlockIf(mu *sync.Mutex) {
	if mu != nil {
		mu.Unlock()
	}
}

// NewWeakRef makes a weak reference to target (instances only; other types
// give ErrType). When target dies, the reference is cleared and, if the
// weakref object itself is still alive, callback runs once with it.
func (th *Thread) NewWeakRef(target *Object, callback func(th *Thread, ref *Object)) (*Object, error) {
	th.enter(target)
	if target.typ.kind != kindInstance {
		return nil, typeError("cannot create weak reference to '%s' object", target.typ.name)
	}
	inst := asInstance(target)
	if callback == nil {
		if wr := th.reuseBasicRef(inst); wr != nil {
			return &wr.Object, nil
		}
	}
	wr := th.allocWeakref()
	wr.callback = callback
	wr.target.Store(target)
	th.bornBuiltin(&wr.Object, th.rt.t.weakref, tiWeakref)
	th.track(&wr.container)
	// Both counts must refuse a free without a compare-and-swap: the
	// target's for WeakRefGet's try-incref, the weakref's own for the
	// try-incref that keeps it alive for its callback when the target dies
	// on another thread (CPython's init_weakref does the same).
	target.rc.MarkMaybeWeakref()
	wr.rc.MarkMaybeWeakref()
	mu := th.rt.weakLock(target)
	lockIf(mu)
	wr.next = inst.weakrefs
	if wr.next != nil {
		wr.next.prev = wr
	}
	inst.weakrefs = wr
	unlockIf(mu)
	th.afterAlloc()
	return &wr.Object, nil
}

// reuseBasicRef returns a new reference to a live weak reference to inst
// without a callback, or nil if there is none. CPython's weakref.ref(o)
// hands out the same object each time it is asked for one without a
// callback while that object lives (weakref___new__, get_basic_refs; its
// documentation allows either): weak references made with a callback are
// always new, since each callback must run once. The try-incref refuses a
// weak reference that is dying on another thread (free-threaded mode: its
// count was marked maybe-weakref when it was made, so its owner frees it
// only through a compare-and-swap this can lose against), as CPython's
// try_reuse_basic_ref does.
func (th *Thread) reuseBasicRef(inst *instanceObject) *weakrefObject {
	if !th.mayHaveWeakrefs(inst) {
		return nil
	}
	mu := th.rt.weakLock(&inst.Object)
	lockIf(mu)
	defer unlockIf(mu)
	for wr := inst.weakrefs; wr != nil; wr = wr.next {
		if wr.callback == nil && th.tryIncref(&wr.Object) {
			return wr
		}
	}
	return nil
}

// WeakRefGet returns a new reference to the referent, or (nil, nil) once it
// is dead.
func (th *Thread) WeakRefGet(ref *Object) (*Object, error) {
	th.enter(ref)
	if ref.typ.kind != kindWeakref {
		return nil, typeError("expected a weakref, got '%s' object", ref.typ.name)
	}
	wr := asWeakref(ref)
	target := wr.target.Load()
	if target == nil {
		return nil, nil
	}
	mu := th.rt.weakLock(target)
	lockIf(mu)
	defer unlockIf(mu)
	if wr.target.Load() != target || !th.tryIncref(target) {
		return nil, nil // died meanwhile
	}
	return target, nil
}

// clearWeakrefs clears every weak reference to a dying instance and runs
// the callbacks of those still alive (CPython's PyObject_ClearWeakRefs).
func (th *Thread) clearWeakrefs(inst *instanceObject) {
	if !th.mayHaveWeakrefs(inst) {
		return
	}
	var callbacks []*weakrefObject
	th.detachWeakrefs(&inst.Object, nil, func(wr *weakrefObject) { callbacks = append(callbacks, wr) })
	th.runWeakrefCallbacks(callbacks)
}

// clearWeakrefsNoCallbacks clears every weak reference to a dying instance
// without running a callback: those a legacy finalizer made (CPython's
// subtype_dealloc clears them "without calling their finalizers since they
// might rely on part of the object being finalized that has already been
// destroyed").
func (th *Thread) clearWeakrefsNoCallbacks(inst *instanceObject) {
	if th.mayHaveWeakrefs(inst) {
		th.detachWeakrefs(&inst.Object, nil, nil)
	}
}

// mayHaveWeakrefs reports whether an instance may have weak references,
// without the stripe lock where that can be told. For a dying instance the
// answer is final; for a live one (reuseBasicRef) another thread may make
// the first weak reference just after a false answer, and then there are
// two, which is allowed.
func (th *Thread) mayHaveWeakrefs(inst *instanceObject) bool {
	switch {
	case th.rt.mode == GIL:
		return inst.weakrefs != nil
	case th.rt.strategy == biasedrc.Biased && inst.rc.SharedState() == biasedrc.StateDefault:
		// NewWeakRef marks the count maybe-weakref before it links, and
		// states only move up: no weak reference was linked yet (and to a
		// dying instance none can be, nobody holding a reference), so skip
		// the stripe lock.
		return false
	}
	return true
}

// detachWeakrefs clears and unlinks every weak reference to target (under
// its stripe lock; no user code runs) and passes to keep (nil: none is
// kept), with a new reference, each one that has a callback, is not
// excluded by skip (may be nil) and is not dying itself.
func (th *Thread) detachWeakrefs(target *Object, skip func(*weakrefObject) bool, keep func(*weakrefObject)) {
	inst := asInstance(target)
	mu := th.rt.weakLock(target)
	lockIf(mu)
	for wr := inst.weakrefs; wr != nil; {
		next := wr.next
		kept := keep != nil && wr.callback != nil && (skip == nil || !skip(wr)) && th.tryIncref(&wr.Object)
		wr.prev, wr.next = nil, nil
		// The store of nil is the last touch of a weak reference we did not
		// keep: one that is dying on another thread may see it in
		// unlinkWeakref, skip the stripe lock and free it at once.
		wr.target.Store(nil)
		if kept {
			keep(wr)
		}
		wr = next
	}
	inst.weakrefs = nil
	unlockIf(mu)
}

func (th *Thread) runWeakrefCallbacks(cbs []*weakrefObject) {
	for _, wr := range cbs {
		th.runUserCode(func() { wr.callback(th, &wr.Object) })
		th.decref(&wr.Object)
	}
}

// unlinkWeakref takes a dying weak reference off its referent's list.
func (th *Thread) unlinkWeakref(wr *weakrefObject) {
	target := wr.target.Load()
	if target == nil {
		// Cleared: detachWeakrefs stored nil after its last access to wr,
		// so wr may be freed now without the stripe lock.
		return
	}
	mu := th.rt.weakLock(target)
	lockIf(mu)
	if wr.target.Load() == target {
		inst := asInstance(target)
		if wr.prev != nil {
			wr.prev.next = wr.next
		} else {
			inst.weakrefs = wr.next
		}
		if wr.next != nil {
			wr.next.prev = wr.prev
		}
		wr.prev, wr.next = nil, nil
		wr.target.Store(nil)
	}
	unlockIf(mu)
}

package runtime

import (
	"github.com/nogil-lab/nogil/biasedrc"
)

// IncRef adds a reference to o.
func (th *Thread) IncRef(o *Object) {
	th.enter(o)
	o.rc.Inc(th.strategy, th.id)
}

// DecRef drops a reference to o, freeing it when the count reaches zero.
func (th *Thread) DecRef(o *Object) {
	th.enter(o)
	// dropRef's and free's bodies, written out: DecRef is as hot as IncRef
	// (whose Count.Inc inlines), and with them inlined the last DecRef of
	// an int or a float is a push on a free list without a call. (The
	// scalar case is freeScalar with freeSlot's body written out too:
	// freeSlot, keep plus its fallback call, is too large to inline.)
	//
	// Two shapes keep the common paths short. The owner's last reference
	// reaches the free below after one test, of DecBiasedNoCall's dead
	// (an Outcome beside rest took three). And every rare end (a queued or
	// underflowing drop, the free that follows it) is a call with nothing
	// after it (decRefEnd), so that th and o need not be saved across a
	// call on the common paths. Together with the entry check's panic in
	// the caller (misuseMessage): B3's loop, 143 -> 139 instructions
	// (ft-biased), 137 -> 131 (gil) (callgrind).
	switch th.strategy {
	case biasedrc.Biased:
		if dead, rest := o.rc.DecBiasedNoCall(th.id); !dead {
			var out biasedrc.Outcome
			switch {
			case rest.Done():
				return
			case rest.Started():
				out = o.rc.DecBiasedFinish(rest)
			default:
				out = o.rc.DecBiasedSlow(th.id)
			}
			if out != biasedrc.Alive {
				th.decRefEnd(o, out)
			}
			return
		}
	case biasedrc.Plain:
		if out := o.rc.DecPlain(); out != biasedrc.Dead {
			if out != biasedrc.Alive {
				th.decRefEnd(o, out)
			}
			return
		}
	default:
		if out := o.rc.DecAtomic(); out != biasedrc.Dead {
			if out != biasedrc.Alive {
				th.decRefEnd(o, out)
			}
			return
		}
	}
	t := o.typ
	if k := t.kind; !k.container() {
		th.stats.countBuiltinFree(t.index)
		if !th.freeLists.keep(o, t, k) {
			th.releaseSlot(o, t)
		}
		return
	}
	th.freeContainer(o)
}

// decRefEnd finishes a DecRef whose outcome is neither Alive nor (from
// the inlined part) Dead: a drop to queue or one below zero
// (dropRefSlow), and the free when the outcome is Dead after all.
//
//go:noinline
func (th *Thread) decRefEnd(o *Object, out biasedrc.Outcome) {
	if out == biasedrc.Dead || th.dropRefSlow(o, out) {
		th.free(o)
	}
}

// NewRef adds a reference to o and returns o.
func (th *Thread) NewRef(o *Object) *Object {
	th.IncRef(o)
	return o
}

// RefCount returns o's true count (local + shared in biased counting).
// Immortal objects report a very large count. Reading another thread's
// plain local part needs a happens-before edge with it: when o is owned
// by another thread, RefCount briefly stops the world (also when that
// thread has exited: a new thread may be taking over its id and objects).
func (th *Thread) RefCount(o *Object) int {
	th.enter(o)
	c := &o.rc
	if th.rt.strategy == biasedrc.Biased {
		// Owner reports an immortal object as Unowned.
		if owner := c.Owner(); owner != biasedrc.Unowned && owner != th.id {
			restart := th.StopTheWorld()
			n := c.Value(biasedrc.Biased)
			restart()
			return int(n)
		}
	}
	return int(c.Value(th.rt.strategy))
}

// incref is IncRef without the entry checks. It inlines into callers
// (TestIncrefInlines).
func (th *Thread) incref(o *Object) { o.rc.Inc(th.strategy, th.id) }

// decref drops a reference and frees o if it was the last.
func (th *Thread) decref(o *Object) {
	if th.dropRef(o) {
		th.free(o)
	}
}

// tryIncref takes a reference to an object reached without one (through a
// weak reference), unless it is already dying.
func (th *Thread) tryIncref(o *Object) bool {
	switch th.strategy {
	case biasedrc.Plain:
		if o.rc.IsImmortal() {
			return true
		}
		if o.rc.Value(biasedrc.Plain) == 0 {
			return false
		}
		o.rc.IncPlain()
		return true
	case biasedrc.Biased:
		return o.rc.TryIncBiased(th.id)
	default:
		return o.rc.TryIncAtomic()
	}
}

// initCount gives a new object its first reference, owned by th.
func (th *Thread) initCount(o *Object) {
	o.rc.Init(th.strategy, th.id)
}

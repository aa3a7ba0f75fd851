package gc

import "github.com/nogil-lab/nogil/internal/invariants"

// Step 13, breaking the cycles (delete_garbage), with the world running.
// Only this thread can reach the garbage (its weak references are
// cleared, finalizers have run and what they resurrected has left the
// set), and it holds every object of it, so none is freed before the
// collector says so; an object someone untracked meanwhile has left the
// unreachable list and is skipped. Two ways:
//
//   - clearGarbage, CPython's: Clear every object (a batch at a time),
//     which counts its references down and may free objects outside the
//     set, then drop the holds in the order of the set (allocation order,
//     so the frees walk memory forward): reference counting frees the
//     garbage, each object at once, since everything was cleared first.
//     What survives (an object Clear could not empty, and what it keeps)
//     joins the old generation.
//   - discardGarbage, when the whole set was garbage (nothing reachable
//     from outside), no legacy finalizer set anything aside, no finalizer
//     ran (so nothing was resurrected) and Clear empties every object (no
//     TraitUnclearable): every reference an object flagged closed in step
//     2 holds leads to garbage (or to an immortal object), so the objects
//     that are not closed are cleared first, and then every object is
//     freed whatever its counts say (Free), which drops what a closed
//     object refers to without counting it down; the collector takes each
//     off the unreachable list first, without touching its neighbours. A
//     pure cycle of a million objects is cleared and freed in one visit
//     per object, without loading what each object refers to a second
//     time.

// clearGarbage is step 13 the CPython way. garbage is held, or, after a
// resurrection check, what of held is still garbage (c.set).
func (c *Collector) clearGarbage(env Env, garbage, held []*Header, resurrectionCheck bool) {
	unreachable := &c.unreachable
	clearing := c.batcher(env.Clear)
	for _, h := range garbage {
		if h.list == unreachable {
			clearing.add(h)
		}
	}
	c.done(clearing)
	if invariants.Enabled {
		on := 0
		for _, h := range garbage {
			if h.list == unreachable {
				on++
			}
		}
		if on != unreachable.Len() {
			panic("gc: an object joined the collector's unreachable list")
		}
	}
	if resurrectionCheck {
		clear(garbage)
		c.set = keep(c.set, len(held))
	}
	// The garbage is still on the unreachable list: a freed object is
	// unlinked from it by the runtime (a private list: no lock).
	for i, h := range held {
		if !resurrectionCheck {
			// Still flagged since pause 1, and invisible to every other
			// thread: this thread may write the flags now.
			h.flags &^= scratchFlags
		}
		env.DecRef(h) // frees happen here
		held[i] = nil
	}
}

// discardGarbage is step 13 when the whole set is garbage (see above).
// held is the set, every object of it held; open of them are not flagged
// closed: the first pass stops once it has seen them all (with open 0 it
// is not made at all: each pass is a walk over the set, which the caches
// do not hold).
func (c *Collector) discardGarbage(env Env, held []*Header, open int) {
	unreachable := &c.unreachable
	// 1. The objects that also refer outside the set are cleared first:
	// Clear counts down what they refer to, garbage included, all of
	// which is still held.
	clearing := c.batcher(env.Clear)
	for _, h := range held {
		if open == 0 {
			break // the rest is closed
		}
		if h.list == unreachable && h.flags&flagClosed == 0 {
			open--
			clearing.add(h)
		}
	}
	c.done(clearing)
	// 2. Every object is freed, in the order of the set: Free drops what a
	// closed one still refers to without counting it down (the cleared
	// ones refer to nothing). Nothing left counts any of them down. An
	// object that left the unreachable list (nobody can reach it to
	// untrack it, but if it happened) only loses its hold.
	for i, h := range held {
		if h.list == unreachable {
			c.detach(h)
			env.Free(h)
		} else {
			h.flags &^= scratchFlags
			env.DecRef(h)
		}
		held[i] = nil
	}
	if invariants.Enabled && unreachable.n != 0 {
		panic("gc: garbage left on the unreachable list after discardGarbage")
	}
	unreachable.reset() // its links name freed objects
}

// detach takes h, about to be freed, off the unreachable list without
// touching its neighbours, whose links go stale: discardGarbage frees the
// whole list, never walks it, and empties it at the end (the runtime then
// need not unlink each object as it frees it).
func (c *Collector) detach(h *Header) {
	h.prev, h.next, h.list = nil, nil, nil
	h.flags &^= scratchFlags
	c.unreachable.n--
}

// batcher hands objects to fn traverseBatch at a time, in the collector's
// reusable batch buffer.
type batcher struct {
	buf []*Header
	fn  func([]*Header)
}

func (c *Collector) batcher(fn func([]*Header)) batcher {
	return batcher{buf: c.batch[:0], fn: fn}
}

func (b *batcher) add(h *Header) {
	b.buf = append(b.buf, h)
	if len(b.buf) == traverseBatch {
		b.fn(b.buf)
		b.buf = b.buf[:0]
	}
}

// done hands b the rest and gives its buffer back, empty.
func (c *Collector) done(b batcher) {
	if len(b.buf) > 0 {
		b.fn(b.buf)
	}
	clear(b.buf)
	c.batch = b.buf[:0]
}

package biasedrc

import (
	"sync"
	"sync/atomic"

	"github.com/nogil-lab/nogil/internal/cacheline"
)

// Registry maps live owner threads to their merge queues (CPython keeps a
// hash table of per-thread brc state in each interpreter: Python/brc.c).
// T is the caller's object handle; count finds its Count.
//
// Lock order: Registry.mu, then Queue.mu. No destructor ever runs, and no
// caller callback is ever invoked, while either lock is held. Enqueue
// takes no registry lock: it reads the map through an atomic pointer, and
// a queue that Deregister closed (under its own mutex) takes no more
// pushes.
type Registry[T any] struct {
	count func(T) *Count
	// mu serializes Register and Deregister.
	mu sync.Mutex
	// orphanMu serializes Enqueue's merges of objects whose owner has
	// exited, with each other and with Register. Two non-owners can both
	// cross zero on one word (see decBiasedSlow) and both find the owner
	// gone; Merge reads and clears the owner's plain local part, so two
	// Merges of one word must not overlap (they double-counted the local
	// part). And a thread that registers the id of an exited one becomes
	// the owner of its objects (ids are reused, as CPython's addresses
	// are): its first plain write to such an object's local part must come
	// after every orphan merge that read it, and a merge that comes after
	// the registration must hand the reference to the new owner instead.
	orphanMu sync.Mutex
	// queues is the map from owner to queue. Atomic pointer to a map that
	// is never changed once published: Register and Deregister (holding
	// mu) publish a changed copy. Threads come and go rarely; every
	// enqueue reads it.
	queues atomic.Pointer[map[ThreadID]*Queue[T]]
}

// NewRegistry returns an empty registry; count maps an object to its Count.
func NewRegistry[T any](count func(T) *Count) *Registry[T] {
	if count == nil {
		panic("biasedrc: NewRegistry with a nil count function")
	}
	r := &Registry[T]{count: count}
	r.queues.Store(&map[ThreadID]*Queue[T]{})
	return r
}

// Queue is one thread's merge queue: objects that other threads dropped a
// reference to while the shared part was zero. Each entry holds one
// reference. Any thread pushes; only the owner drains (or whoever stopped
// the world, or the owner's Deregister).
type Queue[T any] struct {
	// pending is set by every push (unless it is set already) and cleared
	// by Drain: the owner polls it at each safe point with one atomic load.
	// It sits on its own cache line because other threads write it while
	// the owner reads it.
	pending atomic.Bool
	_       cacheline.Pad
	owner   ThreadID
	reg     *Registry[T]
	// mu protects items and closed.
	mu    sync.Mutex
	items []T
	// closed is set by Deregister once the queue is empty for good.
	closed bool
	// spare is the drained slice kept for reuse. Owned by the draining
	// thread (Drain is never called concurrently for one queue).
	spare []T
}

// update publishes a copy of the registry's map changed by fn. The caller
// holds r.mu.
func (r *Registry[T]) update(fn func(m map[ThreadID]*Queue[T])) {
	old := *r.queues.Load()
	m := make(map[ThreadID]*Queue[T], len(old)+1)
	for id, q := range old {
		m[id] = q
	}
	fn(m)
	r.queues.Store(&m)
}

// lookup returns the queue of thread id, or nil.
func (r *Registry[T]) lookup(id ThreadID) *Queue[T] { return (*r.queues.Load())[id] }

// Register creates the merge queue of thread id. The id may be one an
// exited thread deregistered: the new thread then owns that thread's
// objects (their local parts, frozen since, are its own from now on), as a
// CPython thread whose thread-local storage sits at an exited thread's
// address owns that thread's objects. Registering an id that is
// registered panics.
func (r *Registry[T]) Register(id ThreadID) *Queue[T] {
	if id == Unowned || id == immortalOwner {
		panic("biasedrc: Register with an invalid thread id")
	}
	q := &Queue[T]{owner: id, reg: r}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.lookup(id) != nil {
		panic("biasedrc: Register of a thread id that is already registered")
	}
	// Under orphanMu: see mergeOrphan.
	r.orphanMu.Lock()
	r.update(func(m map[ThreadID]*Queue[T]) { m[id] = q })
	r.orphanMu.Unlock()
	return q
}

// Registered reports whether thread id has a live queue.
func (r *Registry[T]) Registered(id ThreadID) bool { return r.lookup(id) != nil }

// Enqueue hands obj, whose count a non-owner's DecBiased just set to queued
// (outcome MustQueue), to its owner's queue together with the reference the
// caller was dropping. If the owner has exited, the reference is merged
// here instead and the outcome of that merge is returned: Dead means the
// caller must free obj. Otherwise the result is Alive (queued).
//
// owner is the object's Owner(), loaded after DecBiased returned MustQueue.
// It may be Unowned: the owner's local part reached zero concurrently, and
// it has merged the word or is about to (it saw the queued state, so the
// merged count includes the reference being dropped). The reference is then
// dropped as an ordinary shared decrement, as CPython's
// _Py_brc_queue_object does with ob_tid == 0 (Py_DECREF), and not with
// Merge: the owner may still be between disowning and its compare-and-swap
// to merged, and a Merge here would publish merged-zero first, after which
// the owner's compare-and-swap would succeed on that word and report Dead a
// second time. A stale owner id is harmless: the entry is merged by a drain
// of that queue or, if the queue is gone, here. (EnqueueBatched is the same
// with the push put off.)
func (r *Registry[T]) Enqueue(owner ThreadID, obj T) Outcome {
	if owner == Unowned {
		return unownedDrop(r.count(obj))
	}
	if q := r.lookup(owner); q != nil && q.push(obj) {
		return Alive
	}
	return r.mergeOrphan(obj)
}

// unownedDrop drops a queued reference whose owner has disowned the word
// (Enqueue says why it is a plain shared decrement).
func unownedDrop(c *Count) Outcome { return mergedOutcome(c.shared.Add(-sharedUnit)) }

// push appends objs to the queue and sets pending, unless the queue is
// closed (its owner has deregistered): then it reports false and the
// caller merges them itself.
func (q *Queue[T]) push(objs ...T) bool {
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return false
	}
	q.items = append(q.items, objs...)
	q.mu.Unlock()
	// If pending is set already, the owner has not drained since it was
	// set, and its next drain takes these entries too: a drain clears
	// pending before it takes the items, so a push that comes after the
	// take sees it clear and sets it.
	if !q.pending.Load() {
		q.pending.Store(true)
	}
	return true
}

// mergeOrphan merges the dropped reference of a queued object whose owner
// has deregistered. Its last write to the plain local part happened before
// it closed its queue under q.mu and published the map without it: the
// caller took that mutex, or loaded that map, since, so reading the part in
// Merge is ordered after the write. If a thread has registered the owner's
// id since, the reference goes to that thread's queue instead, as to any
// live owner's: Register publishes under orphanMu, so a merge either comes
// before the new owner's first write (which then finds the word merged and
// unowned) or sees its queue here.
func (r *Registry[T]) mergeOrphan(obj T) Outcome {
	c := r.count(obj)
	for {
		r.orphanMu.Lock()
		q := r.lookup(c.Owner())
		if q == nil {
			_, out := c.Merge(-1)
			r.orphanMu.Unlock()
			return out
		}
		r.orphanMu.Unlock()
		if q.push(obj) {
			return Alive
		}
		// That thread has exited too: look again.
	}
}

// Pending reports, with one atomic load, that the queue may hold objects.
func (q *Queue[T]) Pending() bool { return q.pending.Load() }

// Owner returns the thread whose queue this is.
func (q *Queue[T]) Owner() ThreadID { return q.owner }

// Len returns the number of queued objects.
func (q *Queue[T]) Len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.items)
}

// Drain merges every queued object, dropping the queue's reference, and
// calls dead for each object whose count reached zero (outside every lock).
// It returns how many objects it merged. The caller is the owner, or has
// stopped the world.
func (q *Queue[T]) Drain(dead func(T)) int {
	return q.DrainWith(func(obj T) {
		if _, out := q.reg.count(obj).Merge(-1); out == Dead {
			dead(obj)
		} else if out == Underflow {
			panic("biasedrc: merged count below zero")
		}
	})
}

// DrainWith takes every queued object and gives each to merge, outside every
// lock, instead of merging it itself: a collector that stopped the world
// uses it to hold back frees until the world restarts.
func (q *Queue[T]) DrainWith(merge func(T)) int {
	items := q.Take()
	for _, obj := range items {
		merge(obj)
	}
	q.Recycle(items)
	return len(items)
}

// Take takes every queued object, for a caller that merges each itself
// (Merge(-1): the queue's reference) and then gives the slice back with
// Recycle: Drain without a call through a func value per object, for an
// owner that drains at every safe point. The caller is the owner, or has
// stopped the world.
func (q *Queue[T]) Take() []T {
	q.pending.Store(false)
	q.mu.Lock()
	items := q.items
	// The spare slice takes the pushes from now on, and is the queue's
	// alone: a drain nested in the caller's frees (a finalizer reaching a
	// safe point) must not take it again for its own pushes, which would
	// then share its array with the nested drain's items.
	q.items, q.spare = q.spare[:0], nil
	q.mu.Unlock()
	return items
}

// Recycle gives back a slice Take returned, once the caller is done with
// its objects, for the queue's next pushes.
func (q *Queue[T]) Recycle(items []T) {
	clear(items)
	q.spare = items[:0]
}

// Deregister is the owner's exit: after it returns no object is queued to
// this thread again (a non-owner that needs to merge does it directly), and
// everything already queued has been merged, with dead called for each
// object that died. Deregistering twice panics.
//
// The queue is drained while the thread is still registered, and removed
// only once a drain leaves it empty under the registry lock (CPython's
// _Py_brc_remove_thread does the same). The dead callbacks free objects, and
// freeing drops references — often to other objects this thread owns,
// through the owner's plain local part. Those writes must happen before the
// thread's removal is visible: a non-owner that finds the owner gone merges
// the count directly and reads that local part, ordered only by the registry
// lock. So the caller makes no count operation as this thread after
// Deregister returns.
//
// b (may be nil) is the exiting thread's own batch: the frees may queue
// objects of other owners into it, and they are handed over in the same
// loop, while the thread is still registered, since handing them to an
// owner that has exited merges them, and a death there frees more.
func (r *Registry[T]) Deregister(q *Queue[T], b *Batch[T], dead func(T)) int {
	r.mu.Lock()
	if q.reg != r || r.lookup(q.owner) != q {
		r.mu.Unlock()
		panic("biasedrc: Deregister of a queue that is not registered")
	}
	r.mu.Unlock()
	n := 0
	for {
		n += q.Drain(dead)
		if b != nil && b.Len() > 0 {
			r.Flush(b, dead)
			continue
		}
		q.mu.Lock()
		empty := len(q.items) == 0
		q.closed = empty
		q.mu.Unlock()
		if empty {
			r.mu.Lock()
			r.update(func(m map[ThreadID]*Queue[T]) { delete(m, q.owner) })
			r.mu.Unlock()
			return n
		}
	}
}

package biasedrc

// BatchSize is the most objects a Batch holds before it hands them over.
const BatchSize = 32

// Batch holds the objects one non-owner thread has queued to one owner and
// not yet handed to the owner's queue, so that a consumer releasing many of
// one producer's objects takes the queue's mutex once per batch, not once
// per object (two atomic operations each: about a fifth of a 1-thread
// producer-consumer step in free-threaded mode). CPython pushes each object
// under the bucket mutex of its thread table (_Py_brc_queue_object).
//
// Each held object keeps the reference its dropper gave to the queue, and
// its word stays in the queued state: its count is exact all along; only
// the owner's merge, and so a free, comes later. The batch is handed over
// when it fills, when an object of another owner arrives, and at each safe
// point of the thread that holds it (the runtime's Checkpoint, Detach and
// Close, through Flush); a thread that has stopped the world takes the
// batches of the parked threads with DrainWith, as it takes their queues.
//
// Owned by the enqueuing thread, or by whoever has stopped the world.
type Batch[T any] struct {
	owner ThreadID
	q     *Queue[T] // owner's queue, of registry reg; nil when empty
	items []T
}

// Len returns the number of objects held.
func (b *Batch[T]) Len() int { return len(b.items) }

// Add is EnqueueBatched's common case, small enough to inline: obj, queued
// to owner, joins b if b already holds owner's objects and has room for it
// without filling up. It reports whether it did; if not, the caller calls
// EnqueueBatched. A batch is only ever used with one registry, the one
// EnqueueBatched was given.
func (b *Batch[T]) Add(owner ThreadID, obj T) bool {
	if b.q == nil || b.owner != owner || len(b.items) >= BatchSize-1 {
		return false
	}
	b.items = append(b.items, obj)
	return true
}

// EnqueueBatched is Enqueue through b: the object joins b, to reach its
// owner's queue with the others. If the owner has exited it is merged at
// once, as Enqueue does, and the outcome returned (Dead: the caller frees
// obj). Handing over b's earlier objects (when b fills, or obj has another
// owner) may find their owner gone: each of them is merged then, and dead is
// called for each that died (it may queue more objects into b).
func (r *Registry[T]) EnqueueBatched(b *Batch[T], owner ThreadID, obj T, dead func(T)) Outcome {
	if owner == Unowned {
		return unownedDrop(r.count(obj))
	}
	// Another owner's objects go first. Flush empties b before it calls
	// dead, which may queue into b again: hence the loop.
	for b.q != nil && (b.owner != owner || b.q.reg != r) {
		r.Flush(b, dead)
	}
	if b.q == nil {
		q := r.lookup(owner)
		if q == nil {
			return r.mergeOrphan(obj)
		}
		b.owner, b.q = owner, q
	}
	b.items = append(b.items, obj)
	if len(b.items) >= BatchSize {
		r.Flush(b, dead)
	}
	return Alive
}

// Flush hands b's objects to their owner's queue with one lock, or, if the
// owner has exited, merges each and calls dead for each that died.
func (r *Registry[T]) Flush(b *Batch[T], dead func(T)) {
	if b.q == nil {
		return
	}
	q, items := b.q, b.items
	b.q, b.items = nil, nil
	if q.push(items...) {
		// Nothing was called: b is still empty, and keeps the slice.
		clear(items)
		b.items = items[:0]
		return
	}
	q.reg.mergeAll(items, dead)
}

// mergeAll merges each of items, whose owner has exited, and calls dead for
// each that died.
func (r *Registry[T]) mergeAll(items []T, dead func(T)) {
	for _, obj := range items {
		switch r.mergeOrphan(obj) {
		case Dead:
			dead(obj)
		case Underflow:
			panic("biasedrc: merged count below zero")
		}
	}
}

// DrainWith takes every object b holds and gives each to merge, as
// Queue.DrainWith does: for a thread that has stopped the world while b's
// thread was parked. It returns how many it took.
func (b *Batch[T]) DrainWith(merge func(T)) int {
	items := b.items
	b.q, b.items = nil, nil
	for _, obj := range items {
		merge(obj)
	}
	if b.items == nil {
		clear(items)
		b.items = items[:0]
	}
	return len(items)
}

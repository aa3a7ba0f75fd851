// Package biasedrc is the reference-count word of every nogil object and the
// three ways of updating it: plain (CPython's default build, under the GIL),
// atomic (the naive no-GIL baseline), and biased (PEP 703, CPython's
// free-threaded build), with the per-thread merge queues that biased
// counting needs.
//
// biasedrc never frees anything and knows nothing about objects: every
// operation returns an Outcome (Alive, Dead, MustQueue, Underflow) and the
// caller acts on it. Queues hold the caller's object handles through a
// generic Registry[T] that is told how to find a handle's Count.
//
// # The word
//
// A Count is 24 bytes (DESIGN.md B10 keeps objects small):
//
//	owner  atomic uint64  owning ThreadID; Unowned (0); or immortal (MaxUint64)
//	shared atomic int64   count<<2 | state
//	local  plain  uint32  the owner's part of the count (Biased), or the
//	                      whole count (Plain)
//
// The state, the low two bits of shared, is one of
//
//	0 default        owned; other threads may add to or take from the shared part
//	1 maybe-weakref  a weak reference (or a lock-free reader) may exist
//	2 queued         a non-owner handed the object to its owner's merge queue
//	3 merged         the owner gave up: the shared part is the whole count
//
// # Strategies
//
// A runtime picks one strategy for all of its objects.
//
// Plain (IncPlain, DecPlain): local is the count, updated with ordinary
// loads and stores. The caller provides exclusion (the GIL); the race
// detector checks that it really does.
//
// Atomic (IncAtomic, DecAtomic, TryIncAtomic): shared is the count, updated
// with one atomic add per operation by every thread. It is the cost the
// biased scheme exists to avoid, kept for comparison.
//
// Biased (IncBiased, DecBiased, TryIncBiased, MarkMaybeWeakref, Merge, and
// Registry/Queue): the count is split between the owner's plain local part
// and the shared part that everyone else updates atomically. The true count
// is always local + shared (the count bits of shared, that is).
//
// # The biased protocol
//
//  1. Init(Biased, t) gives a new object owner t, local 1, shared 0 in the
//     default state. Nothing else can see the object yet.
//
//  2. The owner increments and decrements local with plain loads and stores
//     (IncBiased/DecBiased with me == owner). While local stays at or above
//     1 this is the whole cost: one atomic load of owner (a plain MOV on
//     amd64), a compare, and a plain read-modify-write of local. Both
//     functions inline into the caller.
//
//  3. Every other thread works on shared. An increment is one atomic add.
//     A decrement of a default or maybe-weakref word must not take the
//     shared count below zero, since only the owner knows whether the
//     true count got there (see 6): it is one atomic add, and the add that
//     took a word from exactly 0 or exactly maybe-weakref (shared count
//     zero, neither queued nor merged) takes its unit back and queues the
//     word in one compare-and-swap. (CPython's _Py_DecRefShared is a
//     compare-and-swap loop in every case.) Once the word is unowned
//     (merged, see 5) the decrement is one atomic add: the owner's local
//     part is zero for good, so the true count is the shared count and
//     the caller's own reference keeps it positive; that decrement can
//     never be the one that must queue, and its result tells whether it
//     took a merged word to zero. DecBiased makes every non-owner
//     decrement behind one call (its inlining budget goes to the owner's
//     path); DecBiasedNoCall, the runtime's, makes the add on an owned
//     word inline and settles the common result (not negative, not
//     merged-zero: Alive) with one test, and hands the rare rest (a
//     crossing to queue, a merged word to judge) to one call,
//     DecBiasedFinish.
//
//  4. The state bits only move up: MarkMaybeWeakref sets 1 on a default
//     word; a non-owner's decrement from zero sets 2; merging sets 3. Every
//     compare-and-swap keeps the bits or raises them; only Init, for a new
//     object, starts again at 0. (Queued replaces maybe-weakref: both tell
//     the owner not to free without a compare-and-swap, see 5.)
//
//  5. When the owner's local part reaches zero (DecBiased returns from
//     mergeZeroLocal, CPython's _Py_MergeZeroLocalRefcount), the owner
//     loads shared. If the word is 0, nobody else holds a reference and
//     nobody can take one (see 9), so the object is Dead: no atomic write
//     at all. Otherwise the owner first disowns the word (owner = Unowned),
//     then publishes merged with a compare-and-swap that keeps the count.
//     Between the two, non-owners that see Unowned already decrement with
//     an atomic add (see 3) and readers may try-incref: the
//     compare-and-swap then fails and the owner merges what they left.
//     A merged count of zero (a maybe-weakref word with no shared
//     references) is Dead; anything else is Alive, and from then on every
//     thread, the former owner included, takes the shared path, where a
//     decrement to zero of a merged word is Dead.
//
//  6. A non-owner whose decrement finds the shared count at zero cannot
//     tell whether the true count reaches zero: that depends on the owner's
//     local part, which it may not read. If it simply went negative, nobody
//     might ever add the two parts up (the owner may hold no reference of
//     its own and never decrement again) and the object would leak. So it
//     sets queued instead, without subtracting, and gets MustQueue: the
//     reference it was dropping now belongs to the merge queue, which keeps
//     the object alive until its owner has added the parts up. The caller loads Owner() and calls Registry.Enqueue,
//     which pushes the object on that owner's Queue and raises the queue's
//     pending flag. A queued word's shared count may then go negative
//     (further non-owner decrements subtract); the local part covers it and
//     the queued entry guarantees a merge. The free-threaded runtime calls
//     EnqueueBatched instead: the object waits in the dropping thread's
//     Batch with the others it queued to the same owner, and they are
//     pushed under one lock when the batch fills, when an object of another
//     owner comes, at the dropping thread's safe points (Flush), at its
//     exit (Deregister's loop) or, while it is parked, by the thread that
//     stopped the world (Batch.DrainWith). The count stays exact meanwhile;
//     only the owner's merge comes later.
//
//  7. The owner polls Queue.Pending (one atomic load) at its safe points
//     and calls Queue.Drain, which takes the entries under the queue's lock
//     and, outside it, merges each one with Merge(-1) (CPython's
//     _Py_ExplicitMergeRefcount): the owner disowns the object and folds
//     local and shared into a merged word, minus the queue's reference
//     (a plain store of Unowned and one compare-and-swap: Count.disown).
//     The dead callback runs for each object whose merged count is zero.
//     A collector that has stopped the world may use DrainWith instead, to
//     hold the merges (and the frees) until the world restarts.
//
//  8. A thread that exits calls Registry.Deregister (CPython's
//     _Py_brc_remove_thread). It drains its queue until a drain leaves it
//     empty, closes it under its mutex (Enqueue pushes nothing to a closed
//     queue) and only then removes it from the registry: the
//     dead callbacks free objects, and freeing drops references, often to
//     other objects the exiting thread owns, through its local parts, which
//     must all happen before any other thread can see that the owner is
//     gone. From then on a non-owner whose decrement queues finds no queue
//     and merges directly with Merge(-1), under Registry.orphanMu: two
//     non-owners can cross zero on one such word and both find the owner
//     gone, and two Merges of one word at once would count the owner's
//     local part twice; and a non-owner still in its crossing loop that
//     finds the word merged by the other reports Alive, since the merge
//     already counted its decrement (TestOrphanConcurrentDrops). (When Enqueue is given Unowned,
//     the owner's local part reached zero between the non-owner's queued
//     compare-and-swap and its Enqueue, and the owner has merged the word
//     or is about to. Enqueue then drops the reference with an ordinary
//     shared decrement, as CPython's _Py_brc_queue_object does with
//     ob_tid == 0, and never with Merge, which could publish merged-zero
//     under the owner's pending compare-and-swap and so report Dead twice.)
//     Objects an exited thread owned keep its id and their frozen local
//     part: in the default and maybe-weakref states the shared count never
//     goes negative, so the last references to such an object are dropped
//     through a queued decrement, which merges. Until a new thread
//     registers the id (the runtime hands a closed thread's id to the next
//     new one, as the C library hands CPython's next thread the exited
//     one's thread-local storage, whose address is its id): it then owns
//     those objects, frozen local parts included. Register publishes the
//     id under orphanMu and a direct merge looks the owner up again under
//     it, so every direct merge that read a local part ends before the new
//     owner can write it, and a later one hands the reference to the new
//     owner's queue instead (TestReusedIDRacesOrphanMerges).
//
//  9. A lock-free reader that reached an object through a pointer it holds
//     no reference through (a weak reference, a dict slot another thread
//     may be clearing) uses TryIncBiased (CPython's _Py_TryIncref). The
//     owner just increments local (which is at least 1 while it owns a
//     live object). Anyone else adds to shared with a compare-and-swap,
//     and refuses when the word is 0 or exactly merged-zero. Merged-zero is
//     a dead object. A zero word is refused because of the owner's fast
//     path in 5: the owner frees on seeing 0 without a compare-and-swap, so
//     a reader's increment of a zero word could land just after the owner
//     decided to free. MarkMaybeWeakref (CPython's
//     _PyObject_SetMaybeWeakref) makes the word non-zero, so the owner must
//     merge with a compare-and-swap on the same word the reader's
//     compare-and-swap targets: either the reader wins and the merge sees
//     its reference, or the owner wins and the reader sees merged-zero and
//     refuses. A refusal on a live object is not an error: the reader falls
//     back to a slower path (a lock).
//
//  10. Immortal objects (PEP 683: None, True, small ints, static types) are
//     made with InitImmortal and never written again by any strategy.
//     CPython marks immortality in the owner's local part (UINT32_MAX) and
//     tests it with a relaxed load; here that load would race the owner's
//     plain writes. Immortality lives in the owner word instead
//     (owner = MaxUint64), which every operation loads atomically anyway,
//     so the test costs nothing extra and never races.
//
// # Invariants
//
//   - The true count is local + shared count. A queued reference is still
//     inside it: the decrement that queued did not subtract.
//   - Dead is reported exactly once per object: by the one operation that
//     moves the word to its final value (the owner's fast path, a merge
//     compare-and-swap, a merged decrement to zero, or Merge). A dead word
//     refuses TryIncBiased; decrementing it again is Underflow (except that
//     a non-owner's extra decrement of a word the owner freed through its
//     fast path queues, and the merge of that entry is the Underflow).
//   - While a thread owns a live object, local >= 1. Under Biased, Unowned
//     means merged (or, for the instant between the two writes of step 5,
//     about to be).
//   - The shared count is negative only in the queued state (and after an
//     Underflow).
//
// # Reading the owner's local part
//
// local is a plain field: the owner writes it without atomics, so any
// other thread that reads it races unless a happens-before edge orders the
// read after the owner's last write. There are exactly three such edges,
// and every non-owner read (Merge called off the owner, Value,
// LocalUnsynchronized) must sit behind one of them:
//
//   - the queue's close at thread exit: the owner's last count operation
//     happens before Deregister closes its queue under Queue.mu and then
//     publishes the registry's map without it, and Enqueue merges directly
//     only after it found the queue closed (under the same mutex) or
//     loaded a map without it (an atomic load that synchronises with that
//     store);
//   - the merged state: the owner's last write to local (to zero) and its
//     store of Unowned happen before its compare-and-swap to merged in
//     step 5, which happens before any atomic operation that reads the
//     merged word (Go's atomics are sequentially consistent and
//     synchronise). A non-owner that sees Unowned before the merged state
//     reads nothing of the owner's: Value and Merge skip local for an
//     Unowned word, and its decrement frees only when the add reads the
//     merged state;
//   - stopping the world: the runtime's handshake parks every thread, so a
//     collector may read or merge any count (DrainWith, Merge, Value).
//
// Everything else a non-owner needs (owner, shared, immortality) is atomic.
//
// # Why the owner never stores atomically
//
// Go has no relaxed atomics. Every sync/atomic operation is sequentially
// consistent: on amd64 an atomic load is a plain MOV, but an atomic store is
// an XCHG, a locked instruction that drains the store buffer and costs as
// much as an atomic add (about 10 times a plain increment here). CPython
// writes ob_ref_local with a relaxed store, which is a plain MOV; the only
// way to get a plain MOV in Go is a plain store, so local is a plain field
// and the rules above replace CPython's "anyone may peek at ob_ref_local".
// The owner path loads owner atomically (free on amd64) and touches local
// plainly; DecBiased's fast path is kept under the compiler's inlining
// budget (TestHotPathInlines checks it). The merge's store of Unowned is a
// plain store too (disown; CPython's is relaxed), ordered by the
// compare-and-swap that follows it; race builds store atomically, since
// the race detector knows nothing of that order.
//
// # Locks
//
// Lock order: Registry.mu (Register and Deregister only), then
// Registry.orphanMu (Register only) or Queue.mu; orphanMu is otherwise a
// leaf, held only around a lookup and one Merge.
// Enqueue and Registered take no registry lock: the map from owner to
// queue is copied on write and read through an atomic pointer, so an
// enqueue costs the queue's mutex, an append and, when the owner has
// drained since the last push, one store to its pending flag (it was a
// read lock on a registry-wide RWMutex too, two more atomic adds on a line
// that every enqueuing thread wrote). EnqueueBatched reads the map once per
// batch (a consumer releasing one producer's objects) and takes the queue's
// mutex once per batch: a queue that Deregister closed since sends the
// batch to the direct merge, which finds a thread that registered the id
// since, if one did. No caller callback, and so no
// destructor, ever runs while either lock is held: Drain swaps the entry
// slice out under Queue.mu and merges outside it, Enqueue merges directly
// only after releasing Queue.mu, and Count's operations take no locks at
// all.
//
// # CPython structures modelled
//
//	Count.owner                     ob_tid
//	Count.local                     ob_ref_local
//	Count.shared, State             ob_ref_shared, _Py_REF_MAYBE_WEAKREF/QUEUED/MERGED
//	IncBiased, DecBiased            Py_INCREF, Py_DECREF (Include/refcount.h)
//	decBiasedSlow, decSharedEnd     _Py_DecRefShared (Objects/object.c) (decBiasedSlow: its non-owner part)
//	mergeZeroLocal                  _Py_MergeZeroLocalRefcount
//	Merge                           _Py_ExplicitMergeRefcount
//	TryIncBiased                    _Py_TryIncref (Include/internal/pycore_object.h)
//	MarkMaybeWeakref                _PyObject_SetMaybeWeakref
//	Registry                        _brc_state: the per-interpreter table of threads (Python/brc.c)
//	Queue                           _brc_thread_state.objects_to_merge
//	Queue.Pending                   _PY_EVAL_EXPLICIT_MERGE_BIT in the eval breaker
//	Enqueue, Drain, Deregister      _Py_brc_queue_object, _Py_brc_merge_refcounts, _Py_brc_remove_thread
//
// Differences: CPython's thread ids are addresses that the C library may
// reuse for any new thread, ours are reused by the runtime for the next new
// thread after a close (and only in its own runtime); CPython 3.14 may
// merge a detached owner's queue on its behalf, here that is the
// collector's DrainWith under a stopped world; CPython's immortality bit
// is in ob_ref_local (see 10).
//
// # Costs
//
// DESIGN.md's targets, both ratios: B1, the owner's IncBiased+DecBiased
// pair, at most 1.5 times the Plain pair; B2, a non-owner's pair, at most
// one Atomic pair.
//
// Measured on the 2-core development machine while other builds shared it
// (load average 3-5, so single figures vary by tens of percent), median
// ns/op of
//
//	go test -run '^$' -bench . -count 6 ./biasedrc/
//
//	IncDec    plain/owner 1.22   biased/owner 1.27   atomic 12.0
//	          biased/nonowner 15.9 (owned word)   biased/nonowner-merged 13.5
//	Queue     biased 86 (Init, MustQueue, Enqueue, Drain per object)
//	Parallel  own object:  plain 1.7   biased 1.0   atomic 11.1
//	          one object:  plain+mutex 38   biased (owner + other) 20   atomic 100
//
// and, running the IncDec cases back to back 25 times to cancel the load,
// the medians of the per-run ratios: B1 = 1.19 (met); B2 = 1.39 on an owned
// word and 1.16 on a merged one (missed). The owner pair has the same shape
// as the plain pair: both inline to an atomic load of owner (a MOV), a
// compare and a plain read-modify-write of local. The non-owner decrement of an
// owned word was then a load and a compare-and-swap, whose load waits for
// the increment's locked add (it is now one add, step 3); on a
// merged word it is one atomic add, but behind a call, because DecBiased's
// inlining budget is spent on the owner path.
//
// The runtime's decrement (DecBiasedNoCall, then the call its rest asks
// for) makes the owned word's add without that call: in one run of the
// command above with -bench IncDec at a load average of 0.2-1.5, medians
// of 6, biased/nonowner-nocall 15.5 ns against biased/nonowner 18.1 and
// atomic/nonowner 13.6 (B2 = 1.14 there, 1.33 through DecBiased);
// through the runtime's IncRef and DecRef, 128 instructions per non-owner
// pair became 98 (callgrind; ft-atomic's pair 86).
package biasedrc

// Package gc is nogil's cycle collector: stop-the-world, generational, with
// the semantics of CPython's gc module, shared by the runtime's two modes.
//
// Reference counting frees most objects the moment they become garbage;
// what it cannot free are cycles (a list that contains itself, two
// instances that refer to each other). This package finds them. It knows
// nothing of the runtime's objects: it sees a Header embedded in each
// container and reaches the rest of the world through Env, which the
// runtime implements for each collection (reference counts, traversal,
// clearing, finalizers, weak references, stopping the world).
//
// # What it models
//
// The default build's Python/gc.c (3.12/3.13: gc_collect_main and its
// helpers) for the generations, the counting, the order of the steps and
// the statistics; the free-threaded build's Python/gc_free_threading.c for
// how a collection coexists with threads that run without a GIL: two
// stop-the-world pauses, user code only between them, and a reference held
// on every unreachable object while user code runs. Lib/test/test_gc.py is
// the behaviour the tests check.
//
// # Data
//
// Header is CPython's PyGC_Head: the links of the list the object is on,
// the list itself, the scratch count refs (gc_refs) and flag bits
// (finalized, which lives as long as the object; four scratch bits of a
// collection, reachable, unreachable, closed and pending; and the epoch
// of the collection that last examined the object: a collection numbers
// itself, and an object carrying its number is in the set it examines, so
// a survivor need not be visited again to leave the set). List is a circular
// doubly linked list with a sentinel and a member count. A tracked object is on exactly one list:
//
//   - a free-threaded thread's young list, where the thread tracks the
//     containers it allocates without any lock (the runtime owns these);
//   - generation 0, 1 or 2 (Generation(g)); in GIL mode new objects go
//     straight to generation 0;
//   - the permanent generation (Freeze), which collections never look at;
//   - during a collection, one of the collector's private lists.
//
// # Counting and thresholds
//
// As in CPython, generation 0's count is the number of tracked allocations
// less tracked frees since generation 0 was last collected (it never goes
// below zero); generation 1's count is the number of generation-0
// collections since generation 1 was last collected, and generation 2's the
// number of generation-1 collections. Threads keep their own net deltas and
// flush them with AddCount, an atomic add, at safe points. ShouldCollect is
// the trigger of _PyObject_GC_Link and gc_select_generation: nothing while
// collection is disabled, threshold 0 is 0 or a collection runs; otherwise,
// once generation 0's count passes its threshold, the oldest generation
// whose count passes its threshold, except that generation 2 waits until
// the objects that survived a generation-1 collection since the last full
// one (long_lived_pending) are at least a quarter of the objects that
// survived the last full collection (long_lived_total): full collections
// then cost amortized linear time in the heap. Collecting generation g
// zeroes the counts of 0..g and adds one to g+1's.
//
// # The collection
//
// Collect(env, gen) collects generation gen and every younger one. At most
// one collection runs at a time on the whole runtime: a second call, from
// another thread or from user code called by the first (a finalizer, a
// callback), returns (0, 0) at once (CPython's collecting flag). The
// callbacks run before (PhaseStart) and after (PhaseStop), with the world
// running (CollectAtShutdown, a runtime's last collection, runs none, as
// CPython's at shutdown). Then, in two pauses:
//
// Pause 1 (StopTheWorld; no user code).
//
//  1. Counts. GatherYoung merges queued reference counts, so that the
//     counts read next are true, and moves every thread's young list onto
//     generation 0 in constant time (List.Gather): the walk of step 2
//     relabels their members as it reaches them, and sets aside (Dying)
//     those a thread is destroying (RefCount -1), so that no separate walk
//     of the young objects is made. The generation counts are updated.
//
//  2. update_refs and subtract_refs. One walk over generation gen and the
//     younger ones records the set in a slice (every later step walks the
//     slice, several times cheaper than chasing list links) and, a batch
//     of objects at a time, has Subtract traverse them (which also reports
//     whether any object has a legacy finalizer, may be untracked or may
//     resist Clear): each referent in the set has its refs decremented
//     there and then (Subtraction.Visit, which the runtime inlines), with
//     no buffer of referents written and read back (the other steps ask
//     Referents for one). An object joins the set (takes the collection's
//     epoch) the first time the walk reaches it or an object refers to
//     it: membership is known from the list an object is on, so one walk
//     does both of CPython's. Its reference count is read when the walk
//     reaches it, a batch's in one call (RefCounts); an object referred to
//     before that is flagged pending meanwhile, its refs counting down
//     from 0, and gets its count added then. Afterwards refs is the
//     number of references from outside the set; the walk has also
//     counted the objects whose refs is zero, and flagged closed each
//     object whose every reference leads into the set (or to an immortal
//     object: Subtract tells Visit each reference the collector can
//     follow, and says whether an object holds others it does not see).
//
//  3. Mark. Every object with refs > 0 is reachable from outside, and so is
//     everything in the set reachable from it. A cursor walks the slice, as
//     the default build's move_unreachable walks its list: an object that
//     is marked or has refs > 0 is marked and traversed when the cursor
//     reaches it, others are passed (tentatively unreachable); what a
//     traversal reaches ahead of the cursor is only marked, what it reaches
//     behind it goes on an explicit work list (the free-threaded
//     collector's mark_reachable) and is traversed at once. So each
//     reachable object is traversed at most once, mostly in the slice's
//     (allocation) order, and a chain of a million objects costs a million
//     iterations, never a million Go stack frames. The count of step 2
//     ends the mark early: with no zero-refs object, everything is
//     reachable and nothing is traversed; with nothing but zero-refs
//     objects, nothing is reachable; and once every zero-refs object has
//     been marked, the rest is reachable without being traversed.
//
//  4. Partition. In the slice's order (oldest first, as untrack_tuples), a
//     survivor loses its scratch flags and is offered to Untrackable (a
//     tuple of untracked items is untracked, and Untracked tells the
//     runtime); the others go to the unreachable list, flagged
//     unreachable. The lists of generations 0..gen are rebuilt from the
//     slice (which holds all their members) rather than relinked object by
//     object: each object is written once, its neighbours are not touched.
//     Step 2 noticed whether any object of the set has a legacy finalizer;
//     when none has (the common case), steps 7 and 8 are done for the
//     unreachable objects in this same pass, a batch at a time (Hold).
//     When everything is reachable (step 3's count of zero-refs objects is
//     zero) and Subtract reported no object that may be untracked, there is
//     nothing to partition: the set is not visited again, its objects keep
//     the collection's epoch and no other flag (but closed, which only the
//     collection that set it reads), and the younger
//     generations' lists are appended to the old one (their members
//     relabeled through the slice); the old generation itself, at a full
//     collection the whole heap, is not touched.
//
//  5. Promotion. The survivors become generation gen+1 (2 stays 2);
//     long_lived_pending and long_lived_total are updated.
//
//  6. Legacy finalizers (move_legacy_finalizers and
//     move_legacy_finalizer_reachable). Unreachable objects with a legacy
//     finalizer, and every unreachable object reachable from them, move to
//     the finalizers list: they are never freed by the collector.
//
//  7. Hold. Every unreachable object and every object of the finalizers
//     list gets a reference from the collector (Hold for a batch of the
//     unreachable objects, IncRef for the finalizers list): while the world
//     runs, nothing can free them (in the free-threaded build this is
//     _Py_ExplicitMergeRefcount(op, 1)). Those with a PEP 442 finalizer that
//     has not run are noted. The finalizers list joins the old generation.
//
//  8. Weak references (handle_weakrefs / clear_weakrefs). Every weak
//     reference to an unreachable object is cleared, before any finalizer
//     can see it; weak references that are unreachable themselves are
//     cleared so that their callbacks never run. A cleared weak reference
//     with a callback that is not itself garbage is kept, with a reference,
//     for step 9.
//
// World running (StartTheWorld; user code allowed, no lock held).
//
//  9. Callbacks of the weak references kept in step 8, then their
//     references are dropped.
//
//  10. Finalizers (finalize_garbage). Each noted object is flagged finalized,
//     then finalized; a finalizer runs at most once per object, ever. A
//     finalizer may resurrect objects by storing references to them.
//
// Pause 2 (only if step 10 ran a finalizer; nothing else can resurrect).
//
//  11. Resurrection (handle_resurrected_objects). Steps 2-3 again on the
//     unreachable objects still on the list, with refs = reference count
//     less the collector's hold. What is referenced from outside, and what
//     it reaches, was resurrected: it moves to the old generation.
//
//  12. Weak references again: those the finalizers made to what is still
//     unreachable are cleared, with no callbacks.
//
// World running.
//
//  13. Breaking the cycles (delete_garbage). Clear drops every reference each
//     still-unreachable object holds, a batch of objects at a time (which
//     may free objects outside the set; none of the set, since the
//     collector holds them all). Then the holds are dropped, in the order
//     of the set (allocation order, so the frees walk memory forward):
//     reference counting frees the garbage, and the runtime unlinks what it
//     frees from the unreachable list, a private list, without a lock. What
//     survives (an object Clear could not break free) joins the old
//     generation, under its Mu, and stays tracked there.
//     When the whole set was garbage (step 3 found nothing reachable), no
//     legacy finalizer set anything aside, no finalizer ran and nothing
//     resists Clear, the counts are not needed to know what dies: the
//     objects that also refer outside the set are cleared as above, then
//     every object is freed in the order of the set (Free), which drops
//     what a closed object refers to without counting it down: it all
//     leads to garbage (delete.go). A pure cycle is thus cleared and freed
//     in one pass that never loads what an object refers to.
//
//  14. Uncollectable objects (handle_legacy_finalizers). Each object of the
//     finalizers list with a legacy finalizer is appended to gc.garbage;
//     the holds are dropped.
//
// Collect returns, and Info and the statistics count, collected = the
// objects still unreachable at step 13 and uncollectable = the objects of
// the finalizers list, like gc_collect_main's m and n. The weak references
// freed after their callbacks are not counted (as in the free-threaded
// build; the default build adds them to m), and because the collector
// holds the unreachable set, objects that a finalizer's effects would have
// freed early in the default build are freed at step 13 and counted, and
// the whole finalizers list is counted and kept (as in the free-threaded
// build).
//
// # Why user code never runs in a pause
//
// In free-threaded mode a pause is the runtime's stop-the-world: every other
// thread is parked at a safe point. User code run inside one could block on
// a lock a parked thread holds, or need another thread to make progress,
// and the world would never restart (CPython runs weakref callbacks and
// finalizers "after unpausing other threads to avoid potential deadlocks").
// So the pauses only read counts, traverse, move list links, set flags,
// take references and clear weak references, and everything that can run a
// finalizer, a callback, a LegacyDel or a free (Finalize,
// RunWeakrefCallback, Clear, Free, DecRef, AppendGarbage) is
// called with the world running. In GIL mode StopTheWorld and StartTheWorld
// do nothing: the thread holding the GIL is the stopped world, and the same
// order of steps gives CPython's semantics. The collector never holds a
// lock while it calls Env; it takes a generation's Mu only to link objects
// into it while the world runs (step 13, for what survived clearing),
// where a free-threaded thread freeing an object of that generation takes
// it too.
//
// The hold is what makes the world-running steps safe without the default
// build's care about lists changing under its feet: no object of the
// unreachable or finalizers sets can be freed, so the collector's lists and
// slices stay valid; an object that a finalizer or Clear untracked leaves
// the unreachable list and is skipped. Resurrected objects and the
// finalizers list are moved to their final lists (in pause 2 and pause 1)
// before their holds are dropped. The garbage is the exception: its holds
// are dropped while it is still on the unreachable list, because by step
// 13 no other thread can reach it (it was unreachable with the world
// stopped, its weak references are cleared, finalizers have run and what
// they resurrected has left the set), so only the collecting thread can
// free it, and it unlinks what it frees from its own private list. The
// collector never touches an object after dropping its hold, and never
// touches one that another thread could be freeing.
//
// # Invariants
//
//   - Between collections every tracked object is on exactly one list
//     (young, generation 0-2, permanent), every object's list field names
//     that list, every list's count equals its members, and no object has
//     the unreachable, reachable or pending flag set. An object's epoch is
//     at most the last collection's, never the next one's: epochs only
//     grow, an untracked object has none (Unlink clears it), and when they
//     run out (after 2^24-1 collections) the next collection clears every
//     tracked object's epoch before it starts again from 1.
//   - refs is meaningful only for members of the set being examined during
//     a collection.
//   - The collection's private lists (the unreachable set, the finalizers
//     list) are empty between collections and hold, during one, only
//     objects the collector holds a reference to once the world runs,
//     except at the end of step 13, when the garbage whose holds were
//     dropped waits there to be freed by the collecting thread.
//   - The finalized flag is set before Finalize runs and never cleared.
//
// Who writes what: Header's links and list field, whoever may write the
// list the object is on (see Header and List); refs and the scratch flags,
// the collector only, with the world stopped or on objects only it can
// reach; the finalized flag, the thread finalizing the object. The
// Collector's thresholds, counts and flags are atomics any thread reads;
// its statistics and callbacks are behind a mutex; its scratch state
// belongs to the thread that won the collecting flag.
//
// # Beyond CPython's free-threaded collector
//
// The free-threaded build's collector is not generational: it walks every
// mimalloc heap at each collection, so a collection costs in proportion to
// the whole heap. nogil keeps the default build's generations in both
// modes: threads track new containers on their own young lists without
// synchronization, the first pause gathers them, and a collection of
// generation g walks only generations 0..g (plus the objects they refer
// to, whose flags a traversal reads). A generation-0 collection costs in
// proportion to generation 0, however many long-lived objects there are.
//
// # Costs
//
// A big heap's collection waits on memory: its time goes into cache misses
// on the objects referenced, which lie anywhere in the heap. So:
//
//   - A collection walks the linked lists once (step 2); every other step
//     walks slices, in the order of the lists (allocation order, which is
//     address order for objects allocated together), which lets the
//     processor fetch objects in parallel instead of one pointer after
//     another. The mark (step 3) follows that order too, not a depth-first
//     one, and the partition (step 4) rebuilds the lists without touching
//     an object's neighbours.
//   - Traversal and clearing go in batches (Subtract, Referents, Clear): one
//     Env call per few dozen objects, no call per reference; step 2's
//     traversal does not even write out the references (Subtraction).
//   - An object is traversed once in step 2 and at most once in step 3,
//     where a heap held from outside, or garbage with nothing held from
//     outside, is not traversed at all (step 3's count). RefCounts,
//     Subtract and Hold are one call per batch; Untrackable is one per
//     survivor only when Subtract reported a candidate.
//   - A live heap's full collection visits each object once (step 2) and
//     its referents: survivors keep their epoch instead of having a flag
//     cleared, and the partition is skipped (step 4).
//   - The garbage is freed in allocation order, each object at its DecRef
//     (or its Free).
//
// The scratch slices are kept between collections while they stay at
// least a quarter used, so that repeated collections of a big heap do not
// allocate (and do not make Go's own collector run during ours). The
// Header is four words: refs is 32 bits, as in the free-threaded build;
// list, refs and flags, which a collection reads of every object it
// reaches, come first.
package gc

// Package runtime is nogil's object runtime: one object model that runs in
// either of CPython's two memory-management designs, chosen when the
// runtime is created.
//
//   - GIL mode (CPython's default build): one global interpreter lock
//     (package gil) orders everything; reference counts are plain integers.
//   - Free-threaded mode (CPython's --disable-gil build, PEP 703): no global
//     lock; biased reference counting (package biasedrc) or, for
//     comparison, all-atomic counts; a lock per container; stop-the-world
//     pauses for the collector.
//
// In both, a generational cycle collector (package gc) frees unreachable
// cycles with CPython's semantics. The API is in API.md; this comment says
// how it works inside.
//
// # Objects
//
// Every object begins with the same 40-byte header, Object: its type, the
// reference-count word (biasedrc.Count: owner id, the owner's plain local
// part, the atomic shared part with its state bits) and a one-word lock.
// Concrete objects embed the header as their first field (intObject,
// listObject, ...; object.go), and containers — tuple, list, dict,
// instances, weakref — embed it through container, which adds the
// collector's header (gc.Header: list links, scratch count, flags). A
// *Object is converted to its concrete struct by the type's kind
// (cast_unsafe.go, checked under -race and nogil_debug builds).
//
// Sizes (amd64): int and float 48 bytes, an empty list 96 (header 40, gc
// header 32, slice 24), a tuple 112 (its first two items inline), an empty
// dict 128, an instance 128 (its first five attribute values inline; its
// header, count and collector fields share a cache line when it starts
// one: the collector touches them for every object of a full collection).
// The allocator adds nothing per slot.
//
// Every object is a slot of package mimallocish (alloc.go), and so are the
// item arrays of lists up to 16 items (listitems.go: capacity classes of 4,
// 8 and 16) and the tables of dicts up to five keys (dicttable.go);
// tuples of up to two items and instances of up to five attributes hold
// them in the object (instattrs.go: the names are the type's, shared by
// its instances, as CPython's split-keys dictionaries). Creating and dropping
// such objects therefore allocates nothing from Go's heap
// (goalloc_test.go), and Go's own collector has little to do while
// short-lived objects churn. Larger arrays and tables come from Go's heap.
//
// Freed ints and floats wait on a free list, up to 100 of each, and lists
// and dicts, up to 80, and the next constructor of their type takes them
// from there without the allocator (freelist.go: CPython's _Py_freelists,
// per runtime under the GIL, per thread when free-threaded; emptied by
// every full collection and by a closing thread; off with
// Config.NoFreeLists and in Debug mode).
//
// Immortal objects — None, True, False, the ints -5..256, interned strs and
// gc.garbage — have their owner word set to "immortal" before they are
// published, and no strategy ever writes their counts again.
//
// # Reference counting
//
// The strategy is fixed per runtime:
//
//  1. GIL mode: Count.IncPlain / DecPlain. The GIL gives every access a
//     happens-before edge; the race detector checks that it really does.
//  2. Free-threaded, Biased: the thread that allocated an object owns it and
//     counts on the plain local part; other threads use the atomic shared
//     part. A non-owner decrement that would take the shared part below
//     zero queues the object to its owner (the queue holds that
//     reference); the owner merges its queue at its safe points. When the
//     owner's part reaches zero the object is freed at once if nobody else
//     ever counted on it, or merged (disowned) otherwise.
//  3. Free-threaded, Atomic: one atomic add per update, the naive baseline.
//
// Every increment goes through Count.Inc, which tells the three apart by
// the owner word and inlines (no call on the runtime's increments); a
// decrement switches on the thread's copy of the strategy.
//
// RefCount of an object another live thread owns briefly stops the world:
// the owner's plain part may only be read after a happens-before edge.
//
// # Threads, safe points and stopping the world
//
// A Thread is attached or detached. In GIL mode attached means holding the
// GIL; Checkpoint hands it over when a waiter has asked (forced
// switching). In free-threaded mode the state is an atomic word
// (detached, attached, suspended) and stopping the world (stw.go) works as
// CPython's _PyEval_StopTheWorld:
//
//  1. the stopper sets stopRequested and moves every detached thread to
//     suspended, so it cannot attach;
//  2. each attached thread parks at its next Checkpoint or at the end of
//     its next container allocation (detach, wait, attach again): the
//     second is CPython's eval breaker, checked at every call, so that a
//     thread building a large structure without Checkpoints answers within
//     one allocation (never inside one, and never while it frees);
//  3. the stopper waits until no other thread is attached, works, then
//     moves suspended threads back to detached and wakes everyone.
//
// Runtime.WorldStats counts the worlds stopped and every park, with its
// length: the cost of stopping the world as the other threads see it.
//
// Every safe point (Checkpoint, Attach, Detach, Close) also merges the
// thread's biased queue, unlinks the young objects other threads freed,
// gives its net container count to the collector and publishes its
// statistics; a due automatic collection runs at Checkpoint or at the end
// of the allocation that made it due. The GIL changes hands only at
// Checkpoint, Detach and Close: code between two Checkpoints runs under
// the GIL without another thread's work in between (a collection may
// still run at an allocation, with its finalizers and callbacks).
//
// # Containers in free-threaded mode
//
// Each list, dict and instance operation runs under the object's lock
// (lock.go; CPython's critical sections): a CAS to lock and a swap to
// unlock when uncontended, waiters parked in an address-hashed table.
// Critical sections never run user code (a replaced item is released
// after the unlock), never reach a safe point and never nest except
// through lockTwo, which locks in address order. So no thread ever holds
// an object lock while it detaches or parks, and locks cannot deadlock
// against each other or against a stopped world. Reads take their new
// reference under the lock, so it stays valid when another thread replaces
// the item at once. The collector's Clear takes no lock: it only ever
// clears garbage, which no other thread can reach. Nor does an operation
// on one object that only the calling thread references (biased
// counting: it owns the object, its local part is 1 and the shared word
// is 0; CPython's _PyObject_IsUniquelyReferenced): a new object being
// filled in costs no atomic read-modify-write (needsLock). And ListGet
// on a list that another thread than its owner has read (biased counting)
// takes no lock at all when it can: it loads the list's array and the item
// atomically, takes a reference with a try-incref and checks that the item
// is still there (CPython 3.14's list_get_item_ref; listview.go, with why
// race-detector builds read under the lock).
//
// # Sharing objects between threads
//
// The lock test reads a count, so, as in CPython, the count must tell who
// may use an object: a thread that uses an object other threads use at
// the same time holds a reference of its own, made before it starts using
// the object (a Python thread holds one on its stack; threading.Thread(
// args=(l,)) makes it in the starting thread). A thread that borrows the
// only reference another thread holds works as long as that thread does
// not operate on the object meanwhile: the holder, seeing one reference,
// its own, skips the lock, and the two operations can overlap (lost
// appends, a torn array; the race detector reports it). Locking every
// operation instead cost B5 about 12% (0.93x -> 0.81x, measured in the
// fourteenth session). A thread that reused a closed thread's id (which
// makes it the owner of that thread's objects, threadspare.go) never
// skips a lock this way: it does not hold the references the closed
// thread handed over.
//
// # The collector's lists
//
// Lists, dicts, instances and weak references are tracked from birth to
// death. A tuple is born tracked only when one of its items may be tracked
// (a container other than an untracked tuple; CPython 3.14.1+, gh-139951);
// since its items never change, it never needs the collection-time
// untracking CPython keeps for tuples C code fills in later. Only
// tracked births and deaths move generation 0's count (gc.Header's
// Counted bit remembers a tuple born untracked).
//
// In GIL mode every tracked object is on one of the collector's shared
// generation lists, and the GIL guards them. In free-threaded mode a new
// container goes on its thread's own young list (youngList, thread.go),
// linked without any lock or atomic. The collector splices every young
// list into generation 0 while the world is stopped, so a generation-0
// collection costs in proportion to the young objects, never the whole
// heap. Unlinking a dying object depends on whose list it is on: its own
// thread's young list, directly; a shared generation list, under that
// list's mutex; another thread's young list, through that thread's remote
// queue, which the owner drains at its safe points (and the collector in
// its pause). A closed thread's young list is orphaned: unlinks take its
// mutex until the next pause moves it to generation 0.
//
// # Deallocation
//
// A container whose count reaches zero is untracked at once and pushed on
// its thread's work list; the outermost free drains the list, so freeing a
// chain of any length never recurses (CPython's trashcan). For each object:
// a PEP 442 Finalize runs once (with the object temporarily resurrected,
// and it may stay resurrected); weak references are cleared and their
// callbacks run; a LegacyDel runs every time (after the weak references
// are cleared, as CPython's tp_del); the references it holds
// are dropped; the slot goes back to the allocator (alloc.go), which zeroes
// it. The finalizers and callbacks are the program's code, and free at
// once as CPython's does (an object whose last reference they drop is
// destroyed before they go on): each gets a work list of its own, up to
// 50 levels deep, past which frees wait as CPython's trashcan defers
// them (runUserCode). What a container held dies in CPython's order: a
// list's or a tuple's items from the end, a dict's entries in insertion
// order (key, then value), an instance's attributes in the order they
// were first set; but every item's count is dropped before the first of
// them is destroyed, where CPython destroys each as it drops it (so a
// finalizer of the last item finds its siblings already dead). A scalar (int, float, str) holds nothing and runs nothing: it is
// freed at once, without the work list. In Debug mode the header is
// poisoned instead and the slot kept (its type becomes the type's "freed"
// twin, so any later use panics naming the type); a container queued to
// another thread's young list is poisoned in every mode until that thread
// frees its slot. While a finalizer runs, the object's count is
// owned by the finalizing thread with a zero shared part, so under biased
// counting no other thread's WeakRefGet can revive a dying object.
//
// # Allocation
//
// Every object comes from package mimallocish (alloc.go): in free-threaded
// mode from the allocating thread's own heap, one per object struct, with
// no lock or atomic on the owner's paths, frees of another thread's slots
// going to that page's atomic thread_free list, and a closing thread's
// pages abandoned to others (its empty ones kept on its classes' spare
// lists, and its heaps and free-list arrays kept for the next thread:
// threadspare.go); in GIL mode from pymalloc-style pools in one
// arena space, protected by the GIL. The slot id sits in the header's
// padding; while the slot is free, the same field holds the allocator's
// free-list link, so free lists cost no memory per slot. A slot is reused
// as soon as its object is freed, except in Debug mode, which quarantines
// freed slots so that every use after free keeps finding the poisoned
// header. A container on another thread's young
// list is freed through that thread (see "The collector's lists"), so its
// slot is never reused while it is still linked.
//
// # Lock order
//
// Runtime.worldMu, then a thread's stats mutex or a young list's mutex;
// biasedrc's registry lock, then a queue's lock; a weak-reference stripe
// lock, then (when a finalizer's reference is dropped under it) the
// registry and queue locks; gcDoneMu, then nothing; an object lock, then (lockTwo only) a second object
// lock at a higher address. No user code runs under any of them.
package runtime

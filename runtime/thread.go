package runtime

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/nogil-lab/nogil/biasedrc"
	"github.com/nogil-lab/nogil/gc"
	"github.com/nogil-lab/nogil/gil"
	"github.com/nogil-lab/nogil/internal/cacheline"
)

// Thread states of free-threaded mode (CPython's _Py_THREAD_DETACHED,
// _ATTACHED, _SUSPENDED). Only the thread moves itself between detached
// and attached; a thread stopping the world moves detached threads to
// suspended and back.
const (
	stDetached int32 = iota
	stAttached
	stSuspended
)

// Thread is a runtime thread: the handle every operation is made through.
// A Thread is used by one goroutine at a time.
type Thread struct {
	rt *Runtime
	id biasedrc.ThreadID
	// lockID is the id needsLock's uniqueness test compares with an
	// object's owner: id, or neverUnique for a thread that reused a closed
	// thread's id (threadSpare). Written once, by NewThread.
	lockID biasedrc.ThreadID
	// strategy is the runtime's, copied here for the hot paths.
	strategy biasedrc.Strategy
	// fresh is the count word of an object this thread makes. Written
	// once, by NewThread.
	fresh biasedrc.Fresh

	// state is the free-threaded thread state. Atomic: the thread and a
	// thread stopping the world both write it.
	state atomic.Int32
	_     cacheline.Pad

	// Owned by the goroutine using the thread.
	attached bool
	closed   bool
	gilh     *gil.Handle              // GIL mode
	queue    *biasedrc.Queue[*Object] // Biased
	young    *youngList               // free-threaded: this thread's generation 0
	stats    threadCounters
	gcDelta  ownedCount // net tracked allocations not yet given to the collector
	gcDue    bool       // an automatic collection is due at the next opportunity
	// entryRT is rt while the thread is attached and noRuntime while it is
	// detached or closed (set with attached, by setAttached), so that
	// enter tells an attached thread and a live object of its runtime
	// from every misuse with one compare. (attached could be derived from
	// it, but mustBeAttached, on every entry without an object, would
	// then load and compare two pointers instead of testing a byte: one
	// instruction more per NewFloat in B3's loop, measured.)
	entryRT *Runtime
	// brcBatch holds the objects this thread queued to their owner and has
	// not yet handed to the owner's queue (Biased): handed over when it
	// fills, at this thread's safe points, or by a thread that stops the
	// world while this one is parked. Owned by the thread.
	brcBatch biasedrc.Batch[*Object]
	// freeDead is th.free as a func value, made once (Biased): the merge
	// queue's calls take it, and a method value made at the call would be
	// an allocation on every queued drop.
	freeDead func(*Object)
	// trash is the work list of objects whose count reached zero, freed
	// one at a time so that freeing a long chain needs no deep recursion.
	trash     []*Object
	freeState freeState
	// userFreeDepth counts the levels of the program's code run from
	// within frees (runUserCode); finalizers are the objects whose
	// finalizers run meanwhile, innermost last.
	userFreeDepth int
	finalizers    []*Object
	collecting    bool
	// stoppedWorld: this thread has stopped the world and not restarted
	// it; its own allocations must not park for its own stop request.
	stoppedWorld bool
	heaps        heaps  // free-threaded: this thread's allocator heaps
	pools        *pools // GIL mode: the runtime's pools (nil when free-threaded)
	// freeLists are the runtime's (GIL mode) or the thread's own
	// (free-threaded): freelist.go.
	freeLists  *freeLists
	quarantine bool // Debug: freed slots are never given back
	// onPark, when set (by the benchmarks), is told how long each park
	// for another thread's stop-the-world lasted.
	onPark func(time.Duration)
}

// youngList is a free-threaded thread's generation 0: objects it allocated
// since the last collection. Only the owning thread links and unlinks
// (without a lock, so allocation stays lock-free); another thread that frees
// one of them queues it in remote for the owner, which unlinks it at its
// next safe point. A closed thread's list is orphaned: unlinks then take
// mu, until the next pause moves its objects into the shared generation 0.
type youngList struct {
	list  gc.List // first field: cast_unsafe.go goes from the list back
	owner *Thread
	// pending says remote is not empty. Atomic; polled at safe points.
	pending atomic.Bool
	// mu protects remote and orphaned, and the list once orphaned.
	mu       sync.Mutex
	remote   []*container
	orphaned bool
}

// NewThread returns a new, attached thread.
func (rt *Runtime) NewThread() *Thread {
	rt.checkOpen()
	th := &Thread{rt: rt, strategy: rt.strategy, pools: rt.pools, quarantine: rt.cfg.Debug}
	switch {
	case rt.mode == GIL:
		th.id = newThreadID()
		th.lockID = th.id
		th.gilh = rt.gil.NewHandle()
		th.freeLists = rt.freeLists
	default:
		s := rt.takeSpare()
		th.id, th.heaps, th.freeLists = s.id, s.heaps, s.freeLists
		th.lockID = th.id
		if s.reused {
			th.lockID = neverUnique
		}
		th.young = &youngList{owner: th}
		th.young.list.InitYoung()
		if rt.brc != nil {
			// After the id's last thread deregistered (Close): it may
			// own objects already.
			th.queue = rt.brc.Register(th.id)
			th.freeDead = th.free
		}
	}
	th.fresh = biasedrc.NewFresh(th.strategy, th.id)
	th.state.Store(stDetached)
	rt.worldMu.Lock()
	rt.threads = append(rt.threads, th)
	rt.worldMu.Unlock()
	th.Attach()
	return th
}

// Runtime returns the thread's runtime.
func (th *Thread) Runtime() *Runtime { return th.rt }

// ID returns the thread's id (the owner id of biased counting). A new
// free-threaded thread may get the id of a closed one, and with it the
// ownership of that thread's objects (threadspare.go); two threads that
// are open at once never share an id.
func (th *Thread) ID() uint64 { return uint64(th.id) }

// mustBeAttached is the entry check of every Thread method. It must inline:
// the panic is formatted out of line.
func (th *Thread) mustBeAttached() {
	if !th.attached {
		panic(th.notAttached())
	}
}

// noRuntime is the entryRT of a detached thread: a pointer no object's
// type holds (a freed object's type holds nil).
var noRuntime = new(Runtime)

// setAttached records whether the thread is attached, for mustBeAttached
// and enter.
func (th *Thread) setAttached(on bool) {
	th.attached = on
	th.entryRT = noRuntime
	if on {
		th.entryRT = th.rt
	}
}

// enter is mustBeAttached and check in one test, for the entries that take
// an object: a nil object, a freed one (its type has no runtime), one of
// another runtime and a thread that is not attached all fail the one
// compare, and badEntry then says which.
func (th *Thread) enter(o *Object) {
	if o == nil || o.typ.rt != th.entryRT {
		panic(th.badEntry(o))
	}
}

// badEntry is the misuse message for a failed enter.
//
//go:noinline
func (th *Thread) badEntry(o *Object) string {
	if !th.attached {
		return th.notAttached()
	}
	return badObject(o)
}

// notAttached is the misuse message for a thread used while detached.
//
//go:noinline
func (th *Thread) notAttached() string {
	if th.closed {
		return misuseMessage("use of a closed thread")
	}
	return misuseMessage("use of a detached thread (call Attach first)")
}

// Attach takes the GIL (GIL mode) or becomes attached (free-threaded mode),
// waiting while another thread has stopped the world.
func (th *Thread) Attach() {
	if th.closed {
		misuse("Attach of a closed thread")
	}
	if th.attached {
		misuse("Attach of a thread that is already attached")
	}
	if th.rt.mode == GIL {
		th.rt.gil.Acquire(th.gilh)
	} else {
		th.attachFT()
	}
	th.setAttached(true)
}

// Detach releases the GIL or becomes detached, around blocking work: a
// detached thread never delays another's collection.
func (th *Thread) Detach() {
	th.mustBeAttached()
	th.safePoint()
	th.setAttached(false)
	if th.rt.mode == GIL {
		th.rt.gil.Release(th.gilh)
	} else {
		th.detachFT()
	}
}

// Checkpoint is a safe point: it hands the GIL over when another thread
// asked for it, stops while another thread stops the world, merges
// reference counts queued to this thread, publishes statistics and runs a
// due automatic collection.
func (th *Thread) Checkpoint() {
	th.mustBeAttached()
	th.safePoint()
	rt := th.rt
	if rt.mode == GIL {
		if rt.gil.DropRequested() {
			rt.gil.Yield(th.gilh)
		}
	} else if rt.stopRequested.Load() {
		th.park()
	}
	th.runDueCollection()
}

// safePoint does the bookkeeping every safe point does.
func (th *Thread) safePoint() {
	if th.queue != nil && th.queue.Pending() {
		th.mergeQueued()
	}
	// After the drain, whose frees may queue objects of other owners: a
	// thread leaves every safe point with its batch handed over (a merge
	// of an exited owner's object may free one whose drops queue more).
	for th.brcBatch.Len() > 0 {
		th.rt.brc.Flush(&th.brcBatch, th.freeDead)
	}
	if th.young != nil && th.young.pending.Load() {
		th.young.drainRemote(th)
	}
	th.flushGCCount()
	th.stats.publish()
}

// mergeQueued merges every object other threads queued to this one (their
// dropped references) and frees those whose count reached zero: the
// queue's Drain with the merge and the free written out, without two calls
// through func values and a method-value wrapper per object
// (producer-consumer, ft, callgrind: 22160 -> 21645 instructions per 16
// queued drops, 32 each).
func (th *Thread) mergeQueued() {
	items := th.queue.Take()
	for _, o := range items {
		if _, out := o.rc.Merge(-1); out == biasedrc.Dead {
			th.free(o)
		} else if out == biasedrc.Underflow {
			th.underflow(o)
		}
	}
	th.queue.Recycle(items)
	th.stats.countMerges(len(items))
}

// Close ends the thread. What it owns is handed over: its merge queue is
// drained, objects it owns are merged by whoever next needs to, its young
// objects join the shared generation 0 at the next collection. Closing a
// detached thread attaches it first; closing twice panics.
func (th *Thread) Close() {
	if th.closed {
		misuse("Close of a thread that is already closed")
	}
	if !th.attached {
		th.Attach()
	}
	rt := th.rt
	th.safePoint()
	if th.queue != nil {
		th.stats.countMerges(rt.brc.Deregister(th.queue, &th.brcBatch, th.freeDead))
		th.queue = nil
	}
	if th.young != nil {
		th.young.orphan(th)
		th.freeLists.clear(th)
		th.heaps.abandon()
	}
	th.flushGCCount()
	th.setAttached(false)
	th.closed = true
	if rt.mode == GIL {
		rt.gil.Release(th.gilh)
	} else {
		th.detachFT()
	}
	rt.worldMu.Lock()
	for i, t := range rt.threads {
		if t == th {
			rt.threads = append(rt.threads[:i], rt.threads[i+1:]...)
			break
		}
	}
	th.stats.publish()
	th.stats.addPublished(&rt.retired)
	if th.young != nil {
		rt.orphans = append(rt.orphans, th.young)
		// Out of rt.threads first: a collection's pause reaches a
		// thread's free lists through it until then.
		rt.keepSpare(threadSpare{heaps: th.heaps, freeLists: th.freeLists, id: th.id})
		th.heaps, th.freeLists = heaps{}, nil
	}
	rt.worldCond.Broadcast()
	rt.worldMu.Unlock()
}

// flushGCCount gives the thread's net tracked allocations to the
// collector and notes whether an automatic collection is due.
func (th *Thread) flushGCCount() {
	d := th.gcDelta.get()
	if d == 0 {
		return
	}
	c := th.rt.collector
	th.gcDelta.add(-d)
	c.AddCount(int(d))
	if c.ShouldCollect() >= 0 || th.mustAssist() {
		th.gcDue = true
	}
}

// gcAssistFactor bounds how far generation 0 may outgrow its threshold
// while another thread's collection runs.
const gcAssistFactor = 2

// mustAssist reports, in free-threaded mode, that another thread is
// collecting while generation 0 has grown past gcAssistFactor times its
// threshold. Without the GIL nothing else holds allocating threads back
// while one thread collects, and a collector that frees more slowly than
// several threads allocate falls further behind with every collection
// (each one larger and longer than the last); so such a thread waits for
// the collection to end and then collects itself: backpressure, like Go's
// GC assists.
func (th *Thread) mustAssist() bool {
	c := th.rt.collector
	if th.rt.mode != FreeThreaded || th.collecting || !c.IsEnabled() || !c.Collecting() {
		return false
	}
	t0, _, _ := c.Threshold()
	c0, _, _ := c.Count()
	return t0 > 0 && c0 > gcAssistFactor*t0
}

// waitForCollection waits, detached, until no collection is running.
func (th *Thread) waitForCollection() {
	rt := th.rt
	th.detachFT()
	rt.gcDoneMu.Lock()
	for rt.collector.Collecting() {
		rt.gcDone.Wait()
	}
	rt.gcDoneMu.Unlock()
	th.attachFT()
}

// gcCountBatch is how many net tracked allocations a thread counts before it
// gives them to the collector (CPython's free-threaded build batches the
// same way).
const gcCountBatch = 32

func (th *Thread) runDueCollection() {
	if !th.gcDue {
		return
	}
	th.gcDue = false
	if th.collecting || th.freeState == freeing {
		th.gcDue = true // run it once the current work is done
		return
	}
	if th.mustAssist() {
		th.waitForCollection()
	}
	if g := th.rt.collector.ShouldCollect(); g >= 0 {
		th.collectGeneration(g)
	}
}

// drainRemote unlinks the objects other threads freed from the young list
// and gives their slots back, on behalf of th (the owner at its safe point,
// or the collector while the world is stopped).
func (y *youngList) drainRemote(th *Thread) {
	y.pending.Store(false)
	y.mu.Lock()
	remote := y.remote
	y.remote = nil
	y.mu.Unlock()
	for _, c := range remote {
		gc.Unlink(&c.gc)
		th.releaseSlot(&c.Object, c.typ.original)
	}
}

// orphan hands a closing thread's young list to the runtime: from now on
// other threads unlink from it under its mutex, until the next pause moves
// it into generation 0.
func (y *youngList) orphan(th *Thread) {
	y.drainRemote(th)
	y.mu.Lock()
	y.orphaned = true
	y.mu.Unlock()
}

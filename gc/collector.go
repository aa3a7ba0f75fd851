package gc

import (
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/nogil-lab/nogil/internal/cacheline"
)

// Default thresholds, as in CPython's default build (gc.get_threshold()).
const (
	DefaultThreshold0 = 700
	DefaultThreshold1 = 10
	DefaultThreshold2 = 10
)

// GenStats are the statistics of one generation (CPython gc.get_stats()):
// how many collections of that generation ran, how many objects they found
// collectable and how many uncollectable.
type GenStats struct{ Collections, Collected, Uncollectable int }

// Phase says whether a callback runs before or after a collection.
type Phase uint8

// Callback phases (CPython passes "start" and "stop").
const (
	PhaseStart Phase = iota + 1
	PhaseStop
)

// String returns "start" or "stop", as CPython's callbacks receive them.
func (p Phase) String() string {
	switch p {
	case PhaseStart:
		return "start"
	case PhaseStop:
		return "stop"
	}
	return fmt.Sprintf("Phase(%d)", uint8(p))
}

// Info is what a callback learns about a collection (CPython's info dict).
// At PhaseStart, Collected and Uncollectable are zero.
type Info struct{ Generation, Collected, Uncollectable int }

// Env is how the collector reaches the object graph and the world. The
// runtime implements it, bound to the collecting thread, one value per
// collection. The comments say when each method is called: "world stopped"
// methods must not run user code and are only called between StopTheWorld
// and StartTheWorld; "world running" ones may run user code (finalizers,
// callbacks, frees) and are never called between them.
type Env interface {
	// StopTheWorld / StartTheWorld bracket the pauses. In GIL mode they do
	// nothing (the GIL holder is the stopped world). No Env method that runs
	// user code is called between them.
	StopTheWorld()
	StartTheWorld()
	// GatherYoung is called first in every pause that needs the young
	// objects: the runtime merges queued reference counts, then moves
	// every thread's young list onto gen0 with gen0.Gather, which leaves
	// relabeling the members (and setting aside those being destroyed) to
	// the collector's walk of gen0 that follows in the same pause.
	GatherYoung(gen0 *List)
	// RefCount returns the true reference count (world stopped). It may be
	// zero in the first pause for an object whose last reference GatherYoung
	// dropped (merging a queued count): the runtime keeps such an object
	// alive and tracked until StartTheWorld, and the collection treats it
	// as garbage, like CPython's free-threaded merge_queued_objects. It is
	// -1 for an object that a thread is destroying (its count reached zero
	// before the pause) but that is still on a young list, which only its
	// owner may unlink: the collector unlinks it from gen0 and hands it to
	// Dying.
	RefCount(h *Header) int64
	// RefCounts is RefCount for a batch (world stopped): it sets rcs[i]
	// to RefCount(hs[i]) for each object of hs (len(rcs) == len(hs)).
	// Step 2 reads every count of its set this way, one call per batch
	// of the walk, where a call per object cost as much as the count's
	// own reading: the runtime decides how to read a count once per
	// batch. The resurrection check and Freeze, which read few counts,
	// use RefCount.
	RefCounts(hs []*Header, rcs []int64)
	// Dying receives, untracked, an object RefCount reported as being
	// destroyed (world stopped); the runtime keeps it on a list of its own,
	// out of the collections, until its destroyer unlinks it. It must not
	// link or unlink any other object.
	Dying(h *Header)
	// Referents appends to buf, for each object of hs in turn, the Header
	// of every object it references that has a Header and is tracked
	// (CPython's tp_traverse), one entry per reference (a list holding x
	// twice appends x twice), and returns the extended buf. World stopped.
	// The collector asks for a few dozen objects at a time and then works
	// through the buffer in loops of its own: one call per batch instead of
	// an indirect call per reference. References to immortal objects,
	// which counting never changes, may be left out.
	Referents(hs []*Header, buf []*Header) []*Header
	// Subtract is step 2's traversal of a batch of the set (world
	// stopped): for each object h of hs in turn, it calls s.Visit(r) for
	// each Header r that Referents would append for h, in the same order
	// (it may call it for an untracked Header too, which Visit reports out
	// of the set), and then s.Close(h) if each of those calls returned
	// true and h holds no other reference that Clear would count down (to
	// a mortal object without a Header, or to an untracked one; a
	// reference to an immortal object does not count): the collector
	// learns which objects refer only to the set (see Free). It is
	// Referents without the buffer: a collection of a big heap spends its
	// first pause here, and the references go straight into the counts
	// instead of being written out and read back.
	//
	// It also reports whether any object of hs has a legacy finalizer
	// (TraitLegacy), whether any of them may be Untrackable
	// (TraitUntrackable; it may say so of an object that turns out not to
	// be), and whether Clear may leave any of them holding references
	// (TraitUnclearable: a type without tp_clear), in the same pass over
	// the batch rather than in a call of its own per batch or per object.
	// When no trait is reported for the whole set (the common case), the
	// collection asks nothing more of a survivor; when nothing is
	// unreachable either, it does not look at the set again at all.
	Subtract(hs []*Header, s *Subtraction) Traits
	// Untrackable reports that h may be untracked now (a tuple whose items
	// are all untracked or immortal): the collector unlinks it from its list
	// (world stopped) and the runtime is told via Untracked(h). Neither may
	// link or unlink any object. Untrackable is asked of the survivors of a
	// collection only when Subtract reported TraitUntrackable for its set.
	Untrackable(h *Header) bool
	Untracked(h *Header)
	// HasLegacyFinalizer: the object has a LegacyDel (CPython tp_del).
	HasLegacyFinalizer(h *Header) bool
	// Hold is steps 7 and 8 for a batch of unreachable objects (world
	// stopped; no user code), in order: for each h of hs, take a reference
	// on behalf of the collector, as IncRef does; append h to toFinalize
	// if it has a PEP 442 finalizer (Finalize) and is not Finalized; clear
	// the weak references to it as ClearWeakrefs(h, isGarbage, cbs) does.
	// Returns the extended toFinalize and cbs. One call per batch of the
	// garbage instead of three per object.
	Hold(hs []*Header, isGarbage func(*Header) bool, toFinalize, cbs []*Header) ([]*Header, []*Header)
	// ClearWeakrefs clears every weak reference to h (world stopped; no user
	// code) and appends to cbs each cleared weak reference that has a
	// callback and whose own Header is not garbage (isGarbage false), taking
	// a reference to it. It also, when h is itself a weak reference, clears h
	// so its callback can never run. Returns the extended cbs.
	ClearWeakrefs(h *Header, isGarbage func(*Header) bool, cbs []*Header) []*Header
	// RunWeakrefCallback calls wr's callback with wr (user code, world
	// running).
	RunWeakrefCallback(wr *Header)
	// Finalize runs h's PEP 442 finalizer (user code, world running). The
	// collector sets the finalized flag first.
	Finalize(h *Header)
	// Clear drops every reference each object of hs holds (CPython
	// tp_clear; world running); may free objects. The collector passes the
	// garbage in batches, so that the runtime may take the references out
	// of a whole batch, load the objects they refer to together (their
	// cache misses overlapping), and only then drop them.
	Clear(hs []*Header)
	// Free frees h, an object of the garbage the collector holds, whatever
	// its reference count (world running), and drops every reference h
	// still holds without counting it down. The collector calls it only
	// when every reference left to h is its hold or from garbage it frees
	// the same way, and every reference h holds leads to such garbage (or
	// to an immortal object), so the counts are moot: this saves loading
	// each referent, the one random access of the clearing pass. No
	// finalizer is due, nobody else can reach h, and the collector has
	// taken h off its unreachable list: it is untracked.
	Free(h *Header)
	// IncRef / DecRef on behalf of the collecting thread. DecRef may free the
	// object (world running). IncRef is called with the world stopped.
	IncRef(h *Header)
	DecRef(h *Header)
	// AppendGarbage appends h to gc.garbage (world running).
	AppendGarbage(h *Header)
}

// Traits is what Env.Subtract reports of a batch of objects.
type Traits uint8

// The traits Env.Subtract reports.
const (
	TraitLegacy      Traits = 1 << iota // some object has a legacy finalizer
	TraitUntrackable                    // some object may be Untrackable
	TraitUnclearable                    // Clear may leave some object holding references
)

// Collector is the cycle collector of one runtime: the generation lists,
// the counters and thresholds that trigger automatic collections, the
// statistics and callbacks, and the scratch state of the collection in
// progress (there is at most one: see Collect).
//
// Concurrency: the enabled flag, thresholds, counts and the collecting flag
// are atomics, read by every allocating thread at its safe points. Stats and
// callbacks are guarded by mu. The lists follow the rules of List. The
// scratch fields below "collection scratch" belong to the thread that won
// the collecting flag.
type Collector struct {
	// Read by every thread at its safe points (ShouldCollect), written
	// rarely: kept off the lines that are written often.
	enabled    atomic.Bool
	collecting atomic.Bool
	threshold  [NumGenerations]atomic.Int64
	// CPython's long_lived_total (survivors of the last full collection) and
	// long_lived_pending (survivors of generation-1 collections since then).
	longLivedTotal   atomic.Int64
	longLivedPending atomic.Int64
	_                cacheline.Pad

	// count[0] is written by every thread that flushes its allocation count.
	count [NumGenerations]atomic.Int64
	_     cacheline.Pad

	gens [NumGenerations + 1]List // 0, 1, 2 and Permanent

	mu        sync.Mutex
	stats     [NumGenerations]GenStats
	callbacks []*callback

	// Collection scratch.
	unreachable List                  // the unreachable set
	finalizers  List                  // legacy finalizers and what they reach (pause 1 only)
	env         Env                   // the collection's Env, for the visitors
	members     [NumGenerations]*List // the lists whose members are being counted
	objs        []*Header             // the set examined, then the unreachable objects held
	stack       []*Header             // markReachable's work list
	set         []*Header             // the set of the resurrection check
	fin         []*Header             // the legacy-finalizer set, held
	toFinalize  []*Header             // held objects whose PEP 442 finalizer must run
	cbs         []*Header             // weak references whose callbacks must run, held
	refs        []*Header             // Referents of the current batch
	refsUsed    int                   // the most refs has held in this collection
	batch       []*Header             // the current batch of markReachable or Clear
	one         [1]*Header            // a batch of one
	zeros       int                   // objects of the set whose refs reached 0 (pause 1)
	rcs         [traverseBatch]int64  // the counts of initBatch's batch (Env.RefCounts)
	sub         Subtraction           // step 2's subtraction (Env.Subtract)
	// epoch is the running (or last) collection's epoch: an object whose
	// flags carry it is in the set examined (see Header). epochBits is
	// epoch<<epochShift.
	epoch, epochBits uint32
	// Function values bound once, so a collection allocates no closures.
	isGarbageFn     func(*Header) bool
	alwaysGarbageFn func(*Header) bool
}

type callback struct {
	fn      func(Phase, Info)
	removed atomic.Bool
}

// New returns a collector with the given thresholds; a zero threshold means
// CPython's default for that generation (700, 10, 10), so the zero array is
// the default configuration (use SetThreshold to set threshold 0). Negative
// thresholds panic: the runtime validates its configuration first.
// Automatic collection starts enabled.
func New(thresholds [3]int) *Collector {
	defaults := [3]int{DefaultThreshold0, DefaultThreshold1, DefaultThreshold2}
	c := &Collector{}
	for i, t := range thresholds {
		if t < 0 {
			panic(fmt.Sprintf("gc: New with negative threshold%d %d", i, t))
		}
		if t == 0 {
			t = defaults[i]
		}
		c.threshold[i].Store(int64(t))
	}
	for g := range c.gens {
		c.gens[g].Init(g)
	}
	for _, l := range []*List{&c.unreachable, &c.finalizers} {
		l.Init(Private)
	}
	c.isGarbageFn = c.isGarbage
	c.alwaysGarbageFn = func(*Header) bool { return true }
	c.enabled.Store(true)
	return c
}

// Generation returns the shared list of generation g: 0, 1, 2 or
// Permanent. The runtime tracks new objects by pushing them on its threads'
// young lists (free-threaded) or on generation 0 (GIL mode).
func (c *Collector) Generation(g int) *List {
	if g < 0 || g > Permanent {
		panic(fmt.Sprintf("gc: Generation(%d): no such generation", g))
	}
	return &c.gens[g]
}

// Enable turns automatic collection on (gc.enable).
func (c *Collector) Enable() { c.enabled.Store(true) }

// Disable turns automatic collection off (gc.disable); Collect still works.
func (c *Collector) Disable() { c.enabled.Store(false) }

// IsEnabled reports whether automatic collection is on (gc.isenabled).
func (c *Collector) IsEnabled() bool { return c.enabled.Load() }

// SetThreshold sets the three thresholds (gc.set_threshold). A negative
// threshold is an error and changes nothing. Threshold 0 for generation 0
// disables automatic collection, as in CPython.
func (c *Collector) SetThreshold(t0, t1, t2 int) error {
	ts := [3]int{t0, t1, t2}
	for i, t := range ts {
		if t < 0 {
			return fmt.Errorf("gc threshold%d must be non-negative, not %d", i, t)
		}
	}
	for i, t := range ts {
		c.threshold[i].Store(int64(t))
	}
	return nil
}

// Threshold returns the thresholds (gc.get_threshold).
func (c *Collector) Threshold() (t0, t1, t2 int) {
	return int(c.threshold[0].Load()), int(c.threshold[1].Load()), int(c.threshold[2].Load())
}

// AddCount adds a thread's net count of tracked allocations (allocations
// minus frees since its last flush) to generation 0's count. Like CPython,
// which only decrements the count while it is positive, the count never goes
// below zero.
func (c *Collector) AddCount(delta int) {
	if delta >= 0 {
		c.count[0].Add(int64(delta))
		return
	}
	for {
		old := c.count[0].Load()
		n := max(old+int64(delta), 0)
		if n == old || c.count[0].CompareAndSwap(old, n) {
			return
		}
	}
}

// Count returns the counts of the three generations (gc.get_count):
// generation 0's is net tracked allocations since its last collection, the
// others the collections of the next younger generation since theirs.
func (c *Collector) Count() (c0, c1, c2 int) {
	return int(c.count[0].Load()), int(c.count[1].Load()), int(c.count[2].Load())
}

// ShouldCollect returns the generation an automatic collection would collect
// now, or -1 for none: when collection is disabled, threshold 0 is zero, a
// collection is running, or generation 0's count has not passed its
// threshold. It models the trigger in CPython's _PyObject_GC_Link plus
// gc_select_generation: the oldest generation whose count passes its
// threshold, except that generation 2 is only chosen when the objects
// awaiting their first full collection (long_lived_pending) are at least a
// quarter of those that survived the last one (long_lived_total). It is a
// few atomic loads; threads call it at safe points.
func (c *Collector) ShouldCollect() int {
	if !c.enabled.Load() || c.collecting.Load() {
		return -1
	}
	t0 := c.threshold[0].Load()
	if t0 == 0 || c.count[0].Load() <= t0 {
		return -1
	}
	for g := NumGenerations - 1; g > 0; g-- {
		if c.count[g].Load() > c.threshold[g].Load() {
			if g == NumGenerations-1 && c.longLivedPending.Load() < c.longLivedTotal.Load()/4 {
				continue
			}
			return g
		}
	}
	return 0
}

// Collecting reports whether a collection is running.
func (c *Collector) Collecting() bool { return c.collecting.Load() }

// Stats returns the statistics of the three generations (gc.get_stats).
func (c *Collector) Stats() [3]GenStats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stats
}

// AddCallback registers fn to be called at the start and the end of every
// collection (gc.callbacks), on the collecting thread with the world
// running, after the callbacks registered before it. The returned function
// removes it; calling it again does nothing. A callback added while a
// collection runs is called from the phase in progress on (after the
// others), and one removed is not called again, as for CPython's list
// gc.callbacks. The shutdown collection (CollectAtShutdown) calls none.
func (c *Collector) AddCallback(fn func(phase Phase, info Info)) (remove func()) {
	if fn == nil {
		panic("gc: AddCallback with a nil function")
	}
	cb := &callback{fn: fn}
	c.mu.Lock()
	c.callbacks = append(c.callbacks, cb)
	c.mu.Unlock()
	return func() {
		if cb.removed.Swap(true) {
			return
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		for i, x := range c.callbacks {
			if x == cb {
				c.callbacks = append(c.callbacks[:i:i], c.callbacks[i+1:]...)
				break
			}
		}
	}
}

// invokeCallbacks calls the callbacks as CPython's invoke_gc_callback
// does: by index over the current list, its length read again at every
// step, so that a callback added during a phase is called in that phase,
// and one removed is not called after its removal. None is called with
// c.mu held: a callback may add or remove callbacks.
func (c *Collector) invokeCallbacks(phase Phase, info Info) {
	for i := 0; ; i++ {
		c.mu.Lock()
		if i >= len(c.callbacks) {
			c.mu.Unlock()
			return
		}
		cb := c.callbacks[i]
		c.mu.Unlock()
		if !cb.removed.Load() {
			cb.fn(phase, info)
		}
	}
}

// Freeze moves every tracked object into the permanent generation, where
// collections never look (gc.freeze). It stops the world, gathers the
// threads' young objects first, and zeroes the counts as CPython does.
func (c *Collector) Freeze(env Env) {
	env.StopTheWorld()
	env.GatherYoung(&c.gens[0])
	c.relabelGathered(env)
	for g := 0; g < NumGenerations; g++ {
		c.gens[Permanent].Splice(&c.gens[g])
		c.count[g].Store(0)
	}
	env.StartTheWorld()
}

// relabelGathered is, for Freeze, the part of a collection's walk of
// generation 0 that completes GatherYoung (see List.Gather): members
// gathered from young lists name generation 0, and those being destroyed
// go to Dying.
func (c *Collector) relabelGathered(env Env) {
	l := &c.gens[0]
	var next *Header
	for h := l.Front(); h != nil; h = next {
		next = l.Next(h)
		if h.list != l {
			h.list = l
			if env.RefCount(h) < 0 {
				Unlink(h)
				env.Dying(h)
			}
		}
	}
}

// Unfreeze moves the permanent generation into generation 2
// (gc.unfreeze), with the world stopped.
func (c *Collector) Unfreeze(env Env) {
	env.StopTheWorld()
	c.gens[NumGenerations-1].Splice(&c.gens[Permanent])
	env.StartTheWorld()
}

// FreezeCount returns the number of objects in the permanent generation
// (gc.get_freeze_count).
func (c *Collector) FreezeCount() int {
	p := &c.gens[Permanent]
	p.Mu.Lock()
	defer p.Mu.Unlock()
	return p.Len()
}

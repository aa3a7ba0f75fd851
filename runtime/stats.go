package runtime

import (
	"math/bits"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nogil-lab/nogil/gil"
)

// Stats is a snapshot of a runtime's object counts. Counters are kept per
// thread (so counting costs nothing on the allocation path) and are exact as
// of each thread's last safe point.
type Stats struct {
	Live       int            // objects allocated and not freed, immortals excluded
	Allocated  uint64         // objects ever allocated
	Freed      uint64         // objects ever freed
	LiveByType map[string]int // Live split by type name
	// QueuedMerges counts objects that went through a biased merge queue
	// (a non-owner dropped a reference the owner then merged): the cost
	// biased counting pays for sharing.
	QueuedMerges uint64
	// LockContended counts per-object lock acquisitions (free-threaded)
	// that found the lock held; LockParked those of them that had to
	// block until it was released, rather than win it while spinning.
	LockContended uint64
	LockParked    uint64
	// ListReadsLockFree counts ListGet calls answered without the list's
	// lock (free-threaded mode with biased counting, a list that a thread
	// other than its owner has read: CPython 3.14's list_get_item_ref),
	// and ListReadsFellBack the lock-free attempts that took the lock after
	// all (the item changed meanwhile, its count refused a new reference,
	// or the index was past the end). Always zero under the race detector,
	// which reads under the lock (see listview.go).
	ListReadsLockFree uint64
	ListReadsFellBack uint64
}

// counters are allocation and free counts per type. The builtin types
// have fixed indexes below numBuiltins (type.go) and are counted in fixed
// arrays, so that creating or freeing an int, a float, a list... counts
// with one increment at a constant offset: no bounds check, no growth
// check. User types (Type.index >= numBuiltins) are counted in slices
// indexed by Type.index - numBuiltins, grown as types appear.
type counters struct {
	builtinAllocated [numBuiltins]uint64
	builtinFreed     [numBuiltins]uint64
	userAllocated    []uint64
	userFreed        []uint64
	merged           uint64
	listReads        [2]uint64 // lock-free reads that fell back [0] and that did not [1]
}

// growUser makes room for the user type whose counter index is i.
func (c *counters) growUser(i int) {
	for len(c.userAllocated) <= i {
		c.userAllocated = append(c.userAllocated, 0)
		c.userFreed = append(c.userFreed, 0)
	}
}

// add folds d into c.
func (c *counters) add(d *counters) {
	c.merged += d.merged
	c.listReads[0] += d.listReads[0]
	c.listReads[1] += d.listReads[1]
	for i := range d.builtinAllocated {
		c.builtinAllocated[i] += d.builtinAllocated[i]
		c.builtinFreed[i] += d.builtinFreed[i]
	}
	if n := len(d.userAllocated); n > 0 {
		c.growUser(n - 1)
	}
	for i := range d.userAllocated {
		c.userAllocated[i] += d.userAllocated[i]
		c.userFreed[i] += d.userFreed[i]
	}
}

// each calls fn with every type index and its counts.
func (c *counters) each(fn func(index int, allocated, freed uint64)) {
	for i := range c.builtinAllocated {
		fn(i, c.builtinAllocated[i], c.builtinFreed[i])
	}
	for i := range c.userAllocated {
		fn(numBuiltins+i, c.userAllocated[i], c.userFreed[i])
	}
}

// threadCounters are one thread's statistics: the owner counts into local
// with plain writes and publishes them into published at safe points.
//
// A safe point with only lock-free list reads to publish (a thread that
// reads shared lists and allocates nothing: free-threaded mode's
// shared-read) publishes them without mu: into readsPublished, one atomic
// store per count that changed instead of mu's lock and unlock. It is the
// only place free-threaded mode publishes where GIL mode, which has no
// lock-free reads, does not publish at all; mu's lock and unlock were 6.5%
// of shared-read-immortal's samples (pprof, 3 s at 1 thread) and none of
// GIL mode's. A safe point that takes mu anyway publishes the reads under
// it, into published, with no store more. A reader adds both.
type threadCounters struct {
	// local is owned by the thread. dirty has bit i set when builtin type
	// i's counts changed since the last publish, dirtyOther when a user
	// type's or the merge count did, and dirtyReads when the list reads
	// did: publishing then touches only those (a thread that checkpoints
	// often publishes often).
	local counters
	dirty uint64
	// published is protected by mu.
	mu        sync.Mutex
	published counters
	// readsPublished are list reads published without mu: atomic, stored
	// only by the owner (which may therefore add to them with a load and a
	// store).
	readsPublished [2]atomic.Uint64
}

// countBuiltinAlloc counts the allocation of an object of the builtin type
// whose index is i (a constant at every call site).
func (tc *threadCounters) countBuiltinAlloc(i int) {
	tc.local.builtinAllocated[i]++
	tc.dirty |= 1 << i
}

// countBuiltinFree counts the free of an object of the builtin type whose
// index is i.
func (tc *threadCounters) countBuiltinFree(i int) {
	tc.local.builtinFreed[i]++
	tc.dirty |= 1 << i
}

// countAlloc counts the allocation of an object of type t.
func (tc *threadCounters) countAlloc(t *Type) {
	if i := t.index; i < numBuiltins {
		tc.countBuiltinAlloc(i)
	} else {
		tc.local.growUser(i - numBuiltins)
		tc.local.userAllocated[i-numBuiltins]++
		tc.dirty |= dirtyOther
	}
}

// countFree counts the free of an object of type t.
func (tc *threadCounters) countFree(t *Type) {
	if i := t.index; i < numBuiltins {
		tc.countBuiltinFree(i)
	} else {
		tc.local.growUser(i - numBuiltins)
		tc.local.userFreed[i-numBuiltins]++
		tc.dirty |= dirtyOther
	}
}

// publish moves the local counts into published.
func (tc *threadCounters) publish() {
	dirty := tc.dirty
	if dirty == 0 {
		return
	}
	l, p := &tc.local, &tc.published
	if dirty == dirtyReads {
		for i, n := range l.listReads {
			if n != 0 {
				tc.readsPublished[i].Store(tc.readsPublished[i].Load() + n)
			}
		}
		l.listReads = [2]uint64{}
		tc.dirty = 0
		return
	}
	tc.mu.Lock()
	for m := dirty &^ (dirtyOther | dirtyReads); m != 0; m &= m - 1 {
		i := bits.TrailingZeros64(m)
		p.builtinAllocated[i] += l.builtinAllocated[i]
		p.builtinFreed[i] += l.builtinFreed[i]
	}
	if dirty&dirtyReads != 0 {
		p.listReads[0] += l.listReads[0]
		p.listReads[1] += l.listReads[1]
	}
	if dirty&dirtyOther != 0 {
		p.merged += l.merged
		if n := len(l.userAllocated); n > 0 {
			p.growUser(n - 1)
		}
		for i := range l.userAllocated {
			p.userAllocated[i] += l.userAllocated[i]
			p.userFreed[i] += l.userFreed[i]
		}
	}
	tc.mu.Unlock()
	for m := dirty &^ (dirtyOther | dirtyReads); m != 0; m &= m - 1 {
		i := bits.TrailingZeros64(m)
		l.builtinAllocated[i], l.builtinFreed[i] = 0, 0
	}
	if dirty&dirtyOther != 0 {
		clear(l.userAllocated)
		clear(l.userFreed)
		l.merged = 0
	}
	l.listReads = [2]uint64{}
	tc.dirty = 0
}

// addPublished adds the thread's published counts to sum: published under
// mu and the list reads published without it.
func (tc *threadCounters) addPublished(sum *counters) {
	tc.mu.Lock()
	sum.add(&tc.published)
	tc.mu.Unlock()
	for i := range sum.listReads {
		sum.listReads[i] += tc.readsPublished[i].Load()
	}
}

// countListRead counts a lock-free list read attempt (listview.go): ok
// when it was answered without the lock.
func (tc *threadCounters) countListRead(ok bool) {
	i := 0
	if ok {
		i = 1
	}
	tc.local.listReads[i]++
	tc.dirty |= dirtyReads
}

// dirtyOther is threadCounters.dirty's bit for user types and merges,
// dirtyReads its bit for list reads; the builtin types' indexes stay below
// them (the constant below fails to compile otherwise).
const (
	dirtyOther        = 1 << 63
	dirtyReads        = 1 << 62
	_          uint64 = 62 - numBuiltins
)

// Stats returns the object counts as of each thread's last safe point.
func (rt *Runtime) Stats() Stats {
	var sum counters
	rt.worldMu.Lock()
	sum.add(&rt.retired)
	for _, th := range rt.threads {
		th.stats.addPublished(&sum)
	}
	rt.worldMu.Unlock()
	rt.typesMu.Lock()
	types := rt.types
	rt.typesMu.Unlock()
	s := Stats{LiveByType: make(map[string]int), QueuedMerges: sum.merged,
		LockContended: rt.locksContended.Load(), LockParked: rt.locksParked.Load(),
		ListReadsFellBack: sum.listReads[0], ListReadsLockFree: sum.listReads[1]}
	sum.each(func(i int, allocated, freed uint64) {
		s.Allocated += allocated
		s.Freed += freed
		if live := int(allocated) - int(freed); live != 0 {
			s.LiveByType[types[i].name] += live
			s.Live += live
		}
	})
	return s
}

// countMerges records objects merged from this thread's queue.
func (tc *threadCounters) countMerges(n int) {
	if n > 0 {
		tc.local.merged += uint64(n)
		tc.dirty |= dirtyOther
	}
}

// GILStats are the global interpreter lock's statistics (GIL mode).
type GILStats = gil.Stats

// GILStats returns the GIL's statistics; zero in free-threaded mode.
func (rt *Runtime) GILStats() GILStats {
	if rt.gil == nil {
		return GILStats{}
	}
	return rt.gil.Stats()
}

// WorldStats describe stopping the world in free-threaded mode: how often
// a thread stopped it (a collection's pauses, StopTheWorld, RefCount of
// another live thread's object), and what that cost the other threads,
// parked at a safe point until it ran again. Zero in GIL mode, where the
// GIL holder is the stopped world (see GILStats for its hand-overs).
type WorldStats struct {
	Stops   uint64        // worlds stopped
	Parks   uint64        // times an attached thread parked for another's stop
	Parked  time.Duration // the parks' total time
	MaxPark time.Duration // the longest park
}

// worldCounters are WorldStats' counters. All atomic.
type worldCounters struct {
	stops, parks        atomic.Uint64
	parkedNs, maxParkNs atomic.Int64
}

func (w *worldCounters) countPark(d time.Duration) {
	w.parks.Add(1)
	w.parkedNs.Add(int64(d))
	for {
		old := w.maxParkNs.Load()
		if int64(d) <= old || w.maxParkNs.CompareAndSwap(old, int64(d)) {
			return
		}
	}
}

// WorldStats returns the stop-the-world statistics since the runtime
// started.
func (rt *Runtime) WorldStats() WorldStats {
	w := &rt.world
	return WorldStats{
		Stops:   w.stops.Load(),
		Parks:   w.parks.Load(),
		Parked:  time.Duration(w.parkedNs.Load()),
		MaxPark: time.Duration(w.maxParkNs.Load()),
	}
}

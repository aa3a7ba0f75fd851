package runtime

import (
	"sync"

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
}

// counters are allocation and free counts indexed by Type.index.
type counters struct {
	allocated []uint64
	freed     []uint64
	merged    uint64
}

func (c *counters) grow(n int) {
	for len(c.allocated) < n {
		c.allocated = append(c.allocated, 0)
		c.freed = append(c.freed, 0)
	}
}

// add folds d into c.
func (c *counters) add(d *counters) {
	c.grow(len(d.allocated))
	c.merged += d.merged
	for i := range d.allocated {
		c.allocated[i] += d.allocated[i]
		c.freed[i] += d.freed[i]
	}
}

// threadCounters are one thread's statistics: the owner counts into local
// with plain writes and publishes them into published at safe points.
type threadCounters struct {
	// local is owned by the thread.
	local counters
	dirty bool
	// published is protected by mu.
	mu        sync.Mutex
	published counters
}

func (tc *threadCounters) countAlloc(t *Type) {
	if t.index >= len(tc.local.allocated) {
		tc.local.grow(t.index + 1)
	}
	tc.local.allocated[t.index]++
	tc.dirty = true
}

func (tc *threadCounters) countFree(t *Type) {
	if t.index >= len(tc.local.freed) {
		tc.local.grow(t.index + 1)
	}
	tc.local.freed[t.index]++
	tc.dirty = true
}

// publish moves the local counts into published.
func (tc *threadCounters) publish() {
	if !tc.dirty {
		return
	}
	tc.mu.Lock()
	tc.published.add(&tc.local)
	tc.mu.Unlock()
	clear(tc.local.allocated)
	clear(tc.local.freed)
	tc.local.merged = 0
	tc.dirty = false
}

// Stats returns the object counts as of each thread's last safe point.
func (rt *Runtime) Stats() Stats {
	var sum counters
	rt.worldMu.Lock()
	sum.add(&rt.retired)
	for _, th := range rt.threads {
		th.stats.mu.Lock()
		sum.add(&th.stats.published)
		th.stats.mu.Unlock()
	}
	rt.worldMu.Unlock()
	rt.typesMu.Lock()
	types := rt.types
	rt.typesMu.Unlock()
	s := Stats{LiveByType: make(map[string]int), QueuedMerges: sum.merged}
	for i := range sum.allocated {
		s.Allocated += sum.allocated[i]
		s.Freed += sum.freed[i]
		if live := int(sum.allocated[i]) - int(sum.freed[i]); live != 0 {
			s.LiveByType[types[i].name] += live
			s.Live += live
		}
	}
	return s
}

// countMerges records objects merged from this thread's queue.
func (tc *threadCounters) countMerges(n int) {
	if n > 0 {
		tc.local.merged += uint64(n)
		tc.dirty = true
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

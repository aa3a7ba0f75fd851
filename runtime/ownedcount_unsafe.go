package runtime

import (
	"sync/atomic"
	"unsafe"

	"github.com/nogil-lab/nogil/internal/invariants"
)

// ownedCount is a count that one thread writes and any thread may read:
// a thread's tracked allocations not yet given to the collector, which
// GC.Count adds up without stopping the threads. The owner stores with a
// plain machine-word store (an atomic one under the race detector, which
// would report the plain one), as often as it allocates; readers load
// atomically (sync/atomic: a plain load on amd64 and arm64). Go's memory
// model gives a racing read of a machine word one of the values written,
// and a reader wants no more than a recent one.
type ownedCount struct{ v atomic.Int64 }

// get returns the count. Any thread.
func (c *ownedCount) get() int64 { return c.v.Load() }

// add adds d and returns the new count. Owner only: its own read is a
// plain one too, so that the update costs what an int field's would.
func (c *ownedCount) add(d int64) int64 {
	if invariants.Race {
		n := c.v.Load() + d
		c.v.Store(n)
		return n
	}
	p := (*int64)(unsafe.Pointer(&c.v))
	*p += d
	return *p
}

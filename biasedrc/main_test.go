package biasedrc

import (
	"math"
	"sync/atomic"
	"testing"

	"github.com/nogil-lab/nogil/internal/leaktest"
)

func TestMain(m *testing.M) { leaktest.Main(m) }

// obj is the tests' object: a Count plus bookkeeping that the Count itself
// must not be trusted for.
type obj struct {
	rc Count
	id int
	// truth is the oracle: the number of references the test's threads
	// hold (references held by merge queues are not included). Changed
	// atomically before the Count is changed on the way down and before
	// the new reference is used on the way up.
	truth atomic.Int64
	// deaths counts Dead reports (from any path).
	deaths atomic.Int32
}

func countOf(o *obj) *Count { return &o.rc }

// snapshot is every field of a Count, read by a thread that has a
// happens-before edge with the owner.
type snapshot struct {
	Owner  ThreadID // raw owner word (immortalOwner included)
	State  State
	Shared int64
	Local  uint32
}

func snap(c *Count) snapshot {
	return snapshot{
		Owner:  ThreadID(c.owner.Load()),
		State:  c.SharedState(),
		Shared: c.Shared(),
		Local:  c.LocalUnsynchronized(),
	}
}

var immortalSnap = snapshot{Owner: immortalOwner, State: StateDefault, Shared: 0, Local: math.MaxUint32}

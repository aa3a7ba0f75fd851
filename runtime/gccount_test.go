package runtime

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestGCCountShowsAllocationsAtOnce: GC().Count() counts a tracked
// allocation and a free at once, without a safe point in between
// (CPython's test_get_count: "Between the two calls to get_count(), at
// least one object was created"), also those of another thread, and never
// goes below zero.
func TestGCCountShowsAllocationsAtOnce(t *testing.T) {
	eachModeThread(t, func(t *testing.T, th *Thread) {
		g := th.Runtime().GC()
		gctQuiet(t, th)
		a, b, c := g.Count()
		require.Equal(t, [2]int{0, 0}, [2]int{b, c})
		require.Less(t, a, 5)
		x := th.NewList()
		d, _, _ := g.Count()
		require.Equal(t, a+1, d, "the list is counted at once")
		ints := th.NewInt(100000) // not tracked
		d2, _, _ := g.Count()
		require.Equal(t, d, d2)
		th.DecRef(ints)

		// Another thread's allocations, while it stays attached (free-
		// threaded) or after it let go of the GIL.
		th.Detach()
		other := th.Runtime().NewThread()
		var held []*Object
		for range 5 {
			held = append(held, other.NewDict())
		}
		other.Detach()
		th.Attach()
		e, _, _ := g.Count()
		require.Equal(t, a+6, e, "another thread's dicts are counted")
		th.Detach()
		other.Attach()
		for _, o := range held {
			other.DecRef(o)
		}
		other.Close()
		th.Attach()
		th.DecRef(x)
		f, _, _ := g.Count()
		require.Equal(t, a, f, "frees are counted at once")

		// Frees of objects counted before the last collection do not take
		// it below zero.
		gctQuiet(t, th)
		var old []*Object
		for range 3 {
			old = append(old, th.NewList())
		}
		gctCollect(t, th, 2)
		for _, o := range old {
			th.DecRef(o)
		}
		z, _, _ := g.Count()
		require.Zero(t, z)
	})
}

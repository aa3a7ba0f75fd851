package runtime

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestAllocatorStatsFollowObjects checks that every object comes from the
// allocator: slots in use rise and fall with live mortal objects, but for
// the freed floats, lists and dicts kept on free lists (as many as their
// bounds), which a full collection gives back.
func TestAllocatorStatsFollowObjects(t *testing.T) {
	eachModeThread(t, func(t *testing.T, th *Thread) {
		before := th.AllocatorStats()
		const n = 1000
		objs := make([]*Object, 0, 4*n)
		for i := 0; i < n; i++ {
			objs = append(objs, th.NewList(), th.NewDict(), th.NewFloat(float64(i)), th.NewStr("s"))
		}
		mid := th.AllocatorStats()
		require.Equal(t, before.SlotsInUse+4*n, mid.SlotsInUse)
		require.Greater(t, mid.BytesReserved, before.BytesReserved)
		require.GreaterOrEqual(t, mid.BytesReserved, mid.BytesInUse)
		for _, o := range objs {
			th.DecRef(o)
		}
		after := th.AllocatorStats()
		if th.Runtime().Config().Debug {
			// Debug quarantines freed slots so a use after free stays caught.
			require.Equal(t, mid.SlotsInUse, after.SlotsInUse)
			require.Zero(t, after.FreeListed, "Debug mode keeps no free lists")
			return
		}
		kept := freeListMax + 2*containerFreeListMax
		require.Equal(t, kept, after.FreeListed, "the float, list and dict lists are full; the rest went back")
		require.Equal(t, before.SlotsInUse-before.FreeListed, after.SlotsInUse-after.FreeListed)
		_, err := th.Collect(1)
		require.NoError(t, err)
		require.Equal(t, kept, th.AllocatorStats().FreeListed, "only a full collection clears the free lists")
		_, err = th.Collect(2)
		require.NoError(t, err)
		cleared := th.AllocatorStats()
		require.Zero(t, cleared.FreeListed)
		require.Equal(t, before.SlotsInUse-before.FreeListed, cleared.SlotsInUse)
	})
}

// TestAllocatorSlotsReused checks that without Debug a freed slot is reused
// rather than new memory taken.
func TestAllocatorSlotsReused(t *testing.T) {
	eachModeThread(t, func(t *testing.T, th *Thread) {
		if th.Runtime().Config().Debug {
			return
		}
		warm := th.NewList()
		th.DecRef(warm)
		before := th.AllocatorStats()
		for i := 0; i < 10000; i++ {
			th.DecRef(th.NewList())
		}
		after := th.AllocatorStats()
		require.Equal(t, before.BytesReserved, after.BytesReserved, "churn must reuse slots")
	})
}

// TestCrossThreadFreesReachOwner frees one thread's objects on another and
// closes the owner while another thread still holds one of its objects:
// the remote frees, the merges and the abandoned page must all show. Without
// free lists, which would keep b's floats for b.
func TestCrossThreadFreesReachOwner(t *testing.T) {
	noFreeLists := func(c *Config) { c.NoFreeLists = true }
	eachModeWith(t, allModes, []bool{true, false}, noFreeLists, func(t *testing.T, rt *Runtime) {
		a := rt.NewThread()
		objs := make([]*Object, 100)
		for i := range objs {
			if i%2 == 0 {
				objs[i] = a.NewList() // unlinked and freed by a, at its next safe point
			} else {
				objs[i] = a.NewFloat(float64(i)) // freed by b into a's page
			}
		}
		survivor := a.NewFloat(-1)
		a.Detach()
		b := rt.NewThread()
		for _, o := range objs {
			b.DecRef(o)
		}
		b.Detach()
		a.Attach()
		a.Close() // merges what b queued; abandons the page survivor lives in
		b.Attach()
		abandoned := b.AllocatorStats()
		b.DecRef(survivor)
		b.Checkpoint()
		st := b.AllocatorStats()
		b.Close()
		if rt.Mode() != FreeThreaded {
			return
		}
		require.Greater(t, abandoned.Abandoned, int64(0), "a's page with a live slot is abandoned")
		if rt.Config().RefCounting == Biased {
			// b's decrefs of a's objects went through a's merge queue.
			require.GreaterOrEqual(t, rt.Stats().QueuedMerges, uint64(50))
		} else if !rt.Config().Debug {
			require.GreaterOrEqual(t, st.RemoteFrees, int64(50))
		}
	})
}

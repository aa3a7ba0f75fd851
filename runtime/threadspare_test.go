package runtime

import (
	"testing"

	"github.com/nogil-lab/nogil/biasedrc"
	"github.com/stretchr/testify/require"
)

// A free-threaded thread that closes leaves its heaps and free lists to the
// next new thread, and its empty pages to the classes' spare lists; objects
// it made and that outlive it are freed by others as before. GIL mode keeps
// nothing per thread.
func TestThreadSpareStateReused(t *testing.T) {
	eachMode(t, func(t *testing.T, rt *Runtime) {
		a := rt.NewThread()
		kept := a.NewList()
		for i := range 50 {
			o := a.NewInt(int64(1_000 + i))
			require.NoError(t, a.ListAppend(kept, o))
			a.DecRef(o)
		}
		for range 100 {
			a.DecRef(a.NewFloat(2.5)) // a page of floats, empty at the close
		}
		heapsA, listsA := a.heaps, a.freeLists
		a.Detach()

		b := rt.NewThread()
		b.Detach()
		a.Attach()
		a.Close()
		if rt.mode == GIL {
			require.Empty(t, rt.spares)
			b.Attach()
			b.DecRef(kept)
			b.Close()
			return
		}
		require.Nil(t, a.freeLists, "a closed thread keeps no allocator state")
		require.Len(t, rt.spares, 1)

		c := rt.NewThread()
		require.Empty(t, rt.spares)
		require.Same(t, heapsA.ints, c.heaps.ints, "the closed thread's heaps, revived")
		require.Same(t, listsA, c.freeLists)
		require.Zero(t, c.freeLists.len())
		s := c.AllocatorStats()
		if !rt.cfg.Debug {
			require.Positive(t, s.SparePages, "the closed thread's empty float page")
		}
		f := c.NewFloat(3.5) // from a spare page (or, in Debug, a fresh one)
		v, err := c.Float(f)
		require.NoError(t, err)
		require.Equal(t, 3.5, v)
		c.DecRef(f)
		// The closed thread's objects, freed by another thread.
		n, err := c.ListLen(kept)
		require.NoError(t, err)
		require.Equal(t, 50, n)
		c.DecRef(kept)
		s = c.AllocatorStats()
		for name, cs := range s.Classes {
			require.Equal(t, int64(cs.Pages), cs.PagesCreated+cs.PagesReused-cs.PagesReleased, name)
		}
		c.Close()
		b.Attach()
		b.Close()
		require.LessOrEqual(t, len(rt.spares), maxSpares)
	})
}

// At most maxSpares closed threads' state is kept.
func TestThreadSpareStateBounded(t *testing.T) {
	eachModeDebug(t, []bool{false}, func(t *testing.T, rt *Runtime) {
		var ths []*Thread
		for range maxSpares + 3 {
			th := rt.NewThread()
			th.Detach()
			ths = append(ths, th)
		}
		for _, th := range ths {
			th.Attach()
			th.Close()
		}
		if rt.mode == GIL {
			require.Empty(t, rt.spares)
			return
		}
		require.Len(t, rt.spares, maxSpares)
	})
}

// Under biased counting a new thread takes the id of the last closed one
// and with it the ownership of the objects that thread made: another
// thread's drop of one is queued to the new owner (and freed at its safe
// point) instead of merged by the dropper, and the new owner's own drops
// take the owner's plain path. GIL mode reuses no id.
func TestThreadSpareIDTakesOverObjects(t *testing.T) {
	eachMode(t, func(t *testing.T, rt *Runtime) {
		a := rt.NewThread()
		o1, o2 := a.NewInt(1<<40), a.NewInt(1<<41)
		aID := a.ID()
		a.Detach()
		b := rt.NewThread()
		b.Detach()
		a.Attach()
		a.Close()
		c := rt.NewThread()
		if rt.mode == GIL {
			require.NotEqual(t, aID, c.ID())
			c.DecRef(o1)
			c.DecRef(o2)
			c.Close()
			b.Attach()
			b.Close()
			return
		}
		require.Equal(t, aID, c.ID(), "the closed thread's id")
		b.Attach()
		merged := rt.Stats().QueuedMerges
		live := rt.Stats().LiveByType["int"]
		b.DecRef(o1)
		b.Checkpoint() // hands b's batch of queued drops over, publishes b's counts
		if rt.strategy == biasedrc.Biased {
			require.Equal(t, c.id, o2.rc.Owner(), "c owns a's objects")
			require.Equal(t, live, rt.Stats().LiveByType["int"], "queued to c, not merged by b")
			c.Checkpoint()
			require.Equal(t, merged+1, rt.Stats().QueuedMerges, "c merged it")
		}
		require.Equal(t, live-1, rt.Stats().LiveByType["int"])
		require.Equal(t, 1, c.RefCount(o2))
		c.DecRef(o2)
		c.Checkpoint()
		require.Equal(t, live-2, rt.Stats().LiveByType["int"])
		b.Close()
		c.Close()
	})
}

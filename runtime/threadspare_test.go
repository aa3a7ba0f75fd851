package runtime

import (
	"testing"

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

package runtime

import (
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/nogil-lab/nogil/internal/invariants"
)

// TestFreeListReuse: a freed int or float waits on the free list and is
// the next one handed out (last in, first out), as a new object: its own
// value, one reference owned by the allocating thread, counted alive once
// more. With NoFreeLists, or in Debug mode, nothing waits.
func TestFreeListReuse(t *testing.T) {
	eachModeThread(t, func(t *testing.T, th *Thread) {
		on := !th.Runtime().Config().Debug
		f := th.NewFloat(1.5)
		i := th.NewInt(1 << 40)
		th.Checkpoint() // publishes the thread's counts
		live := th.Runtime().Stats().Live
		th.DecRef(f)
		th.DecRef(i)
		th.Checkpoint()
		require.Equal(t, live-2, th.Runtime().Stats().Live, "kept objects are freed objects")
		kept := th.AllocatorStats().FreeListed
		if !on {
			require.Zero(t, kept)
			return
		}
		require.Equal(t, 2, kept)

		f2 := th.NewFloat(2.5)
		i2 := th.NewInt(-1 << 40)
		require.Same(t, f, f2, "the float from the free list")
		require.Same(t, i, i2, "the int from the free list")
		require.Zero(t, th.AllocatorStats().FreeListed)
		v, err := th.Float(f2)
		require.NoError(t, err)
		require.Equal(t, 2.5, v)
		n, err := th.Int(i2)
		require.NoError(t, err)
		require.Equal(t, int64(-1<<40), n)
		require.Equal(t, 1, th.RefCount(f2))
		require.Equal(t, 1, th.RefCount(i2))
		th.Checkpoint()
		require.Equal(t, live, th.Runtime().Stats().Live)
		th.DecRef(f2)
		th.DecRef(i2)
	})
}

// TestNoFreeLists: the configuration turns the lists off.
func TestNoFreeLists(t *testing.T) {
	off := func(c *Config) { c.NoFreeLists = true }
	eachModeWith(t, allModes, []bool{false}, off, withThread(func(t *testing.T, th *Thread) {
		for i := 0; i < 10; i++ {
			th.DecRef(th.NewFloat(float64(i)))
			th.DecRef(th.NewInt(int64(1000 + i)))
		}
		require.Zero(t, th.AllocatorStats().FreeListed)
	}))
}

// TestFreeListUseAfterFree: a kept object's header is poisoned like a
// freed one's, so using it panics with a message that names the misuse.
func TestFreeListUseAfterFree(t *testing.T) {
	eachModeDebug(t, []bool{false}, withThread(func(t *testing.T, th *Thread) {
		f := th.NewFloat(3)
		th.DecRef(f)
		require.Equal(t, 1, th.AllocatorStats().FreeListed)
		require.PanicsWithValue(t, "nogil: use after free of a float object", func() { th.DecRef(f) })
		require.PanicsWithValue(t, "nogil: use after free of a float object", func() { th.IncRef(f) })
		require.Equal(t, 1, th.AllocatorStats().FreeListed, "the misuse changed nothing")
	}))
}

// TestFreeListBound: at most freeListMax objects wait per kind; the rest go
// back to the allocator at once.
func TestFreeListBound(t *testing.T) {
	eachModeDebug(t, []bool{false}, withThread(func(t *testing.T, th *Thread) {
		objs := make([]*Object, 0, 3*freeListMax)
		for i := 0; i < 3*freeListMax/2; i++ {
			objs = append(objs, th.NewFloat(float64(i)), th.NewInt(int64(1000+i)))
		}
		before := th.AllocatorStats()
		for _, o := range objs {
			th.DecRef(o)
		}
		after := th.AllocatorStats()
		require.Equal(t, 2*freeListMax, after.FreeListed)
		require.Equal(t, before.SlotsInUse-len(objs)+2*freeListMax, after.SlotsInUse)
	}))
}

// TestFreeListsOnThreadClose: a closing free-threaded thread gives its
// lists back; another thread reuses what it freed itself, even objects
// allocated by a thread that has closed, and owns them afterwards.
func TestFreeListsOnThreadClose(t *testing.T) {
	eachModeDebug(t, []bool{false}, func(t *testing.T, rt *Runtime) {
		a := rt.NewThread()
		objs := make([]*Object, 10)
		for i := range objs {
			objs[i] = a.NewFloat(float64(i))
		}
		for i := 0; i < 5; i++ {
			a.DecRef(a.NewFloat(-1)) // a keeps one float (the same one each time)
		}
		a.Detach()
		b := rt.NewThread()
		for _, o := range objs {
			b.DecRef(o) // b keeps a's floats (or queues them to a, under biased counting)
		}
		b.Detach()
		a.Attach()
		a.Close()
		b.Attach()
		b.Checkpoint()
		kept := b.AllocatorStats().FreeListed
		if rt.Mode() == GIL {
			require.Equal(t, 11, kept, "one list for the runtime")
		} else if rt.Config().RefCounting == Atomic {
			require.Equal(t, 10, kept, "a's list went back when it closed; b kept a's floats")
		} else {
			// b's decrements queued a's floats to a, which freed them
			// when it merged its queue at Close.
			require.Zero(t, kept)
		}
		o := b.NewFloat(42)
		require.Equal(t, 1, b.RefCount(o))
		b.IncRef(o)
		b.DecRef(o)
		b.DecRef(o)
		b.Close()
	})
}

// TestFreeListsConcurrent: threads make floats and ints, free their own
// and each other's (through a shared list), while one thread runs full
// collections that clear every thread's free lists in the pause. Under
// -race this checks the lists' ownership; at the end nothing leaks (the
// runtime's Close) and the lists are empty after a last full collection.
func TestFreeListsConcurrent(t *testing.T) {
	eachModeDebug(t, []bool{false}, func(t *testing.T, rt *Runtime) {
		const workers = 3
		rounds := invariants.Scale(2000, 6)
		setup := rt.NewThread()
		shared := setup.NewList()
		setup.Detach()
		var wg sync.WaitGroup
		for w := 0; w < workers; w++ {
			wg.Add(1)
			go func(w int) {
				defer wg.Done()
				th := rt.NewThread()
				defer th.Close()
				for i := 0; i < rounds; i++ {
					f := th.NewFloat(float64(i))
					n := th.NewInt(int64(1000 + i))
					require.NoError(t, th.ListAppend(shared, f))
					th.DecRef(f)
					th.DecRef(n)
					if o, err := th.ListPop(shared, 0); err == nil {
						th.DecRef(o) // often another thread's float
					}
					if w == 0 && i%100 == 0 {
						_, err := th.Collect(2)
						require.NoError(t, err)
					}
					th.Checkpoint()
				}
			}(w)
		}
		wg.Wait()
		setup.Attach()
		for {
			o, err := setup.ListPop(shared, 0)
			if err != nil {
				break
			}
			setup.DecRef(o)
		}
		setup.DecRef(shared)
		_, err := setup.Collect(2)
		require.NoError(t, err)
		require.Zero(t, setup.AllocatorStats().FreeListed)
		setup.Close()
	})
}

// TestFreeListContainers: a freed list or dict waits on its free list
// without its items and is the next one handed out, fresh: empty, tracked
// in generation 0, one reference; a cycle made of reused lists is found by
// the collector like any other. At most containerFreeListMax wait.
func TestFreeListContainers(t *testing.T) {
	eachModeDebug(t, []bool{false}, withThread(func(t *testing.T, th *Thread) {
		f := th.NewFloat(1)
		l := th.NewList(f, f)
		d := th.NewDict()
		require.NoError(t, th.DictSet(d, th.Intern("k"), f))
		th.DecRef(l)
		th.DecRef(d)
		require.Equal(t, 1, th.RefCount(f), "the kept list and dict let go of their items")
		require.Equal(t, 2, th.AllocatorStats().FreeListed)

		l2 := th.NewList()
		d2 := th.NewDict()
		require.Same(t, l, l2)
		require.Same(t, d, d2)
		n, err := th.ListLen(l2)
		require.NoError(t, err)
		require.Zero(t, n)
		n, err = th.DictLen(d2)
		require.NoError(t, err)
		require.Zero(t, n)
		gcAPI := th.Runtime().GC()
		require.True(t, gcAPI.IsTracked(l2))
		require.True(t, gcAPI.IsTracked(d2))
		require.Equal(t, 1, th.RefCount(l2))

		// A cycle through the reused objects: l2 -> d2 -> l2.
		require.NoError(t, th.ListAppend(l2, d2))
		require.NoError(t, th.DictSet(d2, th.Intern("k"), l2))
		th.DecRef(l2)
		th.DecRef(d2)
		found, err := th.Collect(0)
		require.NoError(t, err)
		require.Equal(t, 2, found)
		th.DecRef(f)

		objs := make([]*Object, 0, 2*containerFreeListMax+20)
		for i := 0; i < containerFreeListMax+10; i++ {
			objs = append(objs, th.NewList(), th.NewDict())
		}
		for _, o := range objs {
			th.DecRef(o)
		}
		require.Equal(t, 2*containerFreeListMax+1, th.AllocatorStats().FreeListed, "full list and dict lists, and f")
	}))
}

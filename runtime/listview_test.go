package runtime

import (
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/nogil-lab/nogil/biasedrc"
	"github.com/nogil-lab/nogil/internal/invariants"
	"github.com/stretchr/testify/require"
)

// TestListBecomesShared: free-threaded with biased counting, a list turns
// shared (a view over a Go heap array) when a thread that does not own it
// reads it, not when its owner does; its items are unchanged, and later
// reads go without the lock (except under the race detector). GIL mode
// and atomic counting never share.
func TestListBecomesShared(t *testing.T) {
	eachMode(t, func(t *testing.T, rt *Runtime) {
		owner := rt.NewThread()
		owner.Detach()
		other := rt.NewThread() // in GIL mode, one thread attached at a time
		other.Detach()
		owner.Attach()
		a, b := owner.NewInt(1000), owner.NewInt(2000)
		lo := owner.NewList(a, b)
		l := asList(lo)
		second := owner.NewList(a) // still referenced by the owner only: read without the lock
		owner.DecRef(a)
		owner.DecRef(b)
		owner.IncRef(lo) // other's reference: the list is no longer unique

		it, err := owner.ListGet(lo, 1)
		require.NoError(t, err)
		require.Same(t, b, it)
		owner.DecRef(it)
		require.Nil(t, l.view.Load(), "the owner's read shares nothing")
		owner.Detach()

		other.Attach()
		it, err = other.ListGet(lo, 0)
		require.NoError(t, err)
		require.Same(t, a, it)
		other.DecRef(it)
		shares := rt.mode == FreeThreaded && rt.cfg.RefCounting == Biased
		if !shares {
			require.Nil(t, l.view.Load())
		} else {
			v := l.view.Load()
			require.NotNil(t, v, "another thread's read shares the list")
			require.Greater(t, cap(l.itemSlice()), maxSmallItems, "a shared list's array comes from Go's heap")
			require.Equal(t, []*Object{a, b}, l.itemSlice())
			require.Len(t, v.a, cap(l.itemSlice()))
			require.Nil(t, v.a[2], "items past the length are nil")
		}
		before := rt.Stats()
		for i := range 4 {
			it, err := other.ListGet(lo, i%2)
			require.NoError(t, err)
			require.Same(t, []*Object{a, b}[i%2], it)
			other.DecRef(it)
		}
		_, err = other.ListGet(lo, 2)
		require.ErrorIs(t, err, ErrIndex)
		other.Checkpoint()
		after := rt.Stats()
		if shares && lockFreeListReads {
			// a was marked by the read that shared the list; b is refused
			// once (another thread owns it and nobody else counts it: its
			// owner could free it without a compare-and-swap), marked by
			// the read under the lock, and read without the lock after.
			require.Equal(t, before.ListReadsLockFree+3, after.ListReadsLockFree)
			require.Equal(t, before.ListReadsFellBack+2, after.ListReadsFellBack, "b once, and the index past the end")
		} else {
			require.Equal(t, before.ListReadsLockFree, after.ListReadsLockFree)
			require.Equal(t, before.ListReadsFellBack, after.ListReadsFellBack)
		}
		other.DecRef(lo)
		other.Detach()

		owner.Attach()
		// Appends to a shared list move it to larger Go heap arrays, each
		// published; the values survive.
		for i := range 40 {
			v := owner.NewInt(int64(3000 + i))
			require.NoError(t, owner.ListAppend(lo, v))
			owner.DecRef(v)
		}
		if shares {
			require.Same(t, l.view.Load().a[0], a)
			require.Len(t, l.view.Load().a, cap(l.itemSlice()))
		}
		n, err := owner.ListLen(lo)
		require.NoError(t, err)
		require.Equal(t, 42, n)
		require.Nil(t, asList(second).view.Load())
		owner.DecRef(second)
		owner.DecRef(lo)
		owner.Close()
		other.Attach()
		other.Close()
	})
}

// TestListGetSharedStale drives the reader's steps by hand with a view that
// is no longer the list's: the item it loads from the old array may have
// been freed (its count refuses a reference) or freed and its slot reused
// by a new object (the reference is taken, the re-check fails and gives it
// back). Either way the read falls back and no count changes.
func TestListGetSharedStale(t *testing.T) {
	eachModeWith(t, allModes[1:2], []bool{true, false}, nil, withThread(func(t *testing.T, th *Thread) {
		other := th.rt.NewThread()
		other.Detach()
		lo := th.NewList()
		for i := range 3 {
			v := th.NewInt(int64(5000 + i))
			require.NoError(t, th.ListAppend(lo, v))
			th.DecRef(v)
		}
		th.Detach()
		other.Attach()
		it, err := other.ListGet(lo, 0) // shares the list
		require.NoError(t, err)
		other.DecRef(it)
		other.Detach()
		th.Attach()
		l := asList(lo)
		old := l.view.Load()
		require.NotNil(t, old)

		// The current view answers.
		got := th.listGetShared(l, old, 2)
		require.NotNil(t, got)
		require.EqualValues(t, 2, th.RefCount(got))
		th.DecRef(got)
		require.Nil(t, th.listGetShared(l, old, 3), "past the end: a nil item")
		require.Nil(t, th.listGetShared(l, old, len(old.a)), "past the array")

		// Replace the array: old keeps the pointers.
		for i := range len(old.a) {
			v := th.NewInt(int64(6000 + i))
			require.NoError(t, th.ListAppend(lo, v))
			th.DecRef(v)
		}
		require.NotSame(t, old, l.view.Load())
		p := old.a[2]
		require.EqualValues(t, 1, th.RefCount(p))
		require.Nil(t, th.listGetShared(l, old, 2), "the view changed: fall back")
		require.EqualValues(t, 1, th.RefCount(p), "the reference taken was given back")

		// Free item 2 (pop the last item until it goes).
		for {
			n, err := th.ListLen(lo)
			require.NoError(t, err)
			if n == 2 {
				break
			}
			v, err := th.ListPop(lo, -1)
			require.NoError(t, err)
			th.DecRef(v)
		}
		// p is freed: its count refuses (whatever the view). In reuse mode
		// the next int takes its slot (the free list's top), and the read
		// of the stale array takes and gives back a reference to it.
		require.Nil(t, th.listGetShared(l, old, 2))
		fresh := th.NewInt(7777)
		if !th.rt.cfg.Debug {
			require.Same(t, p, fresh, "the free list hands the slot out again")
		}
		require.Nil(t, th.listGetShared(l, old, 2))
		require.EqualValues(t, 1, th.RefCount(fresh))
		v, err := th.Int(fresh)
		require.NoError(t, err)
		require.Equal(t, int64(7777), v)
		th.DecRef(fresh)
		th.DecRef(lo)
		th.Detach()
		other.Attach()
		other.Close()
		th.Attach()
	}))
}

// TestListGetLockFreeConcurrent: readers read a shared list while its
// owner replaces items (freeing the old ones, whose slots the next items
// reuse), appends (moving the list to larger arrays) and pops from the
// end. Indices never shift, so the value of what a reader gets at index j
// must belong to index j: a read that returned a reused slot's new object
// would show another index. Without the race detector the reads go
// without the lock; with it, under the lock (listview.go), and the views
// are still maintained. In Debug mode freed items stay poisoned and are
// never reused: a read that returned one would fail in Int.
func TestListGetLockFreeConcurrent(t *testing.T) {
	const base = 8
	rounds := invariants.Scale(20000, 10)
	eachModeDebug(t, []bool{false, true}, func(t *testing.T, rt *Runtime) {
		owner := rt.NewThread()
		lo := owner.NewList()
		for j := range base {
			v := owner.NewInt(int64(j) << 32)
			require.NoError(t, owner.ListAppend(lo, v))
			owner.DecRef(v)
		}
		// A reference per reader: the list is not unique to its owner, whose
		// writes therefore take its lock.
		const nreaders = 2
		for range nreaders {
			owner.IncRef(lo)
		}
		owner.Detach()
		readers := make([]*Thread, nreaders)
		for i := range readers {
			readers[i] = rt.NewThread()
			readers[i].Detach()
		}
		var wg, ready sync.WaitGroup
		ready.Add(nreaders) // each reader reads once before the writer starts
		stop := make(chan struct{})
		errs := make(chan error, len(readers)+1)
		for r, th := range readers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				readOnce := sync.OnceFunc(ready.Done)
				defer readOnce() // a reader that fails at once must not hold the writer up
				th.Attach()
				defer th.Detach()
				rng := rand.New(rand.NewPCG(uint64(r), 1))
				for k := 0; ; k++ {
					if k == 1 {
						readOnce()
					}
					if k%64 == 63 {
						select {
						case <-stop:
							return
						default:
						}
						th.Checkpoint()
					}
					j := rng.IntN(base + 4)
					it, err := th.ListGet(lo, j)
					if err != nil {
						if j < base {
							errs <- err
							return
						}
						continue // an appended item popped meanwhile
					}
					v, err := th.Int(it)
					th.DecRef(it)
					if err != nil || v>>32 != int64(j) {
						errs <- errorf(ErrValue, "item %d read as %#x (%v)", j, v, err)
						return
					}
				}
			}()
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer close(stop)
			ready.Wait()
			owner.Attach()
			defer owner.Detach()
			rng := rand.New(rand.NewPCG(99, 2))
			n := base
			for k := range rounds {
				switch op := rng.IntN(4); {
				case op < 2: // replace an item: the old one is freed
					j := rng.IntN(n)
					v := owner.NewInt(int64(j)<<32 | int64(k))
					if err := owner.ListSet(lo, j, v); err != nil {
						errs <- err
						return
					}
					owner.DecRef(v)
				case op == 2 && n < base+4:
					v := owner.NewInt(int64(n)<<32 | int64(k))
					if err := owner.ListAppend(lo, v); err != nil {
						errs <- err
						return
					}
					owner.DecRef(v)
					n++
				case n > base:
					v, err := owner.ListPop(lo, -1)
					if err != nil {
						errs <- err
						return
					}
					owner.DecRef(v)
					n--
				}
				if k%64 == 0 {
					owner.Checkpoint()
				}
			}
		}()
		wg.Wait()
		close(errs)
		for err := range errs {
			require.NoError(t, err)
		}
		for _, th := range readers {
			th.Attach()
			th.DecRef(lo)
			th.Close()
		}
		owner.Attach()
		st := rt.Stats()
		t.Logf("lock-free %d fell back %d", st.ListReadsLockFree, st.ListReadsFellBack)
		if rt.mode == FreeThreaded && rt.cfg.RefCounting == Biased {
			require.NotNil(t, asList(lo).view.Load(), "the readers shared the list")
			if lockFreeListReads {
				require.Positive(t, st.ListReadsLockFree)
			}
		}
		owner.DecRef(lo)
		owner.Close()
	})
}

// TestNoLockFreeReads: with Config.NoLockFreeReads a list read by a thread
// that does not own it stays private (no view, its items unmarked) and
// every read takes the lock.
func TestNoLockFreeReads(t *testing.T) {
	eachModeWith(t, allModes[1:2], []bool{false}, func(c *Config) { c.NoLockFreeReads = true }, withThread(func(t *testing.T, th *Thread) {
		other := th.rt.NewThread()
		other.Detach()
		v := th.NewInt(4242)
		lo := th.NewList(v)
		th.DecRef(v)
		th.IncRef(lo) // other's reference
		th.Detach()
		other.Attach()
		for range 3 {
			it, err := other.ListGet(lo, 0)
			require.NoError(t, err)
			require.Same(t, v, it)
			other.DecRef(it)
		}
		other.DecRef(lo)
		other.Close()
		th.Attach()
		require.Nil(t, asList(lo).view.Load())
		require.Equal(t, biasedrc.StateDefault, v.rc.SharedState(), "the item is not marked")
		st := th.rt.Stats()
		require.Zero(t, st.ListReadsLockFree)
		require.Zero(t, st.ListReadsFellBack)
		th.DecRef(lo)
	}))
}

// TestAPIListAgainstModel: random list operations against a slice, in every
// mode, with a second thread reading now and then (which makes the list
// shared in free-threaded mode with biased counting, so that its arrays
// move to Go's heap and its reads go without the lock): the items, their
// order, the errors and the counts (no leak at Close) must all agree.
func TestAPIListAgainstModel(t *testing.T) {
	ops := invariants.Scale(6000, 4)
	eachMode(t, func(t *testing.T, rt *Runtime) {
		th := rt.NewThread()
		th.Detach()
		other := rt.NewThread()
		other.Detach()
		th.Attach()
		r := rand.New(rand.NewPCG(7, 8))
		l := th.NewList()
		th.IncRef(l) // other's reference
		var model []int64
		next := int64(1000)
		newInt := func() *Object { next++; return th.NewInt(next) }
		get := func(th *Thread, i int) (int64, error) {
			o, err := th.ListGet(l, i)
			if err != nil {
				return 0, err
			}
			v, err := th.Int(o)
			th.DecRef(o)
			return v, err
		}
		index := func(n int) int { return r.IntN(2*n+3) - n - 1 } // in range and one past either end
		norm := func(i, n int) (int, bool) {
			if i < 0 {
				i += n
			}
			return i, i >= 0 && i < n
		}
		check := func(th *Thread) {
			n, err := th.ListLen(l)
			require.NoError(t, err)
			require.Equal(t, len(model), n)
			for i, want := range model {
				v, err := get(th, i)
				require.NoError(t, err)
				require.Equal(t, want, v, "item %d", i)
			}
		}
		for k := range ops {
			n := len(model)
			switch op := r.IntN(10); {
			case op < 3:
				v := newInt()
				require.NoError(t, th.ListAppend(l, v))
				th.DecRef(v)
				model = append(model, next)
			case op < 5:
				i := index(n)
				v := newInt()
				err := th.ListSet(l, i, v)
				th.DecRef(v)
				if j, ok := norm(i, n); ok {
					require.NoError(t, err)
					model[j] = next
				} else {
					require.ErrorIs(t, err, ErrIndex)
				}
			case op < 7:
				i := index(n)
				o, err := th.ListPop(l, i)
				if j, ok := norm(i, n); ok {
					require.NoError(t, err)
					v, err := th.Int(o)
					require.NoError(t, err)
					require.Equal(t, model[j], v)
					th.DecRef(o)
					model = append(model[:j], model[j+1:]...)
				} else {
					require.ErrorIs(t, err, ErrIndex)
				}
			case op == 7 && n < 200:
				switch r.IntN(3) {
				case 0: // a tuple
					a, b := newInt(), newInt()
					tu := th.NewTuple(a, b)
					require.NoError(t, th.ListExtend(l, tu))
					th.DecRef(a)
					th.DecRef(b)
					th.DecRef(tu)
					model = append(model, next-1, next)
				case 1: // itself
					require.NoError(t, th.ListExtend(l, l))
					model = append(model, model...)
				default: // another list
					a := newInt()
					src := th.NewList(a)
					th.DecRef(a)
					require.NoError(t, th.ListExtend(l, src))
					th.DecRef(src)
					model = append(model, next)
				}
			case op == 8:
				i := index(n)
				v, err := get(th, i)
				if j, ok := norm(i, n); ok {
					require.NoError(t, err)
					require.Equal(t, model[j], v)
				} else {
					require.ErrorIs(t, err, ErrIndex)
				}
			default: // the other thread reads everything
				th.Detach()
				other.Attach()
				check(other)
				other.Detach()
				th.Attach()
			}
			if k%500 == 0 {
				check(th)
			}
		}
		check(th)
		if rt.mode == FreeThreaded && rt.cfg.RefCounting == Biased && len(model) > 0 {
			require.NotNil(t, asList(l).view.Load(), "the other thread's reads shared the list")
		}
		th.DecRef(l)
		th.Detach()
		other.Attach()
		other.DecRef(l)
		other.Close()
		th.Attach()
		th.Close()
	})
}

// TestListReadsPublishedWithoutLock: a safe point with only lock-free list
// reads to publish stores them without the counters' mutex; one with other
// counts too publishes them under it; Stats adds both, and so does the
// runtime's total for closed threads.
func TestListReadsPublishedWithoutLock(t *testing.T) {
	eachMode(t, func(t *testing.T, rt *Runtime) {
		owner := rt.NewThread()
		a, b := owner.NewInt(1000), owner.NewInt(2000)
		lo := owner.NewList(a, b)
		owner.DecRef(a)
		owner.DecRef(b)
		owner.Detach()
		other := rt.NewThread()
		read := func(n int) {
			for i := range n {
				it, err := other.ListGet(lo, i%2)
				require.NoError(t, err)
				other.DecRef(it)
			}
		}
		read(2) // shares the list (free-threaded, biased) and marks the items
		other.Checkpoint()
		tc := &other.stats
		start := rt.Stats()
		atomicBefore, lockedBefore := tc.readsPublished[1].Load(), tc.published.listReads[1]

		read(5)
		require.Equal(t, uint64(0), tc.dirty&^dirtyReads, "reads alone dirty only the reads' bit")
		other.Checkpoint()
		afterReads := rt.Stats()
		lockFree := rt.mode == FreeThreaded && rt.cfg.RefCounting == Biased && lockFreeListReads
		if !lockFree {
			require.Equal(t, start.ListReadsLockFree, afterReads.ListReadsLockFree)
			require.Zero(t, tc.readsPublished[1].Load())
		} else {
			require.Equal(t, start.ListReadsLockFree+5, afterReads.ListReadsLockFree)
			require.Equal(t, atomicBefore+5, tc.readsPublished[1].Load(), "published without the mutex")
			require.Equal(t, lockedBefore, tc.published.listReads[1])
		}

		read(3)
		other.DecRef(other.NewFloat(1.5)) // a count to publish under the mutex
		other.Checkpoint()
		afterMixed := rt.Stats()
		if lockFree {
			require.Equal(t, afterReads.ListReadsLockFree+3, afterMixed.ListReadsLockFree)
			require.Equal(t, atomicBefore+5, tc.readsPublished[1].Load(), "no atomic store when the mutex is taken")
			require.Equal(t, lockedBefore+3, tc.published.listReads[1])
		}
		require.Equal(t, afterReads.Allocated+1, afterMixed.Allocated)

		other.Close()
		owner.Attach()
		require.Equal(t, afterMixed.ListReadsLockFree, rt.Stats().ListReadsLockFree, "a closed thread's reads stay counted")
		owner.DecRef(lo)
		owner.Close()
	})
}

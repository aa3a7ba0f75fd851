package runtime

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nogil-lab/nogil/internal/invariants"
	"github.com/nogil-lab/nogil/mimallocish"
	"github.com/stretchr/testify/require"
)

// Tests from an audit of the allocator issue (mimallocish per-thread heaps
// and pools, every object allocated through them, statistics through the
// runtime): heap walk completeness against Stats().Live, every kind from
// its size class, the totals balancing.

// classWalk is one size class's walk (world stopped): slots handed out, and
// those of them that hold a live object (not poisoned: freed objects kept
// on a free list or in Debug's quarantine are still handed out).
type classWalk struct {
	name  string
	slots int
	live  int
	stats int // the class's own SlotsInUse
}

func walkClass[T any](name string, walk func(func(*T, mimallocish.SlotID)), stats int, hdr func(*T) *Object) classWalk {
	w := classWalk{name: name, stats: stats}
	walk(func(o *T, id mimallocish.SlotID) {
		w.slots++
		if hdr == nil {
			return
		}
		if h := hdr(o); h.typ != nil && h.typ.kind != kindFreed {
			w.live++
		}
	})
	return w
}

// walkHeaps walks every size class of rt, every thread's heap and the
// abandoned pages (free-threaded) or every pool (GIL). The world must be
// stopped (free-threaded) or the GIL held.
func walkHeaps(rt *Runtime) []classWalk {
	if p := rt.pools; p != nil {
		return []classWalk{
			walkClass(p.ints.Name(), p.ints.Walk, p.ints.Stats().SlotsInUse, func(o *intObject) *Object { return &o.Object }),
			walkClass(p.floats.Name(), p.floats.Walk, p.floats.Stats().SlotsInUse, func(o *floatObject) *Object { return &o.Object }),
			walkClass(p.strs.Name(), p.strs.Walk, p.strs.Stats().SlotsInUse, func(o *strObject) *Object { return &o.Object }),
			walkClass(p.tuples.Name(), p.tuples.Walk, p.tuples.Stats().SlotsInUse, func(o *tupleObject) *Object { return &o.Object }),
			walkClass(p.lists.Name(), p.lists.Walk, p.lists.Stats().SlotsInUse, func(o *listObject) *Object { return &o.Object }),
			walkClass(p.dicts.Name(), p.dicts.Walk, p.dicts.Stats().SlotsInUse, func(o *dictObject) *Object { return &o.Object }),
			walkClass(p.instances.Name(), p.instances.Walk, p.instances.Stats().SlotsInUse, func(o *instanceObject) *Object { return &o.Object }),
			walkClass(p.weakrefs.Name(), p.weakrefs.Walk, p.weakrefs.Stats().SlotsInUse, func(o *weakrefObject) *Object { return &o.Object }),
			walkClass[items4](p.items4.Name(), p.items4.Walk, p.items4.Stats().SlotsInUse, nil),
			walkClass[items8](p.items8.Name(), p.items8.Walk, p.items8.Stats().SlotsInUse, nil),
			walkClass[items16](p.items16.Name(), p.items16.Walk, p.items16.Stats().SlotsInUse, nil),
			walkClass[smallTable](p.smallTables.Name(), p.smallTables.Walk, p.smallTables.Stats().SlotsInUse, nil),
		}
	}
	c := rt.classes
	return []classWalk{
		walkClass(c.ints.Name(), c.ints.Walk, c.ints.Stats().SlotsInUse, func(o *intObject) *Object { return &o.Object }),
		walkClass(c.floats.Name(), c.floats.Walk, c.floats.Stats().SlotsInUse, func(o *floatObject) *Object { return &o.Object }),
		walkClass(c.strs.Name(), c.strs.Walk, c.strs.Stats().SlotsInUse, func(o *strObject) *Object { return &o.Object }),
		walkClass(c.tuples.Name(), c.tuples.Walk, c.tuples.Stats().SlotsInUse, func(o *tupleObject) *Object { return &o.Object }),
		walkClass(c.lists.Name(), c.lists.Walk, c.lists.Stats().SlotsInUse, func(o *listObject) *Object { return &o.Object }),
		walkClass(c.dicts.Name(), c.dicts.Walk, c.dicts.Stats().SlotsInUse, func(o *dictObject) *Object { return &o.Object }),
		walkClass(c.instances.Name(), c.instances.Walk, c.instances.Stats().SlotsInUse, func(o *instanceObject) *Object { return &o.Object }),
		walkClass(c.weakrefs.Name(), c.weakrefs.Walk, c.weakrefs.Stats().SlotsInUse, func(o *weakrefObject) *Object { return &o.Object }),
		walkClass[items4](c.items4.Name(), c.items4.Walk, c.items4.Stats().SlotsInUse, nil),
		walkClass[items8](c.items8.Name(), c.items8.Walk, c.items8.Stats().SlotsInUse, nil),
		walkClass[items16](c.items16.Name(), c.items16.Walk, c.items16.Stats().SlotsInUse, nil),
		walkClass[smallTable](c.smallTables.Name(), c.smallTables.Walk, c.smallTables.Stats().SlotsInUse, nil),
	}
}

// checkWalk stops the world (th attached, at a safe point), walks every
// heap and compares: live objects walked == Stats().Live, and every class's
// walk == its SlotsInUse.
func checkWalk(t *testing.T, th *Thread, what string) int {
	t.Helper()
	th.Checkpoint()
	restart := th.StopTheWorld()
	walks := walkHeaps(th.rt)
	st := th.rt.Stats()
	restart()
	live := 0
	for _, w := range walks {
		require.Equal(t, w.stats, w.slots, "%s: class %s: walk visits every slot in use", what, w.name)
		live += w.live
	}
	require.Equal(t, st.Live, live, "%s: objects walked == Stats().Live (%v)", what, walks)
	return live
}

// TestAuditWalkCountEqualsLive: the heap walk completeness test.
// Threads allocate every kind of object, keep some, free some, hand some to
// other threads through shared slots (freed there: remote frees), and
// exit with live objects (abandoned pages); with the world stopped, the
// walk of every heap (abandoned ones included) finds exactly Stats().Live
// live objects.
func TestAuditWalkCountEqualsLive(t *testing.T) {
	eachMode(t, func(t *testing.T, rt *Runtime) {
		foo, err := rt.NewType(TypeSpec{Name: "Foo"})
		require.NoError(t, err)
		const workers = 3
		iters := invariants.Scale(1500, 3)
		var shared [16]atomic.Pointer[Object]
		// survivors are what exiting threads leave alive, freed at the end.
		var mu sync.Mutex
		var survivors []*Object
		round := func(seed uint64) {
			var wg sync.WaitGroup
			for w := 0; w < workers; w++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					th := rt.NewThread()
					rng := rand.New(rand.NewPCG(seed, uint64(w)))
					var mine []*Object
					for i := 0; i < iters; i++ {
						var o *Object
						switch rng.IntN(9) {
						case 0:
							o = th.NewInt(int64(1000 + i))
						case 1:
							o = th.NewFloat(float64(i))
						case 2:
							o = th.NewStr(fmt.Sprint(i))
						case 3:
							a, b := th.NewInt(int64(5000+i)), th.NewFloat(1)
							o = th.NewTuple(a, b)
							th.DecRef(a)
							th.DecRef(b)
						case 4:
							f := th.NewFloat(2)
							o = th.NewList(f)
							th.DecRef(f)
						case 5:
							o = th.NewDict()
							v := th.NewInt(7000 + int64(i))
							if err := th.DictSet(o, th.Intern("k"), v); err != nil {
								t.Error(err)
							}
							th.DecRef(v)
						case 6:
							o = th.NewInstance(foo)
						case 7:
							o = th.NewInstance(foo)
							r, err := th.NewWeakRef(o, nil)
							if err != nil {
								t.Error(err)
							}
							mine = append(mine, r)
						case 8:
							o = th.NewList()
						}
						switch k := rng.IntN(10); {
						case k < 4:
							mine = append(mine, o)
						case k < 7:
							th.DecRef(o)
						default:
							if old := shared[rng.IntN(len(shared))].Swap(o); old != nil {
								th.DecRef(old) // often another thread's object
							}
						}
						if len(mine) > 200 {
							j := rng.IntN(len(mine))
							th.DecRef(mine[j])
							mine[j] = mine[len(mine)-1]
							mine = mine[:len(mine)-1]
						}
						th.Checkpoint()
					}
					// Exit with live objects: keep a few for later.
					mu.Lock()
					survivors = append(survivors, mine[:len(mine)/2]...)
					mu.Unlock()
					for _, o := range mine[len(mine)/2:] {
						th.DecRef(o)
					}
					th.Close()
				}()
			}
			// Check while the workers run.
			th := rt.NewThread()
			for k := 0; k < 3; k++ {
				th.Detach()
				time.Sleep(2 * time.Millisecond)
				th.Attach()
				checkWalk(t, th, fmt.Sprintf("round %d, check %d", seed, k))
			}
			th.Detach()
			wg.Wait()
			th.Attach()
			live := checkWalk(t, th, fmt.Sprintf("round %d, workers gone", seed))
			require.NotZero(t, live, "the exited threads left live objects")
			th.Close()
		}
		round(1)
		round(2) // new threads adopt the pages the first ones abandoned

		th := rt.NewThread()
		if rt.Mode() == FreeThreaded && !rt.Config().Debug {
			as := th.AllocatorStats()
			require.Positive(t, as.Abandoned, "threads exited with live objects")
			require.Positive(t, as.Adopted, "later threads adopted abandoned pages")
			if rt.Config().RefCounting == Atomic {
				require.Positive(t, as.RemoteFrees, "objects freed by other threads")
			}
		}
		for k := range shared {
			if o := shared[k].Swap(nil); o != nil {
				th.DecRef(o)
			}
		}
		for _, o := range survivors {
			th.DecRef(o)
		}
		_, err = th.Collect(2)
		require.NoError(t, err)
		require.Zero(t, checkWalk(t, th, "all freed"))
		th.Close()
	})
}

// TestAuditEveryKindFromItsClass: each constructor takes its object (and
// its item array or table) from its size class, in both modes.
func TestAuditEveryKindFromItsClass(t *testing.T) {
	eachModeThread(t, func(t *testing.T, th *Thread) {
		foo, err := th.Runtime().NewType(TypeSpec{Name: "Foo"})
		require.NoError(t, err)
		inUse := func() map[string]int {
			s := th.AllocatorStats()
			m := map[string]int{}
			for name, c := range s.Classes {
				m[name] = c.SlotsInUse
			}
			for name, p := range s.Pools {
				m[name] = p.SlotsInUse
			}
			require.Len(t, m, 12, "one class per object struct and capacity class")
			return m
		}
		none := th.Runtime().None()
		nones := func(n int) []*Object {
			s := make([]*Object, n)
			for i := range s {
				s[i] = none
			}
			return s
		}
		var keep []*Object
		x := th.NewInstance(foo)
		keep = append(keep, x)
		for _, tc := range []struct {
			make func() *Object
			want map[string]int
		}{
			{func() *Object { return th.NewInt(1 << 40) }, map[string]int{"int": 1}},
			{func() *Object { return th.NewFloat(0.5) }, map[string]int{"float": 1}},
			{func() *Object { return th.NewStr("abc") }, map[string]int{"str": 1}},
			{func() *Object { return th.NewTuple(none, none) }, map[string]int{"tuple": 1}},
			{func() *Object { return th.NewList() }, map[string]int{"list": 1}},
			{func() *Object { return th.NewList(none) }, map[string]int{"list": 1, "list-items-4": 1}},
			{func() *Object { return th.NewList(nones(5)...) }, map[string]int{"list": 1, "list-items-8": 1}},
			{func() *Object { return th.NewList(nones(12)...) }, map[string]int{"list": 1, "list-items-16": 1}},
			{func() *Object {
				d := th.NewDict()
				require.NoError(t, th.DictSet(d, th.Intern("k"), none))
				return d
			}, map[string]int{"dict": 1, "dict-table-8": 1}},
			{func() *Object { return th.NewInstance(foo) }, map[string]int{"instance": 1}},
			{func() *Object {
				r, err := th.NewWeakRef(x, nil)
				require.NoError(t, err)
				return r
			}, map[string]int{"weakref": 1}},
		} {
			before := inUse()
			o := tc.make()
			after := inUse()
			for name := range after {
				require.Equal(t, tc.want[name], after[name]-before[name], "%s: slots of class %s", th.Repr(o), name)
			}
			keep = append(keep, o)
		}
		for _, o := range keep {
			th.DecRef(o)
		}
	})
}

// TestAuditAllocatorStatsBalance: the totals are the sums of the classes;
// per class, bytes reserved are the pages' (or pools') slots, bytes in use
// the slots in use, and remote frees made = received + pending; a thread
// that exits with live objects abandons pages, and a new thread adopts
// them.
func TestAuditAllocatorStatsBalance(t *testing.T) {
	check := func(t *testing.T, s AllocatorStats) {
		t.Helper()
		var slots int
		var reserved, inUse, remote, abandoned, adopted int64
		for name, c := range s.Classes {
			require.Equal(t, int64(c.Pages)*int64(c.SlotsPerPage)*int64(c.SlotSize), c.BytesReserved, name)
			require.Equal(t, int64(c.SlotsInUse)*int64(c.SlotSize), c.BytesInUse, name)
			require.LessOrEqual(t, c.BytesInUse, c.BytesReserved, name)
			require.Equal(t, c.RemoteFreesOut-c.RemoteFreesIn, int64(c.PendingFrees), "%s: remote frees made = received + pending", name)
			require.Equal(t, int64(c.Pages), c.PagesCreated+c.PagesReused-c.PagesReleased, "%s: pages = created + reused - released", name)
			require.LessOrEqual(t, c.AbandonedPages, c.Pages, name)
			slots += c.SlotsInUse
			reserved += c.BytesReserved
			inUse += c.BytesInUse
			remote += c.RemoteFreesOut
			abandoned += c.PagesAbandoned
			adopted += c.PagesAdopted
		}
		for name, p := range s.Pools {
			require.Equal(t, int64(p.UsedPools+p.FullPools)*int64(p.SlotsPerPool)*int64(p.SlotSize), p.BytesReserved, name)
			require.Equal(t, int64(p.SlotsInUse)*int64(p.SlotSize), p.BytesInUse, name)
			require.Equal(t, s.Arenas, p.Arenas, "%s: one arena space for every class", name)
			slots += p.SlotsInUse
			reserved += p.BytesReserved
			inUse += p.BytesInUse
		}
		if s.Pools != nil {
			pools := 0
			for _, p := range s.Pools {
				pools += p.UsedPools + p.FullPools
			}
			require.Equal(t, pools, s.Arenas.PoolsInUse, "pools serving a class")
		}
		require.Equal(t, slots, s.SlotsInUse)
		require.Equal(t, reserved, s.BytesReserved)
		require.Equal(t, inUse, s.BytesInUse)
		require.Equal(t, remote, s.RemoteFrees)
		require.Equal(t, abandoned, s.Abandoned)
		require.Equal(t, adopted, s.Adopted)
		require.LessOrEqual(t, s.FreeListed, s.SlotsInUse)
	}
	noFreeLists := func(c *Config) { c.NoFreeLists = true }
	eachModeWith(t, allModes, []bool{false}, noFreeLists, func(t *testing.T, rt *Runtime) {
		a := rt.NewThread()
		var objs []*Object
		for i := 0; i < 3000; i++ {
			objs = append(objs, a.NewFloat(float64(i)))
		}
		check(t, a.AllocatorStats())
		a.Detach()

		b := rt.NewThread()
		for _, o := range objs[:2000] {
			b.DecRef(o) // a's objects: remote frees (or merges, biased)
		}
		s := b.AllocatorStats()
		check(t, s)
		b.Detach()

		a.Attach()
		a.Close() // exits with 1000 live floats: their pages are abandoned
		b.Attach()
		s = b.AllocatorStats()
		check(t, s)
		if rt.Mode() == FreeThreaded {
			require.Positive(t, s.Abandoned)
			require.Positive(t, s.Classes["float"].AbandonedPages)
			if rt.Config().RefCounting == Atomic {
				require.GreaterOrEqual(t, s.RemoteFrees, int64(2000), "b freed a's floats")
				require.Equal(t, s.RemoteFrees, s.Classes["float"].RemoteFreesIn+int64(s.Classes["float"].PendingFrees))
			}
		}
		b.Detach()
		c := rt.NewThread()
		var more []*Object
		for i := 0; i < 100; i++ {
			more = append(more, c.NewFloat(float64(i)))
		}
		s = c.AllocatorStats()
		check(t, s)
		if rt.Mode() == FreeThreaded {
			require.Positive(t, s.Adopted, "c's first allocation adopted one of a's abandoned pages")
		}
		c.Detach()
		b.Attach()
		for _, o := range objs[2000:] {
			b.DecRef(o)
		}
		b.Close()
		c.Attach()
		for _, o := range more {
			c.DecRef(o)
		}
		// Under biased counting c has a's id (threadspare.go) and so owns
		// a's floats: b's drops of them were queued to c, whose safe point
		// merges and frees them.
		c.Checkpoint()
		s = c.AllocatorStats()
		check(t, s)
		require.Zero(t, s.SlotsInUse, "every object freed")
		if rt.Mode() == FreeThreaded {
			require.Zero(t, s.Classes["float"].AbandonedPages, "every abandoned page emptied")
		}
		c.Close()
	})
}

package runtime

import (
	"errors"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"
)

// More of the cycle collector's and weak references' behaviour, checked
// against CPython's (Doc/library/gc.rst, Doc/library/weakref.rst,
// Lib/test/test_gc.py, Lib/test/test_weakref.py, Python/gc.c) in every
// mode: what gc_test.go does not pin down exactly.

// gccModel is CPython's choice of the generation an automatic collection
// collects (gc_collect_generations in 3.12's Python/gc.c, the 3.13 default
// build's gc_select_generation): the oldest generation whose count exceeds
// (strictly) its threshold, except that generation 2 is skipped while
// long_lived_pending < long_lived_total / 4. It follows a heap where every
// object survives, so that the sizes it needs are known: young is the
// number of objects in generations 0 and 1, all the number tracked.
type gccModel struct {
	t                     [3]int
	count                 [3]int
	pending, total, young int
}

// collect applies a collection of generation g, as gc_collect_main does to
// the counts and the long-lived figures, and returns g.
func (m *gccModel) collect(g, all int) int {
	for k := 0; k <= g; k++ {
		m.count[k] = 0
	}
	if g+1 < 3 {
		m.count[g+1]++
	}
	switch g {
	case 1:
		m.pending += m.young
		m.young = 0
	case 2:
		m.pending = 0
		m.total = all
		m.young = 0
	}
	return g
}

// next is the generation the next automatic collection collects.
func (m *gccModel) next() int {
	for g := 2; g > 0; g-- {
		if m.count[g] > m.t[g] {
			if g == 2 && m.pending < m.total/4 {
				continue
			}
			return g
		}
	}
	return 0
}

// Automatic collections, exactly: a collection fires at the allocation
// that takes generation 0's count past threshold 0 (count > threshold,
// not >=); it collects the generation CPython would choose, including the
// edge thresholds 0 for generations 1 and 2 (collect as soon as the count
// is positive) and the 25% rule for full collections; the callbacks and
// Stats() see each one with its generation; Count() ends as CPython's.
func TestGCCPythonAutomaticSequence(t *testing.T) {
	for _, tc := range []struct {
		t    [3]int
		heap int
	}{
		{[3]int{9, 0, 0}, 0},
		{[3]int{9, 0, 0}, 300},
		{[3]int{5, 2, 1}, 0},
		{[3]int{5, 2, 1}, 150},
		{[3]int{7, 3, 0}, 50},
		{[3]int{20, 1, 5}, 0},
		{[3]int{3, 10, 10}, 0},
	} {
		t.Run(fmt.Sprintf("%v/heap=%d", tc.t, tc.heap), func(t *testing.T) {
			eachModeThread(t, func(t *testing.T, th *Thread) {
				g := th.Runtime().GC()
				gctQuiet(t, th)
				heap := th.NewList()
				for i := 0; i < tc.heap; i++ {
					l := th.NewList()
					require.NoError(t, th.ListAppend(heap, l))
					th.DecRef(l)
				}
				junk := th.NewList()
				// Every tracked object, exactly, and a full collection
				// that makes them the long-lived total.
				th.Freeze()
				all := g.FreezeCount()
				th.Unfreeze()
				require.Zero(t, gctCollect(t, th, 2))
				require.GreaterOrEqual(t, all, tc.heap+2)
				c0, c1, c2 := g.Count()
				require.Equal(t, [3]int{0, 0, 0}, [3]int{c0, c1, c2})
				m := gccModel{t: tc.t, total: all}

				require.NoError(t, g.SetThreshold(tc.t[0], tc.t[1], tc.t[2]))
				before := g.Stats()
				made := 0
				type seen struct{ made, gen int }
				var starts []seen
				var stops []Info
				remove := g.AddCallback(func(p Phase, info Info) {
					if p == PhaseStart {
						starts = append(starts, seen{made, info.Generation})
					} else {
						stops = append(stops, info)
					}
				})
				g.Enable()
				const n = 400
				for i := 0; i < n; i++ {
					made = i + 1 // the list being made is counted if it triggers
					l := th.NewList()
					require.NoError(t, th.ListAppend(junk, l))
					th.DecRef(l)
					th.Checkpoint()
				}
				g.Disable()
				remove()

				require.NotEmpty(t, starts)
				require.Len(t, stops, len(starts))
				var want, got []int
				last := 0
				var perGen [3]int
				for i, s := range starts {
					require.Equal(t, tc.t[0]+1, s.made-last,
						"collection %d: generation 0's count must exceed threshold %d, and no more", i, tc.t[0])
					m.young += s.made - last
					want = append(want, m.collect(m.next(), all+s.made))
					got = append(got, s.gen)
					last = s.made
					require.Equal(t, Info{Generation: s.gen}, stops[i], "nothing is garbage")
					perGen[s.gen]++
				}
				require.Equal(t, want, got, "the generations collected, in order")
				st := g.Stats()
				for k := 0; k < 3; k++ {
					require.Equal(t, before[k].Collections+perGen[k], st[k].Collections, "generation %d", k)
					require.Equal(t, before[k].Collected, st[k].Collected)
				}
				c0, c1, c2 = g.Count()
				require.Equal(t, n-last, c0, "allocations since the last collection")
				require.Equal(t, m.count[1], c1)
				require.Equal(t, m.count[2], c2)
				th.DecRef(junk)
				th.DecRef(heap)
			})
		})
	}
}

// Collect(g) examines generations 0..g only (gc.collect(generation)):
// garbage that has moved to an older generation is not found by a younger
// collection, and a young cycle that an older object refers to is
// reachable (the reference comes from outside the examined set), even when
// the older object is itself garbage. Collecting the older generation
// finds all of it, and each collection's statistics go to the generation
// it collected.
func TestGCCPythonCollectScope(t *testing.T) {
	eachModeThread(t, func(t *testing.T, th *Thread) {
		g := th.Runtime().GC()
		typ := gctType(t, th.Runtime(), TypeSpec{Name: "A"})
		base := gctQuiet(t, th)

		// A self-loop in generation 1, another in generation 2.
		in2 := gctSelfLoop(t, th, typ)
		gctCollect(t, th, 0)
		gctCollect(t, th, 1)
		in1 := gctSelfLoop(t, th, typ)
		gctCollect(t, th, 0)
		require.Equal(t, 2, asContainer(in2).gc.Generation())
		require.Equal(t, 1, asContainer(in1).gc.Generation())
		th.DecRef(in1)
		th.DecRef(in2)
		old := g.Stats()
		require.Zero(t, gctCollect(t, th, 0), "generation 0 holds no garbage")
		require.Equal(t, 1, gctCollect(t, th, 1), "the self-loop of generation 1")
		require.Equal(t, base+1, gctLive(th))
		require.Equal(t, 1, gctCollect(t, th, 2), "the self-loop of generation 2")
		require.Equal(t, base, gctLive(th))
		st := g.Stats()
		require.Equal(t, [3]int{old[0].Collected, old[1].Collected + 1, old[2].Collected + 1},
			[3]int{st[0].Collected, st[1].Collected, st[2].Collected})
		require.Equal(t, [3]int{old[0].Collections + 1, old[1].Collections + 1, old[2].Collections + 1},
			[3]int{st[0].Collections, st[1].Collections, st[2].Collections})

		// A cycle across generations: old (generation 2) <-> young
		// (generation 0), both garbage.
		oldObj := th.NewInstance(typ)
		gctCollect(t, th, 2)
		require.Equal(t, 2, asContainer(oldObj).gc.Generation())
		young := th.NewInstance(typ)
		require.NoError(t, th.SetAttr(oldObj, "young", young))
		require.NoError(t, th.SetAttr(young, "old", oldObj))
		tail := gctStrList(th, "tail") // young, only the young object refers to it
		require.NoError(t, th.SetAttr(young, "tail", tail))
		th.DecRef(tail)
		th.DecRef(young)
		th.DecRef(oldObj)
		require.Zero(t, gctCollect(t, th, 0), "the old object's reference keeps the young part")
		require.Zero(t, gctCollect(t, th, 1))
		require.Equal(t, base+4, gctLive(th), "old, young, the tail list and its str")
		old = g.Stats()
		require.Equal(t, 3, gctCollect(t, th, 2), "old, young and the tail list")
		require.Equal(t, base, gctLive(th))
		st = g.Stats()
		require.Equal(t, old[2].Collected+3, st[2].Collected)
		require.Equal(t, old[0].Collected, st[0].Collected)
		require.Equal(t, old[1].Collected, st[1].Collected)

		// Garbage found by a generation-0 collection counts for
		// generation 0 (Stats and the callback's Info).
		var infos []Info
		remove := g.AddCallback(func(p Phase, info Info) {
			if p == PhaseStop {
				infos = append(infos, info)
			}
		})
		for i := 0; i < 3; i++ {
			th.DecRef(gctSelfList(t, th))
		}
		old = g.Stats()
		require.Equal(t, 3, gctCollect(t, th, 0))
		st = g.Stats()
		require.Equal(t, old[0].Collected+3, st[0].Collected)
		require.Equal(t, old[0].Collections+1, st[0].Collections)
		require.Equal(t, []Info{{Generation: 0, Collected: 3}}, infos)
		remove()
	})
}

// Weak references to one object found in cyclic garbage: every one is
// cleared; the callbacks of those still alive run once each, from the most
// recently registered to the oldest (Doc/library/weakref.rst: "Callbacks
// registered for each weak reference will be called from the most recently
// registered callback to the oldest registered callback"), the weak
// reference passed in and already dead; afterwards each weak reference
// object lives on, still tracked, and WeakRefGet gives (nil, nil).
func TestGCCPythonWeakrefCallbackOrderInCollection(t *testing.T) {
	eachModeThread(t, func(t *testing.T, th *Thread) {
		g := th.Runtime().GC()
		typ := gctType(t, th.Runtime(), TypeSpec{Name: "A"})
		base := gctQuiet(t, th)
		o := gctSelfLoop(t, th, typ)
		var order []int
		var refs []*Object
		for i := 0; i < 5; i++ {
			var cb func(*Thread, *Object)
			if i != 1 {
				cb = func(th *Thread, ref *Object) {
					require.Same(t, refs[i], ref)
					got, err := th.WeakRefGet(ref)
					require.NoError(t, err)
					require.Nil(t, got, "the referent is gone when the callback runs")
					order = append(order, i)
				}
			}
			wr, err := th.NewWeakRef(o, cb)
			require.NoError(t, err)
			refs = append(refs, wr)
		}
		th.DecRef(o)
		require.Equal(t, 1, gctCollect(t, th, 2))
		require.Equal(t, []int{4, 3, 2, 0}, order)
		require.Zero(t, gctCollect(t, th, 2))
		require.Len(t, order, 4, "each callback runs once")
		for _, wr := range refs {
			require.True(t, g.IsTracked(wr), "a dead weak reference is still a tracked object")
			require.False(t, gctAlive(t, th, wr))
			th.DecRef(wr)
		}
		require.Equal(t, base, gctLive(th))
	})
}

// finalize_garbage runs the PEP 442 finalizer of every unreachable object,
// not only of cycle members: an object hanging off a cycle (reachable only
// from it) is finalized too, before anything is cleared, with its own
// references intact and the weak references to all the garbage already
// dead. A finalizer that breaks the cycle itself does not make any
// finalizer run twice, and everything is freed.
func TestGCCPythonFinalizersOfTheWholeUnreachableSet(t *testing.T) {
	eachModeThread(t, func(t *testing.T, th *Thread) {
		rt := th.Runtime()
		var wrs []*Object
		var ran atomic.Int64
		var bad []string
		fin := gctType(t, rt, TypeSpec{Name: "F", Finalize: func(th *Thread, self *Object) {
			ran.Add(1)
			if p, err := th.GetAttr(self, "payload"); err != nil {
				bad = append(bad, "payload cleared before the finalizer")
			} else {
				if th.Repr(p) != "['p']" {
					bad = append(bad, "payload is "+th.Repr(p))
				}
				th.DecRef(p)
			}
			for _, wr := range wrs {
				if o, err := th.WeakRefGet(wr); err != nil || o != nil {
					bad = append(bad, "a weak reference to the garbage is alive in a finalizer")
					if o != nil {
						th.DecRef(o)
					}
				}
			}
			// Break whatever cycle self is in.
			if err := th.DelAttr(self, "me"); err != nil && !errorsIsAttr(err) {
				bad = append(bad, err.Error())
			}
			if err := th.DelAttr(self, "partner"); err != nil && !errorsIsAttr(err) {
				bad = append(bad, err.Error())
			}
		}})
		plain := gctType(t, rt, TypeSpec{Name: "B"})
		base := gctQuiet(t, th)

		// cycle: c <-> c; c -> tail (F, not in a cycle) -> payload.
		c := gctSelfLoop(t, th, plain)
		tail := th.NewInstance(fin)
		payload := gctStrList(th, "p")
		require.NoError(t, th.SetAttr(tail, "payload", payload))
		require.NoError(t, th.SetAttr(c, "tail", tail))
		// and a pair of F objects, each with a payload, that break their
		// own cycle when finalized: a <-> b, a -> a.
		a, b := gctSelfLoop(t, th, fin), th.NewInstance(fin)
		require.NoError(t, th.SetAttr(a, "partner", b))
		require.NoError(t, th.SetAttr(b, "partner", a))
		require.NoError(t, th.SetAttr(a, "payload", payload))
		require.NoError(t, th.SetAttr(b, "payload", payload))
		th.DecRef(payload)
		for _, o := range []*Object{c, tail, a, b} {
			wr, err := th.NewWeakRef(o, nil)
			require.NoError(t, err)
			wrs = append(wrs, wr)
		}
		for _, o := range []*Object{c, tail, a, b} {
			th.DecRef(o)
		}
		n := gctCollect(t, th, 2)
		require.Empty(t, bad)
		require.EqualValues(t, 3, ran.Load(), "tail, a and b are each finalized once")
		require.Positive(t, n)
		require.Zero(t, gctCollect(t, th, 2))
		require.EqualValues(t, 3, ran.Load())
		for _, wr := range wrs {
			require.False(t, gctAlive(t, th, wr))
			th.DecRef(wr)
		}
		require.Equal(t, base, gctLive(th))
	})
}

func errorsIsAttr(err error) bool { return errors.Is(err, ErrAttribute) }

// test_sf_bug_840829 (test_weakref.py): a weak reference callback that
// runs a collection while its referent is being freed by reference count,
// including a referent freed as part of another object's teardown, never
// makes the collector see the dying object (Debug mode would catch a
// second free).
func TestGCCPythonCollectInWeakrefCallbackDuringDealloc(t *testing.T) {
	eachModeThread(t, func(t *testing.T, th *Thread) {
		typ := gctType(t, th.Runtime(), TypeSpec{Name: "C"})
		base := gctQuiet(t, th)
		calls := 0
		collectCB := func(th *Thread, _ *Object) {
			calls++
			_, err := th.Collect(2)
			require.NoError(t, err)
		}
		c := th.NewInstance(typ)
		wr, err := th.NewWeakRef(c, collectCB)
		require.NoError(t, err)
		th.DecRef(c)
		require.Equal(t, 1, calls)
		th.DecRef(wr)

		c1 := th.NewInstance(typ)
		i := th.NewInstance(typ)
		require.NoError(t, th.SetAttr(c1, "i", i))
		wr, err = th.NewWeakRef(i, collectCB)
		require.NoError(t, err)
		th.DecRef(i)
		c2 := th.NewInstance(typ)
		require.NoError(t, th.SetAttr(c2, "c1", c1))
		th.DecRef(c1) // alive through c2
		// Garbage for the callback's collection to find meanwhile.
		th.DecRef(gctSelfList(t, th))
		th.DecRef(c2)
		require.Equal(t, 2, calls)
		require.False(t, gctAlive(t, th, wr))
		th.DecRef(wr)
		require.Zero(t, gctCollect(t, th, 2))
		require.Equal(t, base, gctLive(th))
	})
}

// Dying by reference count, an instance goes through CPython's
// subtype_dealloc order: the PEP 442 finalizer (which still sees itself
// through its weak references), then the weak references are cleared and
// their callbacks run, then the legacy finalizer (tp_del), which finds its
// weak references dead. A weak reference made by the legacy finalizer is
// cleared without its callback; one made by the PEP 442 finalizer gets it.
// When the legacy finalizer resurrects the object, its old weak references
// stay dead.
func TestGCCPythonDeallocOrder(t *testing.T) {
	eachModeThread(t, func(t *testing.T, th *Thread) {
		var order []string
		var wr *Object
		var madeInFinalize, madeInDel []*Object
		keep := th.NewList()
		resurrect := false
		probe := func(th *Thread, who string) {
			o, err := th.WeakRefGet(wr)
			require.NoError(t, err)
			if o != nil {
				order = append(order, who+" sees self")
				th.DecRef(o)
			} else {
				order = append(order, who+" sees nothing")
			}
		}
		cb := func(name string) func(*Thread, *Object) {
			return func(*Thread, *Object) { order = append(order, name) }
		}
		typ := gctType(t, th.Runtime(), TypeSpec{
			Name: "Both",
			Finalize: func(th *Thread, self *Object) {
				probe(th, "finalize")
				w, err := th.NewWeakRef(self, cb("callback of finalize's ref"))
				require.NoError(t, err)
				madeInFinalize = append(madeInFinalize, w)
			},
			LegacyDel: func(th *Thread, self *Object) {
				probe(th, "del")
				w, err := th.NewWeakRef(self, cb("callback of del's ref"))
				require.NoError(t, err)
				madeInDel = append(madeInDel, w)
				if resurrect {
					require.NoError(t, th.ListAppend(keep, self))
				}
			},
		})
		base := gctQuiet(t, th)
		o := th.NewInstance(typ)
		var err error
		wr, err = th.NewWeakRef(o, cb("callback"))
		require.NoError(t, err)
		th.DecRef(o)
		require.Equal(t, []string{
			"finalize sees self",
			"callback of finalize's ref", "callback",
			"del sees nothing",
		}, order)
		for _, w := range append(madeInFinalize, madeInDel...) {
			require.False(t, gctAlive(t, th, w))
			th.DecRef(w)
		}
		th.DecRef(wr)
		madeInFinalize, madeInDel, order = nil, nil, nil

		// Resurrected by the legacy finalizer: the weak reference made
		// before stays cleared; the object lives on.
		resurrect = true
		o = th.NewInstance(typ)
		wr, err = th.NewWeakRef(o, cb("callback"))
		require.NoError(t, err)
		th.DecRef(o)
		require.Equal(t, []string{
			"finalize sees self",
			"callback of finalize's ref", "callback",
			"del sees nothing",
		}, order)
		require.False(t, gctAlive(t, th, wr))
		require.Len(t, madeInDel, 1)
		require.True(t, gctAlive(t, th, madeInDel[0]), "made by del after the clearing, and the object lives")
		order = nil
		resurrect = false
		back, err := th.ListPop(keep, 0)
		require.NoError(t, err)
		require.Same(t, o, back)
		th.DecRef(back) // dies again: the PEP 442 finalizer does not run twice
		require.Equal(t, []string{"callback of del's ref", "del sees nothing"}, order)
		for _, w := range append(append(madeInFinalize, madeInDel...), wr) {
			require.False(t, gctAlive(t, th, w))
			th.DecRef(w)
		}
		th.DecRef(keep)
		require.Equal(t, base-1, gctLive(th))
	})
}

// FreezeCount counts tracked objects only (gc.get_freeze_count: the size
// of the permanent generation): a tuple born untracked is not frozen, a
// weak reference is. Enable and Disable are idempotent.
func TestGCCPythonFreezeCountAndToggling(t *testing.T) {
	eachModeThread(t, func(t *testing.T, th *Thread) {
		g := th.Runtime().GC()
		typ := gctType(t, th.Runtime(), TypeSpec{Name: "A"})
		gctQuiet(t, th)
		th.Freeze()
		before := g.FreezeCount()
		th.Unfreeze()
		require.Zero(t, g.FreezeCount())
		inst := th.NewInstance(typ)
		wr, err := th.NewWeakRef(inst, nil)
		require.NoError(t, err)
		tu := th.NewTuple(th.NewInt(1), th.Runtime().None())
		require.False(t, g.IsTracked(tu))
		th.Freeze()
		require.Equal(t, before+2, g.FreezeCount(), "the instance and its weak reference, not the tuple")
		require.True(t, g.IsTracked(inst))
		th.Unfreeze()
		th.DecRef(tu)
		th.DecRef(wr)
		th.DecRef(inst)

		g.Disable()
		g.Disable()
		require.False(t, g.IsEnabled())
		g.Enable()
		require.True(t, g.IsEnabled())
		g.Enable()
		require.True(t, g.IsEnabled())
		g.Disable()
		require.False(t, g.IsEnabled())
	})
}

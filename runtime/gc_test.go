package runtime

import (
	"errors"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"
)

// The cycle collector's API, checked against CPython's documented
// behaviour (Lib/test/test_gc.py: GCTests, GCCallbackTests,
// GCTogglingTests) in every mode, with Debug on and off. Each test starts
// with a preliminary Collect(2) (CPython's "gc.collect()" at the top of a
// test) so that its counts are exact.

// gctEachModeThread is eachModeThread with the configuration adjusted
// (adjust may be nil).
func gctEachModeThread(t *testing.T, adjust func(*Config), fn func(t *testing.T, th *Thread)) {
	t.Helper()
	eachModeWith(t, allModes, []bool{true, false}, adjust, withThread(fn))
}

// gctCollect runs Collect(g) and fails the test on an error.
func gctCollect(t *testing.T, th *Thread, g int) int {
	t.Helper()
	n, err := th.Collect(g)
	require.NoError(t, err)
	return n
}

// gctLive publishes th's counters and returns the live objects.
func gctLive(th *Thread) int {
	th.Checkpoint()
	return th.Runtime().Stats().Live
}

// gctQuiet turns automatic collection off and collects everything, so
// that what the test does next is all the collector sees; it returns the
// live objects after that.
func gctQuiet(t *testing.T, th *Thread) int {
	t.Helper()
	th.Runtime().GC().Disable()
	gctCollect(t, th, 2)
	return gctLive(th)
}

// gctType defines a user type.
func gctType(t *testing.T, rt *Runtime, spec TypeSpec) *Type {
	t.Helper()
	typ, err := rt.NewType(spec)
	require.NoError(t, err)
	return typ
}

// gctSelfLoop returns a new instance whose attribute "me" refers to itself.
// It may be called from any goroutine (it cannot fail).
func gctSelfLoop(t *testing.T, th *Thread, typ *Type) *Object {
	t.Helper()
	o := th.NewInstance(typ)
	if err := th.SetAttr(o, "me", o); err != nil {
		panic(err)
	}
	return o
}

// gctSelfList returns a new list that contains itself. It may be called
// from any goroutine (it cannot fail).
func gctSelfList(t *testing.T, th *Thread) *Object {
	t.Helper()
	l := th.NewList()
	if err := th.ListAppend(l, l); err != nil {
		panic(err)
	}
	return l
}

// gctGarbageLen returns len(gc.garbage).
func gctGarbageLen(t *testing.T, th *Thread) int {
	t.Helper()
	n, err := th.ListLen(th.Runtime().GC().Garbage())
	require.NoError(t, err)
	return n
}

// gctPopGarbage empties gc.garbage and returns the references it held.
func gctPopGarbage(t *testing.T, th *Thread) []*Object {
	t.Helper()
	g := th.Runtime().GC().Garbage()
	var out []*Object
	for gctGarbageLen(t, th) > 0 {
		o, err := th.ListPop(g, 0)
		require.NoError(t, err)
		out = append(out, o)
	}
	return out
}

// gctAlive reports whether the weak reference's target is still alive.
func gctAlive(t *testing.T, th *Thread, wr *Object) bool {
	t.Helper()
	o, err := th.WeakRefGet(wr)
	require.NoError(t, err)
	if o == nil {
		return false
	}
	th.DecRef(o)
	return true
}

// test_list, test_dict, test_tuple, test_instance: each piece of cyclic
// garbage is found with the exact number of objects, and freed.
func TestGCSelfReferencingContainers(t *testing.T) {
	cases := []struct {
		name string
		want int
		make func(t *testing.T, th *Thread, typ *Type)
	}{
		{"list", 1, func(t *testing.T, th *Thread, _ *Type) {
			l := gctSelfList(t, th)
			th.DecRef(l)
		}},
		{"dict", 1, func(t *testing.T, th *Thread, _ *Type) {
			d := th.NewDict()
			require.NoError(t, th.DictSet(d, th.NewInt(1), d))
			th.DecRef(d)
		}},
		{"tuple through a list", 2, func(t *testing.T, th *Thread, _ *Type) {
			l := th.NewList()
			tu := th.NewTuple(l)
			require.NoError(t, th.ListAppend(l, tu))
			th.DecRef(tu)
			th.DecRef(l)
		}},
		{"instance", 1, func(t *testing.T, th *Thread, typ *Type) {
			th.DecRef(gctSelfLoop(t, th, typ))
		}},
		{"two instances", 2, func(t *testing.T, th *Thread, typ *Type) {
			a, b := th.NewInstance(typ), th.NewInstance(typ)
			require.NoError(t, th.SetAttr(a, "other", b))
			require.NoError(t, th.SetAttr(b, "other", a))
			th.DecRef(a)
			th.DecRef(b)
		}},
		{"dict keyed by an instance in a cycle", 2, func(t *testing.T, th *Thread, typ *Type) {
			a := th.NewInstance(typ)
			d := th.NewDict()
			require.NoError(t, th.DictSet(d, a, th.Runtime().None()))
			require.NoError(t, th.SetAttr(a, "d", d))
			th.DecRef(a)
			th.DecRef(d)
		}},
		{"cycle with a non-cyclic tail", 3, func(t *testing.T, th *Thread, typ *Type) {
			// l -> l, l -> [x] -> instance: the tail is found too (it is
			// only referenced from the garbage). The tuple of ints is born
			// untracked (CPython 3.14.1+): freed with the garbage, but not
			// one of the unreachable objects the collection counts.
			l := gctSelfList(t, th)
			inner := th.NewList(th.NewInt(7))
			inst := th.NewInstance(typ)
			require.NoError(t, th.ListAppend(inner, inst))
			require.NoError(t, th.ListAppend(l, inner))
			tu := th.NewTuple(th.NewInt(1), th.NewInt(2))
			require.NoError(t, th.ListAppend(l, tu))
			th.DecRef(tu)
			th.DecRef(inst)
			th.DecRef(inner)
			th.DecRef(l)
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			eachModeThread(t, func(t *testing.T, th *Thread) {
				typ := gctType(t, th.Runtime(), TypeSpec{Name: "A"})
				base := gctQuiet(t, th)
				tc.make(t, th, typ)
				require.Greater(t, gctLive(th), base, "the garbage is alive before the collection")
				require.Equal(t, tc.want, gctCollect(t, th, 2))
				require.Equal(t, base, gctLive(th), "the garbage is freed")
				require.Equal(t, 0, gctCollect(t, th, 2), "nothing left to find")
				st := th.Runtime().GC().Stats()
				require.Equal(t, tc.want, st[2].Collected)
				require.Equal(t, 0, st[2].Uncollectable)
			})
		})
	}
}

// A cycle referenced from outside is reachable, whichever generation is
// collected, and keeps everything it references.
func TestGCCycleHeldFromOutsideIsKept(t *testing.T) {
	eachModeThread(t, func(t *testing.T, th *Thread) {
		typ := gctType(t, th.Runtime(), TypeSpec{Name: "A"})
		base := gctQuiet(t, th)
		a, b := th.NewInstance(typ), th.NewInstance(typ)
		require.NoError(t, th.SetAttr(a, "b", b))
		require.NoError(t, th.SetAttr(b, "a", a))
		payload := gctStrList(th, "payload")
		require.NoError(t, th.SetAttr(b, "payload", payload))
		th.DecRef(payload)
		th.DecRef(b)
		holder := th.NewList(a) // the only outside reference: from another container
		th.DecRef(a)
		live := gctLive(th)
		for g := 0; g < 3; g++ {
			require.Zero(t, gctCollect(t, th, g), "generation %d", g)
		}
		require.Equal(t, live, gctLive(th))
		got, err := th.GetAttr(b, "payload")
		require.NoError(t, err)
		require.Equal(t, "['payload']", th.Repr(got), "a kept object is not cleared")
		th.DecRef(got)
		th.DecRef(holder) // a, b now garbage: list freed, cycle left
		require.Equal(t, 3, gctCollect(t, th, 2), "a, b and the payload list (its str is not tracked)")
		require.Equal(t, base, gctLive(th))
	})
}

// test_collect_generations and API.md: after Collect(g), the counts of
// generations 0..g are zero and generation g+1's count grew by one; a
// young object moves one generation older with each collection.
func TestGCCountSequence(t *testing.T) {
	eachModeThread(t, func(t *testing.T, th *Thread) {
		g := th.Runtime().GC()
		gctQuiet(t, th)
		x := th.NewList()
		gen := func() int { return asContainer(x).gc.Generation() }
		require.Equal(t, 0, gen())

		gctCollect(t, th, 0)
		c0, c1, c2 := g.Count()
		require.Equal(t, [3]int{0, 1, 0}, [3]int{c0, c1, c2}, "after Collect(0)")
		require.Equal(t, 1, gen())

		gctCollect(t, th, 1)
		c0, c1, c2 = g.Count()
		require.Equal(t, [3]int{0, 0, 1}, [3]int{c0, c1, c2}, "after Collect(1)")
		require.Equal(t, 2, gen())

		gctCollect(t, th, 2)
		c0, c1, c2 = g.Count()
		require.Equal(t, [3]int{0, 0, 0}, [3]int{c0, c1, c2}, "after Collect(2)")
		require.Equal(t, 2, gen(), "generation 2 stays in 2")
		th.DecRef(x)

		// The rule, over a longer sequence with allocations between.
		var keep []*Object
		for i, gg := range []int{0, 0, 1, 0, 2, 1, 1, 0, 2, 0, 0, 0, 1, 2} {
			for j := 0; j < i; j++ {
				keep = append(keep, th.NewDict())
			}
			th.Checkpoint()
			b0, b1, b2 := g.Count()
			before := [3]int{b0, b1, b2}
			require.Equal(t, i, before[0], "generation 0 counts the %d dicts made since", i)
			gctCollect(t, th, gg)
			a0, a1, a2 := g.Count()
			after := [3]int{a0, a1, a2}
			for k := 0; k <= gg; k++ {
				require.Zero(t, after[k], "step %d: Collect(%d) zeroes count %d", i, gg, k)
			}
			for k := gg + 1; k < 3; k++ {
				want := before[k]
				if k == gg+1 {
					want++
				}
				require.Equal(t, want, after[k], "step %d: Collect(%d), count %d", i, gg, k)
			}
		}
		for _, o := range keep {
			th.DecRef(o)
		}
	})
}

// test_get_count: Count()'s first figure rises with container allocation
// (not with ints, floats, strs) and falls with container frees — also right
// after a collection that freed garbage.
func TestGCCountFollowsAllocations(t *testing.T) {
	eachModeThread(t, func(t *testing.T, th *Thread) {
		g := th.Runtime().GC()
		typ := gctType(t, th.Runtime(), TypeSpec{Name: "A"})
		gctQuiet(t, th)
		count0 := func() int {
			th.Checkpoint()
			c0, _, _ := g.Count()
			return c0
		}
		a := count0()
		_, c1, c2 := g.Count()
		require.Equal(t, [2]int{0, 0}, [2]int{c1, c2})
		require.Less(t, a, 5)
		x := th.NewList()
		require.Equal(t, a+1, count0(), "a list is counted")

		var objs []*Object
		for i := 0; i < 100; i++ {
			objs = append(objs, th.NewList(), th.NewDict(), th.NewInstance(typ), th.NewTuple(x))
		}
		require.Equal(t, a+1+400, count0())
		scalars := []*Object{th.NewInt(100000), th.NewFloat(1.5), th.NewStr("s")}
		require.Equal(t, a+1+400, count0(), "atomic objects are not counted")
		for _, o := range scalars {
			th.DecRef(o)
		}
		for _, o := range objs[:200] {
			th.DecRef(o)
		}
		require.Equal(t, a+1+200, count0(), "frees are counted")
		for _, o := range objs[200:] {
			th.DecRef(o)
		}
		th.DecRef(x)
		require.Equal(t, a, count0())

		// A collection that frees garbage starts generation 0 afresh:
		// what it freed was counted before it, and must not hide the
		// allocations made after it (CPython decrements only while the
		// count is positive).
		for i := 0; i < 50; i++ {
			th.DecRef(gctSelfList(t, th))
		}
		require.Equal(t, 50, gctCollect(t, th, 0))
		y := th.NewList() // no safe point between the collection and this
		require.Equal(t, 1, count0(), "a list allocated after a collection that freed 50 objects")
		th.DecRef(y)
		for i := 0; i < 50; i++ {
			th.DecRef(gctSelfList(t, th))
		}
		require.Equal(t, 50, gctCollect(t, th, 2))
		require.Equal(t, 0, count0())
		y = th.NewList()
		require.Equal(t, 1, count0())
		th.DecRef(y)
	})
}

// Thresholds round-trip; negative ones give ErrValue and change nothing;
// generations other than 0..2 give ErrValue.
func TestGCThresholdsAndBadArguments(t *testing.T) {
	eachModeThread(t, func(t *testing.T, th *Thread) {
		g := th.Runtime().GC()
		t0, t1, t2 := g.Threshold()
		require.Equal(t, [3]int{700, 10, 10}, [3]int{t0, t1, t2}, "CPython's defaults")
		for _, ts := range [][3]int{{1, 2, 3}, {0, 0, 0}, {100000, 1, 1}, {700, 10, 10}} {
			require.NoError(t, g.SetThreshold(ts[0], ts[1], ts[2]))
			t0, t1, t2 = g.Threshold()
			require.Equal(t, ts, [3]int{t0, t1, t2})
		}
		require.NoError(t, g.SetThreshold(5, 6, 7))
		for _, bad := range [][3]int{{-1, 10, 10}, {700, -1, 10}, {700, 10, -1}, {-5, -5, -5}} {
			err := g.SetThreshold(bad[0], bad[1], bad[2])
			require.Error(t, err)
			require.True(t, errors.Is(err, ErrValue), "%v", err)
			t0, t1, t2 = g.Threshold()
			require.Equal(t, [3]int{5, 6, 7}, [3]int{t0, t1, t2}, "a bad threshold changes nothing")
		}
		require.NoError(t, g.SetThreshold(700, 10, 10))

		before := g.Stats()
		for _, gen := range []int{-1, 3, 4, 100} {
			n, err := th.Collect(gen)
			require.Zero(t, n)
			require.True(t, errors.Is(err, ErrValue), "Collect(%d): %v", gen, err)
		}
		require.Equal(t, before, g.Stats(), "a refused collection is not counted")
	})
	for _, bad := range [][3]int{{-1, 0, 0}, {700, -10, 10}, {0, 0, -1}} {
		for _, mc := range allModes {
			cfg := mc.cfg
			cfg.GCThresholds = bad
			_, err := New(cfg)
			require.True(t, errors.Is(err, ErrValue), "%s %v: %v", mc.name, bad, err)
		}
	}
	gctEachModeThread(t, func(c *Config) { c.GCThresholds = [3]int{50, 4, 3} }, func(t *testing.T, th *Thread) {
		t0, t1, t2 := th.Runtime().GC().Threshold()
		require.Equal(t, [3]int{50, 4, 3}, [3]int{t0, t1, t2})
	})
}

// gctDetector is CPython's GC_Detector: a self-loop whose weak reference's
// callback notes that a collection found it.
type gctDetector struct {
	happened atomic.Bool
	wr       *Object
}

func gctNewDetector(t *testing.T, th *Thread, typ *Type) *gctDetector {
	t.Helper()
	d := &gctDetector{}
	o := gctSelfLoop(t, th, typ)
	wr, err := th.NewWeakRef(o, func(*Thread, *Object) { d.happened.Store(true) })
	require.NoError(t, err)
	d.wr = wr
	th.DecRef(o)
	return d
}

// gctAllocUntil appends new containers to junk, with a Checkpoint after
// each, until stop reports true or n have been made; it returns how many
// were made.
func gctAllocUntil(t *testing.T, th *Thread, junk *Object, n int, stop func() bool) int {
	t.Helper()
	for i := 0; i < n; i++ {
		if stop() {
			return i
		}
		l := th.NewList()
		require.NoError(t, th.ListAppend(junk, l))
		th.DecRef(l)
		th.Checkpoint()
	}
	return n
}

// Automatic collection fires when enabled (test_bug1055820c's detector),
// never when disabled (GC().Disable(), a zero threshold 0, or
// Config.GCDisabled), and fires again once enabled.
func TestGCAutomaticCollection(t *testing.T) {
	t.Run("enabled", func(t *testing.T) {
		eachModeThread(t, func(t *testing.T, th *Thread) {
			g := th.Runtime().GC()
			typ := gctType(t, th.Runtime(), TypeSpec{Name: "C1055820"})
			require.True(t, g.IsEnabled())
			gctCollect(t, th, 2)
			before := g.Stats()
			d := gctNewDetector(t, th, typ)
			junk := th.NewList()
			n := gctAllocUntil(t, th, junk, 10000, d.happened.Load)
			require.True(t, d.happened.Load(), "no automatic collection after %d containers", n)
			require.Greater(t, n, 600, "fired before the threshold of 700 was reached")
			require.Less(t, n, 700+2*gcCountBatch+10, "fired long after the threshold")
			require.Greater(t, g.Stats()[0].Collections, before[0].Collections)
			th.DecRef(junk)
			th.DecRef(d.wr)
		})
	})
	t.Run("at allocation, without Checkpoint", func(t *testing.T) {
		eachModeThread(t, func(t *testing.T, th *Thread) {
			g := th.Runtime().GC()
			typ := gctType(t, th.Runtime(), TypeSpec{Name: "C1055820"})
			gctCollect(t, th, 2)
			d := gctNewDetector(t, th, typ)
			junk := th.NewList()
			for i := 0; i < 5000 && !d.happened.Load(); i++ {
				l := th.NewList()
				require.NoError(t, th.ListAppend(junk, l))
				th.DecRef(l)
			}
			require.True(t, d.happened.Load())
			require.Positive(t, g.Stats()[0].Collections)
			th.DecRef(junk)
			th.DecRef(d.wr)
		})
	})
	disabled := func(t *testing.T, th *Thread, enable func()) {
		g := th.Runtime().GC()
		typ := gctType(t, th.Runtime(), TypeSpec{Name: "C1055820"})
		gctCollect(t, th, 2)
		before := g.Stats()
		d := gctNewDetector(t, th, typ)
		junk := th.NewList()
		gctAllocUntil(t, th, junk, 5000, d.happened.Load)
		require.False(t, d.happened.Load(), "an automatic collection ran while disabled")
		after := g.Stats()
		require.Equal(t, before, after, "no collection ran")
		c0, _, _ := g.Count()
		require.GreaterOrEqual(t, c0, 5000, "the count still grows")
		enable()
		gctAllocUntil(t, th, junk, 2*gcCountBatch+2, d.happened.Load)
		require.True(t, d.happened.Load(), "collection resumes once enabled")
		th.DecRef(junk)
		th.DecRef(d.wr)
	}
	t.Run("GC().Disable", func(t *testing.T) {
		eachModeThread(t, func(t *testing.T, th *Thread) {
			g := th.Runtime().GC()
			g.Disable()
			require.False(t, g.IsEnabled())
			disabled(t, th, g.Enable)
			require.True(t, g.IsEnabled())
		})
	})
	t.Run("threshold 0", func(t *testing.T) {
		eachModeThread(t, func(t *testing.T, th *Thread) {
			g := th.Runtime().GC()
			require.NoError(t, g.SetThreshold(0, 10, 10))
			require.True(t, g.IsEnabled())
			disabled(t, th, func() { require.NoError(t, g.SetThreshold(700, 10, 10)) })
		})
	})
	t.Run("Config.GCDisabled", func(t *testing.T) {
		gctEachModeThread(t, func(c *Config) { c.GCDisabled = true }, func(t *testing.T, th *Thread) {
			g := th.Runtime().GC()
			require.False(t, g.IsEnabled())
			disabled(t, th, g.Enable)
		})
	})
	t.Run("explicit Collect works while disabled", func(t *testing.T) {
		gctEachModeThread(t, func(c *Config) { c.GCDisabled = true }, func(t *testing.T, th *Thread) {
			th.DecRef(gctSelfList(t, th))
			require.Equal(t, 1, gctCollect(t, th, 2))
		})
	})
}

// Automatic collections of older generations follow the thresholds: with
// thresholds (100, 2, 2), generation-1 collections come every third
// generation-0 trigger, and a full one waits for the long-lived pending
// objects to be a quarter of the long-lived total.
func TestGCAutomaticGenerations(t *testing.T) {
	eachModeThread(t, func(t *testing.T, th *Thread) {
		g := th.Runtime().GC()
		require.NoError(t, g.SetThreshold(100, 2, 2))
		gctCollect(t, th, 2)
		junk := th.NewList()
		gctAllocUntil(t, th, junk, 5000, func() bool { return false })
		st := g.Stats()
		require.Positive(t, st[0].Collections)
		require.Positive(t, st[1].Collections, "generation 1 is collected automatically")
		require.Positive(t, st[2].Collections, "so is generation 2, since everything survives")
		require.Less(t, st[1].Collections, st[0].Collections)
		require.Less(t, st[2].Collections, st[1].Collections)
		th.DecRef(junk)
	})
}

// test_get_stats and the callbacks (GCCallbackTests.test_collect,
// test_collect_generation, test_collect_garbage).
func TestGCStatsAndCallbacks(t *testing.T) {
	type visit struct {
		cb    int
		phase Phase
		info  Info
	}
	eachModeThread(t, func(t *testing.T, th *Thread) {
		g := th.Runtime().GC()
		rt := th.Runtime()
		base := gctQuiet(t, th)
		require.Equal(t, "start", PhaseStart.String())
		require.Equal(t, "stop", PhaseStop.String())

		old := g.Stats()
		gctCollect(t, th, 0)
		st := g.Stats()
		require.Equal(t, old[0].Collections+1, st[0].Collections)
		require.Equal(t, old[1].Collections, st[1].Collections)
		require.Equal(t, old[2].Collections, st[2].Collections)
		gctCollect(t, th, 2)
		st = g.Stats()
		require.Equal(t, old[0].Collections+1, st[0].Collections, "Collect(2) counts for generation 2 only")
		require.Equal(t, old[1].Collections, st[1].Collections)
		require.Equal(t, old[2].Collections+1, st[2].Collections)
		gctCollect(t, th, 1)
		require.Equal(t, old[1].Collections+1, g.Stats()[1].Collections)

		var visits []visit
		cleanup := false
		var dels atomic.Int64
		unc := gctType(t, rt, TypeSpec{Name: "Uncollectable", LegacyDel: func(*Thread, *Object) { dels.Add(1) }})
		plain := gctType(t, rt, TypeSpec{Name: "C1055820"})
		rm1 := g.AddCallback(func(p Phase, info Info) { visits = append(visits, visit{1, p, info}) })
		rm2 := g.AddCallback(func(p Phase, info Info) {
			visits = append(visits, visit{2, p, info})
			if p == PhaseStop && cleanup {
				// User code in a stop callback, world running: take the
				// Uncollectables out of gc.garbage and break their cycles.
				for _, o := range gctPopGarbage(t, th) {
					require.NoError(t, th.DelAttr(o, "partner"))
					th.DecRef(o)
				}
			}
		})

		// test_collect: two callbacks, each called at start and stop.
		gctCollect(t, th, 2)
		require.Equal(t, []visit{
			{1, PhaseStart, Info{Generation: 2}}, {2, PhaseStart, Info{Generation: 2}},
			{1, PhaseStop, Info{Generation: 2}}, {2, PhaseStop, Info{Generation: 2}},
		}, visits)
		visits = nil
		gctCollect(t, th, 1)
		for _, v := range visits {
			require.Equal(t, 1, v.info.Generation)
		}
		require.Len(t, visits, 4)

		// test_collect_garbage: two Uncollectable pairs (legacy
		// finalizers) and one collectable self-loop.
		newPair := func() {
			a, b := th.NewInstance(unc), th.NewInstance(unc)
			require.NoError(t, th.SetAttr(a, "partner", b))
			require.NoError(t, th.SetAttr(b, "partner", a))
			th.DecRef(a)
			th.DecRef(b)
		}
		newPair()
		newPair()
		th.DecRef(gctSelfLoop(t, th, plain))
		old = g.Stats()
		visits = nil
		require.Equal(t, 5, gctCollect(t, th, 2), "Collect returns collected + uncollectable")
		require.Equal(t, []visit{
			{1, PhaseStart, Info{Generation: 2}}, {2, PhaseStart, Info{Generation: 2}},
			{1, PhaseStop, Info{Generation: 2, Collected: 1, Uncollectable: 4}}, {2, PhaseStop, Info{Generation: 2, Collected: 1, Uncollectable: 4}},
		}, visits)
		st = g.Stats()
		require.Equal(t, old[2].Collected+1, st[2].Collected)
		require.Equal(t, old[2].Uncollectable+4, st[2].Uncollectable)
		require.Equal(t, 4, gctGarbageLen(t, th))
		for _, o := range gctPopGarbage(t, th) {
			require.Equal(t, "Uncollectable", o.Type().Name())
			th.DecRef(o) // back out of gc.garbage: garbage again
		}
		require.Zero(t, dels.Load(), "the collector never runs a legacy finalizer")

		// Now the stop callback cleans gc.garbage up.
		cleanup = true
		visits = nil
		require.Equal(t, 4, gctCollect(t, th, 2))
		require.Equal(t, Info{Generation: 2, Collected: 0, Uncollectable: 4}, visits[len(visits)-1].info)
		require.Zero(t, gctGarbageLen(t, th), "the Uncollectables are gone")
		require.EqualValues(t, 4, dels.Load(), "each legacy finalizer ran once, at its refcount death")
		require.Equal(t, base, gctLive(th))

		// Removing a callback stops it; removing twice is harmless.
		rm1()
		rm1()
		visits = nil
		gctCollect(t, th, 0)
		require.Equal(t, []visit{{2, PhaseStart, Info{}}, {2, PhaseStop, Info{}}}, visits)
		rm2()
		visits = nil
		gctCollect(t, th, 0)
		require.Empty(t, visits)

		// A callback that removes itself while the collection runs.
		calls := 0
		var rm3 func()
		rm3 = g.AddCallback(func(p Phase, _ Info) {
			calls++
			rm3()
		})
		gctCollect(t, th, 0)
		gctCollect(t, th, 0)
		require.Equal(t, 1, calls)
		require.Panics(t, func() { g.AddCallback(nil) })
	})
}

// test_freeze: frozen objects are never collected; after Unfreeze they are.
func TestGCFreeze(t *testing.T) {
	eachModeThread(t, func(t *testing.T, th *Thread) {
		g := th.Runtime().GC()
		base := gctQuiet(t, th)
		require.Zero(t, g.FreezeCount())
		l := gctSelfList(t, th)
		d := th.NewDict()
		th.Freeze()
		require.Equal(t, 2, g.FreezeCount())
		c0, c1, c2 := g.Count()
		require.Equal(t, [3]int{0, 0, 0}, [3]int{c0, c1, c2}, "Freeze zeroes the counts")
		require.True(t, g.IsTracked(l), "a frozen object is still tracked")
		th.DecRef(l)
		for gen := 0; gen < 3; gen++ {
			require.Zero(t, gctCollect(t, th, gen), "a frozen cycle is not collected")
		}
		require.Equal(t, base+2, gctLive(th))
		y := gctSelfList(t, th) // not frozen
		th.DecRef(y)
		require.Equal(t, 1, gctCollect(t, th, 2), "objects made after Freeze are collected")
		th.DecRef(d) // a frozen object can still die by reference count
		require.Equal(t, 1, g.FreezeCount())

		th.Unfreeze()
		require.Zero(t, g.FreezeCount())
		require.Zero(t, gctCollect(t, th, 1), "unfrozen objects go to the oldest generation")
		require.Equal(t, 1, gctCollect(t, th, 2))
		require.Equal(t, base, gctLive(th))
	})
}

// Freeze gathers the young objects of every thread (free-threaded mode
// keeps them on per-thread lists), including a detached one's.
func TestGCFreezeOtherThreads(t *testing.T) {
	eachModeThread(t, func(t *testing.T, th *Thread) {
		g := th.Runtime().GC()
		base := gctQuiet(t, th)
		// In GIL mode a new thread takes the GIL: let it go first.
		th.Detach()
		other := th.Runtime().NewThread()
		l := gctSelfList(t, other)
		other.DecRef(l)
		other.Detach()
		th.Attach()
		th.Freeze()
		require.Equal(t, 1, g.FreezeCount())
		require.Zero(t, gctCollect(t, th, 2))
		th.Unfreeze()
		require.Equal(t, 1, gctCollect(t, th, 2))
		th.Detach()
		other.Close()
		th.Attach()
		require.Equal(t, base, gctLive(th))
	})
}

// gctHeld keeps the references a test makes so that it can drop them all
// at the end, newest first.
type gctHeld struct{ objs []*Object }

func (h *gctHeld) keep(o *Object) *Object {
	h.objs = append(h.objs, o)
	return o
}

// gctTracking is the tracking tests' setup: the collector quiet, a user
// type, and a gctHeld for what the test makes.
func gctTracking(t *testing.T, th *Thread) (*Runtime, *GC, *Type, *gctHeld) {
	t.Helper()
	rt := th.Runtime()
	typ := gctType(t, rt, TypeSpec{Name: "UserClass"})
	gctQuiet(t, th)
	return rt, rt.GC(), typ, &gctHeld{}
}

func (h *gctHeld) release(th *Thread) {
	for i := len(h.objs) - 1; i >= 0; i-- {
		th.DecRef(h.objs[i])
	}
	h.objs = nil
}

// test_is_tracked: atomic objects are not tracked; lists, dicts,
// instances and weak references always are; a tuple that holds only
// untracked objects is not tracked, before or after a collection, and one
// that holds a container stays tracked.
func TestGCIsTracked(t *testing.T) {
	eachModeThread(t, func(t *testing.T, th *Thread) {
		rt, g, typ, held := gctTracking(t, th)
		mk := held.keep
		for _, o := range []*Object{
			rt.None(), rt.True(), rt.False(), th.NewInt(1), mk(th.NewInt(1 << 40)),
			mk(th.NewFloat(1.0)), mk(th.NewStr("a")), th.Intern("interned"),
		} {
			require.False(t, g.IsTracked(o), "%s", o.Type().Name())
		}
		inst := mk(th.NewInstance(typ))
		wr, err := th.NewWeakRef(inst, nil)
		require.NoError(t, err)
		mk(wr)
		intsDict := mk(th.NewDict())
		require.NoError(t, th.DictSet(intsDict, th.NewInt(1), th.NewInt(2)))
		tracked := []*Object{mk(th.NewList()), mk(th.NewDict()), inst, wr, intsDict}
		for _, o := range tracked {
			require.True(t, g.IsTracked(o), "%s", o.Type().Name())
		}

		s := mk(th.NewStr("x"))
		atoms := mk(th.NewTuple(th.NewInt(1), th.NewInt(2), s, rt.None()))
		inner := mk(th.NewTuple(th.NewInt(3)))
		nested := mk(th.NewTuple(inner, th.NewInt(4)))
		lst := mk(th.NewList())
		withList := mk(th.NewTuple(th.NewInt(1), lst))
		withInst := mk(th.NewTuple(inst))
		deep := mk(th.NewTuple(mk(th.NewTuple(lst))))
		gctCollect(t, th, 0)
		require.False(t, g.IsTracked(atoms), "a tuple of atomic objects is not tracked")
		require.False(t, g.IsTracked(inner))
		require.False(t, g.IsTracked(nested), "a tuple holding only untracked tuples too")
		require.True(t, g.IsTracked(withList), "a tuple holding a list stays tracked")
		require.True(t, g.IsTracked(withInst))
		require.True(t, g.IsTracked(deep))
		for _, o := range tracked {
			require.True(t, g.IsTracked(o), "%s after a collection", o.Type().Name())
		}
		gctCollect(t, th, 2)
		require.True(t, g.IsTracked(withList))
		require.True(t, g.IsTracked(intsDict), "dicts are always tracked")
		// Untracking is invisible otherwise: the tuple works and dies.
		n, err := th.TupleLen(atoms)
		require.NoError(t, err)
		require.Equal(t, 4, n)
		held.release(th)
	})
}

// A tuple that holds nothing the collector may track is born untracked
// (CPython 3.14.1+, gh-139951), so is a tuple of such tuples; any other
// container item keeps it tracked. Generation 0's count is net tracked
// allocations: an untracked tuple's birth and death leave it alone.
func TestGCTupleBornUntracked(t *testing.T) {
	eachModeThread(t, func(t *testing.T, th *Thread) {
		rt, g, typ, held := gctTracking(t, th)
		mk := held.keep
		leaf := mk(th.NewTuple(rt.None(), rt.None()))
		atoms := mk(th.NewTuple(th.NewInt(1), mk(th.NewFloat(2)), mk(th.NewStr("s")), th.Intern("i")))
		tree := mk(th.NewTuple(leaf, mk(th.NewTuple(leaf, atoms))))
		for _, o := range []*Object{leaf, atoms, tree, mk(th.NewTuple())} {
			require.False(t, g.IsTracked(o), "born untracked: %s", th.Repr(o))
		}
		inst := mk(th.NewInstance(typ))
		wr, err := th.NewWeakRef(inst, nil)
		require.NoError(t, err)
		mk(wr)
		withList := mk(th.NewTuple(leaf, mk(th.NewList())))
		for _, o := range []*Object{
			withList, mk(th.NewTuple(withList)), mk(th.NewTuple(mk(th.NewDict()))),
			mk(th.NewTuple(inst)), mk(th.NewTuple(atoms, wr)),
		} {
			require.True(t, g.IsTracked(o), "holds a container: %s", th.Repr(o))
		}

		gctCollect(t, th, 0)
		c0, _, _ := g.Count()
		require.Zero(t, c0)
		keep := th.NewList()
		for range 50 {
			th.DecRef(th.NewTuple(th.NewInt(1), leaf, tree))
		}
		th.Checkpoint()
		c0, _, _ = g.Count()
		require.Equal(t, 1, c0, "untracked tuples neither add to nor subtract from the count")
		th.DecRef(th.NewTuple(keep))
		th.Checkpoint()
		c0, _, _ = g.Count()
		require.Equal(t, 1, c0, "a tracked tuple adds one and its death takes it back")
		th.DecRef(keep)
		held.release(th)
	})
}

// Garbage() is one immortal list, the same each time.
func TestGCGarbageIsImmortal(t *testing.T) {
	eachModeThread(t, func(t *testing.T, th *Thread) {
		g := th.Runtime().GC()
		a, b := g.Garbage(), g.Garbage()
		require.Same(t, a, b)
		require.Equal(t, "list", a.Type().Name())
		rc := th.RefCount(a)
		th.IncRef(a)
		th.DecRef(a)
		th.DecRef(a)
		th.IncRef(a)
		require.Equal(t, rc, th.RefCount(a), "an immortal's count never changes")
		require.Zero(t, gctGarbageLen(t, th))
		require.False(t, g.IsTracked(a))
		require.Zero(t, gctCollect(t, th, 2))
		require.Same(t, a, g.Garbage())
	})
}

// Finalize runs exactly once for an object found in a cycle, and
// everything it reaches is freed.
func TestGCFinalizeOnceInCycle(t *testing.T) {
	eachModeThread(t, func(t *testing.T, th *Thread) {
		rt := th.Runtime()
		var ran atomic.Int64
		var sawAttr atomic.Bool
		typ := gctType(t, rt, TypeSpec{Name: "F", Finalize: func(th *Thread, self *Object) {
			ran.Add(1)
			// Finalizers run before the cycle is broken: self is intact.
			me, err := th.GetAttr(self, "me")
			if err == nil && me == self {
				sawAttr.Store(true)
			}
			if me != nil {
				th.DecRef(me)
			}
		}})
		base := gctQuiet(t, th)
		a := gctSelfLoop(t, th, typ)
		payload := gctStrList(th, "p")
		require.NoError(t, th.SetAttr(a, "payload", payload))
		th.DecRef(payload)
		th.DecRef(a)
		require.Equal(t, 2, gctCollect(t, th, 2))
		require.EqualValues(t, 1, ran.Load())
		require.True(t, sawAttr.Load())
		require.Equal(t, base, gctLive(th))
		require.Zero(t, gctCollect(t, th, 2))
		require.EqualValues(t, 1, ran.Load())

		// Many finalizable objects in one big cycle: each finalized once.
		var prev, first *Object
		for i := 0; i < 100; i++ {
			o := th.NewInstance(typ)
			if prev != nil {
				require.NoError(t, th.SetAttr(prev, "next", o))
				th.DecRef(prev)
			} else {
				first = th.NewRef(o)
			}
			prev = o
		}
		require.NoError(t, th.SetAttr(prev, "next", first))
		th.DecRef(prev)
		th.DecRef(first)
		require.Equal(t, 100, gctCollect(t, th, 2))
		require.EqualValues(t, 101, ran.Load())
		require.Equal(t, base, gctLive(th))
	})
}

// test_resurrection_only_happens_once_per_object, _is_transitive and
// _does_not_block_cleanup_of_other_objects: a finalizer that stores self
// in a global list resurrects it and what it references; the finalizer
// never runs again; a resurrected object is not counted as collected.
func TestGCResurrectionFromCycle(t *testing.T) {
	eachModeThread(t, func(t *testing.T, th *Thread) {
		rt := th.Runtime()
		g := rt.GC()
		zs := th.NewList()
		var ran atomic.Int64
		lazarus := gctType(t, rt, TypeSpec{Name: "Lazarus", Finalize: func(th *Thread, self *Object) {
			ran.Add(1)
			if err := th.ListAppend(zs, self); err != nil {
				panic(err)
			}
		}})
		cargoT := gctType(t, rt, TypeSpec{Name: "Cargo"})
		plain := gctType(t, rt, TypeSpec{Name: "A"})
		base := gctQuiet(t, th)

		// Transitive: laz <-> cargo, cargo -> itself, cargo -> list.
		laz := th.NewInstance(lazarus)
		cargo := gctSelfLoop(t, th, cargoT)
		box := gctStrList(th, "in the box")
		require.NoError(t, th.SetAttr(cargo, "box", box))
		require.NoError(t, th.SetAttr(laz, "cargo", cargo))
		require.NoError(t, th.SetAttr(cargo, "laz", laz))
		wrCargo, err := th.NewWeakRef(cargo, nil)
		require.NoError(t, err)
		th.DecRef(box)
		th.DecRef(laz)
		th.DecRef(cargo)
		old := g.Stats()
		require.Zero(t, gctCollect(t, th, 2), "nothing is collected: everything was resurrected")
		st := g.Stats()
		require.Equal(t, old[2].Collected, st[2].Collected)
		require.Equal(t, old[2].Uncollectable, st[2].Uncollectable)
		require.EqualValues(t, 1, ran.Load())
		n, _ := th.ListLen(zs)
		require.Equal(t, 1, n)
		inst, err := th.ListPop(zs, 0)
		require.NoError(t, err)
		got, err := th.GetAttr(inst, "cargo")
		require.NoError(t, err)
		require.Equal(t, "Cargo", got.Type().Name())
		gotBox, err := th.GetAttr(got, "box")
		require.NoError(t, err)
		require.Equal(t, "['in the box']", th.Repr(gotBox), "what the resurrected object reaches is intact")
		th.DecRef(gotBox)
		require.False(t, gctAlive(t, th, wrCargo), "weak references to the garbage are cleared before finalizers run, even to what they resurrect (as in CPython)")
		th.DecRef(got)
		require.True(t, g.IsTracked(inst), "a resurrected object is tracked")

		// Death again: the finalizer does not run a second time.
		th.DecRef(inst)
		require.Equal(t, 3, gctCollect(t, th, 2), "laz, cargo, box")
		require.EqualValues(t, 1, ran.Load())
		require.False(t, gctAlive(t, th, wrCargo))
		th.DecRef(wrCargo)
		require.Equal(t, base, gctLive(th), "only zs is left")

		// A resurrecting finalizer does not block the others' cleanup.
		const N = 100
		for i := 0; i < N; i++ {
			th.DecRef(gctSelfLoop(t, th, plain))
		}
		th.DecRef(gctSelfLoop(t, th, lazarus))
		old = g.Stats()
		require.Equal(t, N, gctCollect(t, th, 2))
		st = g.Stats()
		require.Equal(t, old[2].Collected+N, st[2].Collected)
		require.Equal(t, old[2].Uncollectable, st[2].Uncollectable)
		require.EqualValues(t, 2, ran.Load())
		for i := 0; i < 5; i++ {
			th.DecRef(gctSelfLoop(t, th, lazarus))
		}
		require.Zero(t, gctCollect(t, th, 2))
		n, _ = th.ListLen(zs)
		require.Equal(t, 6, n)
		for i := 0; i < 6; i++ {
			o, err := th.ListPop(zs, -1)
			require.NoError(t, err)
			th.DecRef(o)
		}
		require.Equal(t, 6, gctCollect(t, th, 2))
		require.EqualValues(t, 7, ran.Load())
		th.DecRef(zs)
		require.Equal(t, base-1, gctLive(th))
	})
}

// A finalizer that resurrects its object when it dies by reference count:
// it lives on, and its finalizer does not run at its second death.
func TestGCResurrectionFromRefcountDeath(t *testing.T) {
	eachModeThread(t, func(t *testing.T, th *Thread) {
		rt := th.Runtime()
		keep := th.NewList()
		var ran atomic.Int64
		typ := gctType(t, rt, TypeSpec{Name: "Phoenix", Finalize: func(th *Thread, self *Object) {
			ran.Add(1)
			if err := th.ListAppend(keep, self); err != nil {
				panic(err)
			}
		}})
		base := gctQuiet(t, th)
		o := th.NewInstance(typ)
		child := th.NewList(th.NewInt(5))
		require.NoError(t, th.SetAttr(o, "child", child))
		th.DecRef(child)
		th.DecRef(o)
		require.EqualValues(t, 1, ran.Load())
		require.Equal(t, base+2, gctLive(th), "o and its child live on")
		back, err := th.ListPop(keep, 0)
		require.NoError(t, err)
		require.Same(t, o, back)
		c, err := th.GetAttr(back, "child")
		require.NoError(t, err)
		require.Equal(t, "[5]", th.Repr(c))
		th.DecRef(c)
		require.True(t, rt.GC().IsTracked(back))
		require.Zero(t, gctCollect(t, th, 2))
		th.DecRef(back)
		require.EqualValues(t, 1, ran.Load(), "PEP 442: once")
		require.Equal(t, base, gctLive(th))
		th.DecRef(keep)
	})
}

// test_legacy_finalizer and test_garbage_at_shutdown: a LegacyDel object in
// a cycle goes to Garbage(); it and everything it reaches stay alive and
// count as uncollectable; its LegacyDel does not run; a self-loop next to
// it is collected. A LegacyDel runs when its object dies by refcount.
func TestGCLegacyFinalizers(t *testing.T) {
	eachModeThread(t, func(t *testing.T, th *Thread) {
		rt := th.Runtime()
		g := rt.GC()
		var dels atomic.Int64
		legacy := gctType(t, rt, TypeSpec{Name: "X", LegacyDel: func(*Thread, *Object) { dels.Add(1) }})
		plain := gctType(t, rt, TypeSpec{Name: "B"})
		var finalized atomic.Int64
		fin := gctType(t, rt, TypeSpec{Name: "F", Finalize: func(*Thread, *Object) { finalized.Add(1) }})
		base := gctQuiet(t, th)

		// x -> x; x -> y (another X, not in a cycle of its own); x -> list
		// -> c (plain instance); x -> f (PEP 442 finalizer). b -> b.
		x := gctSelfLoop(t, th, legacy)
		y := th.NewInstance(legacy)
		require.NoError(t, th.SetAttr(x, "y", y))
		c := th.NewInstance(plain)
		l := th.NewList(c)
		require.NoError(t, th.SetAttr(x, "l", l))
		f := th.NewInstance(fin)
		require.NoError(t, th.SetAttr(x, "f", f))
		wrX, err := th.NewWeakRef(x, nil)
		require.NoError(t, err)
		wrC, err := th.NewWeakRef(c, nil)
		require.NoError(t, err)
		b := gctSelfLoop(t, th, plain)
		for _, o := range []*Object{x, y, c, l, f, b} {
			th.DecRef(o)
		}
		old := g.Stats()
		live := gctLive(th)
		require.Equal(t, 1+5, gctCollect(t, th, 2), "b collected; x, y, l, c, f uncollectable")
		st := g.Stats()
		require.Equal(t, old[2].Collected+1, st[2].Collected)
		require.Equal(t, old[2].Uncollectable+5, st[2].Uncollectable)
		require.Equal(t, live-1, gctLive(th), "only b was freed")
		require.Zero(t, dels.Load(), "the collector does not run legacy finalizers")
		require.Zero(t, finalized.Load(), "nor PEP 442 finalizers of what the legacy set reaches")
		require.True(t, gctAlive(t, th, wrX), "weak references into the legacy set are not cleared")
		require.True(t, gctAlive(t, th, wrC))

		// Only objects with a legacy finalizer are in gc.garbage: x and y.
		require.Equal(t, 2, gctGarbageLen(t, th))
		garbage := g.Garbage()
		var gotX *Object
		for i := 0; i < 2; i++ {
			o, err := th.ListGet(garbage, i)
			require.NoError(t, err)
			require.Equal(t, "X", o.Type().Name())
			if o == x {
				gotX = o
			} else {
				require.Same(t, y, o)
				th.DecRef(o)
			}
		}
		require.Same(t, x, gotX)
		th.DecRef(gotX)

		// gc.garbage keeps them reachable: nothing found again.
		require.Zero(t, gctCollect(t, th, 2))
		require.Equal(t, 2, gctGarbageLen(t, th))

		// Clean up as CPython's test does: break the cycle, drop the
		// garbage list's references; the legacy finalizers run at their
		// refcount deaths, the PEP 442 one once.
		popped := gctPopGarbage(t, th)
		for _, o := range popped {
			if o == x {
				require.NoError(t, th.DelAttr(o, "me"))
			}
		}
		for _, o := range popped {
			th.DecRef(o)
		}
		require.EqualValues(t, 2, dels.Load())
		require.EqualValues(t, 1, finalized.Load())
		require.False(t, gctAlive(t, th, wrX))
		require.False(t, gctAlive(t, th, wrC))
		th.DecRef(wrX)
		th.DecRef(wrC)
		require.Equal(t, base, gctLive(th))

		// LegacyDel runs at each refcount death; the object is freed.
		z := th.NewInstance(legacy)
		th.DecRef(z)
		require.EqualValues(t, 3, dels.Load())
		require.Equal(t, base, gctLive(th))

		// An object reachable from two legacy sets is counted once.
		p, q := gctSelfLoop(t, th, legacy), gctSelfLoop(t, th, legacy)
		shared := th.NewList()
		require.NoError(t, th.SetAttr(p, "s", shared))
		require.NoError(t, th.SetAttr(q, "s", shared))
		th.DecRef(shared)
		th.DecRef(p)
		th.DecRef(q)
		require.Equal(t, 3, gctCollect(t, th, 2))
		for _, o := range gctPopGarbage(t, th) {
			require.NoError(t, th.DelAttr(o, "me"))
			th.DecRef(o)
		}
		require.EqualValues(t, 5, dels.Load())
		require.Equal(t, base, gctLive(th))
	})
}

// Weak references to cycle members are cleared before any finalizer runs:
// a finalizer sees WeakRefGet return nil for its own and its partners'.
func TestGCWeakrefsClearedBeforeFinalizers(t *testing.T) {
	eachModeThread(t, func(t *testing.T, th *Thread) {
		rt := th.Runtime()
		var wrA, wrB *Object
		var ran, sawLive atomic.Int64
		typ := gctType(t, rt, TypeSpec{Name: "F", Finalize: func(th *Thread, self *Object) {
			ran.Add(1)
			for _, wr := range []*Object{wrA, wrB} {
				o, err := th.WeakRefGet(wr)
				if err != nil || o != nil {
					sawLive.Add(1)
				}
				if o != nil {
					th.DecRef(o)
				}
			}
		}})
		plain := gctType(t, rt, TypeSpec{Name: "B"})
		base := gctQuiet(t, th)
		a, b := th.NewInstance(typ), th.NewInstance(plain)
		require.NoError(t, th.SetAttr(a, "b", b))
		require.NoError(t, th.SetAttr(b, "a", a))
		var err error
		wrA, err = th.NewWeakRef(a, nil)
		require.NoError(t, err)
		var cbRan atomic.Int64
		wrB, err = th.NewWeakRef(b, func(th *Thread, ref *Object) {
			cbRan.Add(1)
			if ran.Load() != 0 {
				sawLive.Add(100) // callbacks run before finalizers
			}
		})
		require.NoError(t, err)
		th.DecRef(a)
		th.DecRef(b)
		require.Equal(t, 2, gctCollect(t, th, 2))
		require.EqualValues(t, 1, ran.Load())
		require.Zero(t, sawLive.Load(), "a finalizer saw a live weak reference to cyclic garbage")
		require.EqualValues(t, 1, cbRan.Load())
		th.DecRef(wrA)
		th.DecRef(wrB)
		require.Equal(t, base, gctLive(th))
	})
}

// test_bug1055820b: a weak reference that is not garbage gets its
// callback, once, with itself as argument; inside it, every weak
// reference to the garbage is already dead.
func TestGCWeakrefCallbacks(t *testing.T) {
	eachModeThread(t, func(t *testing.T, th *Thread) {
		rt := th.Runtime()
		typ := gctType(t, rt, TypeSpec{Name: "C1055820"})
		base := gctQuiet(t, th)
		var wrs []*Object
		var calls []*Object
		var ouch []*Object
		cb := func(th *Thread, ref *Object) {
			calls = append(calls, ref)
			ouch = ouch[:0]
			for _, wr := range wrs {
				o, err := th.WeakRefGet(wr)
				require.NoError(t, err)
				ouch = append(ouch, o)
			}
		}
		var cs []*Object
		for i := 0; i < 2; i++ {
			c := gctSelfLoop(t, th, typ)
			require.NoError(t, th.SetAttr(c, "i", th.NewInt(int64(i))))
			wr, err := th.NewWeakRef(c, cb)
			require.NoError(t, err)
			cs = append(cs, c)
			wrs = append(wrs, wr)
		}
		require.Zero(t, gctCollect(t, th, 2))
		require.Empty(t, calls)
		for _, c := range cs {
			th.DecRef(c)
		}
		require.Equal(t, 2, gctCollect(t, th, 2))
		require.ElementsMatch(t, wrs, calls, "each callback ran once, with its weak reference")
		require.Len(t, ouch, 2)
		for _, o := range ouch {
			require.Nil(t, o, "a callback resurrected cyclic garbage")
		}
		require.Zero(t, gctCollect(t, th, 2))
		require.Len(t, calls, 2)
		for _, wr := range wrs {
			th.DecRef(wr)
		}
		require.Equal(t, base, gctLive(th))
	})
}

// No callback when the weak reference is garbage too: held by its own
// target (a.wr = weakref(a, cb)), or in another garbage cycle
// (test_trash_weakref_clear).
func TestGCNoCallbackForGarbageWeakref(t *testing.T) {
	eachModeThread(t, func(t *testing.T, th *Thread) {
		rt := th.Runtime()
		typ := gctType(t, rt, TypeSpec{Name: "A"})
		base := gctQuiet(t, th)
		var calls atomic.Int64
		cb := func(*Thread, *Object) { calls.Add(1) }

		a := gctSelfLoop(t, th, typ)
		wr, err := th.NewWeakRef(a, cb)
		require.NoError(t, err)
		require.NoError(t, th.SetAttr(a, "wr", wr))
		th.DecRef(wr)
		th.DecRef(a)
		require.Equal(t, 2, gctCollect(t, th, 2), "a and its weak reference")
		require.Zero(t, calls.Load())

		// The weak reference in a second garbage cycle, its target in a
		// first one.
		z := gctSelfLoop(t, th, typ)
		wz, err := th.NewWeakRef(z, cb)
		require.NoError(t, err)
		cycle := th.NewList(wz)
		require.NoError(t, th.ListAppend(cycle, cycle))
		th.DecRef(wz)
		th.DecRef(cycle)
		th.DecRef(z)
		require.Equal(t, 3, gctCollect(t, th, 2))
		require.Zero(t, calls.Load(), "the callback of a garbage weak reference ran")

		// A weak reference whose target is alive but which is garbage
		// itself: freed without a callback, the target untouched.
		live := th.NewInstance(typ)
		wl, err := th.NewWeakRef(live, cb)
		require.NoError(t, err)
		c2 := th.NewList(wl)
		require.NoError(t, th.ListAppend(c2, c2))
		th.DecRef(wl)
		th.DecRef(c2)
		require.Equal(t, 2, gctCollect(t, th, 2))
		th.DecRef(live)
		require.Zero(t, calls.Load())
		require.Equal(t, base, gctLive(th))
	})
}

// A weak reference a finalizer creates to cyclic garbage (itself, or a
// partner) is cleared before the garbage is freed, without a callback.
func TestGCWeakrefCreatedByFinalizer(t *testing.T) {
	eachModeThread(t, func(t *testing.T, th *Thread) {
		rt := th.Runtime()
		keep := th.NewList()
		var calls atomic.Int64
		plain := gctType(t, rt, TypeSpec{Name: "B"})
		typ := gctType(t, rt, TypeSpec{Name: "F", Finalize: func(th *Thread, self *Object) {
			partner, err := th.GetAttr(self, "partner")
			if err != nil {
				panic(err)
			}
			for _, target := range []*Object{self, partner} {
				wr, err := th.NewWeakRef(target, func(*Thread, *Object) { calls.Add(1) })
				if err != nil {
					panic(err)
				}
				if err := th.ListAppend(keep, wr); err != nil {
					panic(err)
				}
				th.DecRef(wr)
			}
			th.DecRef(partner)
		}})
		base := gctQuiet(t, th)
		a, b := th.NewInstance(typ), th.NewInstance(plain)
		require.NoError(t, th.SetAttr(a, "partner", b))
		require.NoError(t, th.SetAttr(b, "partner", a))
		th.DecRef(a)
		th.DecRef(b)
		require.Equal(t, 2, gctCollect(t, th, 2))
		n, err := th.ListLen(keep)
		require.NoError(t, err)
		require.Equal(t, 2, n, "the finalizer ran and made two weak references")
		for i := 0; i < n; i++ {
			wr, err := th.ListGet(keep, i)
			require.NoError(t, err)
			require.False(t, gctAlive(t, th, wr), "a weak reference made by a finalizer to garbage was not cleared")
			th.DecRef(wr)
		}
		require.Zero(t, calls.Load())
		th.DecRef(keep)
		require.Equal(t, base-1, gctLive(th))
	})
}

// test_bug1055820c and _d: c0 is old, only a young garbage cycle c1 keeps
// it alive; c2 is young garbage with a callback-free weak reference. A
// generation-0 collection breaks c1, which frees c0 by reference count;
// c0's weak reference callback (c) or finalizer (d) asks c2wr for c2 and
// must get nothing: c2 is garbage of the same collection.
func TestGCBug1055820(t *testing.T) {
	for _, variant := range []string{"callback", "finalizer"} {
		t.Run(variant, func(t *testing.T) {
			eachModeThread(t, func(t *testing.T, th *Thread) {
				rt := th.Runtime()
				var c2wr *Object
				var ouch []*Object
				var calls atomic.Int64
				probe := func(th *Thread) {
					calls.Add(1)
					o, err := th.WeakRefGet(c2wr)
					require.NoError(t, err)
					ouch = append(ouch, o)
				}
				c := gctType(t, rt, TypeSpec{Name: "C1055820"})
				d := gctType(t, rt, TypeSpec{Name: "D", Finalize: func(th *Thread, _ *Object) { probe(th) }})
				base := gctQuiet(t, th)
				typ0 := c
				if variant == "finalizer" {
					typ0 = d
				}
				c0 := gctSelfLoop(t, th, typ0)
				gctCollect(t, th, 2) // c0 into generation 2
				require.Equal(t, 2, asContainer(c0).gc.Generation())

				c1 := gctSelfLoop(t, th, c)
				require.NoError(t, th.SetAttr(c1, "keep_c0_alive", c0))
				require.NoError(t, th.DelAttr(c0, "me")) // only c1 keeps c0 alive
				c2 := gctSelfLoop(t, th, c)
				var err error
				c2wr, err = th.NewWeakRef(c2, nil)
				require.NoError(t, err)
				var c0wr *Object
				if variant == "callback" {
					c0wr, err = th.NewWeakRef(c0, func(th *Thread, _ *Object) { probe(th) })
					require.NoError(t, err)
				}
				th.DecRef(c0)
				th.DecRef(c1)
				th.DecRef(c2)

				require.Equal(t, 2, gctCollect(t, th, 0), "c1 and c2; c0 dies by reference count")
				require.EqualValues(t, 1, calls.Load(), "the %s ran", variant)
				require.Len(t, ouch, 1)
				require.Nil(t, ouch[0], "the %s resurrected c2", variant)
				th.DecRef(c2wr)
				if c0wr != nil {
					th.DecRef(c0wr)
				}
				require.Equal(t, base, gctLive(th))
			})
		})
	}
}

// Collections of every generation leave a live heap of cycles alone, again
// and again; once dropped, all of it is found.
func TestGCLiveHeapIsKept(t *testing.T) {
	eachModeThread(t, func(t *testing.T, th *Thread) {
		typ := gctType(t, th.Runtime(), TypeSpec{Name: "A"})
		base := gctQuiet(t, th)
		root := th.NewList()
		for i := 0; i < 200; i++ {
			o := gctSelfLoop(t, th, typ)
			require.NoError(t, th.ListAppend(root, o))
			th.DecRef(o)
			l := th.NewList(root)
			require.NoError(t, th.ListAppend(root, l))
			th.DecRef(l)
		}
		live := gctLive(th)
		for i := 0; i < 6; i++ {
			require.Zero(t, gctCollect(t, th, i%3))
			require.Equal(t, live, gctLive(th))
		}
		th.DecRef(root)
		require.Equal(t, 401, gctCollect(t, th, 2))
		require.Equal(t, base, gctLive(th))
	})
}

// gctStrList returns a new list holding one new str.
func gctStrList(th *Thread, s string) *Object {
	so := th.NewStr(s)
	l := th.NewList(so)
	th.DecRef(so)
	return l
}

// Count() is exact across threads as of their safe points: allocations on
// one thread and frees on another add up.
func TestGCCountAcrossThreads(t *testing.T) {
	eachModeThread(t, func(t *testing.T, th *Thread) {
		rt := th.Runtime()
		g := rt.GC()
		gctQuiet(t, th)
		th.Detach()
		a := rt.NewThread()
		objs := make([]*Object, 0, 100)
		for i := 0; i < 100; i++ {
			objs = append(objs, a.NewList())
		}
		a.Checkpoint()
		a.Detach()
		b := rt.NewThread()
		for i := 0; i < 30; i++ {
			b.DecRef(b.NewDict())
		}
		for i := 0; i < 7; i++ {
			objs = append(objs, b.NewDict())
		}
		b.Checkpoint()
		c0, _, _ := g.Count()
		require.Equal(t, 107, c0, "100 lists on a, 7 dicts on b")
		for _, o := range objs[:50] {
			b.DecRef(o) // frees of a's objects on b
		}
		b.Checkpoint()
		// Under biased counting b queued the objects to their owner a,
		// which frees them at its next safe point.
		b.Detach()
		a.Attach()
		a.Checkpoint()
		c0, _, _ = g.Count()
		require.Equal(t, 57, c0)
		a.Detach()
		b.Attach()
		for _, o := range objs[50:] {
			b.DecRef(o)
		}
		b.Close()
		a.Attach()
		a.Close()
		th.Attach()
		th.Checkpoint()
		c0, _, _ = g.Count()
		require.Zero(t, c0)
	})
}

// A full collection waits until the objects that survived generation-1
// collections since the last full one are a quarter of those that survived
// it (CPython's long_lived_pending / long_lived_total); explicit
// Collect(2) never waits.
func TestGCFullCollectionWaitsForLongLived(t *testing.T) {
	eachModeThread(t, func(t *testing.T, th *Thread) {
		rt := th.Runtime()
		g := rt.GC()
		gctQuiet(t, th)
		heap := th.NewList()
		for i := 0; i < 1000; i++ {
			l := th.NewList()
			require.NoError(t, th.ListAppend(heap, l))
			th.DecRef(l)
		}
		gctCollect(t, th, 2) // long_lived_total = 1001
		require.NoError(t, g.SetThreshold(10, 1, 1))
		var fullAt []int
		made := 0
		remove := g.AddCallback(func(p Phase, info Info) {
			if p == PhaseStart && info.Generation == 2 {
				fullAt = append(fullAt, made)
			}
		})
		g.Enable()
		junk := th.NewList()
		for made = 0; made < 1500; made++ {
			l := th.NewList()
			require.NoError(t, th.ListAppend(junk, l))
			th.DecRef(l)
			th.Checkpoint()
		}
		g.Disable()
		remove()
		t.Logf("full collections after %v new survivors", fullAt)
		require.NotEmpty(t, fullAt, "a full collection ran")
		require.GreaterOrEqual(t, fullAt[0], 1001/4-20, "the first full collection waited for a quarter of the long-lived")
		require.Less(t, fullAt[0], 450, "the first full collection came late")
		st := g.Stats()
		require.Greater(t, st[1].Collections, 2*len(fullAt), "generation-1 collections ran meanwhile")
		before := st[2].Collections
		gctCollect(t, th, 2)
		require.Equal(t, before+1, g.Stats()[2].Collections)
		th.DecRef(junk)
		th.DecRef(heap)
	})
}

// Collect called from a gc callback, a weak reference callback or a
// finalizer while a collection runs returns 0 at once; automatic
// collections never nest, even when callbacks and finalizers allocate past
// threshold 1.
func TestGCReentrantCollect(t *testing.T) {
	eachModeThread(t, func(t *testing.T, th *Thread) {
		rt := th.Runtime()
		g := rt.GC()
		gctQuiet(t, th)
		var depth, maxDepth, nested, nonZero int
		try := func(th *Thread) {
			for gen := 0; gen < 3; gen++ {
				n, err := th.Collect(gen)
				require.NoError(t, err)
				nested++
				if n != 0 {
					nonZero++
				}
			}
		}
		remove := g.AddCallback(func(p Phase, _ Info) {
			if p == PhaseStart {
				depth++
				maxDepth = max(maxDepth, depth)
				try(th)
				for i := 0; i < 5; i++ {
					th.DecRef(gctSelfList(t, th)) // allocation past threshold 1
				}
			} else {
				try(th)
				depth--
			}
		})
		fin := gctType(t, rt, TypeSpec{Name: "F", Finalize: func(th *Thread, _ *Object) {
			try(th)
			th.DecRef(gctSelfList(t, th))
		}})
		for i := 0; i < 5; i++ {
			o := gctSelfLoop(t, th, fin)
			wr, err := th.NewWeakRef(o, func(th *Thread, _ *Object) { try(th) })
			require.NoError(t, err)
			l := th.NewList()
			require.NoError(t, th.SetAttr(o, "keepwr", l)) // a list, garbage too
			th.DecRef(l)
			holder := th.NewList(wr) // wr lives, outside the garbage
			th.DecRef(wr)
			th.DecRef(o)
			defer th.DecRef(holder)
		}
		require.NoError(t, g.SetThreshold(1, 1, 1))
		g.Enable()
		n := gctCollect(t, th, 2)
		require.GreaterOrEqual(t, n, 15, "the five self-loops and their lists, and the gc callback's lists")
		for i := 0; i < 50; i++ {
			th.DecRef(gctSelfList(t, th))
			th.Checkpoint()
		}
		g.Disable()
		remove()
		require.Equal(t, 1, maxDepth, "collections nested")
		require.Zero(t, depth)
		require.Positive(t, nested)
		require.Zero(t, nonZero, "a Collect nested in a collection did something")
		gctCollect(t, th, 2)
	})
}

// A frozen object's references keep young objects alive; a resurrecting
// finalizer that stores its partner (not itself) resurrects both.
func TestGCFrozenReferrerAndPartnerResurrection(t *testing.T) {
	eachModeThread(t, func(t *testing.T, th *Thread) {
		rt := th.Runtime()
		plain := gctType(t, rt, TypeSpec{Name: "A"})
		keep := th.NewList()
		var ran atomic.Int64
		savior := gctType(t, rt, TypeSpec{Name: "Savior", Finalize: func(th *Thread, self *Object) {
			ran.Add(1)
			p, err := th.GetAttr(self, "partner")
			if err != nil {
				panic(err)
			}
			if err := th.ListAppend(keep, p); err != nil {
				panic(err)
			}
			th.DecRef(p)
		}})
		base := gctQuiet(t, th)

		frozen := th.NewList()
		th.Freeze()
		young := gctSelfLoop(t, th, plain)
		require.NoError(t, th.ListAppend(frozen, young))
		th.DecRef(young)
		for gen := 0; gen < 3; gen++ {
			require.Zero(t, gctCollect(t, th, gen), "referenced from a frozen list")
		}
		_, err := th.ListPop(frozen, 0)
		require.NoError(t, err)
		th.DecRef(young)
		require.Equal(t, 1, gctCollect(t, th, 2))
		th.Unfreeze()
		th.DecRef(frozen)

		s, p := th.NewInstance(savior), th.NewInstance(plain)
		require.NoError(t, th.SetAttr(s, "partner", p))
		require.NoError(t, th.SetAttr(p, "partner", s))
		th.DecRef(s)
		th.DecRef(p)
		require.Zero(t, gctCollect(t, th, 2), "both resurrected")
		require.EqualValues(t, 1, ran.Load())
		got, err := th.ListPop(keep, 0)
		require.NoError(t, err)
		require.Same(t, p, got)
		back, err := th.GetAttr(got, "partner")
		require.NoError(t, err)
		require.Same(t, s, back)
		th.DecRef(back)
		th.DecRef(got)
		require.Equal(t, 2, gctCollect(t, th, 2))
		require.EqualValues(t, 1, ran.Load())
		require.Equal(t, base, gctLive(th))
		th.DecRef(keep)
	})
}

// Cyclic garbage made by a thread that is now detached (blocked) is freed
// by the collection, not when that thread next reaches a safe point: the
// collector's hold merges the owner's count, as CPython's free-threaded
// collector does (_Py_ExplicitMergeRefcount(op, 1)). (Untracked objects
// the garbage references, a str say, are released like any non-owner's
// decrement: under biased counting their owner frees them, as in CPython.)
func TestGCGarbageOfDetachedOwnerIsFreed(t *testing.T) {
	eachModeThread(t, func(t *testing.T, th *Thread) {
		rt := th.Runtime()
		typ := gctType(t, rt, TypeSpec{Name: "A"})
		base := gctQuiet(t, th)
		th.Detach()
		other := rt.NewThread()
		var wrs []*Object
		for i := 0; i < 10; i++ {
			a, b := other.NewInstance(typ), other.NewInstance(typ)
			require.NoError(t, other.SetAttr(a, "b", b))
			require.NoError(t, other.SetAttr(b, "a", a))
			wr, err := other.NewWeakRef(b, nil)
			require.NoError(t, err)
			wrs = append(wrs, wr)
			other.DecRef(a)
			other.DecRef(b)
		}
		other.Detach()
		th.Attach()
		require.Equal(t, 20, gctCollect(t, th, 2))
		for _, wr := range wrs {
			require.False(t, gctAlive(t, th, wr))
		}
		require.Equal(t, base+10, gctLive(th), "the garbage is freed by the collection; only the weak references are left")
		for _, wr := range wrs {
			th.DecRef(wr) // queued to other under biased counting
		}
		th.Detach()
		other.Close()
		th.Attach()
		require.Equal(t, base, gctLive(th))
	})
}

// An object that dies when the collection merges a queued decrement (its
// last reference was dropped by a thread that does not own it, and its
// owner is detached) is garbage of that collection, like CPython's
// free-threaded collector handles it ("GC objects with zero refcount are
// handled subsequently by the GC as if they were cyclic trash"): the cycle
// it referenced is collected by the same Collect(2).
func TestGCQueuedDeathInPause(t *testing.T) {
	eachModeThread(t, func(t *testing.T, th *Thread) {
		rt := th.Runtime()
		typ := gctType(t, rt, TypeSpec{Name: "A"})
		base := gctQuiet(t, th)
		th.Detach()
		other := rt.NewThread()
		x := other.NewList()            // owned by other, referenced only by the test
		y := gctSelfLoop(t, other, typ) // a cycle only x references
		require.NoError(t, other.ListAppend(x, y))
		wrY, err := other.NewWeakRef(y, nil)
		require.NoError(t, err)
		other.DecRef(y)
		other.Detach()
		th.Attach()
		th.DecRef(x) // a non-owner's last decrement: queued to other under biased counting
		gctCollect(t, th, 2)
		require.False(t, gctAlive(t, th, wrY), "the cycle referenced by x survived the collection that freed x")
		th.DecRef(wrY)
		th.Detach()
		other.Close()
		th.Attach()
		require.Equal(t, base, gctLive(th))
	})
}

// The collector and an instance's death look only at the inline slots its
// type has handed out (sharedKeys.inline): a type whose names grow while
// its instances live must still have each slot traversed. Instances made
// when the type knew one name get their cycle through the fifth inline
// slot, and through an attribute past the inline ones, later; every
// cycle is found, and a reachable one through the same slots is kept.
func TestGCInlineSlotsGrowWithTheType(t *testing.T) {
	eachModeThread(t, func(t *testing.T, th *Thread) {
		typ := gctType(t, th.Runtime(), TypeSpec{Name: "Grows"})
		base := gctQuiet(t, th)
		early, kept := th.NewInstance(typ), th.NewInstance(typ)
		require.NoError(t, th.SetAttr(early, "n0", th.Runtime().None()))
		require.NoError(t, th.SetAttr(kept, "n0", th.Runtime().None()))
		for i := 1; i < inlineAttrs-1; i++ { // names 1..3, on another instance
			filler := th.NewInstance(typ)
			require.NoError(t, th.SetAttr(filler, fmt.Sprintf("n%d", i), th.Runtime().None()))
			th.DecRef(filler)
		}
		last, past := fmt.Sprintf("n%d", inlineAttrs-1), fmt.Sprintf("n%d", inlineAttrs)
		require.NoError(t, th.SetAttr(early, last, early)) // the fifth inline slot
		other := th.NewInstance(typ)
		require.NoError(t, th.SetAttr(other, past, other)) // past the inline slots
		require.NoError(t, th.SetAttr(kept, last, kept))
		th.DecRef(early)
		th.DecRef(other)
		require.Equal(t, 2, gctCollect(t, th, 2), "the two self-cycles")
		require.Equal(t, base+1, gctLive(th), "kept survives")
		got, err := th.GetAttr(kept, last)
		require.NoError(t, err)
		require.Same(t, kept, got)
		th.DecRef(got)
		require.NoError(t, th.DelAttr(kept, last)) // its death releases the rest
		th.DecRef(kept)
		require.Equal(t, base, gctLive(th))
	})
}

// Batches of instances whose five inline slots are all in use (a few
// emptied again): more references per batch than prefetchReferents'
// array holds, so it hands them over in several calls. A ring held from
// one root survives (the mark traverses it through Referents); dropped, it
// is collected whole (through Subtract).
func TestGCBatchesOfFullInstances(t *testing.T) {
	eachModeThread(t, func(t *testing.T, th *Thread) {
		typ := gctType(t, th.Runtime(), TypeSpec{Name: "Full"})
		base := gctQuiet(t, th)
		const n = 200
		objs := make([]*Object, n)
		for i := range objs {
			objs[i] = th.NewInstance(typ)
		}
		for i, o := range objs {
			for k := range inlineAttrs {
				r := objs[(i*(k+3)+k+1)%n]
				if k == 0 {
					r = objs[(i+1)%n] // the ring: everything hangs from objs[0]
				}
				require.NoError(t, th.SetAttr(o, fmt.Sprintf("a%d", k), r))
			}
			if i%7 == 3 {
				require.NoError(t, th.DelAttr(o, "a2")) // an empty slot among full ones
			}
		}
		for _, o := range objs[1:] {
			th.DecRef(o)
		}
		require.Equal(t, 0, gctCollect(t, th, 2), "held from objs[0]")
		require.Equal(t, base+n, gctLive(th))
		got, err := th.GetAttr(objs[0], "a0")
		require.NoError(t, err)
		require.Same(t, objs[1], got)
		th.DecRef(got)
		th.DecRef(objs[0])
		require.Equal(t, n, gctCollect(t, th, 2), "the whole ring")
		require.Equal(t, base, gctLive(th))
	})
}

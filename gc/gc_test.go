package gc

import (
	"sync"
	"sync/atomic"
	"testing"

	"github.com/nogil-lab/nogil/internal/invariants"
	"github.com/stretchr/testify/require"
)

func forModes(t *testing.T, f func(t *testing.T, g *graph)) {
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			g := newGraph(t, m, nil)
			f(t, g)
			g.checkInvariants()
		})
	}
}

func TestPhaseString(t *testing.T) {
	require.Equal(t, "start", PhaseStart.String())
	require.Equal(t, "stop", PhaseStop.String())
	require.Equal(t, "Phase(9)", Phase(9).String())
}

func TestNewThresholds(t *testing.T) {
	c := New([3]int{})
	t0, t1, t2 := c.Threshold()
	require.Equal(t, [3]int{700, 10, 10}, [3]int{t0, t1, t2})
	require.True(t, c.IsEnabled())

	c = New([3]int{100, 0, 3})
	t0, t1, t2 = c.Threshold()
	require.Equal(t, [3]int{100, 10, 3}, [3]int{t0, t1, t2})

	require.PanicsWithValue(t, "gc: New with negative threshold1 -1", func() { New([3]int{1, -1, 1}) })
}

func TestSetThreshold(t *testing.T) {
	c := New([3]int{})
	require.NoError(t, c.SetThreshold(5, 6, 7))
	t0, t1, t2 := c.Threshold()
	require.Equal(t, [3]int{5, 6, 7}, [3]int{t0, t1, t2})

	err := c.SetThreshold(1, 2, -3)
	require.EqualError(t, err, "gc threshold2 must be non-negative, not -3")
	t0, t1, t2 = c.Threshold()
	require.Equal(t, [3]int{5, 6, 7}, [3]int{t0, t1, t2}, "a failed SetThreshold changes nothing")

	require.Error(t, c.SetThreshold(-1, 0, 0))
	require.NoError(t, c.SetThreshold(0, 0, 0))
	t0, t1, t2 = c.Threshold()
	require.Equal(t, [3]int{0, 0, 0}, [3]int{t0, t1, t2})
}

func TestEnableDisable(t *testing.T) {
	c := New([3]int{})
	c.Disable()
	require.False(t, c.IsEnabled())
	c.Enable()
	require.True(t, c.IsEnabled())
}

func TestAddCountNeverNegative(t *testing.T) {
	c := New([3]int{})
	c.AddCount(3)
	c.AddCount(-2)
	c0, _, _ := c.Count()
	require.Equal(t, 1, c0)
	c.AddCount(-5)
	c0, _, _ = c.Count()
	require.Equal(t, 0, c0)
	c.AddCount(2)
	c0, _, _ = c.Count()
	require.Equal(t, 2, c0)
}

func TestGenerationPanics(t *testing.T) {
	c := New([3]int{})
	require.Equal(t, Permanent, c.Generation(Permanent).Gen())
	require.Panics(t, func() { c.Generation(4) })
	require.Panics(t, func() { c.Generation(-1) })
	g := newGraph(t, modes[0], c)
	require.PanicsWithValue(t, "gc: Collect of invalid generation 3", func() { c.Collect(g, 3) })
	require.Panics(t, func() { c.Collect(g, -1) })
	require.False(t, c.Collecting())
}

func TestShouldCollect(t *testing.T) {
	g := newGraph(t, modes[0], New([3]int{3, 1, 1}))
	c := g.c
	require.Equal(t, -1, c.ShouldCollect())
	c.AddCount(3)
	require.Equal(t, -1, c.ShouldCollect(), "count must exceed the threshold")
	c.AddCount(1)
	require.Equal(t, 0, c.ShouldCollect())

	c.Disable()
	require.Equal(t, -1, c.ShouldCollect())
	c.Enable()
	require.NoError(t, c.SetThreshold(0, 1, 1))
	require.Equal(t, -1, c.ShouldCollect(), "threshold 0 disables automatic collection")
	require.NoError(t, c.SetThreshold(3, 1, 1))

	// 100 long-lived objects: a full collection sets long_lived_total.
	for range 100 {
		g.obj()
	}
	g.collect(2)
	g.collect(0)
	g.collect(0) // count1 = 2 > 1
	c.AddCount(4)
	require.Equal(t, 1, c.ShouldCollect())
	g.collect(1) // count2 = 1, nothing pending
	g.collect(0)
	g.collect(0)
	g.collect(1) // count2 = 2 > 1, but pending 0 < 100/4
	c.AddCount(4)
	_, c1, c2 := c.Count()
	require.Equal(t, [2]int{0, 2}, [2]int{c1, c2})
	require.Equal(t, 0, c.ShouldCollect(), "the 25% rule holds generation 2 back")

	// 24 new long-lived objects reach generation 2 through generation 1.
	for range 24 {
		g.obj()
	}
	g.collect(1)
	c.AddCount(4)
	require.Equal(t, 0, c.ShouldCollect(), "24 < 100/4")
	g.obj()
	g.collect(1)
	c.AddCount(4)
	require.Equal(t, 2, c.ShouldCollect(), "25 pending >= 100/4")

	g.collect(2)
	c.AddCount(4)
	require.Equal(t, 0, c.ShouldCollect())

	// During a collection: -1.
	seen := -2
	remove := c.AddCallback(func(Phase, Info) { seen = c.ShouldCollect() })
	g.collect(0)
	remove()
	require.Equal(t, -1, seen)
}

func TestSelfCycle(t *testing.T) {
	forModes(t, func(t *testing.T, g *graph) {
		a := g.obj()
		g.link(a, a)
		g.drop(a)
		require.False(t, a.freed)
		m, n := g.collect(2)
		require.Equal(t, [2]int{1, 0}, [2]int{m, n})
		require.True(t, a.freed)
		require.Equal(t, 1, a.clears)
		require.Equal(t, GenStats{Collections: 1, Collected: 1}, g.c.Stats()[2])
	})
}

func TestTwoCycle(t *testing.T) {
	forModes(t, func(t *testing.T, g *graph) {
		a, b := g.obj(), g.obj()
		g.link(a, b)
		g.link(b, a)
		g.drop(a)
		g.drop(b)
		m, n := g.collect(0)
		require.Equal(t, [2]int{2, 0}, [2]int{m, n})
		require.True(t, a.freed && b.freed)
		require.Equal(t, 0, g.live)
	})
}

func TestCycleHeldFromOutside(t *testing.T) {
	forModes(t, func(t *testing.T, g *graph) {
		a, b, holder := g.obj(), g.obj(), g.obj()
		g.link(a, b)
		g.link(b, a)
		g.link(holder, a)
		g.drop(a)
		g.drop(b)
		m, n := g.collect(0)
		require.Equal(t, [2]int{0, 0}, [2]int{m, n})
		require.False(t, a.freed || b.freed)
		require.Equal(t, 1, a.Generation())
		require.Equal(t, 1, b.Generation())

		// Released from outside: garbage at the next collection of its
		// generation.
		g.unlink(holder, 0)
		m, _ = g.collect(1)
		require.Equal(t, 2, m)
		require.True(t, a.freed && b.freed)
		require.Equal(t, 2, holder.Generation())
	})
}

func TestGenerationCounts(t *testing.T) {
	forModes(t, func(t *testing.T, g *graph) {
		c := g.c
		count := func() [3]int {
			c0, c1, c2 := c.Count()
			return [3]int{c0, c1, c2}
		}
		x := g.obj()
		g.checkpoint()
		require.Equal(t, [3]int{1, 0, 0}, count())
		require.Equal(t, 0, x.Generation())

		g.collect(0)
		require.Equal(t, [3]int{0, 1, 0}, count())
		require.Equal(t, 1, x.Generation())
		y := g.obj()
		g.collect(0)
		require.Equal(t, [3]int{0, 2, 0}, count())
		require.Equal(t, 1, y.Generation())
		require.Equal(t, 1, x.Generation(), "generation 1 is not collected by Collect(0)")

		z := g.obj()
		g.collect(1)
		require.Equal(t, [3]int{0, 0, 1}, count())
		require.Equal(t, 2, x.Generation())
		require.Equal(t, 2, y.Generation())
		require.Equal(t, 2, z.Generation(), "Collect(1) also collects generation 0")

		g.obj()
		g.obj()
		g.checkpoint()
		require.Equal(t, [3]int{2, 0, 1}, count())
		g.collect(2)
		require.Equal(t, [3]int{0, 0, 0}, count())
		require.Equal(t, 2, x.Generation(), "generation 2 stays in 2")
		require.Equal(t, 0, c.Generation(0).Len())
		require.Equal(t, 0, c.Generation(1).Len())
		require.Equal(t, 5, c.Generation(2).Len())

		// Freeing tracked objects lowers the count, never below zero.
		w := g.obj()
		g.checkpoint()
		require.Equal(t, [3]int{1, 0, 0}, count())
		g.drop(w)
		g.drop(x)
		g.checkpoint()
		require.Equal(t, [3]int{0, 0, 0}, count())

		st := c.Stats()
		require.Equal(t, [3]int{2, 1, 1}, [3]int{st[0].Collections, st[1].Collections, st[2].Collections})
	})
}

func TestStatsAndCallbacks(t *testing.T) {
	forModes(t, func(t *testing.T, g *graph) {
		c := g.c
		var log []string
		var infos []Info
		var stopped []bool
		r1 := c.AddCallback(func(p Phase, i Info) {
			log = append(log, "1"+p.String())
			infos = append(infos, i)
			stopped = append(stopped, g.stopped)
			require.True(t, c.Collecting())
			m, n := c.Collect(g, 2) // re-entrant: nothing
			require.Equal(t, [2]int{0, 0}, [2]int{m, n})
		})
		r2 := c.AddCallback(func(p Phase, i Info) { log = append(log, "2"+p.String()) })

		a, b, l := g.obj(), g.obj(), g.obj()
		g.link(a, b)
		g.link(b, a)
		l.legacy = true
		g.link(l, l)
		g.drop(a)
		g.drop(b)
		g.drop(l)
		m, n := g.collect(1)
		require.Equal(t, [2]int{2, 1}, [2]int{m, n})
		require.Equal(t, 2, l.Generation(), "the legacy set joins the survivors' generation")
		require.Equal(t, []string{"1start", "2start", "1stop", "2stop"}, log)
		require.Equal(t, []Info{{Generation: 1}, {Generation: 1, Collected: 2, Uncollectable: 1}}, infos)
		require.Equal(t, []bool{false, false}, stopped, "callbacks run with the world running")
		require.Equal(t, [3]GenStats{{}, {Collections: 1, Collected: 2, Uncollectable: 1}, {}}, c.Stats())

		r1()
		r1() // idempotent
		log = nil
		g.collect(0)
		require.Equal(t, []string{"2start", "2stop"}, log)

		// A callback that removes a later one during a collection: the
		// later one is not called again.
		r2()
		log = nil
		var r5 func()
		r3 := c.AddCallback(func(p Phase, i Info) {
			log = append(log, "3"+p.String())
			r5()
		})
		r4 := c.AddCallback(func(p Phase, i Info) { log = append(log, "4"+p.String()) })
		r5 = c.AddCallback(func(p Phase, i Info) { log = append(log, "5"+p.String()) })
		g.collect(0)
		require.Equal(t, []string{"3start", "4start", "3stop", "4stop"}, log)
		r3()
		r4()
		r5()
		require.Empty(t, c.callbacks, "removed callbacks are dropped, not just skipped")
		log = nil
		g.collect(0)
		require.Empty(t, log)
		st := c.Stats()
		require.Equal(t, 3, st[0].Collections)
		g.decref(g.garbage[0])
		g.garbage = nil
		l.legacy = false
		g.collect(2)
		require.True(t, l.freed)
	})
}

func TestFreeze(t *testing.T) {
	forModes(t, func(t *testing.T, g *graph) {
		c := g.c
		a, b := g.obj(), g.obj()
		g.link(a, b)
		g.link(b, a)
		g.collect(0)
		live := g.obj()
		g.drop(a)
		g.drop(b)
		g.checkpoint()

		c.Freeze(g)
		require.Equal(t, 3, c.FreezeCount())
		require.Equal(t, Permanent, a.Generation())
		require.Equal(t, Permanent, live.Generation())
		c0, c1, c2 := c.Count()
		require.Equal(t, [3]int{0, 0, 0}, [3]int{c0, c1, c2})

		// Collections never look at the permanent generation.
		g.refCountCalls = 0
		m, _ := g.collect(2)
		require.Equal(t, 0, m)
		require.Equal(t, 0, g.refCountCalls)
		require.False(t, a.freed)

		c.Unfreeze(g)
		require.Equal(t, 0, c.FreezeCount())
		require.Equal(t, 2, a.Generation())
		m, _ = g.collect(2)
		require.Equal(t, 2, m)
		require.True(t, a.freed && b.freed)
		require.False(t, live.freed)
	})
}

func TestFinalizerRunsOnce(t *testing.T) {
	forModes(t, func(t *testing.T, g *graph) {
		a := g.obj()
		g.link(a, a)
		resurrect := true
		a.fin = func(g *graph, o *fobj) {
			if resurrect {
				g.addRoot(o)
			}
		}
		g.drop(a)
		pauses := g.pauses
		m, n := g.collect(2)
		require.Equal(t, [2]int{0, 0}, [2]int{m, n})
		require.False(t, a.freed)
		require.True(t, a.Finalized())
		require.Equal(t, 1, a.finRuns)
		require.Equal(t, 0, a.clears)
		if g.threaded {
			require.Equal(t, 2, g.pauses-pauses, "a collection that finalizes pauses twice")
		}

		// Garbage again: collected, and the finalizer does not run again.
		g.drop(a)
		pauses = g.pauses
		m, _ = g.collect(2)
		require.Equal(t, 1, m)
		require.True(t, a.freed)
		require.Equal(t, 1, a.finRuns)
		if g.threaded {
			require.Equal(t, 1, g.pauses-pauses, "nothing to finalize: no resurrection check")
		}
	})
}

func TestFinalizerRunsOnceAcrossRefcountDeath(t *testing.T) {
	forModes(t, func(t *testing.T, g *graph) {
		// A finalizer that breaks its own cycle: the object is finalized by
		// the collector, then freed by reference counting when the hold is
		// dropped, without a second finalization.
		a, b := g.obj(), g.obj()
		g.link(a, b)
		g.link(b, a)
		a.fin = func(g *graph, o *fobj) { g.unlink(o, 0) }
		g.drop(a)
		g.drop(b)
		m, _ := g.collect(0)
		require.Equal(t, 2, m)
		require.True(t, a.freed && b.freed)
		require.Equal(t, 1, a.finRuns)
	})
}

func TestResurrection(t *testing.T) {
	forModes(t, func(t *testing.T, g *graph) {
		// a -> b -> c -> a; a's finalizer resurrects a, so b and c survive
		// with it. d <-> e is other garbage in the same collection.
		a, b, c, d, e := g.obj(), g.obj(), g.obj(), g.obj(), g.obj()
		g.link(a, b)
		g.link(b, c)
		g.link(c, a)
		g.link(d, e)
		g.link(e, d)
		var order []int32
		for _, o := range []*fobj{b, c, d} {
			o.fin = func(g *graph, o *fobj) { order = append(order, o.id) }
		}
		a.fin = func(g *graph, o *fobj) { order = append(order, o.id); g.addRoot(o) }
		for _, o := range []*fobj{a, b, c, d, e} {
			g.drop(o)
		}
		m, n := g.collect(0)
		require.Equal(t, [2]int{2, 0}, [2]int{m, n})
		require.ElementsMatch(t, []int32{a.id, b.id, c.id, d.id}, order)
		require.False(t, a.freed || b.freed || c.freed)
		require.True(t, d.freed && e.freed)
		for _, o := range []*fobj{a, b, c} {
			require.Equal(t, 1, o.Generation(), "the resurrected join the survivors' generation")
			require.Zero(t, o.clears)
		}
		g.checkInvariants()

		// Dropped again: all three go, no finalizer runs twice.
		g.drop(a)
		m, _ = g.collect(1)
		require.Equal(t, 3, m)
		require.Len(t, order, 4)
		require.True(t, a.freed && b.freed && c.freed)
	})
}

func TestResurrectionThroughReference(t *testing.T) {
	forModes(t, func(t *testing.T, g *graph) {
		// x's finalizer resurrects what x refers to (y), not x itself:
		// y and what y reaches (z) survive, x is collected.
		x, y, z := g.obj(), g.obj(), g.obj()
		g.link(x, y)
		g.link(y, z)
		g.link(z, x)
		x.fin = func(g *graph, o *fobj) { g.addRoot(o.refs[0]) }
		for _, o := range []*fobj{x, y, z} {
			g.drop(o)
		}
		m, _ := g.collect(2)
		// y and z were resurrected, and z still refers to x: nothing goes.
		require.Equal(t, 0, m)
		require.False(t, x.freed || y.freed || z.freed)
		g.unlink(z, 0) // z -> x gone: x is freed by reference counting
		require.True(t, x.freed)
		require.False(t, y.freed)
		g.drop(y)
		require.True(t, y.freed && z.freed)
	})
}

func TestLegacyFinalizers(t *testing.T) {
	forModes(t, func(t *testing.T, g *graph) {
		// l <-> x, x -> y: l has a legacy finalizer; l, x and y are set
		// aside. p <-> q is plain garbage that refers to l2 (legacy, not in
		// a cycle) which refers to w: l2 and w are set aside too.
		l, x, y := g.obj(), g.obj(), g.obj()
		l.legacy = true
		g.link(l, x)
		g.link(x, l)
		g.link(x, y)
		p, q, l2, w := g.obj(), g.obj(), g.obj(), g.obj()
		l2.legacy = true
		g.link(p, q)
		g.link(q, p)
		g.link(p, l2)
		g.link(l2, w)
		for _, o := range []*fobj{l, x, y, p, q, l2, w} {
			g.drop(o)
		}
		m, n := g.collect(2)
		require.Equal(t, [2]int{2, 5}, [2]int{m, n})
		require.True(t, p.freed && q.freed)
		for _, o := range []*fobj{l, x, y, l2, w} {
			require.False(t, o.freed)
			require.Equal(t, 2, o.Generation())
			require.Zero(t, o.clears)
			require.Zero(t, o.legacyRuns)
		}
		require.ElementsMatch(t, []*fobj{l, l2}, g.garbage)
		require.Equal(t, GenStats{Collections: 1, Collected: 2, Uncollectable: 5}, g.c.Stats()[2])
		g.checkInvariants()

		// Still uncollectable on the next collection.
		m, n = g.collect(2)
		require.Equal(t, [2]int{0, 0}, [2]int{m, n}, "held by gc.garbage: reachable now")

		// Emptying gc.garbage: l2 dies by reference count (its legacy
		// finalizer runs); the l-x cycle is garbage again.
		for _, o := range g.garbage {
			g.decref(o)
		}
		g.garbage = nil
		require.True(t, l2.freed && w.freed)
		require.Equal(t, 1, l2.legacyRuns)
		m, n = g.collect(2)
		require.Equal(t, [2]int{0, 3}, [2]int{m, n})
		require.Equal(t, []*fobj{l}, g.garbage)
		for _, o := range g.garbage {
			g.decref(o)
		}
		g.garbage = nil
		l.legacy = false
		m, n = g.collect(2)
		require.Equal(t, [2]int{3, 0}, [2]int{m, n})
	})
}

func TestWeakrefs(t *testing.T) {
	forModes(t, func(t *testing.T, g *graph) {
		// a <-> b garbage. wLive is a live weakref to a with a callback;
		// wPlain a live weakref to b without one; wDead is a weakref to b
		// with a callback that is itself part of the garbage (b -> wDead).
		a, b := g.obj(), g.obj()
		g.link(a, b)
		g.link(b, a)
		var events []string
		wLive := g.weakref(a, func(g *graph, wr *fobj) {
			events = append(events, "callback")
			require.Nil(t, wr.target, "the weakref is cleared before its callback")
			require.False(t, a.freed, "callbacks run before anything is freed")
		})
		wPlain := g.weakref(b, nil)
		wDead := g.weakref(b, func(g *graph, wr *fobj) { events = append(events, "dead callback") })
		g.link(b, wDead)
		g.drop(wDead)
		a.fin = func(g *graph, o *fobj) {
			events = append(events, "finalizer")
			require.Nil(t, wLive.target, "weakrefs are cleared before finalizers run")
			require.Nil(t, wPlain.target)
		}
		g.drop(a)
		g.drop(b)
		g.garbageAnswers = map[*fobj]bool{}
		m, _ := g.collect(0)
		require.Equal(t, map[*fobj]bool{wLive: false, wDead: true}, g.garbageAnswers)
		require.Equal(t, 3, m, "a, b and the garbage weakref")
		require.Equal(t, []string{"callback", "finalizer"}, events)
		require.True(t, a.freed && b.freed && wDead.freed)
		require.False(t, wLive.freed || wPlain.freed)
		require.Equal(t, int64(1), wLive.rc, "the collector's reference to the weakref is released")
		require.Equal(t, 1, wLive.Generation(), "the weakref stays where it was (a gen-0 survivor)")
	})
}

func TestSurvivesClear(t *testing.T) {
	forModes(t, func(t *testing.T, g *graph) {
		// a refers to itself and its Clear drops nothing: it is counted as
		// collected (as in CPython) but survives, tracked, in the survivors'
		// generation, with no collection flag left; b, garbage that a
		// still refers to, survives with it.
		a, b := g.obj(), g.obj()
		a.noClear = true
		g.link(a, a)
		g.link(a, b)
		g.drop(a)
		g.drop(b)
		m, _ := g.collect(0)
		require.Equal(t, 2, m)
		require.False(t, a.freed)
		require.Equal(t, 1, a.Generation())
		require.Equal(t, 1, a.clears)
		require.False(t, b.freed)
		require.Equal(t, 1, b.Generation())
		require.Equal(t, 1, b.clears)
	})
}

func TestWeakrefCallbackFreesWeakref(t *testing.T) {
	forModes(t, func(t *testing.T, g *graph) {
		// The callback drops the last other reference to its weakref: the
		// collector's release frees it.
		a := g.obj()
		g.link(a, a)
		wr := g.weakref(a, func(g *graph, w *fobj) { g.drop(w) })
		g.drop(a)
		m, _ := g.collect(2)
		require.Equal(t, 1, m)
		require.True(t, wr.freed)
		require.Equal(t, 1, g.cbRuns)
	})
}

func TestWeakrefCreatedByFinalizer(t *testing.T) {
	forModes(t, func(t *testing.T, g *graph) {
		// The finalizer of garbage a makes a weakref to a with a callback:
		// the second pause clears it and its callback never runs.
		a := g.obj()
		g.link(a, a)
		var wr *fobj
		a.fin = func(g *graph, o *fobj) {
			wr = g.weakref(o, func(*graph, *fobj) { t.Error("callback of a weakref made by a finalizer ran") })
		}
		g.drop(a)
		m, _ := g.collect(2)
		require.Equal(t, 1, m)
		require.True(t, a.freed)
		require.NotNil(t, wr)
		require.Nil(t, wr.target)
		require.Zero(t, g.cbRuns)
		g.drop(wr)
	})
}

func TestReentrantCollectFromFinalizer(t *testing.T) {
	forModes(t, func(t *testing.T, g *graph) {
		a, other := g.obj(), g.obj()
		g.link(a, a)
		g.link(other, other)
		var got [2]int
		a.fin = func(g *graph, o *fobj) {
			m, n := g.c.Collect(g, 2)
			got = [2]int{m, n}
			// AddCount is allowed during a collection.
			g.c.AddCount(1)
		}
		g.drop(a)
		g.drop(other)
		m, _ := g.collect(2)
		require.Equal(t, [2]int{0, 0}, got)
		require.Equal(t, 2, m)
		require.Equal(t, 1, g.c.Stats()[2].Collections)
	})
}

func TestCollectAcrossGoroutines(t *testing.T) {
	g := newGraph(t, modes[1], nil)
	c := g.c
	a := g.obj()
	g.link(a, a)
	inFinalizer := make(chan struct{})
	release := make(chan struct{})
	a.fin = func(*graph, *fobj) {
		close(inFinalizer)
		<-release
	}
	g.drop(a)
	done := make(chan [2]int)
	go func() {
		m, n := g.collect(0)
		done <- [2]int{m, n}
	}()
	<-inFinalizer
	// Another thread, with its own (empty) world, while the first
	// collection runs its finalizers.
	other := newGraph(t, modes[1], c)
	require.True(t, c.Collecting())
	m, n := c.Collect(other, 2)
	require.Equal(t, [2]int{0, 0}, [2]int{m, n})
	c.AddCount(10_000)
	require.Equal(t, -1, c.ShouldCollect())
	require.Equal(t, 0, other.pauses, "the refused collection did not stop the world")
	close(release)
	require.Equal(t, [2]int{1, 0}, <-done)
	require.False(t, c.Collecting())
	require.Equal(t, 0, c.ShouldCollect())
	g.checkInvariants()
}

func TestNoListLockHeldDuringUserCode(t *testing.T) {
	g := newGraph(t, modes[1], nil)
	check := func(name string) {
		switch name {
		case "Finalize", "Clear", "DecRef", "RunWeakrefCallback", "AppendGarbage":
			for gen := 0; gen <= Permanent; gen++ {
				l := g.c.Generation(gen)
				require.True(t, l.Mu.TryLock(), "%s called while generation %d's lock is held", name, gen)
				l.Mu.Unlock()
			}
		}
	}
	g.hook = check
	a, b, l := g.obj(), g.obj(), g.obj()
	g.link(a, b)
	g.link(b, a)
	l.legacy = true
	g.link(l, l)
	a.fin = func(*graph, *fobj) {}
	w := g.weakref(b, func(*graph, *fobj) {})
	g.drop(a)
	g.drop(b)
	g.drop(l)
	m, n := g.collect(2)
	require.Equal(t, [2]int{2, 1}, [2]int{m, n})
	require.Equal(t, 1, g.cbRuns)
	g.hook = nil
	g.drop(w)
	g.checkInvariants()
}

func TestUntrackTuples(t *testing.T) {
	forModes(t, func(t *testing.T, g *graph) {
		i1, i2 := g.atom(), g.atom()
		lst := g.obj()
		tAtoms := g.tuple(i1, i2)
		tEmpty := g.tuple()
		tList := g.tuple(i1, lst)
		tOuter := g.tuple(tAtoms)
		g.collect(0)
		require.False(t, tAtoms.IsTracked())
		require.False(t, tEmpty.IsTracked())
		require.True(t, tList.IsTracked())
		require.Equal(t, 1, tList.Generation())
		require.True(t, lst.IsTracked())
		// Oldest first, as in CPython: tAtoms is untracked before tOuter is
		// looked at, so tOuter goes in the same pass.
		require.False(t, tOuter.IsTracked())
		require.Equal(t, 3, g.untracked)
		// An untracked tuple is not examined again.
		g.refCountCalls = 0
		g.collect(2)
		require.Equal(t, 2, g.refCountCalls)
	})
}

// TestLongChain: move_unreachable and the rest keep a constant stack depth
// however long the chains of references are.
func TestLongChain(t *testing.T) {
	n := invariants.Scale(1_000_000, 20)
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			g := newGraph(t, m, nil)
			// Each object refers to the one made before it and only the
			// newest is held: the walk meets the chain tail first (the
			// worst order: everything is presumed unreachable, then moved
			// back one by one).
			var prev *fobj
			first := g.obj()
			prev = first
			for range n - 1 {
				o := g.obj()
				g.link(o, prev)
				g.drop(prev)
				prev = o
			}
			head := prev
			m, _ := g.collect(0)
			require.Equal(t, 0, m)
			require.Equal(t, n, g.c.Generation(1).Len())
			m, _ = g.collect(2)
			require.Equal(t, 0, m)
			require.Equal(t, n, g.c.Generation(2).Len())
			// Close the chain into a cycle and drop it.
			g.link(first, head)
			g.drop(head)
			m, _ = g.collect(2)
			require.Equal(t, n, m)
			require.Equal(t, 0, g.live)
			require.Equal(t, 0, g.c.Generation(2).Len())
		})
	}
}

// TestGenerationalCost: a generation-0 collection looks only at generation
// 0 (plus the references its objects hold), never at the old generations.
func TestGenerationalCost(t *testing.T) {
	g := newGraph(t, modes[1], nil)
	old := make([]*fobj, 10_000)
	for i := range old {
		old[i] = g.obj()
		if i > 0 {
			g.link(old[i-1], old[i])
		}
	}
	g.collect(2)
	young := make([]*fobj, 50)
	for i := range young {
		young[i] = g.obj()
		g.link(young[i], old[i*100])
	}
	g.refCountCalls, g.traverseCalls = 0, 0
	g.collect(0)
	require.Equal(t, len(young), g.refCountCalls)
	require.LessOrEqual(t, g.traverseCalls, 2*len(young))
	require.Equal(t, len(old), g.c.Generation(2).Len())
	require.Equal(t, len(young), g.c.Generation(1).Len())
}

// TestConcurrentReaders: the counters, thresholds, statistics and callbacks
// may be used from other goroutines while collections run.
func TestConcurrentReaders(t *testing.T) {
	g := newGraph(t, modes[1], New([3]int{50, 2, 2}))
	c := g.c
	var stop atomic.Bool
	var wg sync.WaitGroup
	for w := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				switch w {
				case 0:
					c.AddCount(3)
					c.AddCount(-2)
					_ = c.ShouldCollect()
				case 1:
					_, _, _ = c.Count()
					_ = c.Stats()
					_, _, _ = c.Threshold()
					_ = c.Collecting()
					_ = c.IsEnabled()
				case 2:
					remove := c.AddCallback(func(Phase, Info) {})
					_ = c.SetThreshold(50, 2, 2)
					remove()
				}
			}
		}()
	}
	rounds := invariants.Scale(200, 4)
	total := 0
	for i := range rounds {
		a, b := g.obj(), g.obj()
		g.link(a, b)
		g.link(b, a)
		g.drop(a)
		g.drop(b)
		m, _ := g.collect(i % 3)
		total += m
	}
	stop.Store(true)
	wg.Wait()
	require.Equal(t, 2*rounds, total)
	st := c.Stats()
	require.Equal(t, rounds, st[0].Collections+st[1].Collections+st[2].Collections)
	g.checkInvariants()
}

func TestEpochWrap(t *testing.T) {
	forModes(t, func(t *testing.T, g *graph) {
		// Survivors keep the epoch of the collection that last examined
		// them; when the epochs run out they are cleared, so that a
		// collection never takes a stale epoch for its own.
		g.c.epoch = maxEpoch - 2
		live := g.obj()
		g.link(live, live)
		for i := 0; i < 6; i++ {
			a, b := g.obj(), g.obj()
			g.link(a, b)
			g.link(b, a)
			g.link(live, a)
			g.drop(a)
			g.drop(b)
			m, n := g.collect(0) // everything alive
			require.Equal(t, [2]int{0, 0}, [2]int{m, n})
			g.checkInvariants()
			g.unlink(live, len(live.refs)-1)
			m, _ = g.collect(1 + i%2)
			require.Equal(t, 2, m, "collection %d, epoch %d", i, g.c.epoch)
			require.True(t, a.freed && b.freed)
			g.checkInvariants()
		}
		require.Less(t, g.c.epoch, uint32(20))
	})
}

func TestPromoteAllKeepsOrder(t *testing.T) {
	forModes(t, func(t *testing.T, g *graph) {
		// A collection in which everything survives and nothing may be
		// untracked appends generations gen, 0, ..., gen-1 to the old one,
		// in order, as the partition does.
		for gen := 2; gen >= 0; gen-- {
			g.addRoot(g.obj())
			if gen > 0 {
				g.collect(gen - 1)
			}
		}
		g.addRoot(g.obj())
		var want []int32
		lists := []*List{g.c.Generation(2), g.c.Generation(0), &g.young, g.c.Generation(1)}
		for _, l := range lists {
			for h := l.Front(); h != nil; h = l.Next(h) {
				want = append(want, obj(h).id)
			}
		}
		require.Len(t, want, 4)
		g.collect(2)
		var got []int32
		l := g.c.Generation(2)
		for h := l.Front(); h != nil; h = l.Next(h) {
			got = append(got, obj(h).id)
		}
		require.Equal(t, want, got)
		require.Equal(t, 0, g.c.Generation(0).Len()+g.c.Generation(1).Len())
	})
}

func TestGatherSetsAsideDying(t *testing.T) {
	// An object being destroyed by another thread while it is still on a
	// young list (RefCount -1) is handed to Dying, untracked, by the walk
	// that completes GatherYoung, in a collection and in Freeze; the
	// others are relabeled generation 0's.
	for _, freeze := range []bool{false, true} {
		g := newGraph(t, modes[1], nil)
		a, d, b := g.obj(), g.obj(), g.obj()
		g.link(a, b)
		g.destroying = map[*fobj]bool{d: true}
		if freeze {
			g.c.Freeze(g)
		} else {
			g.collect(0)
		}
		require.Equal(t, []*fobj{d}, g.dying)
		require.False(t, d.IsTracked())
		want := 1
		if freeze {
			want = Permanent
		}
		require.Equal(t, want, a.Generation())
		require.Equal(t, want, b.Generation())
		require.Same(t, g.c.Generation(want), b.List())
		require.Equal(t, 2, g.c.Generation(want).Len())
		require.Equal(t, 0, g.young.Len())
	}
}

// TestDiscardClosedGarbage: when a whole collection is garbage, the
// garbage is freed with Free, which drops what the objects that refer
// only into the set hold without counting it down (discards); an
// object that also refers outside the set (an atom) is cleared with Clear,
// which counts its references down, so the atom is released exactly once.
// With anything reachable, a finalizer due or an object Clear cannot
// empty, every object is cleared with Clear.
func TestDiscardClosedGarbage(t *testing.T) {
	ring := func(g *graph, n int) []*fobj {
		objs := make([]*fobj, n)
		for i := range objs {
			objs[i] = g.obj()
		}
		for i, o := range objs {
			g.link(o, objs[(i+1)%n])
			g.link(o, objs[(7*i+3)%n])
		}
		return objs
	}
	for _, tc := range []struct {
		name        string
		adjust      func(g *graph, objs []*fobj)
		wantDiscard int
		collected   int
	}{
		{"pure garbage", nil, 99, 100},
		{"one survivor", func(g *graph, objs []*fobj) { g.addRoot(objs[0]) }, 0, 0},
		{"a finalizer due", func(g *graph, objs []*fobj) { objs[5].fin = func(*graph, *fobj) {} }, 0, 100},
		{"an object Clear cannot empty", func(g *graph, objs []*fobj) { objs[5].noClear = true }, 0, 100},
	} {
		forModes(t, func(t *testing.T, g *graph) {
			t.Run(tc.name, func(t *testing.T) {
				objs := ring(g, 100)
				atom := g.atom()
				g.link(objs[0], atom) // objs[0] refers outside the set
				g.drop(atom)
				if tc.adjust != nil {
					tc.adjust(g, objs)
				}
				for _, o := range objs {
					g.drop(o)
				}
				coll, _ := g.collect(2)
				require.Equal(t, tc.collected, coll)
				require.Equal(t, tc.wantDiscard, g.discards)
				if tc.collected > 0 {
					require.True(t, atom.freed, "the atom is released by Clear")
				}
				g.checkInvariants()
				if tc.collected == 0 {
					g.drop(objs[0])
					coll, _ = g.collect(2)
					require.Equal(t, 100, coll)
				}
				require.Zero(t, g.live)
			})
		})
	}
}

// TestPendingZeros: an object first reached as a referent (pending: the
// walk reads its count only when it gets there) whose count is exactly
// the references the set holds to it has refs 0 once its count is read,
// and must be counted then, once, among the zero-refs objects that end
// the mark early. The walk's first batch is R and traverseBatch-1 other
// live objects, which is also the mark's first batch.
//
// "missed": R holds the only references to X1 and X2, in the second
// batch, and G1-G2 is a garbage cycle there. Four zero-refs objects; had
// X1 and X2 not been counted, the mark would have believed every one
// marked once R's traversal marked X1 and X2, and flagged the rest, the
// cycle included, reachable: nothing collected.
//
// "counted twice": each object of the first batch holds the only
// reference to one of the second. Had those been counted twice, the mark
// would have seen as many zero-refs objects as objects, nothing
// reachable, and freed them all.
func TestPendingZeros(t *testing.T) {
	for _, tc := range []struct {
		name string
		each bool // every object of the first batch refers to one of the second
	}{{"missed", false}, {"counted twice", true}} {
		t.Run(tc.name, func(t *testing.T) {
			forModes(t, func(t *testing.T, g *graph) {
				first := make([]*fobj, traverseBatch)
				for i := range first {
					first[i] = g.obj()
				}
				var xs []*fobj
				for i := range first {
					if !tc.each && i >= 2 {
						break
					}
					xs = append(xs, g.obj())
				}
				g1, g2 := g.obj(), g.obj()
				for i, x := range xs {
					if tc.each {
						g.link(first[i], x)
					} else {
						g.link(first[0], x)
					}
					g.drop(x)
				}
				g.link(g1, g2)
				g.link(g2, g1)
				g.drop(g1)
				g.drop(g2)
				m, _ := g.collect(0)
				require.Equal(t, 2, m)
				require.True(t, g1.freed)
				require.True(t, g2.freed)
				for _, o := range append(first, xs...) {
					require.False(t, o.freed)
					require.Equal(t, 1, o.Generation())
				}
			})
		})
	}
}

// TestPendingDyingPanics: an object being destroyed (RefCount -1) has no
// references, so only the walk can meet it; one that an object of the set
// refers to before the walk reaches it is a runtime's bug, reported when
// its count is read.
func TestPendingDyingPanics(t *testing.T) {
	g := newGraph(t, modes[1], nil)
	a := g.obj()
	for range traverseBatch {
		g.obj()
	}
	d := g.obj()
	g.link(a, d)
	g.destroying = map[*fobj]bool{d: true}
	require.PanicsWithValue(t, "gc: Env.Subtract reported an object that is being destroyed", func() { g.collect(0) })
}

// TestCallbacksAddedDuringAPhase: a callback added by another during a
// phase is called in that phase, after the others, as CPython's
// invoke_gc_callback reads the list's length at every step; the shutdown
// collection calls none.
func TestCallbacksAddedDuringAPhase(t *testing.T) {
	forModes(t, func(t *testing.T, g *graph) {
		c := g.c
		var log []string
		var r2 func()
		r1 := c.AddCallback(func(p Phase, _ Info) {
			log = append(log, "1"+p.String())
			if r2 == nil {
				r2 = c.AddCallback(func(p Phase, _ Info) { log = append(log, "2"+p.String()) })
			}
		})
		g.collect(0)
		require.Equal(t, []string{"1start", "2start", "1stop", "2stop"}, log)
		log = nil
		c.CollectAtShutdown(g)
		require.Empty(t, log, "no callback at shutdown")
		require.Equal(t, 1, c.Stats()[2].Collections, "the shutdown collection is counted")
		r1()
		r2()
	})
}

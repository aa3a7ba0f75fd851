package runtime

import (
	rtdebug "runtime/debug"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nogil-lab/nogil/internal/invariants"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The collector with several threads, in every mode, under -race: judged
// by the race detector, by Debug's poisoning of freed objects, by exact
// finalizer counts and by Close reporting no leak. Failures inside worker
// goroutines use assert (t.Errorf); require is for the test goroutine only.

// gccRun starts n goroutines, each with a new thread of th's runtime, runs
// fn(i, wt) on them and waits for them with th detached (meanwhile runs on
// the calling goroutine, detached, before the wait). Each worker's thread
// is closed when fn returns.
func gccRun(th *Thread, n int, fn func(i int, wt *Thread), meanwhile func()) {
	rt := th.Runtime()
	var wg sync.WaitGroup
	wg.Add(n)
	th.Detach()
	for i := 0; i < n; i++ {
		go func() {
			defer wg.Done()
			wt := rt.NewThread()
			defer wt.Close()
			fn(i, wt)
		}()
	}
	if meanwhile != nil {
		meanwhile()
	}
	wg.Wait()
	th.Attach()
}

// gccWatchdog panics, with every goroutine's stack, if the test has not
// called stop within d: a deadlock fails loudly instead of hanging CI.
func gccWatchdog(t *testing.T, d time.Duration) (stop func()) {
	name := t.Name()
	timer := time.AfterFunc(d, func() {
		rtdebug.SetTraceback("all")
		panic("deadlock? " + name + " did not finish within " + d.String())
	})
	return func() { timer.Stop() }
}

// gccCounted is a user type whose instances are counted when made (by the
// test) and when finalized.
type gccCounted struct {
	typ             *Type
	made, finalized atomic.Int64
}

func gccNewCounted(t *testing.T, rt *Runtime, name string) *gccCounted {
	c := &gccCounted{}
	c.typ = gctType(t, rt, TypeSpec{Name: name, Finalize: func(*Thread, *Object) { c.finalized.Add(1) }})
	return c
}

func (c *gccCounted) new(th *Thread) *Object {
	c.made.Add(1)
	return th.NewInstance(c.typ)
}

// gccCollectLoop collects on th, generation i%3 for i = 0.., until stop is
// closed, letting the other threads run between collections (in GIL mode
// th holds the GIL while attached). Every Collect must succeed.
func gccCollectLoop(t *testing.T, th *Thread, stop <-chan struct{}) (collections int) {
	for i := 0; ; i++ {
		select {
		case <-stop:
			return i
		default:
		}
		th.Attach()
		_, err := th.Collect(i % 3)
		assert.NoError(t, err)
		th.Checkpoint()
		th.Detach()
		time.Sleep(50 * time.Microsecond)
	}
}

// Threads mutate shared containers (a list used as a queue between them, a
// dict whose values they replace) and create cyclic garbage, with
// automatic collections at a low threshold, explicit collections on every
// thread and a collecting loop on the main thread. Each thread
// Checkpoints every iteration. Every counted instance is finalized exactly
// once; nothing leaks.
func TestGCConcurrentMutatorsAndCollections(t *testing.T) {
	const workers = 3
	iters := invariants.Scale(1500, 3)
	eachModeThread(t, func(t *testing.T, th *Thread) {
		defer gccWatchdog(t, 2*time.Minute)()
		rt := th.Runtime()
		require.NoError(t, rt.GC().SetThreshold(60, 4, 4))
		node := gccNewCounted(t, rt, "Node")
		base := gctLive(th)
		shared := th.NewList()
		table := th.NewDict()
		stop := make(chan struct{})
		var done atomic.Int32
		var keys [16]*Object
		for k := range keys {
			keys[k] = th.Intern("k" + string(rune('a'+k)))
		}
		gccRun(th, workers, func(w int, wt *Thread) {
			defer func() {
				if done.Add(1) == workers {
					close(stop)
				}
			}()
			for j := 0; j < iters; j++ {
				// Cyclic garbage: a self-loop, and a list <-> instance pair.
				a := node.new(wt)
				assert.NoError(t, wt.SetAttr(a, "me", a))
				wt.DecRef(a)
				b := node.new(wt)
				l := wt.NewList(b)
				assert.NoError(t, wt.SetAttr(b, "l", l))
				// Published to the others through the shared list, which
				// also pops what another thread pushed.
				assert.NoError(t, wt.ListAppend(shared, l))
				wt.DecRef(l)
				wt.DecRef(b)
				if n, _ := wt.ListLen(shared); n > 32 {
					if o, err := wt.ListPop(shared, 0); err == nil {
						assert.True(t, gccLive(o))
						wt.DecRef(o)
					}
				}
				// A dict value replaced by every thread: the old one dies on
				// whichever thread replaces it.
				v := node.new(wt)
				assert.NoError(t, wt.SetAttr(v, "table", table)) // v -> table -> v
				assert.NoError(t, wt.DictSet(table, keys[(w*7+j)%len(keys)], v))
				wt.DecRef(v)
				if got, err := wt.DictGet(table, keys[j%len(keys)]); err == nil {
					tb, err := wt.GetAttr(got, "table")
					assert.NoError(t, err)
					assert.Same(t, table, tb)
					wt.DecRef(tb)
					wt.DecRef(got)
				}
				if j%97 == w {
					_, err := wt.Collect((j / 97) % 3)
					assert.NoError(t, err)
				}
				wt.Checkpoint()
			}
		}, func() { gccCollectLoop(t, th, stop) })

		th.DecRef(shared)
		th.DecRef(table)
		gctCollect(t, th, 2)
		require.Equal(t, node.made.Load(), node.finalized.Load(), "every node finalized exactly once")
		require.Equal(t, base, gctLive(th))
		st := rt.GC().Stats()
		require.Positive(t, st[0].Collections)
		require.Positive(t, st[0].Collected+st[1].Collected+st[2].Collected)
	})
}

// gccLive reports whether o is a live object: holding a reference,
// reading its type never races a free.
func gccLive(o *Object) bool { return o != nil && o.typ.kind != kindFreed }

// A detached thread, blocked on a channel, never delays a collection (nor
// Freeze, which also stops the world); its young objects are collected.
func TestGCDetachedThreadDoesNotBlockCollection(t *testing.T) {
	eachModeThread(t, func(t *testing.T, th *Thread) {
		defer gccWatchdog(t, time.Minute)()
		rt := th.Runtime()
		typ := gctType(t, rt, TypeSpec{Name: "A"})
		base := gctQuiet(t, th)
		ready := make(chan struct{})
		release := make(chan struct{})
		finished := make(chan struct{})
		var kept *Object
		th.Detach()
		go func() {
			defer close(finished)
			wt := rt.NewThread()
			wt.DecRef(gctSelfLoop(t, wt, typ)) // garbage on wt's young list
			kept = gctSelfLoop(t, wt, typ)     // alive, referenced by wt
			wt.Detach()
			close(ready)
			<-release // blocked, detached
			wt.Attach()
			me, err := wt.GetAttr(kept, "me")
			assert.NoError(t, err)
			assert.Same(t, kept, me)
			wt.DecRef(me)
			wt.DecRef(kept)
			wt.Close()
		}()
		<-ready
		th.Attach()
		start := time.Now()
		require.Equal(t, 1, gctCollect(t, th, 2), "the detached thread's garbage")
		require.Zero(t, gctCollect(t, th, 0))
		require.Zero(t, gctCollect(t, th, 1))
		th.Freeze()
		require.Equal(t, 1, rt.GC().FreezeCount())
		th.Unfreeze()
		require.Less(t, time.Since(start), 30*time.Second)
		th.Detach()
		close(release)
		<-finished
		th.Attach()
		require.Equal(t, 1, gctCollect(t, th, 2), "kept is garbage now")
		require.Equal(t, base, gctLive(th))
	})
}

// Finalizers that allocate (including new finalizable garbage) and
// finalizers that call Collect, inside a collection (the nested call
// returns 0) and at a refcount death (it works), with automatic
// collection at threshold 1 (CPython's test_del): no deadlock, every
// finalizer runs once, nothing leaks.
func TestGCFinalizersAllocateAndCollect(t *testing.T) {
	eachModeThread(t, func(t *testing.T, th *Thread) {
		defer gccWatchdog(t, time.Minute)()
		rt := th.Runtime()
		g := rt.GC()
		var inCollection atomic.Bool
		remove := g.AddCallback(func(p Phase, _ Info) { inCollection.Store(p == PhaseStart) })
		defer remove()
		var nestedInCollection, nestedNonZero, nestedOutside atomic.Int64
		alloc := &gccCounted{}
		alloc.typ = gctType(t, rt, TypeSpec{Name: "Alloc", Finalize: func(th *Thread, self *Object) {
			alloc.finalized.Add(1)
			// Allocate: plain objects, a cycle, and (to a depth of 3) a new
			// finalizable cycle, found by a later collection.
			d, err := th.GetAttr(self, "depth")
			if !assert.NoError(t, err) {
				return
			}
			depth, _ := th.Int(d)
			th.DecRef(d)
			f, dd := th.NewFloat(1.5), th.NewDict()
			junk := th.NewList(f, dd)
			th.DecRef(f)
			th.DecRef(dd)
			th.DecRef(junk)
			th.DecRef(gctSelfList(t, th))
			if depth < 3 {
				c := alloc.new(th)
				nd := th.NewInt(depth + 1)
				assert.NoError(t, th.SetAttr(c, "depth", nd))
				th.DecRef(nd)
				assert.NoError(t, th.SetAttr(c, "me", c))
				th.DecRef(c)
			}
		}})
		recol := gctType(t, rt, TypeSpec{Name: "Recol", Finalize: func(th *Thread, self *Object) {
			during := inCollection.Load()
			for gen := 0; gen < 3; gen++ {
				n, err := th.Collect(gen)
				assert.NoError(t, err)
				if during {
					nestedInCollection.Add(1)
					if n != 0 {
						nestedNonZero.Add(1)
					}
				} else {
					nestedOutside.Add(1)
				}
			}
		}})
		base := gctQuiet(t, th)
		g.Enable()
		require.NoError(t, g.SetThreshold(1, 1, 1))

		for i := 0; i < 40; i++ {
			a := alloc.new(th)
			assert.NoError(t, th.SetAttr(a, "depth", th.NewInt(0)))
			assert.NoError(t, th.SetAttr(a, "me", a))
			th.DecRef(a)
			r := gctSelfLoop(t, th, recol)
			th.DecRef(r)
			if i%4 == 0 {
				th.DecRef(th.NewInstance(recol)) // refcount death: Collect outside a collection
			}
		}
		g.Disable()
		for i := 0; i < 10; i++ {
			if gctCollect(t, th, 2) == 0 {
				break
			}
		}
		require.Zero(t, gctCollect(t, th, 2))
		require.Equal(t, int64(40*4), alloc.made.Load(), "each chain makes 3 more")
		require.Equal(t, alloc.made.Load(), alloc.finalized.Load())
		require.Positive(t, nestedInCollection.Load())
		require.Zero(t, nestedNonZero.Load(), "a Collect nested in a collection must return 0")
		require.Positive(t, nestedOutside.Load())
		require.Equal(t, base, gctLive(th))
	})
}

// test_trashcan: deep chains of containers whose finalizable members call
// Collect every 17th death, with automatic collection on: collections run
// in the middle of the deallocation of a chain.
func TestGCTrashcanWithCollections(t *testing.T) {
	eachModeThread(t, func(t *testing.T, th *Thread) {
		defer gccWatchdog(t, time.Minute)()
		rt := th.Runtime()
		var ouch atomic.Int64
		typ := gctType(t, rt, TypeSpec{Name: "Ouch", Finalize: func(th *Thread, _ *Object) {
			if ouch.Add(1)%17 == 0 {
				_, err := th.Collect(2)
				assert.NoError(t, err)
			}
		}})
		base := gctQuiet(t, th)
		rt.GC().Enable()
		const N = 150
		for count := 0; count < 2; count++ {
			tl := th.NewList()
			for i := 0; i < N; i++ {
				o := th.NewInstance(typ)
				nt := th.NewList(tl, o)
				th.DecRef(o)
				th.DecRef(tl)
				tl = nt
			}
			u := th.NewDict()
			for i := 0; i < N; i++ {
				o := th.NewInstance(typ)
				nu := th.NewDict()
				require.NoError(t, th.DictSet(nu, th.NewInt(1), u))
				require.NoError(t, th.DictSet(nu, th.NewInt(2), o))
				th.DecRef(o)
				th.DecRef(u)
				u = nu
			}
			// A cycle through the whole chain, so the collector frees it.
			require.NoError(t, th.DictSet(u, th.NewInt(3), u))
			th.DecRef(tl) // refcount death of a chain
			th.DecRef(u)
		}
		rt.GC().Disable()
		gctCollect(t, th, 2)
		require.EqualValues(t, 4*N, ouch.Load())
		require.Equal(t, base, gctLive(th))
	})
}

// Finalizers that allocate and collect while several threads do the same:
// a thread's Collect returns 0 while another's runs, nothing deadlocks.
func TestGCFinalizersCollectAcrossThreads(t *testing.T) {
	const workers = 3
	iters := invariants.Scale(300, 2)
	eachModeThread(t, func(t *testing.T, th *Thread) {
		defer gccWatchdog(t, 2*time.Minute)()
		rt := th.Runtime()
		require.NoError(t, rt.GC().SetThreshold(20, 2, 2))
		var made, fins atomic.Int64
		typ := gctType(t, rt, TypeSpec{Name: "Busy", Finalize: func(th *Thread, self *Object) {
			fins.Add(1)
			l := th.NewList(self) // allocates; references self only briefly
			th.DecRef(l)
			if fins.Load()%5 == 0 {
				_, err := th.Collect(int(fins.Load()/5) % 3)
				assert.NoError(t, err)
			}
			th.DecRef(gctSelfList(t, th))
		}})
		base := gctLive(th)
		gccRun(th, workers, func(w int, wt *Thread) {
			for j := 0; j < iters; j++ {
				made.Add(2)
				a := wt.NewInstance(typ)
				assert.NoError(t, wt.SetAttr(a, "me", a))
				wt.DecRef(a)
				wt.DecRef(wt.NewInstance(typ))
				if j%13 == w {
					_, err := wt.Collect(j % 3)
					assert.NoError(t, err)
				}
				wt.Checkpoint()
			}
		}, nil)
		rt.GC().Disable()
		gctCollect(t, th, 2)
		gctCollect(t, th, 2)
		require.Equal(t, made.Load(), fins.Load())
		require.Equal(t, base, gctLive(th))
	})
}

// Threads are created and closed while other threads collect: their young
// objects (garbage, and objects they shared) are handed over and found;
// objects they own are freed by others.
func TestGCThreadsCloseWhileCollecting(t *testing.T) {
	const spawners = 2
	rounds := invariants.Scale(60, 2)
	eachModeThread(t, func(t *testing.T, th *Thread) {
		defer gccWatchdog(t, 2*time.Minute)()
		rt := th.Runtime()
		node := gccNewCounted(t, rt, "Node")
		base := gctLive(th)
		shared := th.NewList()
		stop := make(chan struct{})
		var done atomic.Int32
		var collections int
		th.Detach()
		var wg sync.WaitGroup
		wg.Add(spawners)
		for s := 0; s < spawners; s++ {
			go func() {
				defer wg.Done()
				defer func() {
					if done.Add(1) == spawners {
						close(stop)
					}
				}()
				for r := 0; r < rounds; r++ {
					wt := rt.NewThread()
					for j := 0; j < 20; j++ {
						a := node.new(wt)
						assert.NoError(t, wt.SetAttr(a, "me", a))
						if j%4 == 0 {
							assert.NoError(t, wt.ListAppend(shared, a))
						}
						wt.DecRef(a)
					}
					for {
						n, _ := wt.ListLen(shared)
						if n <= 16 {
							break
						}
						o, err := wt.ListPop(shared, 0)
						if assert.NoError(t, err) {
							assert.True(t, gccLive(o))
							wt.DecRef(o)
						}
					}
					if r%5 == s {
						_, err := wt.Collect(r % 3)
						assert.NoError(t, err)
					}
					wt.Close() // while others collect
				}
			}()
		}
		collections = gccCollectLoop(t, th, stop)
		wg.Wait()
		th.Attach()
		require.Positive(t, collections)
		th.DecRef(shared)
		gctCollect(t, th, 2)
		require.Equal(t, node.made.Load(), node.finalized.Load())
		require.Equal(t, base, gctLive(th))
	})
}

// Every thread collects, freezes and unfreezes at once, while the others
// make garbage: collections serialize (a Collect that finds another
// running returns 0), Freeze and Unfreeze stop the world around them.
func TestGCCollectFreezeFromManyThreads(t *testing.T) {
	const workers = 3
	iters := invariants.Scale(400, 2)
	eachModeThread(t, func(t *testing.T, th *Thread) {
		defer gccWatchdog(t, 2*time.Minute)()
		rt := th.Runtime()
		node := gccNewCounted(t, rt, "Node")
		base := gctQuiet(t, th)
		gccRun(th, workers, func(w int, wt *Thread) {
			for j := 0; j < iters; j++ {
				a := node.new(wt)
				assert.NoError(t, wt.SetAttr(a, "me", a))
				wt.DecRef(a)
				switch (j + w) % 10 {
				case 0:
					wt.Freeze()
				case 5:
					wt.Unfreeze()
				default:
					_, err := wt.Collect((j + w) % 3)
					assert.NoError(t, err)
				}
				wt.Checkpoint()
			}
		}, nil)
		th.Unfreeze()
		require.Zero(t, rt.GC().FreezeCount())
		gctCollect(t, th, 2)
		require.Equal(t, node.made.Load(), node.finalized.Load())
		require.Equal(t, base, gctLive(th))
	})
}

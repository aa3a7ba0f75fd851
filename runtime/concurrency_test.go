package runtime

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nogil-lab/nogil/biasedrc"
	"github.com/nogil-lab/nogil/internal/invariants"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Concurrency tests: several runtime threads sharing objects, in every mode,
// judged by the race detector, by the debug poisoning of freed objects and
// by Close reporting no leak. Each worker goroutine has its own Thread;
// whoever blocks (channel, WaitGroup) detaches around it.

// ccRun starts n goroutines, each with a new runtime thread of th's runtime,
// runs fn(i, wt) on them and waits for all of them with th detached. Each
// worker's thread is closed when fn returns. meanwhile, if given, run on
// the calling goroutine (th detached) before the wait. Failures inside fn
// must use assert (t.Errorf), never require: FailNow is only for the test
// goroutine.
func ccRun(th *Thread, n int, fn func(i int, wt *Thread), meanwhile ...func()) {
	rt := th.Runtime()
	var wg sync.WaitGroup
	wg.Add(n)
	for i := 0; i < n; i++ {
		go func() {
			defer wg.Done()
			wt := rt.NewThread()
			fn(i, wt)
			wt.Close()
		}()
	}
	ccBlock(th, func() {
		for _, f := range meanwhile {
			f()
		}
		wg.Wait()
	})
}

// ccBlock runs a blocking function with th detached.
func ccBlock(th *Thread, fn func()) {
	th.Detach()
	fn()
	th.Attach()
}

// ccLive reports whether o is a live object (not a poisoned, freed one).
// Holding a reference, reading o.typ never races a free: a data race here
// means somebody freed an object that was still referenced.
func ccLive(o *Object) bool { return o != nil && o.typ.kind != kindFreed }

// ccCountingType defines a user type whose Finalize counts into n.
func ccCountingType(t *testing.T, rt *Runtime, name string, n *atomic.Int64) *Type {
	typ, err := rt.NewType(TypeSpec{Name: name, Finalize: func(*Thread, *Object) { n.Add(1) }})
	require.NoError(t, err)
	return typ
}

// ccStats publishes th's counts and returns the runtime's statistics.
func ccStats(th *Thread) Stats {
	th.Checkpoint()
	return th.Runtime().Stats()
}

// Four threads append distinct ints to one list: nothing is lost, nothing
// is duplicated.
func TestConcurrentListAppend(t *testing.T) {
	const threads = 4
	per := invariants.Scale(5000, 10)
	eachModeThread(t, func(t *testing.T, th *Thread) {
		l := th.NewList()
		ccRun(th, threads, func(i int, wt *Thread) {
			for j := 0; j < per; j++ {
				v := wt.NewInt(int64(1000 + i*per + j))
				assert.NoError(t, wt.ListAppend(l, v))
				wt.DecRef(v)
				if j%16 == 0 {
					wt.Checkpoint()
				}
			}
		})
		n, err := th.ListLen(l)
		require.NoError(t, err)
		require.Equal(t, threads*per, n)
		seen := make([]int, threads*per)
		for i := 0; i < n; i++ {
			v, err := th.ListGet(l, i)
			require.NoError(t, err)
			x, err := th.Int(v)
			require.NoError(t, err)
			require.Equal(t, 2, th.RefCount(v), "item %d", i)
			th.DecRef(v)
			require.True(t, x >= 1000 && x < int64(1000+threads*per), "value %d", x)
			seen[x-1000]++
		}
		for x, c := range seen {
			require.Equal(t, 1, c, "value %d seen %d times", x+1000, c)
		}
		th.DecRef(l)
		st := ccStats(th)
		require.Equal(t, 0, st.Live, "%v", st.LiveByType)
		require.Equal(t, st.Allocated, st.Freed)
	})
}

// Objects made on one thread travel through a channel and are released on
// another; the producer also drops references of its own to half of them
// at the same time. Every object is freed exactly once.
func TestCrossThreadRelease(t *testing.T) {
	n := invariants.Scale(4000, 8)
	const batch = 16
	eachModeThread(t, func(t *testing.T, th *Thread) {
		rt := th.Runtime()
		var finalized atomic.Int64
		typ := ccCountingType(t, rt, "Token", &finalized)
		before := ccStats(th)
		ch := make(chan []*Object, 4)
		ccRun(th, 2, func(i int, wt *Thread) {
			if i == 0 { // producer
				var keep []*Object
				for j := 0; j < n; j += batch {
					b := make([]*Object, 0, batch)
					for k := j; k < min(j+batch, n); k++ {
						o := wt.NewInstance(typ)
						f := wt.NewFloat(float64(k))
						assert.NoError(t, wt.SetAttr(o, "v", f))
						wt.DecRef(f)
						if k%2 == 0 {
							keep = append(keep, wt.NewRef(o))
						}
						b = append(b, o)
					}
					ccBlock(wt, func() { ch <- b })
					// Race the consumer's releases of the same objects.
					for _, o := range keep {
						wt.DecRef(o)
					}
					keep = keep[:0]
					wt.Checkpoint()
				}
				close(ch)
				return
			}
			// consumer
			for {
				var b []*Object
				var ok bool
				ccBlock(wt, func() { b, ok = <-ch })
				if !ok {
					return
				}
				for _, o := range b {
					assert.True(t, ccLive(o))
					v, err := wt.GetAttr(o, "v")
					if assert.NoError(t, err) {
						assert.Equal(t, "float", v.Type().Name())
						wt.DecRef(v)
					}
					wt.DecRef(o)
				}
				wt.Checkpoint()
			}
		})
		st := ccStats(th)
		require.Equal(t, st.Allocated, st.Freed, "%v", st.LiveByType)
		require.Equal(t, uint64(2*n), st.Allocated-before.Allocated)
		require.EqualValues(t, n, finalized.Load(), "every Token finalized exactly once")
	})
}

// The thread that made (and, under biased counting, owns) a set of objects
// closes while two other threads still hold them. References dropped
// before the close wait in its merge queue and are merged by Close;
// references dropped after it merge directly. Nothing leaks, every object
// is finalized once, owned floats inside owned lists are freed too.
func TestOwnerClosesFirst(t *testing.T) {
	n := invariants.Scale(2000, 8)
	eachModeThread(t, func(t *testing.T, th *Thread) {
		rt := th.Runtime()
		var finalized atomic.Int64
		typ := ccCountingType(t, rt, "Owned", &finalized)
		before := ccStats(th)

		toA := make(chan []*Object, 1)
		toB := make(chan []*Object, 1)
		aDroppedHalf := make(chan struct{})
		ownerClosed := make(chan struct{})
		aChecked := make(chan struct{})
		var ownerID biasedrc.ThreadID
		var allocs uint64

		var wg sync.WaitGroup
		wg.Add(3)
		go func() { // owner
			defer wg.Done()
			ot := rt.NewThread()
			ownerID = ot.id
			objs := make([]*Object, 0, n)
			for j := 0; j < n; j++ {
				o := ot.NewInstance(typ)
				l := ot.NewList()
				for k := 0; k < 3; k++ {
					f := ot.NewFloat(float64(j*3 + k))
					assert.NoError(t, ot.ListAppend(l, f))
					ot.DecRef(f)
				}
				assert.NoError(t, ot.SetAttr(o, "items", l))
				ot.DecRef(l)
				objs = append(objs, o)
			}
			allocs = uint64(n * 5)
			a := make([]*Object, n)
			b := make([]*Object, n)
			for j, o := range objs {
				a[j] = ot.NewRef(o)
				b[j] = ot.NewRef(o)
			}
			for _, o := range objs {
				ot.DecRef(o) // the owner keeps nothing
			}
			ccBlock(ot, func() {
				toA <- a
				toB <- b
				<-aDroppedHalf
			})
			// A's drops of the first half are queued to us (biased): do
			// not merge them at a safe point, let Close do it.
			ot.Close()
			close(ownerClosed)
		}()
		go func() { // A: drops half before the owner closes, half after
			defer wg.Done()
			at := rt.NewThread()
			var objs []*Object
			ccBlock(at, func() { objs = <-toA })
			for _, o := range objs[:n/2] {
				at.DecRef(o)
			}
			ccBlock(at, func() {
				close(aDroppedHalf)
				<-ownerClosed
			})
			if rt.strategy == biasedrc.Biased {
				assert.False(t, rt.brc.Registered(ownerID))
				o := objs[n/2]
				assert.Equal(t, ownerID, o.rc.Owner(), "not merged before the first drop after Close")
			}
			for j, o := range objs[n/2:] {
				assert.True(t, ccLive(o))
				at.DecRef(o)
				if j == 0 {
					if rt.strategy == biasedrc.Biased {
						// B still holds o: the drop merged it directly.
						assert.Equal(t, biasedrc.Unowned, o.rc.Owner())
						assert.Equal(t, biasedrc.StateMerged, o.rc.SharedState())
					}
					ccBlock(at, func() { close(aChecked) }) // now B may drop too
				}
			}
			at.Close()
		}()
		go func() { // B: drops everything after the owner closed
			defer wg.Done()
			bt := rt.NewThread()
			var objs []*Object
			ccBlock(bt, func() {
				objs = <-toB
				<-ownerClosed
				<-aChecked
			})
			for j := len(objs) - 1; j >= 0; j-- { // the other end first
				o := objs[j]
				assert.True(t, ccLive(o))
				v, err := bt.GetAttr(o, "items")
				if assert.NoError(t, err) {
					assert.Equal(t, "list", v.Type().Name())
					bt.DecRef(v)
				}
				bt.DecRef(o)
				if j%32 == 0 {
					bt.Checkpoint()
				}
			}
			bt.Close()
		}()
		ccBlock(th, wg.Wait)

		st := ccStats(th)
		require.Equal(t, st.Allocated, st.Freed, "%v", st.LiveByType)
		require.Equal(t, allocs, st.Allocated-before.Allocated)
		require.EqualValues(t, n, finalized.Load())
	})
}

// One mortal object shared by four threads that IncRef/DecRef it in a
// loop: its count ends where it started. Then the creator drops its
// reference first and the workers race to drop the last one: Finalize runs
// once and the object is freed once.
func TestSharedObjectRefCount(t *testing.T) {
	const threads = 4
	iters := invariants.Scale(20000, 20)
	rounds := invariants.Scale(50, 5)
	stwEachModeThread(t, nil, func(t *testing.T, th *Thread) {
		rt := th.Runtime()
		var finalized atomic.Int64
		typ := ccCountingType(t, rt, "Shared", &finalized)
		before := ccStats(th)

		o := th.NewInstance(typ)
		start := th.RefCount(o)
		require.Equal(t, 1, start)
		ccRun(th, threads, func(i int, wt *Thread) {
			for j := 0; j < iters; j++ {
				wt.IncRef(o)
				if j%3 == 0 {
					wt.IncRef(o)
					wt.DecRef(o)
				}
				wt.DecRef(o)
				if j%64 == 0 {
					wt.Checkpoint()
				}
			}
		})
		require.Equal(t, start, th.RefCount(o))
		require.Zero(t, finalized.Load())
		th.DecRef(o)
		require.EqualValues(t, 1, finalized.Load())

		// The creator drops its reference first; the workers race to drop
		// the last one. Under biased counting the creator owns the object,
		// so the last drop is queued to it and the object dies when the
		// creator merges its queue at its next safe point.
		for r := 0; r < rounds; r++ {
			o := th.NewInstance(typ)
			for i := 0; i < threads; i++ {
				th.IncRef(o) // one for each worker
			}
			th.DecRef(o)
			var arrived atomic.Int32
			ccRun(th, threads, func(i int, wt *Thread) {
				arrived.Add(1)
				for arrived.Load() < threads {
					wt.Checkpoint()
				}
				for j := 0; j < 64; j++ {
					wt.IncRef(o)
					wt.DecRef(o)
				}
				wt.DecRef(o)
			})
			th.Checkpoint()
			require.EqualValues(t, 2+r, finalized.Load(), "round %d", r)
		}
		st := ccStats(th)
		require.Equal(t, 0, st.Live, "%v", st.LiveByType)
		require.Equal(t, uint64(1+rounds), st.Allocated-before.Allocated)
		require.Equal(t, st.Allocated, st.Freed)
	})
}

// ccValueNames are the type names of the values the dict and instance
// tests store.
var ccValueNames = map[string]bool{"float": true, "str": true, "list": true}

// ccNewValue makes one of the values the dict and instance tests store.
func ccNewValue(th *Thread, i, j int) *Object {
	switch j % 3 {
	case 0:
		return th.NewFloat(float64(i*1_000_000 + j))
	case 1:
		return th.NewStr(fmt.Sprintf("t%d-%d", i, j))
	default:
		f := th.NewFloat(float64(j))
		l := th.NewList(f)
		th.DecRef(f)
		return l
	}
}

// ccCheckValue checks a value read back from a shared container: a live
// object of one of the stored types, whose contents can be read.
func ccCheckValue(t *testing.T, th *Thread, v *Object) {
	if !assert.True(t, ccLive(v), "read a freed object") {
		return
	}
	name := v.Type().Name()
	assert.True(t, ccValueNames[name], "unexpected value type %q", name)
	if name == "list" {
		it, err := th.ListGet(v, 0)
		if assert.NoError(t, err) {
			assert.Equal(t, "float", it.Type().Name())
			th.DecRef(it)
		}
	}
}

// Several threads set, read and delete the same keys of one dict and the
// same attributes of one instance. Every value read is valid, misses are
// ErrKey / ErrAttribute, and the final state is consistent and frees
// cleanly.
func TestConcurrentDictAndAttrs(t *testing.T) {
	const threads = 4
	const nkeys = 8
	iters := invariants.Scale(6000, 10)
	attrNames := []string{"a", "b", "c"}
	eachModeThread(t, func(t *testing.T, th *Thread) {
		rt := th.Runtime()
		typ, err := rt.NewType(TypeSpec{Name: "Box"})
		require.NoError(t, err)
		d := th.NewDict()
		inst := th.NewInstance(typ)
		keys := make([]*Object, nkeys)
		for k := range keys {
			keys[k] = th.NewStr(fmt.Sprintf("key%d", k))
		}
		ccRun(th, threads, func(i int, wt *Thread) {
			for j := 0; j < iters; j++ {
				key := keys[(i+j)%nkeys]
				name := attrNames[(i+j)%len(attrNames)]
				switch (j / nkeys) % 4 {
				case 0, 1:
					v := ccNewValue(wt, i, j)
					assert.NoError(t, wt.DictSet(d, key, v))
					assert.NoError(t, wt.SetAttr(inst, name, v))
					wt.DecRef(v)
				case 2:
					if v, err := wt.DictGet(d, key); err == nil {
						ccCheckValue(t, wt, v)
						wt.DecRef(v)
					} else {
						assert.ErrorIs(t, err, ErrKey)
					}
					if v, err := wt.GetAttr(inst, name); err == nil {
						ccCheckValue(t, wt, v)
						wt.DecRef(v)
					} else {
						assert.ErrorIs(t, err, ErrAttribute)
					}
				case 3:
					if err := wt.DictDel(d, key); err != nil {
						assert.ErrorIs(t, err, ErrKey)
					}
					if j%2 == 0 {
						if err := wt.DelAttr(inst, name); err != nil {
							assert.ErrorIs(t, err, ErrAttribute)
						}
					}
				}
				if j%8 == 0 {
					wt.Checkpoint()
				}
			}
			// A key of its own, set once: it must be there at the end.
			own := wt.NewInt(int64(10_000 + i))
			assert.NoError(t, wt.DictSet(d, own, own))
			assert.NoError(t, wt.SetAttr(inst, fmt.Sprintf("own%d", i), own))
			wt.DecRef(own)
		})

		// The final state: what DictLen says matches what can be read.
		n, err := th.DictLen(d)
		require.NoError(t, err)
		present := 0
		for _, k := range keys {
			v, err := th.DictGet(d, k)
			if err != nil {
				require.ErrorIs(t, err, ErrKey)
				continue
			}
			present++
			ccCheckValue(t, th, v)
			// Held by the dict and by us, and maybe by the instance.
			require.Contains(t, []int{2, 3}, th.RefCount(v))
			th.DecRef(v)
		}
		for i := 0; i < threads; i++ {
			k := th.NewInt(int64(10_000 + i))
			v, err := th.DictGet(d, k)
			require.NoError(t, err)
			require.EqualValues(t, 10_000+i, must(th.Int(v)))
			th.DecRef(v)
			v, err = th.GetAttr(inst, fmt.Sprintf("own%d", i))
			require.NoError(t, err)
			require.EqualValues(t, 10_000+i, must(th.Int(v)))
			th.DecRef(v)
			th.DecRef(k)
		}
		require.Equal(t, present+threads, n)
		kl, err := th.DictKeys(d)
		require.NoError(t, err)
		require.Equal(t, n, must(th.ListLen(kl)))
		th.DecRef(kl)
		for _, name := range attrNames {
			if v, err := th.GetAttr(inst, name); err == nil {
				ccCheckValue(t, th, v)
				th.DecRef(v)
			} else {
				require.ErrorIs(t, err, ErrAttribute)
			}
		}
		for _, k := range keys {
			th.DecRef(k)
		}
		th.DecRef(d)
		th.DecRef(inst)
		st := ccStats(th)
		require.Equal(t, 0, st.Live, "%v", st.LiveByType)
	})
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// ListGet races ListSet on the same index: every reference ListGet returns
// is to a live object and can be dropped; the replaced items die on
// whichever thread drops them last.
func TestListGetRacesListSet(t *testing.T) {
	const readers = 3
	iters := invariants.Scale(20000, 10)
	stwEachModeThread(t, nil, func(t *testing.T, th *Thread) {
		rt := th.Runtime()
		var finalized atomic.Int64
		typ := ccCountingType(t, rt, "Item", &finalized)
		first := th.NewFloat(-1)
		l := th.NewList(first, first)
		th.DecRef(first)
		before := ccStats(th)
		var done atomic.Bool
		var sets atomic.Int64
		ccRun(th, 1+readers, func(i int, wt *Thread) {
			if i == 0 { // writer
				defer done.Store(true)
				for j := 0; j < iters; j++ {
					var v *Object
					if j%4 == 3 {
						v = wt.NewInstance(typ)
					} else {
						v = wt.NewFloat(float64(j))
					}
					assert.NoError(t, wt.ListSet(l, j%2-2, v)) // -2 or -1
					wt.DecRef(v)
					sets.Add(1)
					if j%16 == 0 {
						wt.Checkpoint()
					}
				}
				return
			}
			for j := 0; !done.Load() || j < 100; j++ {
				v, err := wt.ListGet(l, j%2)
				if !assert.NoError(t, err) {
					return
				}
				if !assert.True(t, ccLive(v), "ListGet returned a freed object") {
					return
				}
				switch v.Type().Name() {
				case "float":
					_, err := wt.Float(v)
					assert.NoError(t, err)
				case "Item":
					_, err := wt.GetAttr(v, "missing")
					assert.ErrorIs(t, err, ErrAttribute)
				default:
					t.Errorf("unexpected item type %s", v.Type().Name())
				}
				if j%5 == 0 {
					wt.Checkpoint() // hold it across a safe point
				}
				wt.DecRef(v)
				if j%16 == 0 {
					wt.Checkpoint()
				}
			}
		})
		th.DecRef(l)
		st := ccStats(th)
		require.Equal(t, 0, st.Live, "%v", st.LiveByType)
		require.Equal(t, uint64(iters), st.Allocated-before.Allocated)
		require.EqualValues(t, iters/4, finalized.Load())
	})
}

// WeakRefGet on one thread races the death of the referent on another:
// it returns a live object (a new reference) or nil, never a freed one.
// The callback runs once per referent, and everything is freed.
//
// Half of the referents have a PEP 442 Finalize. In the free-threaded
// modes a WeakRefGet can see such a referent dead (count zero), then alive
// while its finalizer runs on the owner (runFinalizer gives it a count of
// one again, and the weak reference is cleared only after the finalizer),
// and so resurrect it. CPython's free-threaded build refuses that
// (_PyObject_ResurrectStart leaves the shared count zero, so another
// thread's _Py_TryIncref fails); here it is tolerated and counted: the
// object it returns is live, it is not finalized twice, and it is freed
// when the reader drops it.
func TestWeakRefGetRacesDeath(t *testing.T) {
	rounds := invariants.Scale(2000, 10)
	stwEachModeThread(t, nil, func(t *testing.T, th *Thread) {
		rt := th.Runtime()
		var finalized, callbacks, revived atomic.Int64
		plain, err := rt.NewType(TypeSpec{Name: "Target"})
		require.NoError(t, err)
		final := ccCountingType(t, rt, "FinalTarget", &finalized)
		refs := make(chan *Object)
		back := make(chan *Object)
		gotLive := 0
		ccRun(th, 2, func(i int, wt *Thread) {
			if i == 0 { // owner of the referents: makes each one and drops it
				for r := 0; r < rounds; r++ {
					typ := plain
					if r%2 == 1 {
						typ = final
					}
					o := wt.NewInstance(typ)
					f := wt.NewFloat(float64(r))
					assert.NoError(t, wt.SetAttr(o, "v", f))
					wt.DecRef(f)
					wr, err := wt.NewWeakRef(o, func(th *Thread, ref *Object) {
						callbacks.Add(1)
						got, err := th.WeakRefGet(ref)
						assert.NoError(t, err)
						assert.Nil(t, got, "callback: the referent is dead")
					})
					if !assert.NoError(t, err) {
						return
					}
					rr := wt.NewRef(wr) // the reader's reference
					ccBlock(wt, func() { refs <- rr })
					for k := 0; k < r%7; k++ {
						wt.Checkpoint()
					}
					wt.DecRef(o)
					// The reader saw the referent die. Whoever freed it has
					// run the callback by now: wr was alive throughout.
					var got *Object
					ccBlock(wt, func() { got = <-back })
					assert.Same(t, wr, got)
					wt.DecRef(wr)
				}
				close(refs)
				return
			}
			// reader
			for {
				var wr *Object
				var ok bool
				ccBlock(wt, func() { wr, ok = <-refs })
				if !ok {
					return
				}
				for seenDead := false; ; {
					o, err := wt.WeakRefGet(wr)
					if !assert.NoError(t, err) {
						break
					}
					if o == nil {
						if seenDead {
							break // dead twice in a row: dead for good
						}
						seenDead = true
						continue
					}
					if seenDead {
						// Found dead, then alive: only a FinalTarget whose
						// finalizer was running on the owner, its count
						// briefly one again (free-threaded modes), and it
						// is resurrected by this reference (see
						// TestWeakRefGetRacesDeath's doc comment).
						assert.Equal(t, "FinalTarget", o.Type().Name(), "a weak reference came back to life")
						revived.Add(1)
						seenDead = false
					}
					if !assert.True(t, ccLive(o), "WeakRefGet returned a freed object") {
						break
					}
					v, err := wt.GetAttr(o, "v")
					if assert.NoError(t, err) {
						assert.Equal(t, "float", v.Type().Name())
						wt.DecRef(v)
					}
					gotLive++
					if gotLive%3 == 0 {
						wt.Checkpoint() // hold it across a safe point
					}
					wt.DecRef(o)
					wt.Checkpoint()
				}
				wt.DecRef(wr)
				ccBlock(wt, func() { back <- wr })
			}
		})
		st := ccStats(th)
		require.Equal(t, 0, st.Live, "%v", st.LiveByType)
		require.EqualValues(t, rounds, callbacks.Load(), "one callback per referent")
		require.EqualValues(t, rounds/2, finalized.Load())
		t.Logf("live reads: %d, revived during their finalizer: %d", gotLive, revived.Load())
	})
}

// An instance made on one thread dies on another, whose Finalize
// resurrects it (stores self in a list) while its maker keeps reaching
// safe points. The resurrected object must still be tracked, so that a
// cycle it joins later is collected; nothing leaks; Finalize ran once.
func TestFinalizerResurrectsOnAnotherThread(t *testing.T) {
	rounds := invariants.Scale(300, 10)
	stwEachModeThread(t, nil, func(t *testing.T, th *Thread) {
		rt := th.Runtime()
		keep := th.NewList() // where the finalizers put their objects
		var finalized atomic.Int64
		typ, err := rt.NewType(TypeSpec{Name: "Phoenix", Finalize: func(th *Thread, self *Object) {
			finalized.Add(1)
			assert.NoError(t, th.ListAppend(keep, self))
		}})
		require.NoError(t, err)
		objs := make(chan *Object)
		taken := make(chan struct{})
		dropped := make(chan struct{})
		var makerDone atomic.Bool
		ccRun(th, 2, func(i int, wt *Thread) {
			if i == 0 { // maker: its young list holds the objects
				defer makerDone.Store(true)
				for r := 0; r < rounds; r++ {
					o := wt.NewInstance(typ)
					ccBlock(wt, func() {
						objs <- o
						<-taken // the killer holds its own reference now
					})
					wt.DecRef(o) // the killer's reference is the last
					for k := 0; k < r%5; k++ {
						wt.Checkpoint() // drain what the killer queued
					}
					ccBlock(wt, func() { <-dropped })
				}
				close(objs)
				return
			}
			for { // killer
				var o *Object
				var ok bool
				ccBlock(wt, func() { o, ok = <-objs })
				if !ok {
					return
				}
				wt.IncRef(o)
				ccBlock(wt, func() { taken <- struct{}{} })
				for k := 0; k < 3; k++ {
					wt.Checkpoint()
				}
				wt.DecRef(o) // dies here (or on the maker): Finalize resurrects it
				ccBlock(wt, func() { dropped <- struct{}{} })
			}
		})
		require.EqualValues(t, rounds, finalized.Load())
		n, err := th.ListLen(keep)
		require.NoError(t, err)
		require.Equal(t, rounds, n)
		// Every resurrected object is tracked: make each a cycle and let
		// the collector find them.
		for i := 0; i < n; i++ {
			o, err := th.ListGet(keep, i)
			require.NoError(t, err)
			require.True(t, rt.GC().IsTracked(o), "resurrected object %d is not tracked", i)
			require.NoError(t, th.SetAttr(o, "self", o))
			th.DecRef(o)
		}
		th.DecRef(keep)
		got, err := th.Collect(2)
		require.NoError(t, err)
		require.Equal(t, rounds, got)
		require.EqualValues(t, rounds, finalized.Load(), "Finalize runs once per object")
		st := ccStats(th)
		require.Equal(t, 0, st.Live, "%v", st.LiveByType)
	})
}

// Stats counts the per-object lock acquisitions that found the lock held
// (free-threaded), and those that had to block; under the GIL there are
// none.
func TestLockContentionStats(t *testing.T) {
	eachModeThread(t, func(t *testing.T, th *Thread) {
		rt := th.Runtime()
		shared := th.NewList()
		var stop atomic.Bool
		var wg sync.WaitGroup
		for range 2 {
			wg.Go(func() {
				wt := rt.NewThread()
				defer wt.Close()
				v := wt.NewInt(1 << 40)
				defer wt.DecRef(v)
				for i := 0; !stop.Load(); i++ {
					if err := wt.ListAppend(shared, v); err != nil {
						panic(err)
					}
					if o, err := wt.ListPop(shared, -1); err == nil {
						wt.DecRef(o)
					}
					if i%64 == 0 {
						wt.Checkpoint()
					}
				}
			})
		}
		deadline := time.Now().Add(10 * time.Second)
		ccBlock(th, func() {
			for time.Now().Before(deadline) && rt.Mode() == FreeThreaded && rt.Stats().LockContended == 0 {
				time.Sleep(time.Millisecond)
			}
			time.Sleep(5 * time.Millisecond)
			stop.Store(true)
			wg.Wait()
		})
		th.DecRef(shared)
		st := rt.Stats()
		if rt.Mode() == GIL {
			require.Zero(t, st.LockContended)
			require.Zero(t, st.LockParked)
			return
		}
		require.Positive(t, st.LockContended, "two threads on one list never met at its lock")
		require.LessOrEqual(t, st.LockParked, st.LockContended)
	})
}

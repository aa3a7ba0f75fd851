package runtime

import (
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nogil-lab/nogil/biasedrc"
	"github.com/nogil-lab/nogil/internal/invariants"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Audit 15: threads, the GIL and the free-threaded build, against API.md
// ("Threads", "References and objects", the Conventions on threads and
// misuse) and DESIGN.md §1 (switch interval, drop requests, forced
// switching; biased counting, merge queues, per-object locks). Only what
// the other tests leave out. Timing assertions are lower bounds only (the
// protocol guarantees them); upper bounds are generous deadlines.

// audit15Deadline bounds every wait of these tests: far more than any
// hand-over needs, so that only a hang reaches it.
const audit15Deadline = 20 * time.Second

// audit15HoldWithoutSafePoint does work on th that reaches no safe point
// (no Checkpoint, Detach or container allocation) until until() is true
// or the deadline passes, and reports whether until() became true.
func audit15HoldWithoutSafePoint(t *testing.T, th *Thread, until func() bool) bool {
	t.Helper()
	l := th.NewList(th.Runtime().None())
	deadline := time.Now().Add(audit15Deadline)
	ok := false
	for k := 0; time.Now().Before(deadline); k++ {
		v := th.NewInt(int64(1000 + k%1000)) // an int is no container
		require.NoError(t, th.ListSet(l, 0, v))
		th.DecRef(v)
		it, err := th.ListGet(l, 0)
		require.NoError(t, err)
		th.IncRef(it)
		th.DecRef(it)
		th.DecRef(it)
		if until() {
			ok = true
			break
		}
	}
	th.DecRef(l)
	return ok
}

// ---------------------------------------------------------------- the GIL

// The GIL changes hands only at Checkpoint and Detach (API.md "Threads";
// CPython switches only at the eval breaker): a thread that wants it
// waits, however long the holder runs without a safe point, even after its
// drop request; the holder's next Checkpoint hands it over and gets it
// back. Without a GIL the other thread attaches while this one runs.
func TestAudit15NoHandOverBetweenSafePoints(t *testing.T) {
	eachMode(t, func(t *testing.T, rt *Runtime) {
		defer stwWatchdog(t, 60*time.Second)()
		th := rt.NewThread()
		var attached atomic.Bool
		done := make(chan struct{})
		go func() {
			defer close(done)
			w := rt.NewThread() // attached when it returns
			attached.Store(true)
			x := w.NewInt(1 << 40)
			w.DecRef(x)
			w.Close()
		}()
		if rt.Mode() != GIL {
			require.True(t, audit15HoldWithoutSafePoint(t, th, attached.Load),
				"free-threaded: another thread attaches while this one runs")
		} else {
			interval := rt.Config().SwitchInterval
			require.Equal(t, 5*time.Millisecond, interval)
			start := time.Now()
			require.True(t, audit15HoldWithoutSafePoint(t, th, func() bool {
				return time.Since(start) > 4*interval && rt.GILStats().DropRequests > 0
			}), "the waiting thread never asked for the GIL")
			require.False(t, attached.Load(), "the GIL changed hands without a safe point")
			before := rt.GILStats()
			th.Checkpoint()
			require.True(t, attached.Load(), "Checkpoint with a drop request pending hands the GIL over")
			after := rt.GILStats()
			require.GreaterOrEqual(t, after.Switches, before.Switches+2, "there and back")
			require.Greater(t, after.ForcedSwitches, before.ForcedSwitches)
		}
		ccBlock(th, func() { <-done })
		th.Close()
	})
}

// A thread that wants the GIL waits a whole switch interval before it asks
// the holder to drop it (CPython's take_gil: COND_TIMED_WAIT for
// gil->interval, then SET_GIL_DROP_REQUEST; sys.getswitchinterval() is
// 0.005 by default). A Config's 0 means those 5 ms; an explicit interval
// is honoured. Lower bounds only: the protocol guarantees them.
func TestAudit15WaiterWaitsOneSwitchInterval(t *testing.T) {
	for _, iv := range []time.Duration{0, 20 * time.Millisecond} {
		t.Run(fmt.Sprint(iv), func(t *testing.T) {
			defer stwWatchdog(t, 60*time.Second)()
			rt, err := New(Config{Mode: GIL, SwitchInterval: iv})
			require.NoError(t, err)
			want := iv
			if want == 0 {
				want = 5 * time.Millisecond
			}
			require.Equal(t, want, rt.Config().SwitchInterval)
			th := rt.NewThread()
			th.Detach()
			w := rt.NewThread()
			w.Detach()
			th.Attach()

			var waited atomic.Int64
			done := make(chan struct{})
			go func() {
				defer close(done)
				t0 := time.Now()
				w.Attach()
				waited.Store(int64(time.Since(t0)) + 1)
				w.Close()
			}()
			// The holder is busy at safe points: it hands the GIL over as
			// soon as it is asked, and not before.
			deadline := time.Now().Add(audit15Deadline)
			for waited.Load() == 0 && time.Now().Before(deadline) {
				th.Checkpoint()
			}
			got := time.Duration(waited.Load())
			require.NotZero(t, got, "the waiter never got the GIL from a busy holder")
			require.GreaterOrEqual(t, got, want, "the waiter got the GIL before a switch interval had passed")
			st := rt.GILStats()
			require.GreaterOrEqual(t, st.LongestWait, want)
			require.Positive(t, st.DropRequests)
			require.Positive(t, st.ForcedSwitches)
			require.LessOrEqual(t, st.ForcedSwitches, st.DropRequests)
			ccBlock(th, func() { <-done })
			th.Close()
			require.NoError(t, rt.Close())
		})
	}
}

// Forced switching on Detach: with a drop request pending, the releasing
// thread does not return from Detach until another thread has actually
// taken the GIL (DESIGN.md §1; CPython's drop_gil waits on switch_cond
// when _PY_GIL_DROP_REQUEST_BIT is set, also from PyEval_SaveThread).
func TestAudit15DetachWithDropRequestWaitsForTaker(t *testing.T) {
	defer stwWatchdog(t, 60*time.Second)()
	rt, err := New(Config{Mode: GIL, Debug: true})
	require.NoError(t, err)
	th := rt.NewThread()
	th.Detach()
	w := rt.NewThread()
	w.Detach()
	th.Attach()
	release := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		w.Attach()
		<-release // holds the GIL until told
		w.Close()
	}()
	require.True(t, audit15HoldWithoutSafePoint(t, th, func() bool { return rt.GILStats().DropRequests > 0 }),
		"the waiter never asked for the GIL")
	before := rt.GILStats()
	th.Detach()
	after := rt.GILStats()
	require.True(t, rt.gil.HeldBy(w.gilh), "Detach returned before the waiter took the GIL")
	require.Equal(t, before.Switches+1, after.Switches)
	require.Equal(t, before.ForcedSwitches+1, after.ForcedSwitches)
	close(release)
	th.Attach() // after w's Close released the GIL
	<-done
	th.Close()
	require.NoError(t, rt.Close())
}

// Between two safe points the GIL holder runs alone: two threads that
// read-modify-write one list item (and a plain Go counter) with a
// Checkpoint between updates lose no update, however often the GIL moves
// (CPython: without a release between the read and the write, a += under
// the GIL is not interleaved).
func TestAudit15GILNoLostUpdatesBetweenSafePoints(t *testing.T) {
	eachModeWith(t, stwFastModes()[:1], []bool{true, false}, nil, withThread(func(t *testing.T, th *Thread) {
		defer stwWatchdog(t, 60*time.Second)()
		rt := th.Runtime()
		l := th.NewList(th.NewInt(0))
		const want = 3 // hand-overs each thread must see
		var (
			plain    int // protected by the GIL alone
			inside   atomic.Int32
			progress [2]atomic.Int64
			seen     [2]atomic.Int64
			total    atomic.Int64
		)
		deadline := time.Now().Add(audit15Deadline)
		ccRun(th, 2, func(i int, wt *Thread) {
			other := &progress[1-i]
			last := other.Load()
			n := 0
			for (n < 500 || seen[0].Load() < want || seen[1].Load() < want) && time.Now().Before(deadline) {
				if k := inside.Add(1); k != 1 {
					assert.Fail(t, "two threads between safe points at once", "%d", k)
				}
				it, err := wt.ListGet(l, 0)
				if !assert.NoError(t, err) {
					return
				}
				v, err := wt.Int(it)
				assert.NoError(t, err)
				wt.DecRef(it)
				nv := wt.NewInt(v + 1)
				assert.NoError(t, wt.ListSet(l, 0, nv))
				wt.DecRef(nv)
				plain++
				inside.Add(-1)
				n++
				progress[i].Add(1)
				if o := other.Load(); o != last {
					last = o
					seen[i].Add(1)
				}
				wt.Checkpoint()
			}
			total.Add(int64(n))
		})
		require.GreaterOrEqual(t, seen[0].Load(), int64(want), "thread 0 never saw the other run")
		require.GreaterOrEqual(t, seen[1].Load(), int64(want), "thread 1 never saw the other run")
		it, err := th.ListGet(l, 0)
		require.NoError(t, err)
		require.Equal(t, total.Load(), must(th.Int(it)), "lost updates")
		th.DecRef(it)
		require.Equal(t, int(total.Load()), plain)
		require.Positive(t, rt.GILStats().Switches)
		th.DecRef(l)
		apiRequireLive(t, th, map[string]int{})
	}))
}

// Close of a detached thread attaches it first (thread.go): under the GIL
// it waits for the holder's safe point; without one it does not.
func TestAudit15CloseOfDetachedThreadAttachesFirst(t *testing.T) {
	eachMode(t, func(t *testing.T, rt *Runtime) {
		defer stwWatchdog(t, 60*time.Second)()
		th := rt.NewThread()
		th.Detach()
		d := rt.NewThread()
		x := d.NewList() // outlives d: handed to th
		d.Detach()
		th.Attach()
		var closing atomic.Bool
		done := make(chan struct{})
		go func() {
			defer close(done)
			closing.Store(true)
			d.Close()
		}()
		isDone := func() bool {
			select {
			case <-done:
				return true
			default:
				return false
			}
		}
		if rt.Mode() != GIL {
			require.True(t, audit15HoldWithoutSafePoint(t, th, isDone), "free-threaded: Close does not wait for another thread")
		} else {
			require.True(t, audit15HoldWithoutSafePoint(t, th, func() bool {
				return closing.Load() && rt.GILStats().DropRequests > 0
			}))
			require.False(t, isDone(), "Close of a detached thread returned without the GIL")
			before := rt.GILStats()
			th.Checkpoint()
			require.GreaterOrEqual(t, rt.GILStats().Switches, before.Switches+2)
		}
		ccBlock(th, func() { <-done })
		require.Equal(t, 1, th.RefCount(x))
		require.NoError(t, th.ListAppend(x, rt.None()))
		th.DecRef(x)
		apiRequireLive(t, th, map[string]int{})
		th.Close()
	})
}

// ---------------------------------------------------------------- threads

// A Thread is used by one goroutine at a time, not by one goroutine: a
// detached thread handed over (through a channel) to another goroutine
// attaches and carries on there, with its objects and counts, and can be
// closed there.
func TestAudit15ThreadHandOffBetweenGoroutines(t *testing.T) {
	rounds := invariants.Scale(200, 4)
	eachMode(t, func(t *testing.T, rt *Runtime) {
		th := rt.NewThread()
		id := th.ID()
		l := th.NewList()
		th.Detach()
		toB, toA := make(chan int), make(chan int)
		done := make(chan struct{})
		step := func(r int) bool {
			th.Attach()
			defer th.Detach()
			if !assert.Equal(t, id, th.ID()) {
				return false
			}
			v := th.NewInt(int64(1000 + r))
			ok := assert.NoError(t, th.ListAppend(l, v))
			th.DecRef(v)
			ok = ok && assert.Equal(t, 1, th.RefCount(l))
			th.IncRef(l)
			ok = ok && assert.Equal(t, 2, th.RefCount(l))
			th.DecRef(l)
			n, err := th.ListLen(l)
			return ok && assert.NoError(t, err) && assert.Equal(t, r+1, n)
		}
		go func() { // goroutine B: odd rounds, then the end
			defer close(done)
			for r := range toB {
				step(r)
				toA <- r + 1
			}
			th.Attach()
			assert.Equal(t, 1, th.RefCount(l))
			for i := 0; i < rounds; i++ {
				it, err := th.ListGet(l, i)
				if assert.NoError(t, err) {
					assert.EqualValues(t, 1000+i, must(th.Int(it)))
					assert.Equal(t, 2, th.RefCount(it))
					th.DecRef(it)
				}
			}
			th.DecRef(l)
			th.Close() // on a goroutine other than the one that made it
		}()
		for r := 0; r < rounds; r += 2 { // this goroutine: even rounds
			require.True(t, step(r))
			toB <- r + 1
			require.Equal(t, r+2, <-toA)
		}
		close(toB)
		<-done
		other := rt.NewThread()
		apiRequireLive(t, other, map[string]int{})
		other.Close()
	})
}

// Stats() and GC().Count() are exact as of each thread's last safe point,
// and Detach and Close are safe points (API.md "Runtime"): what a thread
// made and then detached without a Checkpoint is counted, and so is what
// it freed before it closed.
func TestAudit15DetachAndClosePublishCounts(t *testing.T) {
	eachMode(t, func(t *testing.T, rt *Runtime) {
		th := rt.NewThread()
		th.Checkpoint()
		c0, _, _ := rt.GC().Count()
		made, checked, freed := make(chan struct{}), make(chan struct{}), make(chan struct{})
		go func() {
			w := rt.NewThread()
			var objs []*Object
			for i := 0; i < 5; i++ {
				objs = append(objs, w.NewList())
			}
			for i := 0; i < 3; i++ {
				objs = append(objs, w.NewInt(int64(1000+i)))
			}
			objs = append(objs, w.NewFloat(1.5), w.NewFloat(2.5))
			w.Detach() // no Checkpoint
			close(made)
			<-checked
			w.Attach()
			for _, o := range objs {
				w.DecRef(o)
			}
			w.Close() // no Checkpoint either
			close(freed)
		}()
		ccBlock(th, func() { <-made })
		st := rt.Stats()
		require.Equal(t, 10, st.Live, "%v", st.LiveByType)
		require.Equal(t, map[string]int{"list": 5, "int": 3, "float": 2}, st.LiveByType)
		n0, _, _ := rt.GC().Count()
		require.Equal(t, c0+5, n0, "five tracked lists counted at Detach")
		close(checked)
		ccBlock(th, func() { <-freed })
		st = rt.Stats()
		require.Zero(t, st.Live, "%v", st.LiveByType)
		require.Equal(t, st.Allocated, st.Freed)
		n0, _, _ = rt.GC().Count()
		require.Equal(t, c0, n0, "the frees counted at Close")
		th.Close()
	})
}

// DESIGN.md §1, biased counting: a non-owner's drop of the owner's last
// counted reference is queued to the owner, which merges and frees the
// object at its next safe point (Checkpoint, or Close which drains its
// queue) — on the owner, as CPython's _Py_brc_merge_refcounts does. With
// the GIL or atomic counts the dropping thread frees it at once.
func TestAudit15QueuedDropFreedAtOwnerSafePoint(t *testing.T) {
	eachMode(t, func(t *testing.T, rt *Runtime) {
		var ranOn []*Thread // written by Finalize, read after a sync
		typ, err := rt.NewType(TypeSpec{Name: "Q", Finalize: func(th *Thread, _ *Object) { ranOn = append(ranOn, th) }})
		require.NoError(t, err)
		biased := rt.strategy == biasedrc.Biased
		for _, byClose := range []bool{false, true} {
			ranOn = nil
			owner := rt.NewThread()
			o := owner.NewInstance(typ)
			ccBlock(owner, func() {
				done := make(chan struct{})
				go func() {
					defer close(done)
					d := rt.NewThread()
					d.DecRef(o) // the only reference, made by owner
					d.Close()
				}()
				<-done
			})
			if biased {
				require.Empty(t, ranOn, "freed before its owner reached a safe point")
				q := rt.Stats().QueuedMerges
				if byClose {
					owner.Close()
				} else {
					owner.Checkpoint()
				}
				require.Equal(t, []*Thread{owner}, ranOn, "byClose=%v: the owner frees it at its safe point", byClose)
				require.Greater(t, rt.Stats().QueuedMerges, q)
			} else {
				require.Len(t, ranOn, 1, "freed at once by the dropping thread")
				require.NotSame(t, owner, ranOn[0])
				if byClose {
					owner.Close()
				} else {
					owner.Checkpoint()
				}
			}
			if !byClose {
				apiRequireLive(t, owner, map[string]int{})
				owner.Close()
			}
		}
	})
}

// ---------------------------------------------------------------- references

// Immortal objects (None, True, False, small ints, interned strs,
// GC().Garbage()) are shared by every thread: the same object whichever
// thread asks, counts that never change whatever IncRef/DecRef any thread
// makes, even more DecRefs than IncRefs, and never freed; -6 and 257 are
// mortal, one object per call.
func TestAudit15ImmortalsAcrossThreads(t *testing.T) {
	const workers = 4
	iters := invariants.Scale(2000, 4)
	eachModeThread(t, func(t *testing.T, th *Thread) {
		rt := th.Runtime()
		var small [262]*Object
		for v := -5; v <= 256; v++ {
			small[v+5] = th.NewInt(int64(v))
		}
		immortals := []*Object{rt.None(), rt.True(), rt.False(), small[0], small[5], small[261], th.Intern("audit15"), rt.GC().Garbage()}
		counts := make([]int, len(immortals))
		for i, o := range immortals {
			counts[i] = th.RefCount(o)
			require.GreaterOrEqual(t, counts[i], immortalFloor)
		}
		base := apiStats(th)
		var mortal atomic.Int64
		ccRun(th, workers, func(i int, wt *Thread) {
			for j := 0; j < iters; j++ {
				for _, o := range immortals {
					if j%2 == 0 {
						wt.IncRef(o)
					}
					wt.DecRef(o)
					wt.DecRef(o)
				}
				v := (j*7+i)%262 - 5
				s := wt.NewInt(int64(v))
				assert.Same(t, small[v+5], s, "NewInt(%d) is shared", v)
				wt.DecRef(s)
				if j%100 == 0 {
					a, b := wt.NewInt(257), wt.NewInt(-6)
					a2 := wt.NewInt(257)
					assert.NotSame(t, a, a2)
					assert.Equal(t, 1, wt.RefCount(a))
					assert.Equal(t, 1, wt.RefCount(b))
					assert.Same(t, immortals[6], wt.Intern("audit15"))
					for _, o := range []*Object{a, b, a2} {
						wt.DecRef(o)
					}
					mortal.Add(3)
				}
				if j%64 == 0 {
					wt.Checkpoint()
				}
			}
		})
		for i, o := range immortals {
			require.Equal(t, counts[i], th.RefCount(o), "%s: the count never changes", th.Repr(o))
		}
		require.Equal(t, "None", th.Repr(rt.None()))
		require.Equal(t, "'audit15'", th.Repr(immortals[6]))
		require.Equal(t, "[]", th.Repr(rt.GC().Garbage()))
		require.Equal(t, "256", th.Repr(small[261]))
		st := apiStats(th)
		require.Equal(t, uint64(mortal.Load()), st.Allocated-base.Allocated, "immortals allocate nothing")
		require.Zero(t, st.Live, "%v", st.LiveByType)
	})
}

// RefCount is the true count (API.md): the owner's references plus every
// other thread's, while those threads hold them, whoever asks; when the
// owner drops its own while others hold theirs, the last of the others'
// drops frees the object once.
func TestAudit15RefCountCountsEveryThreadsReferences(t *testing.T) {
	const workers, k = 4, 50
	eachMode(t, func(t *testing.T, rt *Runtime) {
		var finalized atomic.Int64
		typ := ccCountingType(t, rt, "Held", &finalized)
		th := rt.NewThread()
		o := th.NewInstance(typ)
		var holding sync.WaitGroup
		holding.Add(workers)
		drop := make(chan struct{})
		var wg sync.WaitGroup
		wg.Add(workers)
		for i := 0; i < workers; i++ {
			go func() {
				defer wg.Done()
				wt := rt.NewThread()
				for j := 0; j < k; j++ {
					assert.Same(t, o, wt.NewRef(o))
				}
				wt.Detach()
				holding.Done()
				<-drop
				wt.Attach()
				for j := 0; j < k; j++ {
					wt.DecRef(o)
				}
				wt.Close()
			}()
		}
		ccBlock(th, holding.Wait)
		require.Equal(t, 1+workers*k, th.RefCount(o), "the owner sees the others' references")
		th.IncRef(o)
		th.IncRef(o)
		require.Equal(t, 3+workers*k, th.RefCount(o))
		// Another thread sees the same count (biased: it stops the world
		// to read the owner's part).
		th.Detach()
		other := rt.NewThread()
		require.Equal(t, 3+workers*k, other.RefCount(o))
		other.Close()
		th.Attach()
		for i := 0; i < 3; i++ {
			th.DecRef(o) // the owner keeps none
		}
		require.Zero(t, finalized.Load())
		close(drop)
		ccBlock(th, wg.Wait)
		th.Checkpoint()
		require.EqualValues(t, 1, finalized.Load(), "the others' last drop freed it, once")
		apiRequireLive(t, th, map[string]int{})
		th.Close()
	})
}

// Debug mode catches every use after free (API.md Conventions), also when
// another thread freed the object: the message names the misuse and the
// type, whichever thread makes the mistake.
func TestAudit15UseAfterFreeAcrossThreads(t *testing.T) {
	eachModeDebug(t, []bool{true}, func(t *testing.T, rt *Runtime) {
		foo, err := rt.NewType(TypeSpec{Name: "Foo"})
		require.NoError(t, err)
		a := rt.NewThread()
		l, d, inst := a.NewList(), a.NewDict(), a.NewInstance(foo)
		ccBlock(a, func() {
			done := make(chan struct{})
			go func() {
				defer close(done)
				b := rt.NewThread()
				for _, o := range []*Object{l, d, inst} {
					b.DecRef(o) // a's only references
				}
				b.Close()
			}()
			<-done
		})
		a.Checkpoint() // biased: a merges the queued drops and frees them
		apiRequireLive(t, a, map[string]int{})
		x := a.NewInt(1000)
		for _, c := range []struct {
			typ string
			fn  func(th *Thread)
		}{
			{"list", func(th *Thread) { th.DecRef(l) }},
			{"list", func(th *Thread) { th.IncRef(l) }},
			{"list", func(th *Thread) { th.RefCount(l) }},
			{"list", func(th *Thread) { _ = th.ListAppend(l, x) }},
			{"dict", func(th *Thread) { _, _ = th.DictLen(d) }},
			{"dict", func(th *Thread) { _ = th.DictSet(d, x, x) }},
			{"Foo", func(th *Thread) { _, _ = th.GetAttr(inst, "a") }},
			{"Foo", func(th *Thread) { th.NewList(x, inst) }},
		} {
			msg := "nogil: use after free of a " + c.typ + " object"
			require.PanicsWithValue(t, msg, func() { c.fn(a) }, "on the owner")
			a.Detach()
			c2 := rt.NewThread()
			require.PanicsWithValue(t, msg, func() { c.fn(c2) }, "on a third thread")
			c2.Close()
			a.Attach()
		}
		require.Equal(t, 1, a.RefCount(x), "no reference was taken")
		a.DecRef(x)
		apiRequireLive(t, a, map[string]int{})
		a.Close()
	})
}

// ---------------------------------------------------------------- containers shared by threads

// Four threads pop from one list until it is empty: every item comes out
// exactly once, each with the list's reference handed over, and an empty
// list says so as Python does.
func TestAudit15ConcurrentListPopEachOnce(t *testing.T) {
	const workers = 4
	n := invariants.Scale(2000, 4)
	eachModeThread(t, func(t *testing.T, th *Thread) {
		l := th.NewList()
		for i := 0; i < n; i++ {
			v := th.NewInt(int64(1000 + i))
			require.NoError(t, th.ListAppend(l, v))
			th.DecRef(v)
		}
		got := make([][]int64, workers)
		ccRun(th, workers, func(i int, wt *Thread) {
			idx := 0
			if i%2 == 0 {
				idx = -1
			}
			for j := 0; ; j++ {
				v, err := wt.ListPop(l, idx)
				if err != nil {
					assert.ErrorIs(t, err, ErrIndex)
					assert.Equal(t, "IndexError: pop from empty list", err.Error())
					return
				}
				if assert.True(t, ccLive(v)) {
					x, err := wt.Int(v)
					assert.NoError(t, err)
					got[i] = append(got[i], x)
					wt.DecRef(v)
				}
				if j%32 == 0 {
					wt.Checkpoint()
				}
			}
		})
		var all []int64
		for _, g := range got {
			all = append(all, g...)
		}
		sort.Slice(all, func(a, b int) bool { return all[a] < all[b] })
		require.Len(t, all, n)
		for i, x := range all {
			require.EqualValues(t, 1000+i, x, "item %d popped once", i)
		}
		require.Zero(t, must(th.ListLen(l)))
		th.DecRef(l)
		apiRequireLive(t, th, map[string]int{})
	})
}

// Four threads insert distinct keys into one dict (it resizes many times
// meanwhile) and read back keys that were there before they started:
// nothing is lost, no present key is ever missed, every value is right.
func TestAudit15ConcurrentDictSetDistinctKeys(t *testing.T) {
	const workers, nbase = 4, 16
	per := invariants.Scale(400, 4)
	key := func(th *Thread, i, j int) *Object {
		if j%2 == 0 {
			return th.NewStr(fmt.Sprintf("w%d-%d", i, j))
		}
		return th.NewInt(int64(1_000_000*(i+1) + j))
	}
	eachModeThread(t, func(t *testing.T, th *Thread) {
		d := th.NewDict()
		base := make([]*Object, nbase)
		for b := range base {
			base[b] = th.NewStr(fmt.Sprintf("base%d", b))
			v := th.NewInt(int64(5000 + b))
			require.NoError(t, th.DictSet(d, base[b], v))
			th.DecRef(v)
		}
		ccRun(th, workers, func(i int, wt *Thread) {
			for j := 0; j < per; j++ {
				k, v := key(wt, i, j), wt.NewInt(int64(10*j+i))
				assert.NoError(t, wt.DictSet(d, k, v))
				wt.DecRef(k)
				wt.DecRef(v)
				b := (i + j) % nbase
				got, err := wt.DictGet(d, base[b])
				if assert.NoError(t, err, "base key %d missed during a resize", b) {
					assert.EqualValues(t, 5000+b, must(wt.Int(got)))
					wt.DecRef(got)
				}
				if j%16 == 0 {
					wt.Checkpoint()
				}
			}
		})
		require.Equal(t, nbase+workers*per, must(th.DictLen(d)))
		keys := must(th.DictKeys(d))
		require.Equal(t, nbase+workers*per, must(th.ListLen(keys)))
		th.DecRef(keys)
		for i := 0; i < workers; i++ {
			for j := 0; j < per; j++ {
				k := key(th, i, j)
				v, err := th.DictGet(d, k)
				require.NoError(t, err, "%s lost", th.Repr(k))
				require.EqualValues(t, 10*j+i, must(th.Int(v)))
				th.DecRef(v)
				th.DecRef(k)
			}
		}
		for _, b := range base {
			th.DecRef(b)
		}
		th.DecRef(d)
		apiRequireLive(t, th, map[string]int{})
	})
}

// Four threads set distinct attributes of one instance and race to
// overwrite one shared attribute: every attribute is there with its value,
// and every overwritten value was freed (Live is exact).
func TestAudit15ConcurrentSetAttrOneInstance(t *testing.T) {
	const workers = 4
	per := invariants.Scale(100, 2)
	eachModeThread(t, func(t *testing.T, th *Thread) {
		rt := th.Runtime()
		box, err := rt.NewType(TypeSpec{Name: "Box"})
		require.NoError(t, err)
		inst := th.NewInstance(box)
		ccRun(th, workers, func(i int, wt *Thread) {
			for j := 0; j < per; j++ {
				v := wt.NewInt(int64(1_000_000 + 1000*i + j))
				assert.NoError(t, wt.SetAttr(inst, fmt.Sprintf("a%d_%d", i, j), v))
				wt.DecRef(v)
				s := wt.NewInt(int64(2_000_000 + 1000*i + j))
				assert.NoError(t, wt.SetAttr(inst, "shared", s))
				wt.DecRef(s)
				if got, err := wt.GetAttr(inst, "shared"); assert.NoError(t, err) {
					assert.True(t, ccLive(got))
					wt.DecRef(got)
				}
				if j%8 == 0 {
					wt.Checkpoint()
				}
			}
		})
		apiRequireLive(t, th, map[string]int{"Box": 1, "int": workers*per + 1})
		for i := 0; i < workers; i++ {
			for j := 0; j < per; j++ {
				v, err := th.GetAttr(inst, fmt.Sprintf("a%d_%d", i, j))
				require.NoError(t, err)
				require.EqualValues(t, 1_000_000+1000*i+j, must(th.Int(v)))
				th.DecRef(v)
			}
		}
		s, err := th.GetAttr(inst, "shared")
		require.NoError(t, err)
		sv := must(th.Int(s))
		require.True(t, sv >= 2_000_000 && (sv-2_000_000)%1000 == int64(per-1), "the last value one thread set: %d", sv)
		th.DecRef(s)
		th.DecRef(inst)
		apiRequireLive(t, th, map[string]int{})
	})
}

// Two-object operations lock both objects in address order (DESIGN.md
// §1, CPython's Py_BEGIN_CRITICAL_SECTION2): a.extend(b) and b.extend(a)
// on two threads at once, again and again, never deadlock, and each
// extension is atomic (its destination gets a whole snapshot of the
// source).
func TestAudit15ListExtendBothWaysNoDeadlock(t *testing.T) {
	const k = 8
	iters := invariants.Scale(1000, 4)
	eachModeThread(t, func(t *testing.T, th *Thread) {
		defer stwWatchdog(t, 60*time.Second)()
		mk := func(from int) *Object {
			l := th.NewList()
			for i := 0; i < k; i++ {
				v := th.NewInt(int64(from + i))
				require.NoError(t, th.ListAppend(l, v))
				th.DecRef(v)
			}
			return l
		}
		a, b := mk(1000), mk(2000)
		lists := [2]*Object{a, b}
		ccRun(th, 3, func(i int, wt *Thread) {
			var dst, src *Object
			if i < 2 {
				dst, src = lists[i], lists[1-i]
			} else {
				dst = wt.NewList() // extends a private list from both
				defer wt.DecRef(dst)
			}
			for j := 0; j < iters; j++ {
				if i == 2 {
					src = lists[j%2]
				}
				n0 := must(wt.ListLen(dst))
				if !assert.NoError(t, wt.ListExtend(dst, src)) {
					return
				}
				n1 := must(wt.ListLen(dst))
				// The source's own first k items came along whole.
				if assert.GreaterOrEqual(t, n1-n0, k) {
					for m := 0; m < k; m += k - 1 {
						it, err := wt.ListGet(dst, n0+m)
						if assert.NoError(t, err) {
							want := 1000 + m
							if src == b {
								want = 2000 + m
							}
							assert.EqualValues(t, want, must(wt.Int(it)))
							wt.DecRef(it)
						}
					}
				}
				// Only this thread shrinks dst: back to its own items.
				floor := k
				if i == 2 {
					floor = 0
				}
				for n := n1; n > floor; n-- {
					it, err := wt.ListPop(dst, -1)
					if !assert.NoError(t, err) {
						return
					}
					wt.DecRef(it)
				}
				if j%16 == 0 {
					wt.Checkpoint()
				}
			}
		})
		require.Equal(t, "[1000, 1001, 1002, 1003, 1004, 1005, 1006, 1007]", th.Repr(a))
		require.Equal(t, "[2000, 2001, 2002, 2003, 2004, 2005, 2006, 2007]", th.Repr(b))
		th.DecRef(a)
		th.DecRef(b)
		apiRequireLive(t, th, map[string]int{})
	})
}

// The containers a closed thread made stay usable by every other thread
// at once (API.md: Close hands over what the thread owns): appends, keys
// and attributes from three threads all land, the counts stay true, and
// everything is freed at the end.
func TestAudit15ClosedThreadsObjectsSharedByOthers(t *testing.T) {
	const workers = 3
	per := invariants.Scale(200, 4)
	eachModeThread(t, func(t *testing.T, th *Thread) {
		rt := th.Runtime()
		box, err := rt.NewType(TypeSpec{Name: "Box"})
		require.NoError(t, err)
		var got [3]*Object
		ccBlock(th, func() {
			done := make(chan struct{})
			go func() {
				defer close(done)
				maker := rt.NewThread()
				l, d, inst := maker.NewList(), maker.NewDict(), maker.NewInstance(box)
				x := maker.NewFloat(0.5)
				assert.NoError(t, maker.ListAppend(l, x))
				assert.NoError(t, maker.DictSet(d, x, x))
				assert.NoError(t, maker.SetAttr(inst, "x", x))
				maker.DecRef(x)
				maker.Close() // hands l, d and inst (its references) to th
				got = [3]*Object{l, d, inst}
			}()
			<-done
		})
		l, d, inst := got[0], got[1], got[2]
		for _, o := range got {
			require.Equal(t, 1, th.RefCount(o))
		}
		ccRun(th, workers, func(i int, wt *Thread) {
			for j := 0; j < per; j++ {
				v := wt.NewInt(int64(1_000_000*(i+1) + j))
				assert.NoError(t, wt.ListAppend(l, v))
				assert.NoError(t, wt.DictSet(d, v, v))
				if j%4 == 0 {
					assert.NoError(t, wt.SetAttr(inst, fmt.Sprintf("a%d_%d", i, j), v))
				}
				wt.DecRef(v)
				for _, o := range got {
					wt.IncRef(o)
					wt.DecRef(o)
				}
				if j%16 == 0 {
					wt.Checkpoint()
				}
			}
		})
		for _, o := range got {
			require.Equal(t, 1, th.RefCount(o), "%s: the count is still true", o.Type().Name())
		}
		require.Equal(t, 1+workers*per, must(th.ListLen(l)))
		require.Equal(t, 1+workers*per, must(th.DictLen(d)))
		v, err := th.GetAttr(inst, fmt.Sprintf("a%d_%d", workers-1, 0))
		require.NoError(t, err)
		require.EqualValues(t, 1_000_000*workers, must(th.Int(v)))
		// Held by l, by d as key and value, by inst, and by us.
		require.Equal(t, 5, th.RefCount(v))
		th.DecRef(v)
		apiRequireLive(t, th, map[string]int{"list": 1, "dict": 1, "Box": 1, "float": 1, "int": workers * per})
		for _, o := range got {
			th.DecRef(o)
		}
		apiRequireLive(t, th, map[string]int{})
	})
}

// Threads come and go while the objects they made are held by others
// (DESIGN.md §7): each short-lived thread shares its objects through one
// list and drops some made by threads that have already exited. Every
// object is finalized exactly once and nothing leaks.
func TestAudit15ThreadChurnSharedObjects(t *testing.T) {
	const workers = 4
	lives := invariants.Scale(25, 5)
	eachModeThread(t, func(t *testing.T, th *Thread) {
		rt := th.Runtime()
		var finalized atomic.Int64
		typ := ccCountingType(t, rt, "Node", &finalized)
		shared := th.NewList()
		var made atomic.Int64
		var wg sync.WaitGroup
		wg.Add(workers)
		for w := 0; w < workers; w++ {
			go func() {
				defer wg.Done()
				for life := 0; life < lives; life++ {
					wt := rt.NewThread()
					for j := 0; j < 4; j++ {
						o := wt.NewInstance(typ)
						f := wt.NewFloat(float64(j))
						items := wt.NewList(f)
						assert.NoError(t, wt.SetAttr(o, "items", items))
						wt.DecRef(items)
						wt.DecRef(f)
						assert.NoError(t, wt.ListAppend(shared, o))
						wt.DecRef(o)
						made.Add(1)
					}
					// Drop two of the oldest, most likely made by a thread
					// that has exited.
					for j := 0; j < 2; j++ {
						if o, err := wt.ListPop(shared, 0); err == nil {
							assert.True(t, ccLive(o))
							v, err := wt.GetAttr(o, "items")
							if assert.NoError(t, err) {
								assert.Equal(t, 1, must(wt.ListLen(v)))
								wt.DecRef(v)
							}
							wt.DecRef(o)
						}
					}
					wt.Close()
				}
			}()
		}
		ccBlock(th, wg.Wait)
		n := must(th.ListLen(shared))
		require.EqualValues(t, made.Load()-finalized.Load(), n, "the popped ones died, the rest are held")
		th.DecRef(shared)
		th.Checkpoint()
		require.EqualValues(t, made.Load(), finalized.Load(), "every Node finalized once")
		apiRequireLive(t, th, map[string]int{})
	})
}

// The owner of a list appends to it while other threads append too. Each
// append is atomic (DESIGN.md §1: per-object locks make each list
// operation atomic): nothing is lost, nothing is duplicated. The owner
// gives each worker a reference of its own before the worker starts (as
// CPython's threading.Thread(args=(l,)) does): a thread that holds the
// only reference to an object skips its lock (needsLock; CPython's
// _PyObject_IsUniquelyReferenced), so an object other threads use at the
// same time must not be reachable through one reference only (runtime
// doc, "Sharing objects between threads").
func TestAudit15OwnerAndBorrowersAppendConcurrently(t *testing.T) {
	const workers = 3
	per := invariants.Scale(3000, 6)
	eachModeThread(t, func(t *testing.T, th *Thread) {
		rt := th.Runtime()
		l := th.NewList()
		var wg sync.WaitGroup
		wg.Add(workers)
		for i := 1; i <= workers; i++ {
			mine := th.NewRef(l) // the worker's reference, made before it starts
			go func() {
				defer wg.Done()
				wt := rt.NewThread()
				defer wt.Close()
				defer wt.DecRef(mine)
				for j := 0; j < per; j++ {
					v := wt.NewInt(int64(1_000_000*i + j))
					assert.NoError(t, wt.ListAppend(l, v))
					wt.DecRef(v)
					if j%16 == 0 {
						wt.Checkpoint()
					}
				}
			}()
		}
		for j := 0; j < per; j++ { // the owner, at the same time
			v := th.NewInt(int64(j))
			require.NoError(t, th.ListAppend(l, v))
			th.DecRef(v)
			if j%16 == 0 {
				th.Checkpoint()
			}
		}
		ccBlock(th, wg.Wait)
		n := must(th.ListLen(l))
		require.Equal(t, (workers+1)*per, n, "appends lost")
		seen := map[int64]int{}
		for i := 0; i < n; i++ {
			it, err := th.ListGet(l, i)
			require.NoError(t, err)
			seen[must(th.Int(it))]++
			th.DecRef(it)
		}
		require.Len(t, seen, (workers+1)*per)
		th.DecRef(l)
		apiRequireLive(t, th, map[string]int{})
	})
}

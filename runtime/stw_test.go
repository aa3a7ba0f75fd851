package runtime

import (
	"errors"
	rtdebug "runtime/debug"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nogil-lab/nogil/biasedrc"
	"github.com/nogil-lab/nogil/internal/invariants"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Stopping the world, the GIL's forced switching, collections while
// threads run, and Close with open threads.
//
// A stopped world is checked with plain (non-atomic) per-thread counters
// that a busy thread increments only while it is attached: the stopper
// reads them at the start and at the end of its pause and they must not
// move. The race detector judges the same thing from the other side: the
// reads are only race-free if the stop handshake orders them after the
// busy threads' last increments and before their next ones.

// stwFastModes are allModes with a 1 ms switch interval in GIL mode, for
// tests whose threads wait for each other while others are busy.
func stwFastModes() []modeCase {
	modes := make([]modeCase, len(allModes))
	copy(modes, allModes)
	for i := range modes {
		if modes[i].cfg.Mode == GIL {
			modes[i].cfg.SwitchInterval = time.Millisecond
		}
	}
	return modes
}

// stwEachModeThread is eachModeThread over stwFastModes (with Debug, and
// without it so that freed slots are reused), with cfg changed by adjust
// (may be nil).
func stwEachModeThread(t *testing.T, adjust func(*Config), fn func(t *testing.T, th *Thread)) {
	t.Helper()
	eachModeWith(t, stwFastModes(), []bool{true, false}, adjust, withThread(fn))
}

// stwWatchdog fails loudly, with every goroutine's stack, if the test has
// not called the returned stop function within d: a deadlocked stop the
// world would otherwise hang until go test's timeout.
func stwWatchdog(t *testing.T, d time.Duration) (stop func()) {
	name := t.Name()
	timer := time.AfterFunc(d, func() {
		rtdebug.SetTraceback("all")
		panic("deadlock? " + name + " did not finish within " + d.String())
	})
	return func() { timer.Stop() }
}

// stwCounter is one busy thread's progress: a plain counter written only
// by its thread, only while attached. Padded against false sharing.
type stwCounter struct {
	n int64
	_ [56]byte
}

// stwBusy is a set of busy threads: each increments its counter and
// reaches a safe point, in a loop, until stopped. Some of them (every
// toggleEvery-th iteration, if toggleEvery > 0) also detach and attach
// again.
type stwBusy struct {
	counters []stwCounter
	stop     atomic.Bool
	started  chan struct{}
	wg       sync.WaitGroup
}

func stwStartBusy(rt *Runtime, n int, toggleEvery func(i int) int) *stwBusy {
	b := &stwBusy{counters: make([]stwCounter, n), started: make(chan struct{}, n)}
	b.wg.Add(n)
	for i := 0; i < n; i++ {
		go func() {
			defer b.wg.Done()
			wt := rt.NewThread()
			c := &b.counters[i]
			c.n++
			b.started <- struct{}{}
			every := 0
			if toggleEvery != nil {
				every = toggleEvery(i)
			}
			for j := 1; !b.stop.Load(); j++ {
				c.n++
				if every > 0 && j%every == 0 {
					wt.Detach()
					wt.Attach()
				} else {
					wt.Checkpoint()
				}
			}
			wt.Close()
		}()
	}
	return b
}

// waitStarted waits (detached) until every busy thread has counted once.
func (b *stwBusy) waitStarted(th *Thread) {
	ccBlock(th, func() {
		for range b.counters {
			<-b.started
		}
	})
}

// snapshot reads the counters. Only while the world is stopped.
func (b *stwBusy) snapshot() []int64 {
	s := make([]int64, len(b.counters))
	for i := range b.counters {
		s[i] = b.counters[i].n
	}
	return s
}

// end stops the busy threads and waits for them (detached).
func (b *stwBusy) end(th *Thread) {
	b.stop.Store(true)
	ccBlock(th, b.wg.Wait)
}

// stwPause stops the world, checks for a while that no busy thread makes
// progress, and restarts it. It returns the counters seen in the pause.
func stwPause(t *testing.T, th *Thread, b *stwBusy, hold time.Duration) []int64 {
	restart := th.StopTheWorld()
	first := b.snapshot()
	deadline := time.Now().Add(hold)
	for time.Now().Before(deadline) {
		// Busy-wait: the stopper must not block on another thread.
	}
	last := b.snapshot()
	restart()
	assert.Equal(t, first, last, "a thread made progress while the world was stopped")
	return last
}

// Attached, busy threads stop at their next safe point; between pauses
// they run again.
func TestStopTheWorldBusyThreads(t *testing.T) {
	pauses := invariants.Scale(100, 5)
	stwEachModeThread(t, nil, func(t *testing.T, th *Thread) {
		defer stwWatchdog(t, 30*time.Second)()
		// As many busy threads as this machine has CPUs (2): with more,
		// Go's scheduler leaves one waiting for its preemption tick, up to
		// 20 ms, and the progress check below mostly measures that.
		b := stwStartBusy(th.Runtime(), 2, nil)
		b.waitStarted(th)
		for p := 0; p < pauses; p++ {
			seen := stwPause(t, th, b, 200*time.Microsecond)
			if p%10 == 0 {
				// Let them run: each must get somewhere. A goroutine woken
				// by the restart that only gets a CPU once the next stop was
				// requested waits again: on a busier machine it may take a
				// few tries, run longer and longer between the pauses.
				giveUp := time.Now().Add(5 * time.Second)
				for run := time.Millisecond; ; run = min(2*run, 64*time.Millisecond) {
					ccBlock(th, func() { time.Sleep(run) })
					now := stwPause(t, th, b, 0)
					moved := 0
					for i := range now {
						if now[i] > seen[i] {
							moved++
						}
					}
					if moved == len(now) {
						break
					}
					if time.Now().After(giveUp) {
						t.Fatalf("busy threads made no progress between pauses: %v then %v", seen, now)
					}
				}
			}
			th.Checkpoint()
		}
		b.end(th)
	})
}

// Detached threads (blocked on a channel) are suspended without being
// waited for; one that wakes up and attaches during the pause waits until
// the world restarts.
func TestStopTheWorldDetachedThreads(t *testing.T) {
	const n = 3
	stwEachModeThread(t, nil, func(t *testing.T, th *Thread) {
		defer stwWatchdog(t, 30*time.Second)()
		rt := th.Runtime()
		release := make(chan struct{})
		ready := make(chan struct{}, n)
		var attached atomic.Int32
		var wg sync.WaitGroup
		wg.Add(n)
		for i := 0; i < n; i++ {
			go func() {
				defer wg.Done()
				wt := rt.NewThread()
				ccBlock(wt, func() {
					ready <- struct{}{}
					<-release
				}) // Attach waits for the restart
				attached.Add(1)
				l := wt.NewList()
				wt.DecRef(l)
				wt.Close()
			}()
		}
		ccBlock(th, func() {
			for range n {
				<-ready
			}
		})
		// Every worker is detached, or about to be: this must not wait
		// for them.
		restart := th.StopTheWorld()
		close(release)
		time.Sleep(20 * time.Millisecond) // attached, not waiting on anyone
		require.Zero(t, attached.Load(), "a thread attached while the world was stopped")
		l := th.NewList() // the stopper works normally
		th.DecRef(l)
		restart()
		ccBlock(th, wg.Wait)
		require.EqualValues(t, n, attached.Load())
	})
}

// Busy threads that checkpoint and threads that detach and attach all the
// time, paused over and over.
func TestStopTheWorldWhileThreadsDetachAndAttach(t *testing.T) {
	pauses := invariants.Scale(200, 10)
	stwEachModeThread(t, nil, func(t *testing.T, th *Thread) {
		defer stwWatchdog(t, 30*time.Second)()
		b := stwStartBusy(th.Runtime(), 4, func(i int) int { return []int{0, 1, 3, 7}[i] })
		b.waitStarted(th)
		for p := 0; p < pauses; p++ {
			stwPause(t, th, b, 50*time.Microsecond)
			if p%4 == 0 {
				ccBlock(th, func() {})
			} else {
				th.Checkpoint()
			}
		}
		b.end(th)
	})
}

// Two threads request stop-the-world at the same time, over and over,
// while others are busy: each request succeeds, one at a time.
func TestStopTheWorldTwoStoppers(t *testing.T) {
	rounds := invariants.Scale(200, 10)
	stwEachModeThread(t, nil, func(t *testing.T, th *Thread) {
		defer stwWatchdog(t, 30*time.Second)()
		rt := th.Runtime()
		b := stwStartBusy(rt, 2, func(i int) int { return i * 5 })
		b.waitStarted(th)
		var inside atomic.Int32
		stops := 0 // plain: only a stopper writes it, in its pause
		begin := make(chan struct{})
		ccRun(th, 2, func(i int, wt *Thread) {
			ccBlock(wt, func() { <-begin })
			for r := 0; r < rounds; r++ {
				restart := wt.StopTheWorld()
				if !assert.EqualValues(t, 1, inside.Add(1), "two threads stopped the world at once") {
					return
				}
				stops++
				first := b.snapshot()
				for k := 0; k < 200; k++ {
					_ = k // spin briefly, attached
				}
				assert.Equal(t, first, b.snapshot())
				inside.Add(-1)
				restart()
				wt.Checkpoint()
			}
		}, func() { close(begin) })
		require.Equal(t, 2*rounds, stops)
		b.end(th)
	})
}

// NewThread during a pause: the new thread is registered but cannot
// attach (NewThread does not return) until the world restarts.
func TestStopTheWorldNewThread(t *testing.T) {
	stwEachModeThread(t, nil, func(t *testing.T, th *Thread) {
		defer stwWatchdog(t, 30*time.Second)()
		rt := th.Runtime()
		b := stwStartBusy(rt, 1, nil)
		b.waitStarted(th)
		var created atomic.Bool
		done := make(chan struct{})
		restart := th.StopTheWorld()
		go func() {
			defer close(done)
			nt := rt.NewThread()
			created.Store(true)
			d := nt.NewDict()
			k := nt.NewStr("k")
			assert.NoError(t, nt.DictSet(d, k, k))
			nt.DecRef(k)
			nt.DecRef(d)
			nt.Close()
		}()
		time.Sleep(20 * time.Millisecond)
		require.False(t, created.Load(), "NewThread returned while the world was stopped")
		restart()
		ccBlock(th, func() { <-done })
		require.True(t, created.Load())
		b.end(th)
	})
}

// RefCount of an object another live thread owns stops the world (biased
// counting) to read the owner's plain part: with that owner busy, or
// detached, it neither deadlocks nor races.
func TestRefCountOfObjectOwnedByBusyThread(t *testing.T) {
	iters := invariants.Scale(200, 10)
	stwEachModeThread(t, nil, func(t *testing.T, th *Thread) {
		defer stwWatchdog(t, 30*time.Second)()
		rt := th.Runtime()
		objs := make(chan *Object)
		var stop atomic.Bool
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			ot := rt.NewThread()
			o := ot.NewList()
			ot.IncRef(o) // the main thread's reference
			ccBlock(ot, func() { objs <- o })
			for j := 0; !stop.Load(); j++ {
				ot.IncRef(o) // the owner's local part moves all the time
				ot.DecRef(o)
				if j%100 == 50 {
					ccBlock(ot, func() { time.Sleep(10 * time.Microsecond) })
				} else {
					ot.Checkpoint()
				}
			}
			ot.DecRef(o)
			ot.Close()
		}()
		var o *Object
		ccBlock(th, func() { o = <-objs })
		for i := 0; i < iters; i++ {
			n := th.RefCount(o)
			if rt.strategy == biasedrc.Atomic {
				// No pause: the owner's IncRef may be in flight.
				require.Contains(t, []int{2, 3}, n)
			} else {
				// The owner is stopped (biased) or does not hold the GIL,
				// between an IncRef and its DecRef never.
				require.Equal(t, 2, n)
			}
			th.Checkpoint()
		}
		stop.Store(true)
		ccBlock(th, wg.Wait)
		require.Equal(t, 1, th.RefCount(o))
		th.DecRef(o)
	})
}

// Collections, explicit and automatic (tiny thresholds), while threads make
// cycles, share a list and free each other's objects. Nothing leaks.
func TestCollectWhileThreadsRun(t *testing.T) {
	iters := invariants.Scale(3000, 10)
	stwEachModeThread(t, func(c *Config) { c.GCThresholds = [3]int{50, 5, 5} }, func(t *testing.T, th *Thread) {
		defer stwWatchdog(t, 60*time.Second)()
		rt := th.Runtime()
		var finalized atomic.Int64
		typ := ccCountingType(t, rt, "Node", &finalized)
		shared := th.NewList()
		var done atomic.Int32
		ccRun(th, 3, func(i int, wt *Thread) {
			defer done.Add(1)
			for j := 0; j < iters; j++ {
				switch j % 4 {
				case 0: // a two-node cycle, dropped at once
					a, b := wt.NewInstance(typ), wt.NewInstance(typ)
					assert.NoError(t, wt.SetAttr(a, "peer", b))
					assert.NoError(t, wt.SetAttr(b, "peer", a))
					wt.DecRef(a)
					wt.DecRef(b)
				case 1: // a self-referencing list, through the shared one
					l := wt.NewList()
					assert.NoError(t, wt.ListAppend(l, l))
					assert.NoError(t, wt.ListAppend(shared, l))
					wt.DecRef(l)
				case 2: // take someone's list and drop it
					if l, err := wt.ListPop(shared, 0); err == nil {
						assert.True(t, ccLive(l))
						assert.Equal(t, "list", l.Type().Name())
						wt.DecRef(l)
					}
				case 3:
					if j%64 == 3 && i == 0 {
						_, err := wt.Collect(j % 3)
						assert.NoError(t, err)
					}
					wt.Checkpoint()
				}
			}
		}, func() {
			// The main thread collects too, while they run.
			for done.Load() < 3 {
				th.Attach()
				_, err := th.Collect(0)
				require.NoError(t, err)
				th.Detach()
				time.Sleep(100 * time.Microsecond)
			}
		})
		th.DecRef(shared)
		_, err := th.Collect(2)
		require.NoError(t, err)
		st := ccStats(th)
		require.Equal(t, 0, st.Live, "%v", st.LiveByType)
		require.EqualValues(t, 3*2*((iters+3)/4), finalized.Load(), "every Node finalized once")
	})
}

// GIL mode: two threads that never detach, only reach safe points, both
// make progress: a waiter's drop request makes the holder yield, and
// forced switching keeps it from taking the GIL straight back.
func TestGILForcedSwitching(t *testing.T) {
	rt, err := New(Config{Mode: GIL, SwitchInterval: time.Millisecond, Debug: true})
	require.NoError(t, err)
	defer stwWatchdog(t, 30*time.Second)()
	const want = 10 // switches each thread must see
	var counters [2]atomic.Int64
	var seen [2]atomic.Int64
	deadline := time.Now().Add(10 * time.Second)
	var wg sync.WaitGroup
	wg.Add(2)
	for i := 0; i < 2; i++ {
		go func() {
			defer wg.Done()
			th := rt.NewThread()
			defer th.Close()
			other := &counters[1-i]
			last := other.Load()
			for seen[0].Load() < want || seen[1].Load() < want {
				counters[i].Add(1)
				if o := other.Load(); o != last {
					// The other thread ran since we last looked: the GIL
					// went there and came back.
					last = o
					seen[i].Add(1)
				}
				th.Checkpoint()
				if time.Now().After(deadline) {
					return
				}
			}
		}()
	}
	wg.Wait()
	require.GreaterOrEqual(t, seen[0].Load(), int64(want), "thread 0 saw %d switches", seen[0].Load())
	require.GreaterOrEqual(t, seen[1].Load(), int64(want), "thread 1 saw %d switches", seen[1].Load())
	st := rt.gil.Stats()
	require.Positive(t, st.ForcedSwitches)
	require.NoError(t, rt.Close())
}

// Close with a thread still open returns an error at once, whether the
// thread is attached or detached (and in GIL mode holding the GIL), and
// the runtime stays usable.
func TestCloseWithOpenThreads(t *testing.T) {
	eachMode(t, func(t *testing.T, rt *Runtime) {
		th := rt.NewThread()
		l := th.NewList()
		th.Detach()
		th2 := rt.NewThread() // attached; holds the GIL in GIL mode
		start := time.Now()
		err := rt.Close()
		require.Less(t, time.Since(start), time.Second)
		require.Error(t, err)
		require.True(t, errors.Is(err, ErrThreadsOpen), "%v", err)
		require.Contains(t, err.Error(), "2 thread(s) still open")

		// Another goroutine's Close while th2 is attached: same answer.
		errc := make(chan error)
		go func() { errc <- rt.Close() }()
		select {
		case err := <-errc:
			require.ErrorIs(t, err, ErrThreadsOpen)
		case <-time.After(5 * time.Second):
			t.Fatal("Close blocked while a thread was attached")
		}

		th2.Close()
		err = rt.Close()
		require.ErrorIs(t, err, ErrThreadsOpen)
		require.Contains(t, err.Error(), "1 thread(s) still open")
		th.Attach()
		n, err := th.ListLen(l) // still usable
		require.NoError(t, err)
		require.Zero(t, n)
		th.DecRef(l)
		th.Close()
	})
}

// The end of a container's allocation is a safe point for the collector:
// a free-threaded thread that allocates in a loop and never calls
// Checkpoint still stops for another thread (CPython's eval breaker is
// checked at every call). Under the GIL it is not a place to hand the
// GIL over: the looping thread keeps it until it leaves.
func TestAllocationIsASafePoint(t *testing.T) {
	giLoops := invariants.Scale(20000, 2000)
	stwEachModeThread(t, nil, func(t *testing.T, th *Thread) {
		defer stwWatchdog(t, 30*time.Second)()
		rt := th.Runtime()
		rt.GC().Disable()
		gilMode := rt.Mode() == GIL
		var progress stwCounter // written by the allocating thread while attached
		var stop atomic.Bool
		started := make(chan struct{})
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			wt := rt.NewThread()
			close(started)
			for !stop.Load() && (!gilMode || progress.n < int64(giLoops)) {
				wt.DecRef(wt.NewList())
				wt.DecRef(wt.NewTuple(wt.NewInt(1)))
				progress.n++
			}
			wt.Close()
		}()
		ccBlock(th, func() { <-started })
		if gilMode {
			// Attaching took the GIL: only after the loop, which never
			// reached a Checkpoint, ended.
			require.Equal(t, int64(giLoops), progress.n, "the GIL changed hands inside the loop")
		} else {
			// Without the safe point the stop below would wait forever
			// (the watchdog would fire).
			for range 3 {
				restart := th.StopTheWorld()
				first := progress.n
				th.DecRef(th.NewList()) // the stopper's own allocation does not park it
				for deadline := time.Now().Add(time.Millisecond); time.Now().Before(deadline); {
				}
				last := progress.n
				restart()
				require.Equal(t, first, last, "the allocating thread ran while the world was stopped")
				ccBlock(th, func() { time.Sleep(time.Millisecond) })
			}
		}
		stop.Store(true)
		ccBlock(th, wg.Wait)
	})
}

// WorldStats counts the worlds stopped and the parks they cost the other
// threads (free-threaded); under the GIL it stays zero.
func TestWorldStats(t *testing.T) {
	stwEachModeThread(t, nil, func(t *testing.T, th *Thread) {
		defer stwWatchdog(t, 30*time.Second)()
		rt := th.Runtime()
		require.Zero(t, rt.WorldStats())
		b := stwStartBusy(rt, 1, nil)
		b.waitStarted(th)
		const pauses = 3
		for range pauses {
			stwPause(t, th, b, 2*time.Millisecond)
			ccBlock(th, func() { time.Sleep(time.Millisecond) })
		}
		b.end(th)
		ws := rt.WorldStats()
		if rt.Mode() == GIL {
			require.Zero(t, ws, "the GIL holder is the stopped world")
			return
		}
		require.Equal(t, uint64(pauses), ws.Stops)
		// The busy thread parks once per pause, unless it was detached
		// (toggling) or not yet back from the previous one.
		require.GreaterOrEqual(t, ws.Parks, uint64(1))
		require.LessOrEqual(t, ws.Parks, uint64(pauses))
		require.GreaterOrEqual(t, ws.MaxPark, 2*time.Millisecond, "a park lasts at least the pause it waited out")
		require.GreaterOrEqual(t, ws.Parked, ws.MaxPark)
		require.LessOrEqual(t, ws.Parked, time.Duration(ws.Parks)*ws.MaxPark)
	})
}

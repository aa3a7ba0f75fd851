package gil

import (
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/nogil-lab/nogil/internal/invariants"
	"github.com/nogil-lab/nogil/internal/leaktest"
	"github.com/stretchr/testify/require"
)

func TestMain(m *testing.M) { leaktest.Main(m) }

func TestNewInterval(t *testing.T) {
	require.Equal(t, DefaultInterval, New(0).Interval())
	require.Equal(t, 5*time.Millisecond, DefaultInterval)
	g := New(3 * time.Millisecond)
	require.Equal(t, 3*time.Millisecond, g.Interval())
	g.SetInterval(7 * time.Microsecond)
	require.Equal(t, 7*time.Microsecond, g.Interval())
	require.Equal(t, Stats{}, g.Stats())
}

func TestMisusePanics(t *testing.T) {
	require.PanicsWithValue(t, "gil: New with a negative switch interval (-1ns)", func() { New(-1) })
	g := New(0)
	require.PanicsWithValue(t, "gil: SetInterval with a non-positive switch interval (0s)", func() { g.SetInterval(0) })
	require.PanicsWithValue(t, "gil: SetInterval with a non-positive switch interval (-5ms)", func() { g.SetInterval(-5 * time.Millisecond) })
	require.Equal(t, DefaultInterval, g.Interval(), "a rejected SetInterval must not change the interval")

	a, b := g.NewHandle(), g.NewHandle()
	// Nobody holds it.
	require.PanicsWithValue(t, "gil: Release by a thread that does not hold the GIL", func() { g.Release(a) })
	require.PanicsWithValue(t, "gil: Yield by a thread that does not hold the GIL", func() { g.Yield(a) })

	g.Acquire(a)
	require.PanicsWithValue(t, "gil: Acquire by a thread that already holds the GIL", func() { g.Acquire(a) })
	require.PanicsWithValue(t, "gil: Release by a thread that does not hold the GIL", func() { g.Release(b) })
	require.PanicsWithValue(t, "gil: Yield by a thread that does not hold the GIL", func() { g.Yield(b) })
	other := New(0).NewHandle()
	require.PanicsWithValue(t, "gil: Acquire with a handle that belongs to a different GIL", func() { g.Acquire(other) })

	// The panics left the GIL usable and still held by a.
	require.True(t, g.HeldBy(a))
	require.False(t, g.Yield(a))
	g.Release(a)
	g.Acquire(b)
	g.Release(b)
	require.Equal(t, uint64(2), g.Stats().Acquisitions)
}

func TestAcquireWhileWaitingPanics(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := New(time.Millisecond)
		a, b := g.NewHandle(), g.NewHandle()
		g.Acquire(a)
		done := make(chan struct{})
		go func() {
			g.Acquire(b)
			g.Release(b)
			close(done)
		}()
		synctest.Wait() // b is blocked in Acquire
		require.PanicsWithValue(t, "gil: Acquire by a thread that is already waiting for the GIL", func() { g.Acquire(b) })
		g.Release(a)
		waitClosed(t, done)
		require.False(t, g.HeldBy(b))
	})
}

func TestHeldBy(t *testing.T) {
	g := New(0)
	a, b := g.NewHandle(), g.NewHandle()
	require.False(t, g.HeldBy(a))
	require.False(t, g.HeldBy(nil))
	g.Acquire(a)
	require.True(t, g.HeldBy(a))
	require.False(t, g.HeldBy(b))
	require.False(t, g.HeldBy(nil))
	g.Release(a)
	require.False(t, g.HeldBy(a))
}

// TestMutualExclusion runs several threads that mutate plain (non-atomic)
// shared state while holding the GIL: some take and release it per
// operation, some hold it and yield at safe points. A GIL that let two
// threads in at once, or that handed over without a happens-before edge,
// fails the exact counts or is reported by the race detector.
func TestMutualExclusion(t *testing.T) {
	const threads = 4
	n := invariants.Scale(20000, 10)
	g := New(50 * time.Microsecond) // short, so that drop requests and forced switches happen
	var (
		counter    int // plain: protected by the GIL
		inside     int // plain: threads currently inside the critical section
		violations int // plain: times a thread found another inside
		perThread  [threads]int
	)
	enter := func(id int) {
		if inside != 0 {
			violations++
		}
		inside++
		counter++
		perThread[id]++
		if counter%64 == 0 {
			runtime.Gosched() // give a broken lock a chance to let someone in
		}
		inside--
	}
	var wg sync.WaitGroup
	for id := range threads {
		wg.Go(func() {
			h := g.NewHandle()
			if id%2 == 0 {
				// Take and release the GIL around every operation.
				for range n {
					g.Acquire(h)
					enter(id)
					g.Release(h)
				}
				return
			}
			// Hold the GIL and yield at safe points.
			g.Acquire(h)
			for range n {
				enter(id)
				if g.DropRequested() {
					g.Yield(h)
				}
			}
			g.Release(h)
		})
	}
	wg.Wait()
	require.Zero(t, violations)
	require.Equal(t, threads*n, counter)
	for id := range threads {
		require.Equal(t, n, perThread[id], "thread %d", id)
	}
	s := g.Stats()
	require.GreaterOrEqual(t, s.Acquisitions, uint64(threads/2*n+threads/2))
	require.LessOrEqual(t, s.ForcedSwitches, s.DropRequests)
	require.LessOrEqual(t, s.Switches, s.Acquisitions)
}

// busyResult is what one busy thread reports.
type busyResult struct {
	ops      int             // units of work done
	switches int             // Yields that switched
	maxWait  time.Duration   // longest time off the GIL: first Acquire, or a Yield that switched
	waits    []time.Duration // every such time, in order
	badOrder int             // switched Yields after which no other thread had held the GIL
}

// runBusy is a runtime thread that holds the GIL and only gives it up at
// safe points: loop { work; if DropRequested { Yield } }. Every take of the
// GIL appends the thread's id to log (a plain slice protected by the GIL), so
// forced switching can be checked: after a Yield that switched, the entry
// that follows the yielder's last one must be another thread's. stop is
// called with the GIL held, so it may read every thread's busyResult.
func runBusy(g *GIL, id int, stop func() bool, work func(), log *[]int, r *busyResult) {
	h := g.NewHandle()
	start := time.Now()
	g.Acquire(h)
	r.maxWait = time.Since(start)
	r.waits = append(r.waits, r.maxWait)
	*log = append(*log, id)
	for !stop() {
		work()
		r.ops++
		if !g.DropRequested() {
			continue
		}
		n := len(*log)
		t0 := time.Now()
		if !g.Yield(h) {
			continue
		}
		d := time.Since(t0)
		r.maxWait = max(r.maxWait, d)
		r.waits = append(r.waits, d)
		r.switches++
		if len(*log) == n || (*log)[n] == id {
			r.badOrder++
		}
		*log = append(*log, id)
	}
	g.Release(h)
}

// TestBusyThreadsSynctest: two threads that only yield at safe points both
// make progress, the GIL alternates once per interval, and (in the bubble's
// fake time, which is exact) nobody is off the GIL for longer than one
// interval plus one unit of work between safe points.
func TestBusyThreadsSynctest(t *testing.T) {
	for _, interval := range []time.Duration{5 * time.Millisecond, time.Millisecond} {
		t.Run(interval.String(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				const (
					work     = 30 * time.Microsecond // one unit of work between safe points
					duration = 200 * time.Millisecond
				)
				g := New(interval)
				start := time.Now()
				stop := func() bool { return time.Since(start) >= duration }
				var (
					log []int
					res [2]busyResult
					wg  sync.WaitGroup
				)
				for id := range res {
					wg.Go(func() { runBusy(g, id, stop, func() { time.Sleep(work) }, &log, &res[id]) })
				}
				wg.Wait()

				minSwitches := int(duration/(interval+work))/2 - 2
				for id, r := range res {
					require.Positive(t, r.ops, "thread %d made no progress", id)
					require.GreaterOrEqual(t, r.switches, minSwitches, "thread %d", id)
					require.LessOrEqual(t, r.maxWait, interval+work, "thread %d waited too long", id)
					require.Zero(t, r.badOrder, "thread %d took the GIL back before anyone else", id)
				}
				// Every request was served by a forced switch: a switched
				// Yield, or the final Release of the thread that stopped first.
				s := g.Stats()
				yields := uint64(res[0].switches + res[1].switches)
				require.GreaterOrEqual(t, s.ForcedSwitches, yields)
				require.LessOrEqual(t, s.ForcedSwitches, yields+1)
				require.Equal(t, s.ForcedSwitches, s.DropRequests)
				require.LessOrEqual(t, s.LongestWait, interval+work)
			})
		})
	}
}

// spin is about d of busy work (no blocking, no scheduler calls).
func spin(d time.Duration) {
	for start := time.Now(); time.Since(start) < d; {
	}
}

// TestBusyThreadsWallClock is the same with real time and real busy work
// (~1µs between safe points). The machine may be loaded (other test binaries,
// the race detector, two cores), so the threads run until each has switched
// a few times; correctness (progress, forced-switch order) must hold in every
// run, while the typical (median) time off the GIL is checked with a
// generous margin and the run is repeated up to three times before a slow
// median counts as a failure. The exact bound is TestBusyThreadsSynctest's.
func TestBusyThreadsWallClock(t *testing.T) {
	const (
		interval    = 5 * time.Millisecond
		minDuration = 200 * time.Millisecond
		maxDuration = 10 * time.Second
		minSwitches = 10
		margin      = 50 * time.Millisecond // on the median: OS time slices on a loaded machine
		sanity      = 2 * time.Second       // on the maximum
		attempts    = 3
	)
	var slow []string
	for attempt := range attempts {
		g := New(interval)
		var (
			log []int
			res [2]busyResult
			wg  sync.WaitGroup
		)
		start := time.Now()
		stop := func() bool { // called with the GIL held
			d := time.Since(start)
			if d >= maxDuration {
				return true
			}
			return d >= minDuration && res[0].switches >= minSwitches && res[1].switches >= minSwitches
		}
		for id := range res {
			wg.Go(func() { runBusy(g, id, stop, func() { spin(time.Microsecond) }, &log, &res[id]) })
		}
		wg.Wait()
		ok := true
		for id, r := range res {
			require.Positive(t, r.ops, "thread %d made no progress", id)
			require.GreaterOrEqual(t, r.switches, minSwitches, "thread %d", id)
			require.Zero(t, r.badOrder, "thread %d took the GIL back before anyone else", id)
			require.LessOrEqual(t, r.maxWait, interval+sanity, "thread %d waited too long", id)
			waits := slices.Clone(r.waits)
			slices.Sort(waits)
			median := waits[len(waits)/2]
			msg := fmt.Sprintf("attempt %d, thread %d: %d switches, median wait %v, max %v",
				attempt, id, r.switches, median, r.maxWait)
			t.Log(msg)
			if median > interval+margin {
				ok = false
				slow = append(slow, msg)
			}
		}
		if ok {
			return
		}
	}
	t.Errorf("typical wait above interval+%v in every attempt:\n%s", margin, strings.Join(slow, "\n"))
}

// TestForcedSwitchingSeveralWaiters: three busy threads; every Yield that
// switched was followed by another thread's take, and each waiter that asked
// is eventually served.
func TestForcedSwitchingSeveralWaiters(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const (
			interval = time.Millisecond
			work     = 20 * time.Microsecond
			duration = 100 * time.Millisecond
		)
		g := New(interval)
		start := time.Now()
		stop := func() bool { return time.Since(start) >= duration }
		var (
			log []int
			res [3]busyResult
			wg  sync.WaitGroup
		)
		for id := range res {
			wg.Go(func() { runBusy(g, id, stop, func() { time.Sleep(work) }, &log, &res[id]) })
		}
		wg.Wait()
		total := 0
		for id, r := range res {
			require.Positive(t, r.ops, "thread %d made no progress", id)
			require.Positive(t, r.switches, "thread %d never got the GIL back", id)
			require.Zero(t, r.badOrder, "thread %d", id)
			total += r.switches
		}
		for i := 1; i < len(log); i++ {
			require.NotEqual(t, log[i-1], log[i], "take %d: the GIL went back to its previous holder", i)
		}
		require.GreaterOrEqual(t, total, int(duration/(interval+work))-3)
	})
}

// TestForcedSwitchOrder checks one hand-over step by step.
func TestForcedSwitchOrder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := New(5 * time.Millisecond)
		a, b := g.NewHandle(), g.NewHandle()
		g.Acquire(a)
		var order []string // protected by the GIL
		done := make(chan struct{})
		go func() {
			g.Acquire(b)
			order = append(order, "b")
			time.Sleep(time.Millisecond) // b keeps the GIL a while
			order = append(order, "b")
			g.Release(b)
			close(done)
		}()
		time.Sleep(6 * time.Millisecond)
		require.True(t, g.DropRequested())
		require.True(t, g.Yield(a))
		order = append(order, "a")
		require.True(t, g.HeldBy(a))
		g.Release(a)
		waitClosed(t, done)
		require.Equal(t, []string{"b", "b", "a"}, order)
	})
}

// TestReleaseForcedSwitch: a plain Release with a drop request pending also
// waits for another thread to take the GIL, so releasing and at once
// re-acquiring cannot starve the waiter that asked.
func TestReleaseForcedSwitch(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := New(5 * time.Millisecond)
		a, b := g.NewHandle(), g.NewHandle()
		g.Acquire(a)
		var order []string // protected by the GIL
		done := make(chan struct{})
		go func() {
			g.Acquire(b)
			order = append(order, "b")
			g.Release(b)
			close(done)
		}()
		time.Sleep(6 * time.Millisecond)
		require.True(t, g.DropRequested())
		g.Release(a)
		g.Acquire(a)
		order = append(order, "a")
		g.Release(a)
		waitClosed(t, done)
		require.Equal(t, []string{"b", "a"}, order)
		require.Equal(t, uint64(1), g.Stats().ForcedSwitches)

		// Without a pending request Release returns at once.
		g.Acquire(a)
		require.False(t, g.DropRequested())
		g.Release(a)
		require.Equal(t, uint64(1), g.Stats().ForcedSwitches)
	})
}

// TestStats follows one contended hand-over in fake time and checks every
// counter exactly.
func TestStats(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const interval = 5 * time.Millisecond
		g := New(interval)
		a, b := g.NewHandle(), g.NewHandle()

		g.Acquire(a)
		g.Release(a)
		g.Acquire(a)
		require.Equal(t, Stats{Acquisitions: 2}, g.Stats(), "re-taking by the same thread is not a switch")

		done := make(chan struct{})
		go func() {
			g.Acquire(b)
			g.Release(b)
			close(done)
		}()
		synctest.Wait() // b is waiting
		time.Sleep(interval - time.Microsecond)
		synctest.Wait()
		require.False(t, g.DropRequested(), "request before the interval elapsed")
		require.Zero(t, g.Stats().DropRequests)

		// Two more intervals pass: the request is set once, and a waiter
		// that times out again while it is pending does not count again.
		time.Sleep(2*interval + 2*time.Microsecond)
		require.True(t, g.DropRequested())
		require.Equal(t, uint64(1), g.Stats().DropRequests)

		require.True(t, g.Yield(a))
		require.True(t, g.HeldBy(a))
		require.False(t, g.DropRequested(), "the take clears the request")
		// A Yield with no request is a no-op and counts nothing.
		require.False(t, g.Yield(a))
		g.Release(a)
		waitClosed(t, done)
		wait := 3*interval + time.Microsecond
		require.Equal(t, Stats{
			Acquisitions:   4, // a, a, b, a again inside Yield
			Switches:       2, // a->b, b->a
			ForcedSwitches: 1,
			DropRequests:   1,
			TotalWait:      wait, // only b slept; a's re-acquire took no (fake) time
			LongestWait:    wait,
		}, g.Stats())
	})
}

// TestSwitchRestartsInterval: a waiter whose interval saw the GIL switch to
// another holder does not ask for a drop when it times out; it starts a fresh
// interval (take_gil compares switch_number across the timed wait).
func TestSwitchRestartsInterval(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const (
			interval = 5 * time.Millisecond
			work     = 10 * time.Microsecond
		)
		g := New(interval)
		start := time.Now()
		a, b, c := g.NewHandle(), g.NewHandle(), g.NewHandle()
		g.Acquire(a)
		var bIn, asked time.Duration // written by b's goroutine, read after it is done
		var bSwitched bool
		var wg sync.WaitGroup
		wg.Go(func() { // b queues first, so a's release wakes b
			g.Acquire(b)
			bIn = time.Since(start)
			for !g.DropRequested() {
				time.Sleep(work)
			}
			asked = time.Since(start)
			bSwitched = g.Yield(b)
			g.Release(b)
		})
		synctest.Wait()
		wg.Go(func() { // c waits from t=0 and is not woken by a's release
			g.Acquire(c)
			g.Release(c)
		})
		synctest.Wait()
		time.Sleep(3 * time.Millisecond)
		g.Release(a) // no request pending: b takes the GIL at 3ms, a switch
		wg.Wait()

		require.Equal(t, 3*time.Millisecond, bIn)
		require.True(t, bSwitched)
		// c timed out at 5ms, saw the switch and did not ask; it asked at
		// the end of its next interval, 10ms.
		require.GreaterOrEqual(t, asked, 2*interval)
		require.LessOrEqual(t, asked, 2*interval+work)
		s := g.Stats()
		require.Equal(t, uint64(1), s.DropRequests)
		require.Equal(t, uint64(1), s.ForcedSwitches)
		require.Equal(t, asked, s.LongestWait) // c's wait
	})
}

// TestSetIntervalAtRunTime: a new interval changes how long a waiter lets the
// holder keep the GIL before asking.
func TestSetIntervalAtRunTime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const work = 10 * time.Microsecond
		g := New(20 * time.Millisecond)
		holder := g.NewHandle()
		g.Acquire(holder)

		// round starts a waiter and polls at safe points until it asks;
		// it returns how long the holder kept the GIL.
		round := func() time.Duration {
			start := time.Now()
			done := make(chan struct{})
			go func() {
				h := g.NewHandle()
				g.Acquire(h)
				g.Release(h)
				close(done)
			}()
			for !g.DropRequested() {
				time.Sleep(work)
			}
			d := time.Since(start)
			require.True(t, g.Yield(holder))
			waitClosed(t, done)
			return d
		}

		d := round()
		require.GreaterOrEqual(t, d, 20*time.Millisecond)
		require.LessOrEqual(t, d, 20*time.Millisecond+work)

		g.SetInterval(time.Millisecond)
		d = round()
		require.GreaterOrEqual(t, d, time.Millisecond)
		require.LessOrEqual(t, d, time.Millisecond+work)

		g.SetInterval(50 * time.Millisecond)
		d = round()
		require.GreaterOrEqual(t, d, 50*time.Millisecond)
		require.LessOrEqual(t, d, 50*time.Millisecond+work)
		g.Release(holder)
	})
}

// waitClosed waits for done, failing the test instead of hanging when a
// broken GIL never lets the other thread finish (in a synctest bubble the
// timeout is fake time, so it costs nothing).
func waitClosed(t *testing.T, done <-chan struct{}) {
	t.Helper()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the other thread never finished: it did not get the GIL")
	}
}

// TestHolderPollSetsDropRequest: once a waiter's interval has passed by
// the GIL's clock, the holder's poll sets the drop request itself, without
// waiting for the waiter's timer (here an hour away, so it never fires);
// before that it does not; it reads the clock at one poll in
// clockPollEvery. The clock is the test's.
func TestHolderPollSetsDropRequest(t *testing.T) {
	g := New(time.Hour)
	var now atomic.Int64
	now.Store(1)
	g.clock = now.Load
	holder, waiter := g.NewHandle(), g.NewHandle()
	g.Acquire(holder)
	require.False(t, g.DropRequested(), "nobody waits")
	require.Zero(t, g.deadline.Load())

	acquired := make(chan struct{})
	go func() {
		g.Acquire(waiter)
		close(acquired)
		g.Release(waiter)
	}()
	require.Eventually(t, func() bool { return g.deadline.Load() != 0 }, 10*time.Second, time.Millisecond, "the waiter arms its deadline")
	require.Equal(t, 1+int64(time.Hour), g.deadline.Load())

	now.Store(int64(time.Hour))       // one nanosecond short
	require.False(t, g.Yield(holder)) // Yield polls too
	for range 2*clockPollEvery - 1 {
		require.False(t, g.DropRequested())
	}
	now.Store(1 + int64(time.Hour))
	// The poll reads the clock at one call in clockPollEvery (the count
	// starts again after the 2*clockPollEvery polls above).
	early := 0
	for !g.DropRequested() {
		early++
		require.Less(t, early, clockPollEvery, "the interval has passed")
	}
	require.Equal(t, clockPollEvery-1, early, "a clock read at every poll")
	s := g.Stats()
	require.Equal(t, uint64(1), s.DropRequests)
	require.Equal(t, uint64(1), s.HolderDropRequests)
	require.True(t, g.DropRequested(), "pending until served")
	require.Equal(t, uint64(1), g.Stats().DropRequests, "not counted twice")

	require.True(t, g.Yield(holder), "a forced switch to the waiter")
	<-acquired
	require.True(t, g.HeldBy(holder))
	require.False(t, g.DropRequested(), "the take served the request")
	require.Zero(t, g.deadline.Load(), "nobody waits any more")
	s = g.Stats()
	require.Equal(t, uint64(1), s.ForcedSwitches)
	require.Equal(t, uint64(2), s.Switches)
	g.Release(holder)
}

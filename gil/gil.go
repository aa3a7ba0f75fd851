package gil

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nogil-lab/nogil/internal/cacheline"
	"github.com/nogil-lab/nogil/internal/invariants"
)

// DefaultInterval is CPython's default switch interval
// (sys.getswitchinterval() == 0.005).
const DefaultInterval = 5 * time.Millisecond

// Panic messages. They name the misuse; tests compare them exactly.
const (
	msgDoubleAcquire  = "gil: Acquire by a thread that already holds the GIL"
	msgAlreadyWaiting = "gil: Acquire by a thread that is already waiting for the GIL"
	msgForeignHandle  = "gil: Acquire with a handle that belongs to a different GIL"
	msgReleaseNotHeld = "gil: Release by a thread that does not hold the GIL"
	msgYieldNotHeld   = "gil: Yield by a thread that does not hold the GIL"
)

// GIL is a global interpreter lock with a switch interval, drop requests and
// forced switching. See the package documentation for the protocol.
type GIL struct {
	_ cacheline.Pad

	// The holder's line: read at every safe point by the holder, written only
	// when the lock changes hands or a waiter times out.

	// dropRequest is CPython's gil_drop_request. Atomic; set by a waiter
	// whose timed wait expired without a switch, cleared by every take, both
	// only with mu held; loaded without mu by the holder's safe-point poll.
	dropRequest atomic.Bool
	// holder is the handle that holds the GIL, nil when it is free
	// (CPython's locked + last_holder read together). Atomic; written only
	// with mu held, loaded without mu by HeldBy, Yield and the misuse checks.
	holder atomic.Pointer[Handle]
	// deadline is the earliest of the queued waiters' Handle.deadline, in
	// nanoseconds of the GIL's clock (elapsed), or 0 when nobody waits.
	// Atomic; written only with mu held, whenever a waiter's deadline
	// changes; loaded without mu by the holder's safe-point poll, which
	// sets the drop request itself once the deadline has passed (see
	// DropRequested).
	deadline atomic.Int64
	// polls counts the holder's polls with someone waiting since it last
	// read the clock (DropRequested). Written only by the holder: holders
	// follow one another through mu, which orders their writes.
	polls uint32

	_ cacheline.Pad

	// mu is CPython's gil->mutex and switch_mutex in one: it is held only
	// for a few instructions at a time and never while anyone sleeps.
	mu sync.Mutex
	// lastHolder is the handle that most recently took the GIL (it stays set
	// while the GIL is free). Protected by mu.
	lastHolder *Handle
	// switchNumber counts takes by a handle other than lastHolder: a waiter
	// compares it across its timed wait to tell "the GIL moved" from "the
	// holder kept it". Protected by mu.
	switchNumber uint64
	// waitHead and waitTail are the FIFO queue of handles blocked in Acquire
	// (CPython's waiters on gil->cond), linked through Handle.prev/next.
	// Protected by mu.
	waitHead, waitTail *Handle
	// switchWaiters are the handles blocked in a forced switch, waiting for
	// switchNumber to move (CPython's waiters on switch_cond). Protected by mu.
	switchWaiters []*Handle
	// stats are the counters reported by Stats. Protected by mu.
	stats Stats
	// interval is the switch interval in nanoseconds, always > 0. Atomic;
	// read by each waiter when it (re)starts a timed wait.
	interval atomic.Int64
	// start is the origin of the GIL's clock; clock, if set (tests only,
	// before any use), replaces it. Immutable.
	start time.Time
	clock func() int64
}

// handleState is what a handle is doing, for misuse checks and the
// invariants. Protected by GIL.mu.
type handleState uint8

const (
	stateIdle      handleState = iota // not blocked in this package (it may hold the GIL)
	stateWaiting                      // in the wait queue, blocked in Acquire
	stateSwitching                    // in switchWaiters, blocked in a forced switch
)

// Handle is one runtime thread's identity towards the GIL. A handle is used
// by one goroutine at a time. It is padded so that two threads' handles never
// share a cache line: the waker writes the links and the wake channel of the
// handle it signals.
type Handle struct {
	// g is the GIL this handle belongs to. Immutable.
	g *GIL
	// wake carries one token from a releasing or taking thread to this
	// handle when it is blocked (capacity 1; sends never block). Tokens are
	// sent only with g.mu held and only to a handle in the wait queue or in
	// switchWaiters; a handle leaving the queue drains a stale token, so the
	// channel is empty whenever the handle is idle. Immutable channel.
	wake chan struct{}
	// state, prev and next are protected by g.mu.
	state      handleState
	prev, next *Handle
	// deadline is when this waiter's timed wait would ask for a drop if
	// the GIL does not switch first, on the GIL's clock (see GIL.deadline).
	// Protected by g.mu; meaningful while the handle is queued.
	deadline int64

	_ cacheline.Pad
}

// New returns a GIL with the given switch interval; 0 means DefaultInterval.
// The GIL starts free. It owns no goroutines and needs no Close.
func New(interval time.Duration) *GIL {
	if interval < 0 {
		panic(fmt.Sprintf("gil: New with a negative switch interval (%v)", interval))
	}
	if interval == 0 {
		interval = DefaultInterval
	}
	g := &GIL{start: time.Now()}
	g.interval.Store(int64(interval))
	return g
}

// elapsed reads the GIL's clock: monotonic nanoseconds since New, never 0.
func (g *GIL) elapsed() int64 {
	if g.clock != nil {
		return g.clock()
	}
	return int64(time.Since(g.start)) + 1
}

// publishDeadlineLocked sets deadline to the earliest queued waiter's.
// g.mu is held; the queue is short (one entry per blocked thread).
func (g *GIL) publishDeadlineLocked() {
	var d int64
	for w := g.waitHead; w != nil; w = w.next {
		if d == 0 || w.deadline < d {
			d = w.deadline
		}
	}
	if g.deadline.Load() != d {
		g.deadline.Store(d)
	}
}

// NewHandle returns a handle for one runtime thread. It does not hold the
// GIL. Under testing/synctest, create handles inside the bubble that uses
// them (the wake channel belongs to the bubble it was made in).
func (g *GIL) NewHandle() *Handle {
	return &Handle{g: g, wake: make(chan struct{}, 1)}
}

// SetInterval changes the switch interval at run time (CPython's
// sys.setswitchinterval). Waiters pick it up when they next start a timed
// wait. d must be positive.
func (g *GIL) SetInterval(d time.Duration) {
	if d <= 0 {
		panic(fmt.Sprintf("gil: SetInterval with a non-positive switch interval (%v)", d))
	}
	g.interval.Store(int64(d))
}

// Interval returns the current switch interval.
func (g *GIL) Interval() time.Duration { return time.Duration(g.interval.Load()) }

// HeldBy reports whether h holds the GIL. Only h's own thread gets an answer
// that cannot change under it.
func (g *GIL) HeldBy(h *Handle) bool { return h != nil && g.holder.Load() == h }

// DropRequested reports whether a waiter has asked the holder to drop the
// GIL, or would have: the holder calls it at every safe point and, when it
// returns true, calls Yield. With nobody waiting it is two atomic loads.
// With a waiter it also reads the clock (at every clockPollEvery-th call),
// and once the waiter's interval has passed it sets the drop request
// itself: the waiter's timer may wake it up to a millisecond late (Go
// delivers timers to idle threads through epoll_wait, whose timeout has
// millisecond resolution, golang/go#53824), the holder's poll is not late.
func (g *GIL) DropRequested() bool {
	if g.dropRequest.Load() {
		return true
	}
	d := g.deadline.Load()
	if d == 0 {
		return false
	}
	if g.polls++; g.polls < clockPollEvery {
		return false
	}
	g.polls = 0
	return g.elapsed() >= d && g.requestDrop()
}

// clockPollEvery is how many of the holder's polls with a waiter queued
// make one read of the clock. A read costs tens of nanoseconds here (a
// vDSO call under KVM), and a holder that polls every few hundred
// nanoseconds spent a quarter of its time in it (the GIL workers of B7's
// benchmark: 22% of the CPU in nanotime, from DropRequested); one read in
// sixteen polls makes the holder's own request at most sixteen safe
// points late.
const clockPollEvery = 16

// requestDrop sets the drop request on behalf of the waiter whose interval
// has passed, and reports whether one is pending. The request keeps its
// invariant (a pending request implies a queued waiter) because it is set
// under mu only while someone waits.
func (g *GIL) requestDrop() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.dropRequest.Load() {
		return true
	}
	now := g.elapsed()
	if g.holder.Load() == nil || g.deadline.Load() == 0 || now < g.deadline.Load() {
		return false // released, or the waiters changed meanwhile
	}
	g.dropRequest.Store(true)
	g.stats.DropRequests++
	g.stats.HolderDropRequests++
	// As each such waiter would on its timeout: another interval.
	for w := g.waitHead; w != nil; w = w.next {
		if w.deadline <= now {
			w.deadline = now + g.interval.Load()
		}
	}
	g.publishDeadlineLocked()
	return true
}

// Acquire blocks until h holds the GIL (CPython's take_gil). A waiter that
// sees the GIL kept by the same holder for a whole switch interval sets the
// drop request. Acquire panics if h already holds the GIL.
func (g *GIL) Acquire(h *Handle) {
	if h.g != g {
		panic(msgForeignHandle)
	}
	if g.holder.Load() == h {
		panic(msgDoubleAcquire)
	}
	g.acquire(h)
}

// Release releases the GIL held by h (CPython's drop_gil) and wakes one
// waiter. If a drop request is pending, Release does not return until
// another thread has taken the GIL (forced switching), so that a thread that
// releases and at once re-acquires cannot starve the waiter that asked.
// Release panics if h is not the holder.
func (g *GIL) Release(h *Handle) {
	g.release(h, msgReleaseNotHeld)
}

// Yield is the holder's safe point. If no drop has been requested it returns
// false at the cost of two atomic loads. Otherwise it releases the GIL, waits
// until another thread has taken it (forced switching), re-acquires it like
// Acquire, and returns true. Yield panics if h is not the holder.
func (g *GIL) Yield(h *Handle) bool {
	if g.holder.Load() != h {
		panic(msgYieldNotHeld)
	}
	if !g.DropRequested() {
		return false
	}
	switched := g.release(h, msgYieldNotHeld)
	g.acquire(h)
	return switched
}

// Stats returns a snapshot of the counters.
func (g *GIL) Stats() Stats {
	g.mu.Lock()
	s := g.stats
	g.mu.Unlock()
	return s
}

// acquire is Acquire without the double-acquire check.
func (g *GIL) acquire(h *Handle) {
	g.mu.Lock()
	if h.state != stateIdle {
		g.mu.Unlock()
		panic(msgAlreadyWaiting)
	}
	invariants.Assert(len(h.wake) == 0, "gil: idle handle has a wake token")
	if g.holder.Load() != nil {
		g.waitLocked(h)
	}
	g.takeLocked(h)
	g.mu.Unlock()
}

// waitLocked blocks h until the GIL is free. It is called and returns with
// g.mu held; it drops mu while it sleeps. This is the timed-wait loop of
// take_gil: the timer measures one interval during which the GIL stayed with
// the same holder (switchNumber unchanged). Wake-ups that do not free the GIL
// leave the deadline alone; a switch restarts it (the new holder gets a full
// interval); expiry sets the drop request and starts another interval, in
// case the holder does not reach a safe point in time.
func (g *GIL) waitLocked(h *Handle) {
	start := time.Now()
	g.enqueueLocked(h)
	saved := g.switchNumber
	timer := time.NewTimer(g.Interval())
	g.restartLocked(h)
	for g.holder.Load() != nil {
		g.mu.Unlock()
		timedOut := false
		select {
		case <-h.wake:
		case <-timer.C:
			timedOut = true
		}
		g.mu.Lock()
		switch {
		case g.holder.Load() == nil:
			// Free: the loop ends and the caller takes it.
		case g.switchNumber != saved:
			saved = g.switchNumber
			timer.Reset(g.Interval())
			g.restartLocked(h)
		case timedOut:
			if !g.dropRequest.Load() {
				g.dropRequest.Store(true)
				g.stats.DropRequests++
			}
			timer.Reset(g.Interval())
			g.restartLocked(h)
		}
	}
	// Go 1.23+ timers: after Stop no stale tick can be received, and the
	// timer is not referenced afterwards.
	timer.Stop()
	g.dequeueLocked(h)
	g.publishDeadlineLocked()
	select {
	case <-h.wake: // a token sent after we last looked; nobody else will send
	default:
	}
	wait := time.Since(start)
	g.stats.TotalWait += wait
	if wait > g.stats.LongestWait {
		g.stats.LongestWait = wait
	}
}

// takeLocked makes h the holder. The GIL must be free; g.mu is held.
func (g *GIL) takeLocked(h *Handle) {
	invariants.Assert(g.holder.Load() == nil, "gil: take while the GIL is held")
	g.holder.Store(h)
	g.stats.Acquisitions++
	if h != g.lastHolder {
		if g.lastHolder != nil {
			g.stats.Switches++
		}
		g.lastHolder = h
		g.switchNumber++
		// A waiter notices the switch when its timer fires (or it wakes
		// before) and only then starts another interval: until then it
		// would not ask.
		if g.waitHead != nil {
			for w := g.waitHead; w != nil; w = w.next {
				w.deadline += g.interval.Load()
			}
			g.publishDeadlineLocked()
		}
		// Every thread in a forced switch is waiting for exactly this: a
		// take by someone else after its release.
		for i, w := range g.switchWaiters {
			invariants.Assert(w.state == stateSwitching && w != h, "gil: bad switch waiter")
			w.state = stateIdle
			w.wake <- struct{}{} // cannot block: the channel is empty (see Handle.wake)
			g.switchWaiters[i] = nil
		}
		g.switchWaiters = g.switchWaiters[:0]
	}
	// Whoever takes the GIL serves any pending request (RESET_GIL_DROP_REQUEST).
	if g.dropRequest.Load() {
		g.dropRequest.Store(false)
	}
}

// restartLocked starts a new timed interval for the queued waiter h, as
// its timer is (re)started. g.mu is held.
func (g *GIL) restartLocked(h *Handle) {
	h.deadline = g.elapsed() + g.interval.Load()
	g.publishDeadlineLocked()
}

// release drops the GIL held by h and reports whether it did a forced switch.
func (g *GIL) release(h *Handle, notHeld string) (forced bool) {
	g.mu.Lock()
	if g.holder.Load() != h {
		g.mu.Unlock()
		panic(notHeld)
	}
	invariants.Assert(g.lastHolder == h, "gil: holder is not the last holder")
	g.holder.Store(nil)
	if w := g.waitHead; w != nil {
		select {
		case w.wake <- struct{}{}:
		default: // already signalled and not yet running
		}
	}
	if !g.dropRequest.Load() {
		g.mu.Unlock()
		return false
	}
	// Forced switching. The request was set by a waiter that is still queued
	// (requests are cleared by every take, and only queued waiters set them),
	// and the head of the queue has a token, so someone will take the GIL.
	invariants.Assert(g.waitHead != nil, "gil: drop request with no waiter")
	g.stats.ForcedSwitches++
	h.state = stateSwitching
	g.switchWaiters = append(g.switchWaiters, h)
	g.mu.Unlock()
	<-h.wake // the taker set h.state back to idle
	return true
}

func (g *GIL) enqueueLocked(h *Handle) {
	h.state = stateWaiting
	h.prev, h.next = g.waitTail, nil
	if g.waitTail != nil {
		g.waitTail.next = h
	} else {
		g.waitHead = h
	}
	g.waitTail = h
}

func (g *GIL) dequeueLocked(h *Handle) {
	invariants.Assert(h.state == stateWaiting, "gil: dequeue of a handle that is not waiting")
	if h.prev != nil {
		h.prev.next = h.next
	} else {
		g.waitHead = h.next
	}
	if h.next != nil {
		h.next.prev = h.prev
	} else {
		g.waitTail = h.prev
	}
	h.prev, h.next = nil, nil
	h.state = stateIdle
}

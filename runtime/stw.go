package runtime

import (
	"runtime"
	"time"
)

// Stopping the world in free-threaded mode (CPython's
// _PyEval_StopTheWorld / _PyEval_StartTheWorld, Python/pystate.c).
//
// 1. The stopper sets stopRequested (seen by every attached thread at its
//    next safe point) and, under worldMu, moves each detached thread to
//    suspended, so that it cannot attach until the world restarts.
// 2. An attached thread that sees stopRequested at a safe point parks:
//    it detaches (waking the stopper) and waits to attach again.
// 3. The stopper waits on worldCond until no other thread is attached. It
//    never detaches itself; a second stopper parks like any other thread
//    and tries again after the first restarts the world.
//    Both the stopper and a parked thread poll for up to stwSpin before
//    they block on worldCond (spinWhile).
// 4. Restart: suspended threads go back to detached, stopRequested is
//    cleared, everyone waiting is woken.
//
// The handshake gives the stopper a happens-before edge with every thread's
// last action (a thread's detach is an atomic store, the stopper's scan an
// atomic load, both under or followed by worldMu), which is what lets the
// collector read the owners' plain reference-count parts while the world is
// stopped. GIL mode needs none of it: the thread that holds the GIL is the
// stopped world.

// attachFT makes a detached thread attached, waiting while the world is
// stopped.
func (th *Thread) attachFT() {
	rt := th.rt
	for {
		if th.state.CompareAndSwap(stDetached, stAttached) {
			if !rt.stopRequested.Load() {
				return
			}
			// A stop began while we attached: step back out of its way.
			th.detachFT()
		}
		rt.worldMu.Lock()
		for rt.stopRequested.Load() || th.state.Load() == stSuspended {
			rt.worldCond.Wait()
		}
		rt.worldMu.Unlock()
	}
}

// detachFT makes an attached thread detached and wakes a stopper that may
// be waiting for it.
func (th *Thread) detachFT() {
	th.state.Store(stDetached)
	if th.rt.stopRequested.Load() {
		th.rt.worldMu.Lock()
		th.rt.worldCond.Broadcast()
		th.rt.worldMu.Unlock()
	}
}

// park stops the thread at a safe point until the world restarts, and
// counts the time it lost (WorldStats).
func (th *Thread) park() {
	// A parked thread is at a safe point for the one stopping the world:
	// its counts go out first, so that the stopper's heap walk finds
	// every object it visits counted in Stats().Live (Checkpoint has
	// published already; a park at an allocation or in a contended stop
	// has not).
	th.stats.publish()
	start := time.Now()
	th.detachFT()
	spinWhile(th.rt.stopRequested.Load)
	th.attachFT()
	d := time.Since(start)
	th.rt.world.countPark(d)
	if th.onPark != nil {
		th.onPark(d)
	}
}

// stwSpin is how long a parked thread, and a stopper waiting for the others
// to park, poll before they block. Most generation-0 pauses are shorter
// than this (p50 86 µs in the B7 benchmark), and a goroutine blocked on a
// condition variable comes back only when the Go scheduler gets its idle OS
// thread running again. Polling keeps the processor: in the B7 benchmark
// it took the workers' stall from p50 154-176 / p99 1.3-2.3 ms to p50
// 83-95 / p99 148-326 µs (docs/benchmarks.md). CPython's PyMutex also
// spins briefly before it parks.
const stwSpin = 200 * time.Microsecond

// spinWhile polls cond, yielding the processor between polls, until it is
// false or stwSpin has passed.
func spinWhile(cond func() bool) {
	var deadline time.Time
	for i := 0; cond(); i++ {
		if i&15 == 0 {
			now := time.Now()
			if deadline.IsZero() {
				deadline = now.Add(stwSpin)
			} else if now.After(deadline) {
				return
			}
		}
		runtime.Gosched()
	}
}

// stopTheWorld stops every other thread of the runtime at a safe point or
// keeps it from attaching. The caller is attached and stays attached.
func (th *Thread) stopTheWorld() {
	rt := th.rt
	if rt.mode == GIL {
		return
	}
	rt.worldMu.Lock()
	for rt.stopRequested.Load() {
		// Another thread is stopping the world: let it, then retry.
		rt.worldMu.Unlock()
		th.park()
		rt.worldMu.Lock()
	}
	rt.stopRequested.Store(true)
	spun := false
	for {
		waiting := 0
		for _, t := range rt.threads {
			if t == th {
				continue
			}
			switch t.state.Load() {
			case stDetached:
				if !t.state.CompareAndSwap(stDetached, stSuspended) {
					waiting++
				}
			case stAttached:
				waiting++
			}
		}
		if waiting == 0 {
			break
		}
		if !spun {
			spun = true
			rt.worldMu.Unlock()
			spinWhile(func() bool { return rt.attachedOthers(th) })
			rt.worldMu.Lock()
			continue
		}
		rt.worldCond.Wait()
	}
	th.stoppedWorld = true
	rt.worldMu.Unlock()
	rt.world.stops.Add(1)
}

// attachedOthers reports whether a thread other than th is attached.
func (rt *Runtime) attachedOthers(th *Thread) bool {
	rt.worldMu.Lock()
	defer rt.worldMu.Unlock()
	for _, t := range rt.threads {
		if t != th && t.state.Load() == stAttached {
			return true
		}
	}
	return false
}

// startTheWorld restarts the threads stopTheWorld stopped.
func (th *Thread) startTheWorld() {
	rt := th.rt
	if rt.mode == GIL {
		return
	}
	rt.worldMu.Lock()
	for _, t := range rt.threads {
		t.state.CompareAndSwap(stSuspended, stDetached)
	}
	th.stoppedWorld = false
	rt.stopRequested.Store(false)
	rt.worldCond.Broadcast()
	rt.worldMu.Unlock()
}

// StopTheWorld stops every other thread of a free-threaded runtime at its
// next safe point (and keeps detached ones from attaching) and returns the
// function that restarts them. In GIL mode holding the GIL already stops
// the world, and it returns at once. The caller must not detach, block on
// another thread or call Checkpoint until it restarts the world.
func (th *Thread) StopTheWorld() (restart func()) {
	th.mustBeAttached()
	th.stopTheWorld()
	done := false
	return func() {
		if done {
			misuse("restart of a world that was already restarted")
		}
		done = true
		th.startTheWorld()
	}
}

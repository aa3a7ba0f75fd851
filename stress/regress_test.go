package stress

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/nogil-lab/nogil/runtime"
)

// Regression tests for runtime bugs the workloads found. Each reproduces
// the bug deterministically on one goroutine (threads used in turn), so a
// failure is reported, not a hang.

// TestResurrectionWhileRemoteUnlinkPending: in free-threaded mode, a
// container freed by a thread other than the one whose young list holds it
// is only queued for unlinking (youngList.remote); it stays linked until the
// owner's next safe point. If its PEP 442 finalizer resurrects it,
// runFinalizer sees it still tracked and does not track it again, then:
//   - the owner's drainRemote unlinks the live object: it is no longer
//     tracked, and cyclic garbage through it is never collected (a leak);
//   - if it dies a second time before the owner drains, it is queued twice
//     and drainRemote panics "gc: Unlink of an object that is not tracked"
//     with the young list's mutex held, so the owner's Close (and every
//     later stop-the-world) deadlocks.
//
// Found by the mixed workload at commit 3bbf3a4 (ft and ft-atomic, 3
// threads, -debug, seed 53: the run hung with a worker panicked in
// Checkpoint -> safePoint -> drainRemote -> gc.Unlink and another in
// stopTheWorld). Passes since 20fa67e ("untrack foreign young objects
// late").
func TestResurrectionWhileRemoteUnlinkPending(t *testing.T) {
	for _, twice := range []bool{false, true} {
		t.Run(fmt.Sprintf("dies-twice=%v", twice), func(t *testing.T) {
			rt, err := runtime.New(runtime.Config{Mode: runtime.FreeThreaded, RefCounting: runtime.Atomic, GCDisabled: true})
			require.NoError(t, err)
			var saved *runtime.Object
			typ, err := rt.NewType(runtime.TypeSpec{Name: "Phoenix", Finalize: func(th *runtime.Thread, self *runtime.Object) {
				saved = th.NewRef(self) // resurrect
			}})
			require.NoError(t, err)

			a := rt.NewThread()
			x := a.NewInstance(typ) // on a's young list
			a.Detach()

			b := rt.NewThread()
			b.DecRef(x) // dies on b: unlink queued for a; the finalizer resurrects it
			require.NotNil(t, saved, "finalizer ran")
			if twice {
				b.DecRef(saved) // dies again before a drains: queued a second time
			} else {
				// Make it cyclic garbage: only the collector can free it now.
				require.NoError(t, b.SetAttr(saved, "self", saved))
				b.DecRef(saved)
			}
			b.Close()

			var p any
			func() {
				defer func() { p = recover() }()
				a.Attach()
				a.Checkpoint() // a drains its remote unlinks
			}()
			require.Nil(t, p, "owner's safe point panicked (its young list's mutex is left locked, so Close would deadlock)")
			_, err = a.Collect(2)
			require.NoError(t, err)
			a.Close()
			require.Zero(t, rt.Stats().Live, "resurrected object was untracked by the owner's drain: its cycle is never collected")
			require.NoError(t, rt.Close())
		})
	}
}

// TestWeakrefCallbackAndFinalizerInOneCollection: a collection whose
// unreachable set has both a weak reference with a callback to run (the
// weakref itself alive) and an object with a PEP 442 finalizer takes the
// resurrection check (pause 2) with the callback slice of pause 1 still at
// its old length (its entries only set to nil), so it panics "gc:
// Env.ClearWeakrefs returned a callback for a garbage weak reference".
//
// Found by the mixed workload (gil, ft and ft-atomic, 3 threads, -debug,
// seed 53) at commit 3bbf3a4: a worker's Collect(2) panicked in
// gc.(*Collector).collect (gc/collect.go:170). Passes since 9a97c4b.
func TestWeakrefCallbackAndFinalizerInOneCollection(t *testing.T) {
	for _, mode := range ModeNames {
		t.Run(mode, func(t *testing.T) {
			m, rc, err := ParseMode(mode)
			require.NoError(t, err)
			rt, err := runtime.New(runtime.Config{Mode: m, RefCounting: rc, GCDisabled: true})
			require.NoError(t, err)
			plain, err := rt.NewType(runtime.TypeSpec{Name: "Plain"})
			require.NoError(t, err)
			finalized := 0
			fin, err := rt.NewType(runtime.TypeSpec{Name: "Fin", Finalize: func(*runtime.Thread, *runtime.Object) { finalized++ }})
			require.NoError(t, err)
			th := rt.NewThread()

			a := th.NewInstance(plain)
			require.NoError(t, th.SetAttr(a, "self", a))
			called := 0
			w, err := th.NewWeakRef(a, func(*runtime.Thread, *runtime.Object) { called++ })
			require.NoError(t, err)
			b := th.NewInstance(fin)
			require.NoError(t, th.SetAttr(b, "self", b))
			th.DecRef(a)
			th.DecRef(b)

			var p any
			func() {
				defer func() { p = recover() }()
				_, err = th.Collect(2)
			}()
			require.Nil(t, p, "Collect panicked")
			require.NoError(t, err)
			require.Equal(t, 1, called, "weakref callback runs once")
			require.Equal(t, 1, finalized, "finalizer runs once")
			got, err := th.WeakRefGet(w)
			require.NoError(t, err)
			require.Nil(t, got)
			th.DecRef(w)
			th.Close()
			require.NoError(t, rt.Close())
		})
	}
}

// TestCyclesCollectionKeepsUp: with automatic collection on and several
// threads making cyclic garbage, generation 0 must still be collected about
// every threshold-0 (700) new containers, so that pauses stay short (target
// B7: generation-0 pause p99 <= 200us while 2 threads run). In free-threaded
// mode (both counting strategies) the collector falls behind from 2-3
// threads on: e.g. 4 threads for 1s: gil 2758 collections, peak 708 live,
// p99 pause 0.7ms; ft 144 collections, peak 1.2M live, p99 214ms;
// ft-atomic 6 collections, peak 2.1M live, p99 886ms.
//
// What a trace of the collector's callbacks shows: collections of ~704
// objects take ~80us back to back, until one is slow (1.8ms); the other
// threads, which run while the collecting thread frees the garbage
// (delete_garbage, world running), allocate 12k containers meanwhile; the
// next collection has all of them to do and takes longer still (6ms), and
// so on: a positive feedback loop in which generation 0 grows as fast as
// the other threads allocate, since one thread frees what several make.
// In GIL mode nobody allocates while a collection runs. The trigger itself
// works (a collection starts as soon as the count passes the threshold).
func TestCyclesCollectionKeepsUp(t *testing.T) {
	for _, mode := range ModeNames {
		t.Run(mode, func(t *testing.T) {
			m, rc, err := ParseMode(mode)
			require.NoError(t, err)
			res, err := Run(context.Background(), Config{Workload: "cycles", Mode: m, RefCounting: rc, Threads: 3,
				Duration: 500 * time.Millisecond, Seed: 1, StallTimeout: testStall})
			require.NoError(t, err)
			requireClean(t, res)
		})
	}
}

package biasedrc

import (
	"runtime"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/nogil-lab/nogil/internal/invariants"
	"github.com/stretchr/testify/require"
)

func TestRegistryMisuse(t *testing.T) {
	require.PanicsWithValue(t, "biasedrc: NewRegistry with a nil count function", func() {
		NewRegistry[*obj](nil)
	})
	reg := NewRegistry(countOf)
	require.PanicsWithValue(t, "biasedrc: Register with an invalid thread id", func() { reg.Register(Unowned) })
	require.PanicsWithValue(t, "biasedrc: Register with an invalid thread id", func() { reg.Register(immortalOwner) })

	q := reg.Register(thA)
	require.Equal(t, thA, q.Owner())
	require.True(t, reg.Registered(thA))
	require.False(t, reg.Registered(thB))
	require.PanicsWithValue(t, "biasedrc: Register of a thread id that is already registered", func() { reg.Register(thA) })
	require.True(t, reg.Registered(thA), "a refused Register must not disturb the registered queue")

	require.Equal(t, 0, reg.Deregister(q, nil, func(*obj) {}))
	require.False(t, reg.Registered(thA))
	require.PanicsWithValue(t, "biasedrc: Deregister of a queue that is not registered", func() {
		reg.Deregister(q, nil, func(*obj) {})
	})

	// A queue of another registry.
	other := NewRegistry(countOf)
	q2 := other.Register(thB)
	require.PanicsWithValue(t, "biasedrc: Deregister of a queue that is not registered", func() {
		reg.Deregister(q2, nil, func(*obj) {})
	})
	require.True(t, other.Registered(thB))
	other.Deregister(q2, nil, func(*obj) {})
}

func TestQueuePending(t *testing.T) {
	reg := NewRegistry(countOf)
	q := reg.Register(thA)
	require.False(t, q.Pending())
	o := &obj{}
	o.rc.Init(Biased, thA)
	o.rc.IncBiased(thA)
	require.Equal(t, MustQueue, o.rc.DecBiased(thB))
	require.Equal(t, Alive, reg.Enqueue(o.rc.Owner(), o))
	require.True(t, q.Pending())
	require.Equal(t, 1, q.Len())

	// DrainWith hands the entry over without merging it.
	var got []*obj
	require.Equal(t, 1, q.DrainWith(func(o *obj) { got = append(got, o) }))
	require.Equal(t, []*obj{o}, got)
	require.False(t, q.Pending())
	require.Equal(t, 0, q.Len())
	require.Equal(t, sn(thA, queued, 0, 2), snap(&o.rc))
	n, out := o.rc.Merge(-1)
	require.Equal(t, int64(1), n)
	require.Equal(t, Alive, out)
	require.Equal(t, 0, reg.Deregister(q, nil, func(*obj) {}))
}

// TestDrainRacesEnqueues: producers drop references to the owner's objects
// (each drop queues) while the owner drains concurrently. Nothing is lost,
// nothing is merged twice: every object is merged exactly once, and dies
// exactly once.
func TestDrainRacesEnqueues(t *testing.T) {
	const producers = 4
	perProducer := invariants.Scale(5000, 10)
	n := producers * perProducer

	reg := NewRegistry(countOf)
	q := reg.Register(thA)
	objs := make([]*obj, n)
	for i := range objs {
		o := &obj{id: i}
		o.rc.Init(Biased, thA) // the reference a producer will drop
		if i%2 == 0 {
			o.rc.IncBiased(thA) // even objects: A keeps one too
		}
		objs[i] = o
	}
	var mergedBy [2]atomic.Int64 // 0: drained, 1: Enqueue merged directly (must stay 0)
	var done sync.WaitGroup
	start := make(chan struct{})
	for p := range producers {
		me := ThreadID(10 + p)
		mine := objs[p*perProducer : (p+1)*perProducer] // handed over by the channel below
		done.Go(func() {
			<-start
			for _, o := range mine {
				if out := o.rc.DecBiased(me); out != MustQueue {
					t.Errorf("object %d: %v, want must-queue", o.id, out)
					return
				}
				switch out := reg.Enqueue(o.rc.Owner(), o); out {
				case Alive:
				default:
					mergedBy[1].Add(1)
					t.Errorf("object %d: Enqueue merged directly (%v) while the owner is registered", o.id, out)
				}
				if o.id%64 == 0 {
					runtime.Gosched()
				}
			}
		})
	}
	dead := func(o *obj) {
		if o.deaths.Add(1) != 1 {
			t.Errorf("object %d reported dead twice", o.id)
		}
	}
	close(start)
	producing := make(chan struct{})
	go func() { done.Wait(); close(producing) }()
	drained := 0
	for finished := false; !finished; {
		select {
		case <-producing:
			finished = true
		default:
		}
		if q.Pending() || finished {
			drained += q.Drain(dead)
		} else {
			runtime.Gosched()
		}
	}
	require.Equal(t, n, drained, "every queued entry drained exactly once")
	require.Zero(t, q.Len())
	require.Zero(t, mergedBy[1].Load())
	for _, o := range objs {
		if o.id%2 == 0 {
			// Merged once: -1 + 2 - 1 would be 0 if merged twice, or 1 if never.
			require.Equal(t, sn(Unowned, merged, 1, 0), snap(&o.rc), "object %d", o.id)
			require.Zero(t, o.deaths.Load())
			require.Equal(t, Dead, o.rc.DecBiased(thA))
		} else {
			require.Equal(t, sn(Unowned, merged, 0, 0), snap(&o.rc), "object %d", o.id)
			require.Equal(t, int32(1), o.deaths.Load(), "object %d", o.id)
		}
	}
	require.Equal(t, 0, reg.Deregister(q, nil, dead))
}

// TestOwnerExitWhileOthersHoldReferences: A creates objects, hands
// references to other threads, and exits while they still hold them (some
// of A's objects are sitting in A's queue at that moment). Later drops merge
// directly; each object dies exactly once, when its last reference goes.
func TestOwnerExitWhileOthersHoldReferences(t *testing.T) {
	const holders = 3
	n := invariants.Scale(2000, 10)
	reg := NewRegistry(countOf)
	qa := reg.Register(thA)
	objs := make([]*obj, n)
	for i := range objs {
		o := &obj{id: i}
		o.rc.Init(Biased, thA)
		for range holders - 1 {
			o.rc.IncBiased(thA)
		}
		o.truth.Store(holders)
		objs[i] = o
	}
	dead := func(o *obj) {
		if o.deaths.Add(1) != 1 {
			t.Errorf("object %d reported dead twice", o.id)
		}
		if o.truth.Load() != 0 {
			t.Errorf("object %d reported dead with %d references held", o.id, o.truth.Load())
		}
	}
	var wg sync.WaitGroup
	halfway := make(chan struct{}, holders)
	for h := range holders {
		me := ThreadID(10 + h)
		q := reg.Register(me)
		wg.Go(func() {
			for i, o := range objs {
				if i == len(objs)/2 {
					halfway <- struct{}{}
				}
				o.truth.Add(-1)
				switch out := o.rc.DecBiased(me); out {
				case Dead:
					dead(o)
				case MustQueue:
					if reg.Enqueue(o.rc.Owner(), o) == Dead {
						dead(o)
					}
				case Underflow:
					t.Errorf("object %d: underflow", o.id)
				}
				if q.Pending() {
					q.Drain(dead)
				}
			}
			reg.Deregister(q, nil, dead)
		})
	}
	// A exits once every holder has dropped half of its references, with
	// some of its objects queued and the rest still counted in its local
	// parts.
	for range holders {
		<-halfway
	}
	reg.Deregister(qa, nil, dead)
	wg.Wait()
	for _, o := range objs {
		require.Equal(t, int32(1), o.deaths.Load(), "object %d", o.id)
		require.Zero(t, o.rc.Value(Biased), "object %d", o.id)
	}
}

// TestDeregisterFreesWhileRegistered is the regression test for a bug in
// the original Deregister, which removed the queue first and drained it
// afterwards. The dead callbacks of that drain free objects, and freeing
// drops references to other objects the exiting thread owns, through the
// owner's plain local part. With the queue already removed, a non-owner
// dropping its reference to such a child at the same time finds the owner
// gone and merges the child directly, reading and writing that same local
// part: a data race (reported by -race) that can lose a reference and leak
// the child or free it twice. The callbacks must run while the thread is
// still registered.
func TestDeregisterFreesWhileRegistered(t *testing.T) {
	rounds := invariants.Scale(200, 4)
	for round := range rounds {
		reg := NewRegistry(countOf)
		qa := reg.Register(thA)
		qb := reg.Register(thB)
		child := &obj{id: 2*round + 1}
		child.rc.Init(Biased, thA) // held by parent
		child.rc.IncBiased(thA)    // held by B
		parent := &obj{id: 2 * round}
		parent.rc.Init(Biased, thA) // held by B
		require.Equal(t, MustQueue, parent.rc.DecBiased(thB))
		require.Equal(t, Alive, reg.Enqueue(parent.rc.Owner(), parent))

		var childDeaths atomic.Int32
		bDone := make(chan struct{})
		go func() {
			defer close(bDone)
			// B waits until A has exited, then drops its child reference.
			for reg.Registered(thA) {
				runtime.Gosched()
			}
			switch out := child.rc.DecBiased(thB); out {
			case MustQueue:
				if reg.Enqueue(child.rc.Owner(), child) == Dead {
					childDeaths.Add(1)
				}
			case Dead:
				childDeaths.Add(1)
			default:
				t.Errorf("child: %v", out)
			}
			reg.Deregister(qb, nil, func(*obj) { t.Error("B's queue held an object") })
		}()

		registeredInCallback := true
		n := reg.Deregister(qa, nil, func(o *obj) {
			require.Same(t, parent, o)
			registeredInCallback = reg.Registered(thA)
			// Free the parent: drop its reference to the child, as A.
			switch out := child.rc.DecBiased(thA); out {
			case Dead:
				childDeaths.Add(1)
			case Alive:
			default:
				t.Errorf("child: %v", out)
			}
		})
		<-bDone
		require.Equal(t, 1, n)
		require.True(t, registeredInCallback, "dead callbacks must run before the thread is removed")
		require.Equal(t, int32(1), childDeaths.Load(), "round %d", round)
		require.Zero(t, child.rc.Value(Biased))
	}
}

// TestDrainNestedInCallback: a drain's callback frees objects, and a
// finalizer run by such a free may reach a safe point, whose drain takes
// what other threads pushed meanwhile. The nested drain must not reuse the
// slice the queue's new pushes go to: before the queue gave up its spare
// slice at the take, the nested drain's take and the queue's next pushes
// shared one array, and the object pushed while it ran was lost.
func TestDrainNestedInCallback(t *testing.T) {
	reg := NewRegistry(countOf)
	q := reg.Register(thA)
	seen := map[*obj]int{}
	count := func(o *obj) { seen[o]++ }
	w := &obj{id: 1}
	require.True(t, q.push(w))
	q.DrainWith(count) // leaves a spare slice behind
	a, b, c := &obj{id: 2}, &obj{id: 3}, &obj{id: 4}
	require.True(t, q.push(a))
	q.DrainWith(func(o *obj) {
		count(o)
		require.True(t, q.push(b)) // another thread's push while a is freed
		q.DrainWith(func(o *obj) { // a's finalizer reaches a safe point
			count(o)
			require.True(t, q.push(c)) // and another push meanwhile
		})
	})
	q.DrainWith(count)
	require.Equal(t, map[*obj]int{w: 1, a: 1, b: 1, c: 1}, seen)
}

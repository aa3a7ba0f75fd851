package biasedrc

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// queuedBy returns an object owned by owner whose owner holds two
// references, one of which thC has just dropped (MustQueue): the caller
// hands that drop to a queue or a batch.
func queuedBy(t *testing.T, owner ThreadID) *obj {
	t.Helper()
	o := &obj{}
	o.rc.Init(Biased, owner)
	o.rc.IncBiased(owner)
	require.Equal(t, MustQueue, o.rc.DecBiased(thC))
	return o
}

func noDeaths(t *testing.T) func(*obj) {
	return func(o *obj) { t.Errorf("unexpected death of %p", o) }
}

// TestEnqueueBatched: a batch reaches its owner's queue when it fills, when
// an object of another owner arrives, and at Flush, never before; the
// owner's drain then merges every object exactly.
func TestEnqueueBatched(t *testing.T) {
	reg := NewRegistry(countOf)
	qa, qb := reg.Register(thA), reg.Register(thB)
	var b Batch[*obj]
	var all []*obj
	enqueue := func(owner ThreadID) {
		o := queuedBy(t, owner)
		all = append(all, o)
		require.Equal(t, Alive, reg.EnqueueBatched(&b, owner, o, noDeaths(t)))
	}
	enqueue(thA)
	enqueue(thA)
	require.Equal(t, 2, b.Len())
	require.Zero(t, qa.Len(), "held in the batch")
	require.False(t, qa.Pending())

	enqueue(thB)
	require.Equal(t, 2, qa.Len(), "another owner's object hands the batch over")
	require.True(t, qa.Pending())
	require.Equal(t, 1, b.Len())
	require.Zero(t, qb.Len())
	reg.Flush(&b, noDeaths(t))
	require.Equal(t, 1, qb.Len())
	require.Zero(t, b.Len())
	reg.Flush(&b, noDeaths(t)) // empty: nothing happens
	require.Equal(t, 1, qb.Len())

	for i := 0; i < BatchSize-1; i++ {
		enqueue(thA)
	}
	require.Equal(t, 2, qa.Len(), "not full yet")
	enqueue(thA)
	require.Equal(t, 2+BatchSize, qa.Len(), "a full batch is handed over")
	require.Zero(t, b.Len())

	require.Equal(t, 2+BatchSize, qa.Drain(noDeaths(t)))
	require.Equal(t, 1, qb.Drain(noDeaths(t)))
	for _, o := range all {
		require.Equal(t, int64(1), o.rc.Value(Biased), "the owner's reference is left")
		require.Equal(t, StateMerged, o.rc.SharedState())
	}
	reg.Deregister(qa, nil, noDeaths(t))
	reg.Deregister(qb, nil, noDeaths(t))
}

// TestBatchOwnerGone: objects held for an owner that exits before the batch
// is handed over are merged by the holder, each exactly once, and those
// whose last reference the batch held die; dead may queue more objects
// into the same batch. An object of an owner already gone is merged at once.
func TestBatchOwnerGone(t *testing.T) {
	reg := NewRegistry(countOf)
	qa, qb := reg.Register(thA), reg.Register(thB)
	var b Batch[*obj]
	var held []*obj
	for i := 0; i < 3; i++ {
		o := queuedBy(t, thA)
		require.Equal(t, Alive, reg.EnqueueBatched(&b, thA, o, noDeaths(t)))
		// A drops its own reference: the batch holds the last one.
		require.Equal(t, Alive, o.rc.DecBiased(thA))
		held = append(held, o)
	}
	require.Zero(t, reg.Deregister(qa, nil, noDeaths(t)), "nothing reached A's queue")

	deaths := map[*obj]int{}
	var fromDead *obj
	reg.Flush(&b, func(o *obj) {
		deaths[o]++
		if fromDead == nil {
			// Freeing it drops a reference to B's object: queue it.
			fromDead = queuedBy(t, thB)
			require.Equal(t, Alive, reg.EnqueueBatched(&b, thB, fromDead, noDeaths(t)))
		}
	})
	require.Len(t, deaths, 3)
	for _, o := range held {
		require.Equal(t, 1, deaths[o], "each died once")
		require.Zero(t, o.rc.Value(Biased))
	}
	require.Equal(t, 1, b.Len(), "what dead queued is held, for B")
	reg.Flush(&b, noDeaths(t))
	require.Equal(t, 1, qb.Len())

	// A is gone: its next object is merged at once, not held.
	late := queuedBy(t, thA)
	require.Equal(t, Alive, reg.EnqueueBatched(&b, thA, late, noDeaths(t)))
	require.Zero(t, b.Len())
	require.Equal(t, StateMerged, late.rc.SharedState())
	require.Equal(t, int64(1), late.rc.Value(Biased))
	reg.Deregister(qb, nil, noDeaths(t))
}

// TestDeregisterHandsOverOwnBatch: what an exiting thread's batch holds,
// and what its last frees queue into it, reaches the owners' queues before
// Deregister returns.
func TestDeregisterHandsOverOwnBatch(t *testing.T) {
	reg := NewRegistry(countOf)
	qa, qb := reg.Register(thA), reg.Register(thB)
	var batchA Batch[*obj] // A's own batch: objects A dropped for B
	first := &obj{}
	first.rc.Init(Biased, thB)
	first.rc.IncBiased(thB)
	require.Equal(t, MustQueue, first.rc.DecBiased(thA))
	require.Equal(t, Alive, reg.EnqueueBatched(&batchA, thB, first, noDeaths(t)))

	// x is A's, its last reference queued to A by thC: A's drain frees it,
	// and the free drops A's reference to a B object, which queues.
	x := queuedBy(t, thA)
	require.Equal(t, Alive, reg.Enqueue(thA, x))
	require.Equal(t, Alive, x.rc.DecBiased(thA))
	var second *obj
	n := reg.Deregister(qa, &batchA, func(o *obj) {
		require.Same(t, x, o)
		require.True(t, reg.Registered(thA), "still registered while it frees")
		second = &obj{}
		second.rc.Init(Biased, thB)
		second.rc.IncBiased(thB)
		require.Equal(t, MustQueue, second.rc.DecBiased(thA))
		require.Equal(t, Alive, reg.EnqueueBatched(&batchA, thB, second, noDeaths(t)))
	})
	require.Equal(t, 1, n)
	require.NotNil(t, second)
	require.Zero(t, batchA.Len())
	require.Equal(t, 2, qb.Len(), "both of A's drops reached B")
	require.Equal(t, 2, qb.Drain(noDeaths(t)))
	reg.Deregister(qb, nil, noDeaths(t))
}

// TestBatchDrainWith: a thread that stopped the world takes a parked
// thread's batch whole; the batch is empty and usable afterwards.
func TestBatchDrainWith(t *testing.T) {
	reg := NewRegistry(countOf)
	qa := reg.Register(thA)
	var b Batch[*obj]
	objs := []*obj{queuedBy(t, thA), queuedBy(t, thA)}
	for _, o := range objs {
		require.Equal(t, Alive, reg.EnqueueBatched(&b, thA, o, noDeaths(t)))
	}
	var got []*obj
	require.Equal(t, 2, b.DrainWith(func(o *obj) {
		_, out := o.rc.Merge(-1)
		require.Equal(t, Alive, out)
		got = append(got, o)
	}))
	require.Equal(t, objs, got)
	require.Zero(t, b.Len())
	require.Zero(t, qa.Len())
	o := queuedBy(t, thA)
	require.Equal(t, Alive, reg.EnqueueBatched(&b, thA, o, noDeaths(t)))
	reg.Flush(&b, noDeaths(t))
	require.Equal(t, 1, qa.Len())
	reg.Deregister(qa, nil, noDeaths(t))
}

// TestBatchAdd: Add takes an object only into a batch that already holds
// its owner's objects, and never fills the batch (the filling object goes
// through EnqueueBatched, which hands the batch over).
func TestBatchAdd(t *testing.T) {
	reg := NewRegistry(countOf)
	qa := reg.Register(thA)
	var b Batch[*obj]
	first := queuedBy(t, thA)
	require.False(t, b.Add(thA, first), "an empty batch has no owner yet")
	require.Equal(t, Alive, reg.EnqueueBatched(&b, thA, first, noDeaths(t)))
	require.False(t, b.Add(thB, queuedBy(t, thB)), "another owner's object")
	for b.Len() < BatchSize-1 {
		require.True(t, b.Add(thA, queuedBy(t, thA)))
	}
	last := queuedBy(t, thA)
	require.False(t, b.Add(thA, last), "the object that fills the batch")
	require.Equal(t, Alive, reg.EnqueueBatched(&b, thA, last, noDeaths(t)))
	require.Zero(t, b.Len(), "handed over")
	require.Equal(t, BatchSize, qa.Len())
}

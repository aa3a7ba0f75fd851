package biasedrc

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

// Thread ids of the transition tables: A owns the object, B and C do not.
const (
	thA ThreadID = 1
	thB ThreadID = 2
	thC ThreadID = 3
)

type opKind uint8

const (
	opInc     opKind = iota // IncBiased(by)
	opDec                   // DecBiased(by); on MustQueue, Enqueue(Owner()) at once
	opDecHold               // DecBiased(by); on MustQueue, keep the reference for a later opEnqueue
	opEnqueue               // Enqueue(Owner()) the reference opDecHold kept
	opTryInc                // TryIncBiased(by)
	opWeak                  // MarkMaybeWeakref
	opDrain                 // Drain the queue of thread by
	opMerge                 // Merge(extra)
	opExit                  // Deregister thread by
)

func (k opKind) String() string {
	return [...]string{"inc", "dec", "dec-hold", "enqueue", "try-inc", "weak", "drain", "merge", "exit"}[k]
}

type step struct {
	op    opKind
	by    ThreadID
	extra int64 // opMerge
	// want is the step's result: the Outcome of opDec/opDecHold (DecBiased's,
	// before any Enqueue), opEnqueue and opMerge; the bool of opTryInc; the
	// number merged by opDrain and opExit. Nil for the rest.
	want   any
	merged int64 // opMerge: the merged count
	after  snapshot
	deaths int32 // Dead reports so far, from every path
}

func st(op opKind, by ThreadID, want any, after snapshot, deaths int32) step {
	return step{op: op, by: by, want: want, after: after, deaths: deaths}
}

func sn(owner ThreadID, state State, shared int64, local uint32) snapshot {
	return snapshot{Owner: owner, State: state, Shared: shared, Local: local}
}

const (
	dflt   = StateDefault
	weak   = StateMaybeWeakref
	queued = StateQueued
	merged = StateMerged
)

// TestBiasedTransitions walks every state transition of the biased word,
// one thread at a time, checking every field after every step. The object
// starts with Init(Biased, A): owner A, default, shared 0, local 1.
func TestBiasedTransitions(t *testing.T) {
	cases := []struct {
		name  string
		steps []step
	}{
		{"default to maybe-weakref, then the owner frees through a CAS", []step{
			st(opWeak, thA, nil, sn(thA, weak, 0, 1), 0),
			st(opWeak, thB, nil, sn(thA, weak, 0, 1), 0), // idempotent
			st(opDec, thA, Dead, sn(Unowned, merged, 0, 0), 1),
		}},
		{"default to queued by a non-owner, queued to merged by Drain", []step{
			st(opInc, thA, nil, sn(thA, dflt, 0, 2), 0), // the new reference goes to B
			st(opDec, thB, MustQueue, sn(thA, queued, 0, 2), 0),
			st(opDrain, thA, 1, sn(Unowned, merged, 1, 0), 0),
			st(opDrain, thA, 0, sn(Unowned, merged, 1, 0), 0), // nothing merged twice
			// A is no longer the owner: its decrement takes the shared path.
			st(opDec, thA, Dead, sn(Unowned, merged, 0, 0), 1),
		}},
		{"maybe-weakref to queued", []step{
			st(opWeak, thA, nil, sn(thA, weak, 0, 1), 0),
			st(opInc, thA, nil, sn(thA, weak, 0, 2), 0),
			st(opDec, thB, MustQueue, sn(thA, queued, 0, 2), 0),
			st(opWeak, thA, nil, sn(thA, queued, 0, 2), 0), // states only move up
			st(opDrain, thA, 1, sn(Unowned, merged, 1, 0), 0),
			st(opWeak, thA, nil, sn(Unowned, merged, 1, 0), 0),
			st(opDec, thB, Dead, sn(Unowned, merged, 0, 0), 1),
		}},
		{"owner zero with shared zero: Dead without a merge", []step{
			st(opDec, thA, Dead, sn(thA, dflt, 0, 0), 1),
			st(opDec, thA, Underflow, sn(thA, dflt, 0, 0), 1),
		}},
		{"owner zero with shared positive: merged, alive; then non-owners free it", []step{
			st(opInc, thB, nil, sn(thA, dflt, 1, 1), 0),
			st(opDec, thA, Alive, sn(Unowned, merged, 1, 0), 0),
			st(opInc, thA, nil, sn(Unowned, merged, 2, 0), 0), // former owner: shared path
			st(opDec, thB, Alive, sn(Unowned, merged, 1, 0), 0),
			st(opDec, thC, Dead, sn(Unowned, merged, 0, 0), 1),
			st(opDec, thC, Underflow, sn(Unowned, merged, -1, 0), 1),
		}},
		{"queued: the shared part goes negative until the drain merges", []step{
			st(opInc, thA, nil, sn(thA, dflt, 0, 2), 0), // for B
			st(opInc, thA, nil, sn(thA, dflt, 0, 3), 0), // for C
			st(opInc, thA, nil, sn(thA, dflt, 0, 4), 0), // A holds 2
			st(opDec, thB, MustQueue, sn(thA, queued, 0, 4), 0),
			st(opDec, thC, Alive, sn(thA, queued, -1, 4), 0),
			st(opDec, thA, Alive, sn(thA, queued, -1, 3), 0),
			st(opDrain, thA, 1, sn(Unowned, merged, 1, 0), 0), // -1 + 3 - 1
			st(opDec, thA, Dead, sn(Unowned, merged, 0, 0), 1),
		}},
		{"owner local reaches zero while queued: merged alive, the drain frees", []step{
			st(opInc, thA, nil, sn(thA, dflt, 0, 2), 0), // for B
			st(opDec, thB, MustQueue, sn(thA, queued, 0, 2), 0),
			st(opInc, thC, nil, sn(thA, queued, 1, 2), 0), // C hands this one to A
			st(opDec, thA, Alive, sn(thA, queued, 1, 1), 0),
			st(opDec, thA, Alive, sn(Unowned, merged, 1, 0), 0), // the queue's reference
			st(opDrain, thA, 1, sn(Unowned, merged, 0, 0), 1),
		}},
		{"owner merges between the non-owner's queued CAS and its Enqueue", []step{
			st(opInc, thA, nil, sn(thA, dflt, 0, 2), 0), // for B
			st(opDecHold, thB, MustQueue, sn(thA, queued, 0, 2), 0),
			st(opInc, thC, nil, sn(thA, queued, 1, 2), 0), // C hands this one to A
			st(opDec, thA, Alive, sn(thA, queued, 1, 1), 0),
			st(opDec, thA, Alive, sn(Unowned, merged, 1, 0), 0),
			// Owner() is Unowned now: Enqueue merges directly, like
			// _Py_brc_queue_object with ob_tid == 0.
			st(opEnqueue, thB, Dead, sn(Unowned, merged, 0, 0), 1),
			st(opDrain, thA, 0, sn(Unowned, merged, 0, 0), 1),
		}},
		{"maybe-weakref: a reader's try-incref beats the owner's free", []step{
			st(opWeak, thA, nil, sn(thA, weak, 0, 1), 0),
			st(opTryInc, thB, true, sn(thA, weak, 1, 1), 0),
			st(opDec, thA, Alive, sn(Unowned, merged, 1, 0), 0),
			st(opTryInc, thC, true, sn(Unowned, merged, 2, 0), 0),
			st(opDec, thB, Alive, sn(Unowned, merged, 1, 0), 0),
			st(opDec, thC, Dead, sn(Unowned, merged, 0, 0), 1),
			st(opTryInc, thB, false, sn(Unowned, merged, 0, 0), 1), // merged zero
			st(opTryInc, thA, false, sn(Unowned, merged, 0, 0), 1),
		}},
		{"try-incref refuses a zero shared word, takes a positive one", []step{
			st(opTryInc, thB, false, sn(thA, dflt, 0, 1), 0),
			st(opTryInc, thA, true, sn(thA, dflt, 0, 2), 0), // owner: local part
			st(opInc, thB, nil, sn(thA, dflt, 1, 2), 0),
			st(opTryInc, thC, true, sn(thA, dflt, 2, 2), 0),
			st(opDec, thA, Alive, sn(thA, dflt, 2, 1), 0),
			st(opDec, thA, Alive, sn(Unowned, merged, 2, 0), 0),
			st(opDec, thB, Alive, sn(Unowned, merged, 1, 0), 0),
			st(opDec, thC, Dead, sn(Unowned, merged, 0, 0), 1),
		}},
		{"try-incref refuses after the owner's fast-path free", []step{
			st(opDec, thA, Dead, sn(thA, dflt, 0, 0), 1),
			st(opTryInc, thA, false, sn(thA, dflt, 0, 0), 1),
			st(opTryInc, thB, false, sn(thA, dflt, 0, 0), 1),
		}},
		{"try-incref takes a queued word", []step{
			st(opInc, thA, nil, sn(thA, dflt, 0, 2), 0),
			st(opDec, thB, MustQueue, sn(thA, queued, 0, 2), 0),
			st(opTryInc, thC, true, sn(thA, queued, 1, 2), 0),
			st(opDrain, thA, 1, sn(Unowned, merged, 2, 0), 0),
		}},
		{"Merge with extra", []step{
			st(opInc, thA, nil, sn(thA, dflt, 0, 2), 0),
			st(opInc, thB, nil, sn(thA, dflt, 1, 2), 0),
			{op: opMerge, by: thA, extra: 3, want: Alive, merged: 6, after: sn(Unowned, merged, 6, 0)},
			{op: opMerge, by: thA, extra: -6, want: Dead, merged: 0, after: sn(Unowned, merged, 0, 0), deaths: 1},
		}},
		{"Merge below zero", []step{
			{op: opMerge, by: thA, extra: -2, want: Underflow, merged: -1, after: sn(Unowned, merged, -1, 0)},
		}},
		{"owner exited: a non-owner's decrement merges directly", []step{
			st(opInc, thA, nil, sn(thA, dflt, 0, 2), 0), // A hands both references to B and C
			st(opExit, thA, 0, sn(thA, dflt, 0, 2), 0),
			st(opDec, thB, MustQueue, sn(Unowned, merged, 1, 0), 0),
			st(opDec, thC, Dead, sn(Unowned, merged, 0, 0), 1),
		}},
		{"owner exits with the object queued: Deregister merges it", []step{
			st(opInc, thA, nil, sn(thA, dflt, 0, 2), 0),
			st(opDec, thB, MustQueue, sn(thA, queued, 0, 2), 0),
			st(opDec, thA, Alive, sn(thA, queued, 0, 1), 0),
			st(opExit, thA, 1, sn(Unowned, merged, 0, 0), 1),
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			o := &obj{}
			o.rc.Init(Biased, thA)
			reg := NewRegistry(countOf)
			queues := map[ThreadID]*Queue[*obj]{}
			for _, id := range []ThreadID{thA, thB, thC} {
				queues[id] = reg.Register(id)
			}
			var deaths int32
			dead := func(got *obj) {
				require.Same(t, o, got)
				deaths++
			}
			held := false // a reference kept by opDecHold
			for i, s := range tc.steps {
				msg := fmt.Sprintf("step %d: %v by %d", i, s.op, s.by)
				switch s.op {
				case opInc:
					o.rc.IncBiased(s.by)
				case opDec, opDecHold:
					out := o.rc.DecBiased(s.by)
					require.Equal(t, s.want, out, msg)
					switch out {
					case Dead:
						dead(o)
					case MustQueue:
						if s.op == opDecHold {
							held = true
							break
						}
						// The queue (or the direct merge) takes the reference.
						if reg.Enqueue(o.rc.Owner(), o) == Dead {
							dead(o)
						}
					}
				case opEnqueue:
					require.True(t, held, msg)
					held = false
					out := reg.Enqueue(o.rc.Owner(), o)
					require.Equal(t, s.want, out, msg)
					if out == Dead {
						dead(o)
					}
				case opTryInc:
					require.Equal(t, s.want, o.rc.TryIncBiased(s.by), msg)
				case opWeak:
					o.rc.MarkMaybeWeakref()
				case opDrain:
					require.Equal(t, s.want, queues[s.by].Drain(dead), msg)
					require.False(t, queues[s.by].Pending(), msg)
					require.Zero(t, queues[s.by].Len(), msg)
				case opMerge:
					n, out := o.rc.Merge(s.extra)
					require.Equal(t, s.merged, n, msg)
					require.Equal(t, s.want, out, msg)
					if out == Dead {
						dead(o)
					}
				case opExit:
					require.Equal(t, s.want, reg.Deregister(queues[s.by], nil, dead), msg)
					require.False(t, reg.Registered(s.by), msg)
				}
				require.Equal(t, s.after, snap(&o.rc), msg)
				require.Equal(t, s.deaths, deaths, msg)
				// Owner word and Owner() agree; an owned, live word has local >= 1.
				if own := snap(&o.rc).Owner; own != Unowned && deaths == 0 {
					require.Equal(t, own, o.rc.Owner(), msg)
					require.GreaterOrEqual(t, o.rc.LocalUnsynchronized(), uint32(1), msg)
				}
			}
			require.False(t, held, "a held reference was never enqueued")
		})
	}
}

// TestOwnerMergeWindow interleaves other threads between the two writes of
// the owner's merge (mergeZeroLocal: disown, then publish merged), which no
// sequential test can reach: the steps of mergeZeroLocal are run by hand.
func TestOwnerMergeWindow(t *testing.T) {
	cases := []struct {
		name    string
		prepare func(c *Count) // before the owner's local part reaches zero
		window  func(t *testing.T, c *Count)
		want    Outcome // the owner's merge
		after   snapshot
	}{
		{
			name:    "a non-owner's atomic-add decrement takes the count to zero",
			prepare: func(c *Count) { c.IncBiased(thB) },
			window: func(t *testing.T, c *Count) {
				require.Equal(t, Alive, c.DecBiased(thB)) // default word: not Dead yet
				require.Equal(t, sn(Unowned, dflt, 0, 0), snap(c))
			},
			want:  Dead,
			after: sn(Unowned, merged, 0, 0),
		},
		{
			name: "the same on a maybe-weakref word",
			prepare: func(c *Count) {
				c.MarkMaybeWeakref()
				c.IncBiased(thB)
			},
			window: func(t *testing.T, c *Count) {
				require.Equal(t, Alive, c.DecBiased(thB))
				require.Equal(t, sn(Unowned, weak, 0, 0), snap(c))
			},
			want:  Dead,
			after: sn(Unowned, merged, 0, 0),
		},
		{
			name:    "a non-owner's decrement leaves a reference",
			prepare: func(c *Count) { c.IncBiased(thB); c.IncBiased(thC) },
			window: func(t *testing.T, c *Count) {
				require.Equal(t, Alive, c.DecBiased(thB))
			},
			want:  Alive,
			after: sn(Unowned, merged, 1, 0),
		},
		{
			name:    "a reader's try-incref lands",
			prepare: func(c *Count) { c.IncBiased(thB) },
			window: func(t *testing.T, c *Count) {
				require.True(t, c.TryIncBiased(thC))
			},
			want:  Alive,
			after: sn(Unowned, merged, 2, 0),
		},
		{
			name: "a queued word",
			prepare: func(c *Count) {
				c.IncBiased(thA) // for B
				require.Equal(t, MustQueue, c.DecBiased(thB))
				c.IncBiased(thC)
				c.IncBiased(thC) // C hands this one to A, which drops it
			},
			window: func(t *testing.T, c *Count) {
				require.Equal(t, Alive, c.DecBiased(thC))
				require.Equal(t, sn(Unowned, queued, 1, 0), snap(c))
			},
			// The queue's reference: the merge keeps the object for the drain.
			want:  Alive,
			after: sn(Unowned, merged, 1, 0),
		},
	}
	// Regression: the non-owner that queued sees Unowned and calls
	// Enqueue(Unowned) in the window. Enqueue used to Merge(-1) there,
	// publishing merged-zero and reporting Dead; the owner's
	// compare-and-swap then succeeded on that word and reported Dead again.
	reg := NewRegistry(func(c *Count) *Count { return c })
	cases = append(cases, struct {
		name    string
		prepare func(c *Count)
		window  func(t *testing.T, c *Count)
		want    Outcome
		after   snapshot
	}{
		name: "the non-owner that queued enqueues to Unowned",
		prepare: func(c *Count) {
			c.IncBiased(thA) // for B
			require.Equal(t, MustQueue, c.DecBiased(thB))
			c.IncBiased(thC) // C hands this one to A, which drops it
		},
		window: func(t *testing.T, c *Count) {
			require.Equal(t, Unowned, c.Owner())
			require.Equal(t, Alive, reg.Enqueue(c.Owner(), c), "only the owner's merge may report Dead")
			require.Equal(t, sn(Unowned, queued, 0, 0), snap(c))
		},
		want:  Dead,
		after: sn(Unowned, merged, 0, 0),
	})
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var c Count
			c.Init(Biased, thA)
			tc.prepare(&c)
			// mergeZeroLocal by hand: the owner's last local reference.
			for c.local > 1 {
				require.Equal(t, Alive, c.DecBiased(thA))
			}
			c.local--
			stale := c.shared.Load()
			require.NotZero(t, stale)
			c.owner.Store(uint64(Unowned))
			tc.window(t, &c)
			require.Equal(t, tc.want, c.publishMerged(stale))
			require.Equal(t, tc.after, snap(&c))
		})
	}
}

// TestStatesOnlyMoveUp checks, for every pair of states, that each
// operation leaves the state bits at or above where they were.
func TestStatesOnlyMoveUp(t *testing.T) {
	for from := StateDefault; from <= StateMerged; from++ {
		for _, op := range []opKind{opInc, opDec, opTryInc, opWeak, opMerge} {
			t.Run(fmt.Sprintf("%d/%v", from, op), func(t *testing.T) {
				var c Count
				c.Init(Biased, thA)
				c.IncBiased(thA) // local 2
				c.shared.Store(3<<stateBits | int64(from))
				if from == StateMerged {
					c.owner.Store(uint64(Unowned))
				}
				switch op {
				case opInc:
					c.IncBiased(thB)
				case opDec:
					require.NotEqual(t, Underflow, c.DecBiased(thB))
				case opTryInc:
					require.True(t, c.TryIncBiased(thB))
				case opWeak:
					c.MarkMaybeWeakref()
				case opMerge:
					c.Merge(0)
				}
				require.GreaterOrEqual(t, c.SharedState(), from)
			})
		}
	}
}

// TestImmortalNeverWritten hammers an immortal object with every operation
// of every strategy from many goroutines; none may write any field (the race
// detector would also flag a write racing the others' reads).
func TestImmortalNeverWritten(t *testing.T) {
	var c Count
	c.InitImmortal()
	require.Equal(t, immortalSnap, snap(&c))
	require.True(t, c.IsImmortal())
	require.Equal(t, Unowned, c.Owner())

	goroutines := 8
	iters := 2000
	var wg sync.WaitGroup
	for g := range goroutines {
		me := ThreadID(g + 1)
		wg.Go(func() {
			for range iters {
				c.IncBiased(me)
				if out := c.DecBiased(me); out != Alive {
					t.Errorf("DecBiased on an immortal: %v", out)
					return
				}
				if !c.TryIncBiased(me) {
					t.Errorf("TryIncBiased refused an immortal")
					return
				}
				c.MarkMaybeWeakref()
				c.IncAtomic()
				if out := c.DecAtomic(); out != Alive {
					t.Errorf("DecAtomic on an immortal: %v", out)
					return
				}
				if !c.TryIncAtomic() {
					t.Errorf("TryIncAtomic refused an immortal")
					return
				}
				// Plain's exclusion is not needed when nothing is written.
				c.IncPlain()
				if out := c.DecPlain(); out != Alive {
					t.Errorf("DecPlain on an immortal: %v", out)
					return
				}
				if n, out := c.Merge(-1); n != math.MaxUint32 || out != Alive {
					t.Errorf("Merge on an immortal: %d %v", n, out)
					return
				}
				for _, s := range []Strategy{Plain, Atomic, Biased} {
					if v := c.Value(s); v != math.MaxUint32 {
						t.Errorf("Value(%v) of an immortal: %d", s, v)
						return
					}
				}
			}
		})
	}
	wg.Wait()
	require.Equal(t, immortalSnap, snap(&c))

	// Queuing an immortal is never asked for, but Enqueue and Drain must not
	// touch it either.
	reg := NewRegistry(func(c *Count) *Count { return c })
	q := reg.Register(thA)
	require.Equal(t, Alive, reg.Enqueue(thA, &c))
	require.Equal(t, 1, q.Drain(func(*Count) { t.Fatal("immortal reported dead") }))
	require.Equal(t, Alive, reg.Enqueue(thB, &c)) // no such queue: direct Merge
	require.Equal(t, 0, reg.Deregister(q, nil, func(*Count) {}))
	require.Equal(t, immortalSnap, snap(&c))
}

// TestUnderflow checks the Underflow outcome of every strategy's decrement.
func TestUnderflow(t *testing.T) {
	t.Run("plain", func(t *testing.T) {
		var c Count
		c.Init(Plain, thA)
		c.IncPlain()
		require.Equal(t, Alive, c.DecPlain())
		require.Equal(t, Dead, c.DecPlain())
		require.Equal(t, Underflow, c.DecPlain())
		require.Equal(t, int64(0), c.Value(Plain))
	})
	t.Run("atomic", func(t *testing.T) {
		var c Count
		c.Init(Atomic, thA)
		c.IncAtomic()
		require.Equal(t, Alive, c.DecAtomic())
		require.Equal(t, Dead, c.DecAtomic())
		require.False(t, c.TryIncAtomic())
		require.Equal(t, Underflow, c.DecAtomic())
		require.Equal(t, int64(-1), c.Value(Atomic))
		require.False(t, c.TryIncAtomic())
	})
	t.Run("biased/owner", func(t *testing.T) {
		var c Count
		c.Init(Biased, thA)
		require.Equal(t, Dead, c.DecBiased(thA))
		require.Equal(t, Underflow, c.DecBiased(thA))
	})
	t.Run("biased/merged", func(t *testing.T) {
		var c Count
		c.Init(Biased, thA)
		c.IncBiased(thB)
		require.Equal(t, Alive, c.DecBiased(thA))
		require.Equal(t, Dead, c.DecBiased(thB))
		require.Equal(t, Underflow, c.DecBiased(thB))
		require.Equal(t, Underflow, c.DecBiased(thA))
	})
	t.Run("biased/merge", func(t *testing.T) {
		var c Count
		c.Init(Biased, thA)
		n, out := c.Merge(-2)
		require.Equal(t, int64(-1), n)
		require.Equal(t, Underflow, out)
	})
	t.Run("biased/drain", func(t *testing.T) {
		o := &obj{}
		o.rc.Init(Biased, thA)
		reg := NewRegistry(countOf)
		q := reg.Register(thA)
		require.Equal(t, Dead, o.rc.DecBiased(thA))
		// A (buggy) extra reference dropped by B queues the dead object; the
		// drain's merge goes below zero.
		require.Equal(t, MustQueue, o.rc.DecBiased(thB))
		require.Equal(t, Alive, reg.Enqueue(o.rc.Owner(), o))
		require.PanicsWithValue(t, "biasedrc: merged count below zero", func() {
			q.Drain(func(*obj) { t.Fatal("reported dead") })
		})
	})
}

// TestStrategiesBasic checks Init, the plain and atomic operations and Value.
func TestStrategiesBasic(t *testing.T) {
	for _, s := range []Strategy{Plain, Atomic, Biased} {
		t.Run(s.String(), func(t *testing.T) {
			var c Count
			c.Init(s, thA)
			require.False(t, c.IsImmortal())
			require.Equal(t, int64(1), c.Value(s))
			inc := map[Strategy]func(){Plain: c.IncPlain, Atomic: c.IncAtomic, Biased: func() { c.IncBiased(thA) }}[s]
			dec := map[Strategy]func() Outcome{Plain: c.DecPlain, Atomic: c.DecAtomic, Biased: func() Outcome { return c.DecBiased(thA) }}[s]
			for i := range 10 {
				inc()
				require.Equal(t, int64(i+2), c.Value(s))
			}
			for i := 10; i > 0; i-- {
				require.Equal(t, Alive, dec())
				require.Equal(t, int64(i), c.Value(s))
			}
			if s == Atomic {
				require.True(t, c.TryIncAtomic())
				require.Equal(t, Alive, dec())
			}
			require.Equal(t, Dead, dec())
			require.Equal(t, int64(0), c.Value(s))
		})
	}
	require.PanicsWithValue(t, "biasedrc: Init with an invalid owner id", func() { new(Count).Init(Biased, Unowned) })
	require.PanicsWithValue(t, "biasedrc: Init with an invalid owner id", func() { new(Count).Init(Biased, immortalOwner) })
	require.PanicsWithValue(t, "biasedrc: Init with an unknown strategy", func() { new(Count).Init(Strategy(9), thA) })
	require.Equal(t, "plain atomic biased strategy?", fmt.Sprint(Plain, Atomic, Biased, Strategy(9)))
	require.Equal(t, "alive dead must-queue underflow outcome?", fmt.Sprint(Alive, Dead, MustQueue, Underflow, Outcome(9)))
}

// TestMarkMaybeWeakrefOtherStrategies: a runtime counting atomically (or
// plainly) may still mark objects that weak references point at; the mark
// must not set a state bit in a word that has none.
func TestMarkMaybeWeakrefOtherStrategies(t *testing.T) {
	var a Count
	a.Init(Atomic, thA)
	a.MarkMaybeWeakref()
	require.Equal(t, int64(sharedUnit), a.shared.Load())
	require.Equal(t, Dead, a.DecAtomic())

	var p Count
	p.Init(Plain, thA)
	p.MarkMaybeWeakref()
	require.Equal(t, int64(0), p.shared.Load())
	require.Equal(t, Dead, p.DecPlain())
}

// TestInitFreshMatchesInit checks that InitFresh leaves a word, zeroed or
// not, exactly as Init does, for every strategy.
func TestInitFreshMatchesInit(t *testing.T) {
	for _, s := range []Strategy{Plain, Atomic, Biased} {
		var a, b Count
		a.Init(s, 7)
		b.owner.Store(9)
		b.shared.Store(-5)
		b.local = 3
		b.InitFresh(NewFresh(s, 7))
		require.Equal(t, a.owner.Load(), b.owner.Load(), s.String())
		require.Equal(t, a.shared.Load(), b.shared.Load(), s.String())
		require.Equal(t, a.local, b.local, s.String())
	}
	require.PanicsWithValue(t, "biasedrc: Init with an invalid owner id", func() {
		NewFresh(Biased, Unowned)
	})
	require.PanicsWithValue(t, "biasedrc: Init with an unknown strategy", func() {
		NewFresh(Strategy(9), 7)
	})
}

// TestUniqueTo: only the owner holding the one reference, with a shared
// word of zero (no other thread's reference, no weak reference, not
// queued or merged), holds the object uniquely.
func TestUniqueTo(t *testing.T) {
	var c Count
	c.Init(Biased, thA)
	require.True(t, c.UniqueTo(thA), "fresh: the owner's one reference")
	require.False(t, c.UniqueTo(thB), "not the owner")

	c.IncBiased(thA)
	require.False(t, c.UniqueTo(thA), "two local references")
	require.Equal(t, Alive, c.DecBiased(thA))
	require.True(t, c.UniqueTo(thA))

	c.IncBiased(thB)
	require.False(t, c.UniqueTo(thA), "another thread holds one")
	require.Equal(t, Alive, c.DecBiased(thB))
	require.True(t, c.UniqueTo(thA), "and gave it back")

	c.MarkMaybeWeakref()
	require.False(t, c.UniqueTo(thA), "a weak reference may make one")

	var m Count
	m.Init(Biased, thA)
	m.Merge(0)
	require.False(t, m.UniqueTo(thA), "merged: nobody owns it")

	var im Count
	im.InitImmortal()
	require.False(t, im.UniqueTo(thA), "immortal")
}

// TestResetDeadAllowsInitFresh: a word that reached zero by any path —
// the owner's last reference, a merged word's last one, an atomic count's
// — is all zeroes after ResetDead, and InitFresh then gives the word a
// fresh Init gives (what a free list relies on).
func TestResetDeadAllowsInitFresh(t *testing.T) {
	deaths := map[string]func(c *Count) Strategy{
		"plain": func(c *Count) Strategy {
			c.Init(Plain, 0)
			require.Equal(t, Dead, c.DecPlain())
			return Plain
		},
		"atomic": func(c *Count) Strategy {
			c.Init(Atomic, 0)
			require.Equal(t, Dead, c.DecAtomic())
			return Atomic
		},
		"biased-owner": func(c *Count) Strategy {
			c.Init(Biased, thA)
			require.Equal(t, Dead, c.DecBiased(thA))
			return Biased
		},
		"biased-merged": func(c *Count) Strategy {
			c.Init(Biased, thA)
			c.IncBiased(thB)
			require.Equal(t, Alive, c.DecBiased(thA)) // the owner's part reaches zero: merged
			require.Equal(t, Dead, c.DecBiased(thB))
			return Biased
		},
	}
	for name, die := range deaths {
		var c Count
		s := die(&c)
		c.ResetDead()
		require.Zero(t, c.owner.Load(), name)
		require.Zero(t, c.shared.Load(), name)
		require.Zero(t, c.local, name)
		var want Count
		want.Init(s, thB)
		c.InitFresh(NewFresh(s, thB))
		require.Equal(t, want.owner.Load(), c.owner.Load(), name)
		require.Equal(t, want.shared.Load(), c.shared.Load(), name)
		require.Equal(t, want.local, c.local, name)
	}
}

// decNoCall is the runtime's biased decrement (DecRef, dropRef):
// DecBiasedNoCall, then the one call, if any, that its rest asks for.
func decNoCall(c *Count, me ThreadID) Outcome {
	dead, rest := c.DecBiasedNoCall(me)
	switch {
	case dead:
		return Dead
	case rest.Done():
		return Alive
	case rest.Started():
		return c.DecBiasedFinish(rest)
	}
	return c.DecBiasedSlow(me)
}

// cloneCount copies every field of c (single goroutine, or behind a
// happens-before edge with the owner).
func cloneCount(c *Count) *Count {
	var d Count
	d.owner.Store(c.owner.Load())
	d.shared.Store(c.shared.Load())
	d.local = c.local
	return &d
}

// restKind names what DecBiasedNoCall left: "done", "started" (a
// non-owner's add, DecBiasedFinish to follow) or "slow" (nothing changed,
// DecBiasedSlow to follow).
func restKind(r DecRest) string {
	switch {
	case r.Done():
		return "done"
	case r.Started():
		return "started"
	}
	return "slow"
}

// checkNoCallSequence runs DecBiasedNoCall, then DecBiasedFinish or
// DecBiasedSlow as its rest asks, on a copy of c, and DecBiased on another
// copy, as thread me; it requires the same outcome and the same word, and
// that each step did only what its rest says: Started means one unit was
// subtracted from the shared part and nothing else, neither Done nor
// Started means nothing changed. It returns the rest's kind and the
// outcome. c is not changed.
func checkNoCallSequence(t *testing.T, c *Count, me ThreadID, msg string) (string, Outcome) {
	t.Helper()
	a, b := cloneCount(c), cloneCount(c)
	want := b.DecBiased(me)
	before := *cloneCount(c)
	dead, rest := a.DecBiasedNoCall(me)
	kind := restKind(rest)
	out := Alive
	if dead {
		out = Dead
		require.Equal(t, "done", kind, "%s: dead with a rest", msg)
	}
	switch kind {
	case "started":
		require.Equal(t, before.owner.Load(), a.owner.Load(), msg)
		require.Equal(t, before.shared.Load()-sharedUnit, a.shared.Load(), msg)
		require.Equal(t, before.local, a.local, msg)
		out = a.DecBiasedFinish(rest)
	case "slow":
		require.Equal(t, snap(&before), snap(a), "%s: nothing changed before DecBiasedSlow", msg)
		out = a.DecBiasedSlow(me)
	}
	require.Equal(t, want, out, msg)
	require.Equal(t, snap(b), snap(a), msg)
	return kind, out
}

// TestDecBiasedNoCallAgreesWithDecBiased runs the runtime's decrement
// (decNoCall) and DecBiased on every word of a grid that holds every
// small state a Count can reach, and more: owner the decrementing thread,
// another thread, Unowned or immortal; each of the four states; shared
// count -3 to 3; local part 0 to 3. Words no sequential history reaches
// stand for races: an owned word in the merged state is what a non-owner
// that loaded the owner before an (orphan) merge adds to. Both must give
// the same outcome and leave the same word, and DecBiasedNoCall must
// finish inline exactly the decrements it promises to: the owner's that
// keep a local reference or free an object nobody else counted, an
// immortal's, and a non-owner's of an owned word that leaves a shared word
// non-negative and not merged-zero (B2's case, no call at all).
func TestDecBiasedNoCallAgreesWithDecBiased(t *testing.T) {
	seen := map[string]int{}
	for _, owner := range []ThreadID{thA, Unowned, immortalOwner} {
		for state := StateDefault; state <= StateMerged; state++ {
			for n := int64(-3); n <= 3; n++ {
				for local := uint32(0); local <= 3; local++ {
					for _, me := range []ThreadID{thA, thB} {
						var c Count
						word := n<<stateBits | int64(state)
						c.owner.Store(uint64(owner))
						c.shared.Store(word)
						c.local = local
						msg := fmt.Sprintf("owner %d, state %d, shared %d, local %d, by %d", owner, state, n, local, me)
						kind, out := checkNoCallSequence(t, &c, me, msg)

						var wantKind string
						switch owner {
						case immortalOwner:
							wantKind = "done"
						case me:
							wantKind = "slow"
							if local > 1 || local == 1 && word == 0 {
								wantKind = "done"
							}
						case Unowned:
							wantKind = "slow"
						default:
							wantKind = "started"
							if next := word - sharedUnit; next >= 0 && next != int64(StateMerged) {
								wantKind = "done"
							}
						}
						require.Equal(t, wantKind, kind, msg)
						if owner != me && owner != immortalOwner {
							seen["nonowner/"+kind+"/"+out.String()]++
						} else {
							seen["owner/"+kind+"/"+out.String()]++
						}
					}
				}
			}
		}
	}
	// Every path of the three functions ran.
	for _, k := range []string{
		"owner/done/alive", "owner/done/dead", "owner/slow/alive", "owner/slow/dead", "owner/slow/underflow",
		"nonowner/done/alive",
		"nonowner/started/must-queue", "nonowner/started/alive", "nonowner/started/dead", "nonowner/started/underflow",
		"nonowner/slow/alive", "nonowner/slow/dead", "nonowner/slow/underflow",
	} {
		require.Positive(t, seen[k], "path %s not reached", k)
	}
}

// TestDecBiasedNoCallReachable walks the reachable states of one object at
// random, through every operation two threads can do to it (A owns it and
// makes the references, hands some to B; both copy and drop theirs, B
// takes some with TryIncBiased, a weak reference is marked, B's drops
// queue and A drains), and before every step checks the runtime's
// decrement against DecBiased from the state reached, by A and by B
// (checkNoCallSequence, on copies).
func TestDecBiasedNoCallReachable(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	seen := map[string]int{}
	for obj := 0; obj < 300; obj++ {
		var c Count
		c.Init(Biased, thA)
		held := map[ThreadID]int{thA: 1, thB: 0}
		queued := 0 // references held by A's queue
		for step := 0; held[thA]+held[thB]+queued > 0; step++ {
			at := fmt.Sprintf("object %d, step %d, %+v", obj, step, snap(&c))
			for _, me := range []ThreadID{thA, thB} {
				kind, out := checkNoCallSequence(t, &c, me, fmt.Sprintf("%s, by %d", at, me))
				seen[fmt.Sprintf("%d/%s/%v", me, kind, out)]++
			}
			me := []ThreadID{thA, thB}[rng.IntN(2)]
			switch op := rng.IntN(7); {
			case op == 0 && held[me] < 4: // copy a reference
				c.IncBiased(me)
				held[me]++
			case op == 1 && held[thA] > 0: // A hands a reference to B
				held[thA]--
				held[thB]++
			case op == 2 && rng.IntN(4) == 0:
				c.MarkMaybeWeakref()
			case op == 3 && held[thB] < 4:
				if c.TryIncBiased(thB) {
					held[thB]++
				}
			case op == 4 && queued > 0: // A drains its queue
				for ; queued > 0; queued-- {
					if _, out := c.Merge(-1); out == Dead {
						require.Zero(t, held[thA]+held[thB]+queued-1, at)
					}
				}
			case held[me] > 0: // drop a reference, the runtime's way or DecBiased's
				held[me]--
				var out Outcome
				if rng.IntN(2) == 0 {
					out = decNoCall(&c, me)
				} else {
					out = c.DecBiased(me)
				}
				switch out {
				case MustQueue:
					queued++ // A is registered: Enqueue pushes on its queue
				case Dead:
					require.Zero(t, held[thA]+held[thB]+queued, at)
				case Underflow:
					t.Fatalf("%s: underflow", at)
				}
			}
		}
	}
	for _, k := range []string{
		"1/done/alive", "1/done/dead", "1/slow/alive", "1/slow/dead",
		"2/done/alive", "2/started/must-queue", "2/started/alive", "2/slow/alive", "2/slow/dead",
	} {
		require.Positive(t, seen[k], "path %s not reached", k)
	}
}

// TestIncAgreesWithTheStrategies: from words reached by each strategy's
// own operations (for Biased: the owner's and another thread's increments
// and decrements, a weak reference mark, a merge; immortal words in every
// strategy), Inc leaves exactly the word that the strategy's own increment
// leaves, for the owner and for another thread.
func TestIncAgreesWithTheStrategies(t *testing.T) {
	incs := map[Strategy]func(c *Count, me ThreadID){
		Plain:  func(c *Count, _ ThreadID) { c.IncPlain() },
		Atomic: func(c *Count, _ ThreadID) { c.IncAtomic() },
		Biased: func(c *Count, me ThreadID) { c.IncBiased(me) },
	}
	rng := rand.New(rand.NewPCG(3, 4))
	paths := map[string]int{}
	for trial := 0; trial < 3000; trial++ {
		s := Strategy(trial % 3)
		var a, b Count
		for _, c := range []*Count{&a, &b} {
			c.Init(s, thA)
			if trial%40 < 3 {
				c.InitImmortal()
			}
		}
		steps := []func(c *Count){func(c *Count) { incs[s](c, thA) }}
		if s == Biased {
			steps = append(steps,
				func(c *Count) { c.IncBiased(thB) },
				func(c *Count) { c.MarkMaybeWeakref() },
				func(c *Count) {
					if !c.IsImmortal() && c.Owner() == thA {
						c.Merge(0)
					}
				})
		}
		for n := rng.IntN(4); n > 0; n-- {
			step := steps[rng.IntN(len(steps))]
			step(&a)
			step(&b)
		}
		me := []ThreadID{thA, thB}[rng.IntN(2)]
		a.Inc(s, me)
		incs[s](&b, me)
		require.Equal(t, b.owner.Load(), a.owner.Load(), "%s trial %d", s, trial)
		require.Equal(t, b.shared.Load(), a.shared.Load(), "%s trial %d", s, trial)
		require.Equal(t, b.local, a.local, "%s trial %d", s, trial)
		switch {
		case a.IsImmortal():
			paths["immortal"]++
		case s == Biased && a.Owner() == me:
			paths["owner"]++
		default:
			paths[s.String()]++
		}
	}
	for _, p := range []string{"immortal", "owner", "plain", "atomic", "biased"} {
		require.Positive(t, paths[p], "path %s never taken", p)
	}
}

package biasedrc

import (
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/nogil-lab/nogil/internal/invariants"
	"github.com/stretchr/testify/require"
)

// TestOrphanConcurrentDrops: the references of an object whose owner has
// exited (or exits meanwhile) are spread over three non-owner threads,
// which copy (IncBiased) and drop (DecBiased or the runtime's
// DecBiasedNoCall sequence, then Enqueue on MustQueue) them at random.
// Two of them can cross zero on the word at once and both find the owner
// gone; each then merges the object itself. It must die exactly once,
// after the last reference goes. Before Enqueue serialized those merges,
// two of them added the owner's local part twice (the object leaked) and
// raced on it.
func TestOrphanConcurrentDrops(t *testing.T) {
	reg := NewRegistry(func(c *Count) *Count { return c })
	iters := invariants.Scale(20000, 2)
	for iter := 0; iter < iters; iter++ {
		rng := rand.New(rand.NewPCG(uint64(iter), 1))
		q := reg.Register(thA)
		var c Count
		c.Init(Biased, thA)
		// The owner makes the references (local part) and hands them out.
		var held [3]int
		held[0] = 1
		for n := 1 + rng.IntN(4); n > 1; n-- {
			c.IncBiased(thA)
			held[rng.IntN(3)]++
		}
		if rng.IntN(3) == 0 {
			c.MarkMaybeWeakref()
		}
		var deaths atomic.Int32
		exitFirst := rng.IntN(2) == 0
		if exitFirst {
			reg.Deregister(q, nil, func(*Count) { deaths.Add(1) })
		}
		var wg sync.WaitGroup
		for g, id := range [3]ThreadID{thB, thC, 4} {
			seed := rng.Uint64()
			wg.Go(func() {
				r := rand.New(rand.NewPCG(seed, 2))
				for held[g] > 0 {
					if r.IntN(3) == 0 && held[g] < 4 {
						c.IncBiased(id)
						held[g]++
						continue
					}
					held[g]--
					var out Outcome
					if r.IntN(2) == 0 {
						out = decNoCall(&c, id) // the runtime's way
					} else {
						out = c.DecBiased(id)
					}
					if out == MustQueue {
						out = reg.Enqueue(c.Owner(), &c)
					}
					switch out {
					case Dead:
						deaths.Add(1)
					case Underflow:
						t.Errorf("iteration %d: a count went below zero", iter)
					}
				}
			})
		}
		if !exitFirst {
			reg.Deregister(q, nil, func(*Count) { deaths.Add(1) })
		}
		wg.Wait()
		if d := deaths.Load(); d != 1 {
			t.Fatalf("iteration %d (owner exited first: %v): the object died %d times; shared word %#x, local %d",
				iter, exitFirst, d, c.shared.Load(), c.local)
		}
	}
}

// TestReusedIDTakesOverObjects: a thread that registers the id of an exited
// thread owns that thread's objects. One reference, dropped by a non-owner
// after the new registration, goes to the new owner's queue; the new owner
// drops its own through the owner's path; the object dies once.
func TestReusedIDTakesOverObjects(t *testing.T) {
	reg := NewRegistry(func(c *Count) *Count { return c })
	var c Count
	c.Init(Biased, thA)
	c.IncBiased(thA) // two references: one for thB, one for the next thA
	reg.Deregister(reg.Register(thA), nil, func(*Count) { t.Fatal("died early") })

	q := reg.Register(thA) // the id again: a new thread
	out := c.DecBiased(thB)
	require.Equal(t, MustQueue, out)
	require.Equal(t, Alive, reg.Enqueue(c.Owner(), &c), "queued to the new owner, not merged")
	require.Equal(t, 1, q.Len())
	require.Equal(t, Alive, c.DecBiased(thA), "the new owner's drop takes the owner's path")
	deaths := 0
	require.Equal(t, 1, q.Drain(func(*Count) { deaths++ }))
	require.Equal(t, 1, deaths)
	reg.Deregister(q, nil, func(*Count) { t.Fatal("died twice") })
}

// TestReusedIDRacesOrphanMerges: non-owners drop the references of an
// exited thread's object (merging it themselves while the id is free)
// while a new thread registers the id and drops its references through
// the owner's path. Every merge that read the local part must come before
// the new owner's first write to it (the race detector checks), and the
// object must die exactly once.
func TestReusedIDRacesOrphanMerges(t *testing.T) {
	reg := NewRegistry(func(c *Count) *Count { return c })
	iters := invariants.Scale(5000, 2)
	for iter := 0; iter < iters; iter++ {
		rng := rand.New(rand.NewPCG(uint64(iter), 3))
		var c Count
		c.Init(Biased, thA)
		var held [3]int // the new owner's, thB's, thC's
		held[rng.IntN(3)]++
		for n := rng.IntN(5); n > 0; n-- {
			c.IncBiased(thA)
			held[rng.IntN(3)]++
		}
		if rng.IntN(3) == 0 {
			c.MarkMaybeWeakref()
		}
		var deaths atomic.Int32
		dead := func(*Count) { deaths.Add(1) }
		reg.Deregister(reg.Register(thA), nil, dead)
		var wg sync.WaitGroup
		for g, id := range [2]ThreadID{thB, thC} {
			wg.Go(func() {
				for ; held[g+1] > 0; held[g+1]-- {
					out := decNoCall(&c, id)
					if out == MustQueue {
						out = reg.Enqueue(c.Owner(), &c)
					}
					if out == Dead {
						deaths.Add(1)
					}
				}
			})
		}
		wg.Go(func() { // the new thread with the old id
			q := reg.Register(thA)
			for ; held[0] > 0; held[0]-- {
				var out Outcome
				if c.Owner() == thA {
					out = c.DecBiased(thA)
				} else {
					out = decNoCall(&c, thA)
				}
				if out == MustQueue {
					out = reg.Enqueue(c.Owner(), &c)
				}
				if out == Dead {
					deaths.Add(1)
				}
				q.Drain(dead)
			}
			reg.Deregister(q, nil, dead)
		})
		wg.Wait()
		if d := deaths.Load(); d != 1 {
			t.Fatalf("iteration %d: the object died %d times; shared word %#x, local %d", iter, d, c.shared.Load(), c.local)
		}
	}
}

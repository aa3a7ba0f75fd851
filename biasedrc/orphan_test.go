package biasedrc

import (
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/nogil-lab/nogil/internal/invariants"
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

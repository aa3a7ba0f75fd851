package biasedrc

import (
	"sync"
	"testing"

	"github.com/nogil-lab/nogil/internal/cacheline"
)

// Benchmarks for DESIGN.md B1 (owner IncRef+DecRef: biased vs plain) and B2
// (non-owner pair: biased shared path vs atomic). Each iteration is one
// increment plus one decrement; the decrement's outcome is checked, so the
// loop cannot be removed, and the Count lives on the heap (reached through
// a pointer the compiler cannot see through), so its updates are real
// memory operations.
//
//	go test -run '^$' -bench . -count 6 ./biasedrc/

// paddedCount keeps each benchmark object on its own cache lines, so the
// "own object" cases measure no false sharing.
type paddedCount struct {
	_ cacheline.Pad
	c Count
	_ cacheline.Pad
}

// benchSink defeats escape analysis: every benchmark object is reachable
// from a global, so the compiler must keep its stores.
var benchSink []*paddedCount

func newBenchCount(s Strategy, owner ThreadID) *Count {
	p := &paddedCount{}
	p.c.Init(s, owner)
	benchSink = append(benchSink, p)
	return &p.c
}

const (
	benchOwner ThreadID = 1
	benchOther ThreadID = 2
)

func BenchmarkIncDec(b *testing.B) {
	b.Run("strategy=plain/owner", func(b *testing.B) {
		c := newBenchCount(Plain, benchOwner)
		for b.Loop() {
			c.IncPlain()
			if c.DecPlain() != Alive {
				b.Fatal("not alive")
			}
		}
	})
	b.Run("strategy=atomic/owner", func(b *testing.B) {
		c := newBenchCount(Atomic, benchOwner)
		for b.Loop() {
			c.IncAtomic()
			if c.DecAtomic() != Alive {
				b.Fatal("not alive")
			}
		}
	})
	b.Run("strategy=biased/owner", func(b *testing.B) {
		c := newBenchCount(Biased, benchOwner)
		me := benchOwner
		for b.Loop() {
			c.IncBiased(me)
			if c.DecBiased(me) != Alive {
				b.Fatal("not alive")
			}
		}
	})
	// The atomic strategy has no owner: its non-owner pair is its owner pair.
	b.Run("strategy=atomic/nonowner", func(b *testing.B) {
		c := newBenchCount(Atomic, benchOwner)
		for b.Loop() {
			c.IncAtomic()
			if c.DecAtomic() != Alive {
				b.Fatal("not alive")
			}
		}
	})
	b.Run("strategy=biased/nonowner", func(b *testing.B) {
		c := newBenchCount(Biased, benchOwner)
		c.IncBiased(benchOther) // shared part 1: the pair never queues
		me := benchOther
		for b.Loop() {
			c.IncBiased(me)
			if c.DecBiased(me) != Alive {
				b.Fatal("not alive")
			}
		}
	})
	// The same through the runtime's decrement (decNoCall, as DecRef has
	// it: DecBiasedNoCall, then the call its rest asks for, here none): the
	// add with no call.
	b.Run("strategy=biased/nonowner-nocall", func(b *testing.B) {
		c := newBenchCount(Biased, benchOwner)
		c.IncBiased(benchOther)
		me := benchOther
		// A b.N loop: the same in a b.Loop loop crashes the compiler of
		// Go 1.26.8 (an internal compiler error in escape analysis).
		for range b.N {
			c.IncBiased(me)
			if decNoCall(c, me) != Alive {
				b.Fatal("not alive")
			}
		}
	})
	// The same on a merged word (its owner dropped its last local
	// reference): the decrement is an atomic add instead of a
	// compare-and-swap.
	b.Run("strategy=biased/nonowner-merged", func(b *testing.B) {
		c := newBenchCount(Biased, benchOwner)
		c.IncBiased(benchOther)
		if c.DecBiased(benchOwner) != Alive || c.SharedState() != StateMerged {
			b.Fatal("not merged")
		}
		me := benchOther
		for b.Loop() {
			c.IncBiased(me)
			if c.DecBiased(me) != Alive {
				b.Fatal("not alive")
			}
		}
	})
}

// BenchmarkQueue is the queue path, one object per iteration: the owner
// gives a reference to another thread (IncBiased), which drops it with the
// shared part at zero (DecBiased → MustQueue, Enqueue), and the owner
// drains (Merge). Re-initialising the count is part of the iteration.
func BenchmarkQueue(b *testing.B) {
	b.Run("strategy=biased", func(b *testing.B) {
		reg := NewRegistry(func(c *Count) *Count { return c })
		q := reg.Register(benchOwner)
		other := reg.Register(benchOther)
		c := newBenchCount(Biased, benchOwner)
		dead := func(*Count) { b.Fatal("dead") }
		for b.Loop() {
			c.Init(Biased, benchOwner)
			c.IncBiased(benchOwner)
			if c.DecBiased(benchOther) != MustQueue {
				b.Fatal("not queued")
			}
			if reg.Enqueue(c.Owner(), c) != Alive {
				b.Fatal("not alive")
			}
			if q.Drain(dead) != 1 {
				b.Fatal("not drained")
			}
		}
		reg.Deregister(other, nil, dead)
		reg.Deregister(q, nil, dead)
	})
}

// pairs runs n inc+dec pairs on c as thread me under strategy s.
func pairs(b *testing.B, s Strategy, c *Count, me ThreadID, mu *sync.Mutex, n int) {
	switch s {
	case Plain:
		if mu == nil {
			for range n {
				c.IncPlain()
				if c.DecPlain() != Alive {
					b.Error("not alive")
					return
				}
			}
			return
		}
		for range n {
			mu.Lock()
			c.IncPlain()
			out := c.DecPlain()
			mu.Unlock()
			if out != Alive {
				b.Error("not alive")
				return
			}
		}
	case Atomic:
		for range n {
			c.IncAtomic()
			if c.DecAtomic() != Alive {
				b.Error("not alive")
				return
			}
		}
	case Biased:
		for range n {
			c.IncBiased(me)
			if c.DecBiased(me) != Alive {
				b.Error("not alive")
				return
			}
		}
	}
}

// BenchmarkParallel runs two goroutines at once, each doing b.N pairs, so
// ns/op is the wall time of one pair per goroutine.
//
// own: each goroutine on its own object (owned by it under Biased; plain
// counts need no lock on objects nobody else touches).
//
// shared: both on one object. Plain takes a mutex (the GIL's role) around
// each pair; atomic contends on one word; under Biased goroutine 0 owns the
// object (plain local part) and goroutine 1 uses the atomic shared part,
// which shares the owner's cache line.
func BenchmarkParallel(b *testing.B) {
	for _, s := range []Strategy{Plain, Atomic, Biased} {
		b.Run("strategy="+s.String()+"/own", func(b *testing.B) {
			cs := [2]*Count{newBenchCount(s, 1), newBenchCount(s, 2)}
			b.ResetTimer()
			var wg sync.WaitGroup
			for g := range 2 {
				wg.Go(func() { pairs(b, s, cs[g], ThreadID(g+1), nil, b.N) })
			}
			wg.Wait()
		})
		b.Run("strategy="+s.String()+"/shared", func(b *testing.B) {
			c := newBenchCount(s, 1)
			if s == Biased {
				c.IncBiased(2) // shared part 1: goroutine 1's pairs never queue
			}
			var mu *sync.Mutex
			if s == Plain {
				mu = new(sync.Mutex)
			}
			b.ResetTimer()
			var wg sync.WaitGroup
			for g := range 2 {
				wg.Go(func() { pairs(b, s, c, ThreadID(g+1), mu, b.N) })
			}
			wg.Wait()
		})
	}
}

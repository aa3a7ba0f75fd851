package runtime

import (
	"sync"
	"sync/atomic"
	"testing"
)

// Benchmarks of the hot paths, one sub-benchmark per mode (mode=gil,
// mode=ft-biased, mode=ft-atomic), so that benchstat compares the modes
// side by side. DESIGN.md §6: B1 is IncRefDecRefOwner (free-threaded biased
// ≤ 1.5× GIL mode), B2 is IncRefDecRefNonOwner (≤ one atomic pair, about
// 12-16 ns here). Runtimes run without Debug, as users run them.
//
//	go test -run '^$' -bench . -count 5 ./runtime/

// benchModes runs fn once per mode with a fresh runtime.
func benchModes(b *testing.B, fn func(b *testing.B, rt *Runtime)) {
	benchModesWith(b, nil, fn)
}

// benchModesWith is benchModes with the configuration changed by adjust
// (may be nil).
func benchModesWith(b *testing.B, adjust func(*Config), fn func(b *testing.B, rt *Runtime)) {
	for _, mc := range allModes {
		b.Run("mode="+mc.name, func(b *testing.B) {
			cfg := mc.cfg
			if adjust != nil {
				adjust(&cfg)
			}
			rt, err := New(cfg)
			if err != nil {
				b.Fatal(err)
			}
			fn(b, rt)
			if err := rt.Close(); err != nil {
				b.Fatal(err)
			}
		})
	}
}

// benchModesThread is benchModes with one attached thread.
func benchModesThread(b *testing.B, fn func(b *testing.B, th *Thread)) {
	benchModes(b, withBenchThread(fn))
}

// withBenchThread adapts fn to get one attached thread, closed at the end.
func withBenchThread(fn func(b *testing.B, th *Thread)) func(b *testing.B, rt *Runtime) {
	return func(b *testing.B, rt *Runtime) {
		th := rt.NewThread()
		fn(b, th)
		th.Close()
	}
}

// B1: IncRef+DecRef on an object the thread made (and owns, under biased
// counting).
func BenchmarkIncRefDecRefOwner(b *testing.B) {
	benchModesThread(b, func(b *testing.B, th *Thread) {
		o := th.NewFloat(1.5)
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			th.IncRef(o)
			th.DecRef(o)
		}
		b.StopTimer()
		th.DecRef(o)
	})
}

// B2: the same by a thread that did not make the object: under biased
// counting that is the shared (atomic) path. The maker stays alive,
// detached.
func BenchmarkIncRefDecRefNonOwner(b *testing.B) {
	benchModes(b, func(b *testing.B, rt *Runtime) {
		maker := rt.NewThread()
		o := maker.NewFloat(1.5)
		maker.Detach()
		th := rt.NewThread()
		th.IncRef(o) // our own reference, so that no decrement queues
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			th.IncRef(o)
			th.DecRef(o)
		}
		b.StopTimer()
		th.DecRef(o)
		th.Close()
		maker.Attach()
		maker.DecRef(o)
		maker.Close()
	})
}

// The reference for B2, measured in the same run: an atomic
// increment+decrement pair on a padded word (DESIGN.md §6: about 12-16 ns
// on this machine).
func BenchmarkReferenceAtomicPair(b *testing.B) {
	var w struct {
		n atomic.Int64
		_ [56]byte
	}
	for i := 0; i < b.N; i++ {
		w.n.Add(1)
		w.n.Add(-1)
	}
}

// B3: allocate and free a float (from and to the thread's or the
// runtime's free list, as CPython does).
func BenchmarkNewFloatDecRef(b *testing.B) {
	benchModesThread(b, benchNewFloatDecRef)
}

// B3 through the allocator alone: the same loop with the free lists off.
func BenchmarkNewFloatDecRefNoFreeLists(b *testing.B) {
	benchModesWith(b, func(c *Config) { c.NoFreeLists = true }, withBenchThread(benchNewFloatDecRef))
}

func benchNewFloatDecRef(b *testing.B, th *Thread) {
	b.ReportAllocs()
	defer reportCPUPerOp(b)()
	for i := 0; i < b.N; i++ {
		th.DecRef(th.NewFloat(float64(i)))
	}
}

// Allocate a list, append to it, free it (the container path: tracking,
// the per-object lock in free-threaded mode, releasing the item).
func BenchmarkNewListAppendDecRef(b *testing.B) {
	benchModesThread(b, func(b *testing.B, th *Thread) {
		v := th.NewFloat(2.5)
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			l := th.NewList()
			_ = th.ListAppend(l, v)
			th.DecRef(l)
		}
		b.StopTimer()
		th.DecRef(v)
	})
}

// DictSet+DictGet on a small dict (8 str keys), replacing values.
func BenchmarkDictSetGet(b *testing.B) {
	benchModesThread(b, func(b *testing.B, th *Thread) {
		const n = 8
		d := th.NewDict()
		keys := make([]*Object, n)
		for i := range keys {
			keys[i] = th.NewStr(string(rune('a' + i)))
			_ = th.DictSet(d, keys[i], th.rt.None())
		}
		v := th.NewFloat(3.5)
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			k := keys[i%n]
			if err := th.DictSet(d, k, v); err != nil {
				b.Fatal(err)
			}
			got, err := th.DictGet(d, k)
			if err != nil {
				b.Fatal(err)
			}
			th.DecRef(got)
		}
		b.StopTimer()
		th.DecRef(v)
		for _, k := range keys {
			th.DecRef(k)
		}
		th.DecRef(d)
	})
}

// Two threads (one per goroutine, RunParallel-style) append to and pop
// from one shared list: per-object lock contention and cross-thread
// reference counting in free-threaded mode, GIL hand-overs in GIL mode.
// b.N append+pop pairs are split between the two threads; ns/op is wall
// time per pair.
func BenchmarkListAppendPopContended(b *testing.B) {
	const threads = 2
	benchModes(b, func(b *testing.B, rt *Runtime) {
		setup := rt.NewThread()
		l := setup.NewList()
		setup.Detach()
		var wg sync.WaitGroup
		start := make(chan struct{})
		for g := 0; g < threads; g++ {
			n := b.N / threads
			if g == 0 {
				n += b.N % threads
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				th := rt.NewThread()
				v := th.NewFloat(float64(g))
				th.Detach()
				<-start
				th.Attach()
				for i := 0; i < n; i++ {
					_ = th.ListAppend(l, v)
					if got, err := th.ListPop(l, -1); err == nil {
						th.DecRef(got)
					}
					if i%64 == 0 {
						th.Checkpoint()
					}
				}
				th.DecRef(v)
				th.Close()
			}()
		}
		b.ResetTimer()
		close(start)
		wg.Wait()
		b.StopTimer()
		setup.Attach()
		setup.DecRef(l)
		setup.Close()
	})
}

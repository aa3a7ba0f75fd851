package gc

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"testing"

	"github.com/nogil-lab/nogil/internal/cputime"
)

// Benchmarks on the fake object graph (GIL-like Env: the pauses cost
// nothing, so these measure the collector and the fake's own
// RefCount/Traverse/Clear/free; a fake object is 96 bytes, its array of
// references a separate allocation). The graph is CPython's peer benchmark
// (peer-figures.md): n nodes in one ring, node i referring to node i+1 and
// to node (7i+3) mod n, held by one "nodes" container or dropped.
//
//	go test -run '^$' -bench . -benchtime 5x -count 5 ./gc/
//
// ns/object is wall time per object; cpu-ns/object is the collecting
// thread's CPU time, which a shared, busy machine disturbs less.

// bare makes a tracked object that nothing refers to yet (reference count
// zero until linked): the benchmarks build big graphs without the roots map.
func (g *graph) bare(nrefs int) *fobj {
	o := &fobj{magic: fobjMagic, id: int32(len(g.all)), refs: make([]*fobj, 0, nrefs)}
	g.all = append(g.all, o)
	g.live++
	g.c.Generation(0).PushBack(&o.Header)
	g.countDelta++
	return o
}

func (g *graph) bareLink(a, b *fobj) {
	a.refs = append(a.refs, b)
	b.rc++
}

// ring builds the peer graph; with hold, a rooted container refers to every
// node (the graph is alive), otherwise the ring is cyclic garbage.
func ring(g *graph, n int, hold bool) []*fobj {
	var nodes *fobj
	if hold {
		nodes = g.obj()
		nodes.refs = make([]*fobj, 0, n)
	}
	ns := make([]*fobj, n)
	for i := range ns {
		ns[i] = g.bare(2)
		if hold {
			g.bareLink(nodes, ns[i])
		}
	}
	for i, o := range ns {
		g.bareLink(o, ns[(i+1)%n])
		g.bareLink(o, ns[(7*i+3)%n])
	}
	g.checkpoint()
	return ns
}

func sizes(b *testing.B, f func(b *testing.B, n int)) {
	for _, n := range []int{100_000, 1_000_000} {
		b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) { f(b, n) })
	}
}

// cpuTimer accumulates the thread CPU time of the timed sections; the
// benchmark's goroutine is locked to its thread so that it is one thread's.
type cpuTimer struct {
	b     *testing.B
	total int64
	t0    int64
}

func newCPUTimer(b *testing.B) *cpuTimer {
	runtime.LockOSThread()
	b.Cleanup(runtime.UnlockOSThread)
	return &cpuTimer{b: b}
}

// start and stop read the clock inside the benchmark timer's interval:
// StartTimer and StopTimer themselves read memory statistics, which costs
// a pause of Go's.
func (t *cpuTimer) start() { t.b.StartTimer(); t.t0 = int64(cputime.Thread()) }
func (t *cpuTimer) stop()  { t.total += int64(cputime.Thread()) - t.t0; t.b.StopTimer() }

// report gives wall and CPU time per object.
func (t *cpuTimer) report(n int) {
	b := t.b
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/object")
	if t.total > 0 {
		b.ReportMetric(float64(t.total)/float64(b.N)/float64(n), "cpu-ns/object")
	}
}

// BenchmarkCollectGarbage is B6: a full collection of n objects of cyclic
// garbage, freeing included.
func BenchmarkCollectGarbage(b *testing.B) {
	sizes(b, func(b *testing.B, n int) {
		t := newCPUTimer(b)
		b.StopTimer()
		for range b.N {
			g := newGraph(b, modes[0], New([3]int{}))
			ring(g, n, false)
			runtime.GC() // settle Go's collector: time ours
			t.start()
			m, _ := g.c.Collect(g, 2)
			t.stop()
			if m != n || g.live != 0 {
				b.Fatalf("collected %d of %d, %d left", m, n, g.live)
			}
		}
		t.report(n)
	})
}

// BenchmarkCollectLive is B11: a full collection of a live heap of n
// objects (nothing to free).
func BenchmarkCollectLive(b *testing.B) {
	sizes(b, func(b *testing.B, n int) {
		g := newGraph(b, modes[0], New([3]int{}))
		ring(g, n, true)
		g.c.Collect(g, 2) // first collection: generation 0 to 2
		runtime.GC()
		t := newCPUTimer(b)
		b.ResetTimer()
		b.StopTimer()
		for range b.N {
			t.start()
			m, _ := g.c.Collect(g, 2)
			t.stop()
			if m != 0 {
				b.Fatalf("collected %d live objects", m)
			}
		}
		t.report(n + 1)
	})
}

// BenchmarkCollectGen0 is B8: a generation-0 collection of `young` new
// objects (half of them two-object cycles of garbage, half alive and
// referring to each other and, when there are any, to random long-lived
// objects) with no long-lived objects and with 1M of them in generation 2.
// The ratio of the two is the figure: a generation-0 collection must cost
// in proportion to generation 0.
func BenchmarkCollectGen0(b *testing.B) {
	const young = 1000
	for _, old := range []int{0, 1_000_000} {
		b.Run(fmt.Sprintf("old=%d", old), func(b *testing.B) {
			g := newGraph(b, modes[0], New([3]int{}))
			var olds []*fobj
			if old > 0 {
				olds = ring(g, old, true)
				g.c.Collect(g, 2)
			}
			runtime.GC()
			r := rand.New(rand.NewPCG(1, 2))
			t := newCPUTimer(b)
			b.ResetTimer()
			b.StopTimer()
			for range b.N {
				base := len(g.all)
				holder := g.obj()
				var prev *fobj
				for i := 0; i < young/2; i += 2 {
					x, y := g.bare(1), g.bare(1)
					g.bareLink(x, y)
					g.bareLink(y, x)
				}
				for range young / 2 {
					o := g.bare(2)
					g.bareLink(holder, o)
					if prev != nil {
						g.bareLink(o, prev)
					}
					if olds != nil {
						g.bareLink(o, olds[r.IntN(len(olds))])
					}
					prev = o
				}
				g.checkpoint()
				t.start()
				m, _ := g.c.Collect(g, 0)
				t.stop()
				if m != young/2 {
					b.Fatalf("collected %d, want %d", m, young/2)
				}
				g.drop(holder) // the survivors die by reference count
				if g.c.Generation(1).Len() != 0 {
					b.Fatalf("%d objects left in generation 1", g.c.Generation(1).Len())
				}
				clear(g.all[base:]) // everything made since base is freed
				g.all = g.all[:base]
			}
			t.report(young)
		})
	}
}

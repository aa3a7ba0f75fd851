package runtime

import (
	"os"
	goruntime "runtime"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nogil-lab/nogil/internal/cputime"
	"github.com/nogil-lab/nogil/internal/hoststeal"
	"github.com/nogil-lab/nogil/mimallocish"
)

// Benchmarks of the cycle collector (DESIGN.md §6, B6, B7, B8, B11), one
// sub-benchmark per mode (mode=gil, mode=ft-biased, mode=ft-atomic),
// Debug off and automatic collection disabled unless a sub-benchmark says
// otherwise. The figures that matter are reported per object or per pause
// with b.ReportMetric; ns/op is the time of one timed section.
//
//	go test -run '^$' -bench 'GC' -benchtime 3x -count 3 ./runtime/
//
// The machine has 2 cores shared with other jobs: compare ratios, and
// medians of several runs.
//
// With NOGIL_NO_HUGEPAGES=1 in the environment the runtimes run with
// Config.NoHugePages and the yardstick's array is not advised either: the
// whole process then stays on 4 KiB pages (an advised window stays advised
// for the life of the process, so the A/B of huge pages takes two
// processes).

// gcbModes runs fn once per mode with a fresh runtime (Debug off,
// automatic collection disabled).
func gcbModes(b *testing.B, fn func(b *testing.B, rt *Runtime)) {
	for _, mc := range allModes {
		b.Run("mode="+mc.name, func(b *testing.B) {
			rt := gcbRuntime(b, mc)
			fn(b, rt)
			if err := rt.Close(); err != nil {
				b.Fatal(err)
			}
		})
	}
}

var gcbNoHugePages = os.Getenv("NOGIL_NO_HUGEPAGES") != ""

func gcbRuntime(b *testing.B, mc modeCase) *Runtime {
	cfg := mc.cfg
	cfg.Debug = false
	cfg.GCDisabled = true
	cfg.NoHugePages = gcbNoHugePages
	rt, err := New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	return rt
}

// gcbRing builds peer-figures.md's workload: n instances, each with two
// attributes into one ring, a = nodes[i+1], b = nodes[(7i+3) % n]. The
// returned references are the only external ones.
func gcbRing(b *testing.B, th *Thread, typ *Type, n int) []*Object {
	nodes := make([]*Object, n)
	for i := range nodes {
		nodes[i] = th.NewInstance(typ)
	}
	for i, o := range nodes {
		if err := th.SetAttr(o, "a", nodes[(i+1)%n]); err != nil {
			b.Fatal(err)
		}
		if err := th.SetAttr(o, "b", nodes[(7*i+3)%n]); err != nil {
			b.Fatal(err)
		}
	}
	th.Checkpoint()
	return nodes
}

func gcbDrop(th *Thread, objs []*Object) {
	for i, o := range objs {
		th.DecRef(o)
		objs[i] = nil
	}
	th.Checkpoint()
}

func gcbCollect(b *testing.B, th *Thread, gen int) int {
	n, err := th.Collect(gen)
	if err != nil {
		b.Fatal(err)
	}
	return n
}

// gcbTimer times the measured sections by the wall clock and by the
// thread's CPU clock, which the host's steal does not advance (see
// internal/cputime): B6 and B11 run on one thread, so cpu-ns/object is
// their figure with the host's load taken out. The goroutine stays on its
// thread for the benchmark.
type gcbTimer struct {
	wall, cpu time.Duration
	w0        time.Time
	c0        time.Duration
}

func newGCBTimer(b *testing.B) *gcbTimer {
	goruntime.LockOSThread()
	b.Cleanup(goruntime.UnlockOSThread)
	return &gcbTimer{}
}

func (t *gcbTimer) start() { t.w0, t.c0 = time.Now(), cputime.Thread() }
func (t *gcbTimer) stop() {
	t.cpu += cputime.Thread() - t.c0
	t.wall += time.Since(t.w0)
}

// report gives both per object, over objects objects in all.
func (t *gcbTimer) report(b *testing.B, objects int) {
	b.ReportMetric(float64(t.wall.Nanoseconds())/float64(objects), "ns/object")
	if t.cpu > 0 {
		b.ReportMetric(float64(t.cpu.Nanoseconds())/float64(objects), "cpu-ns/object")
	}
}

// gcbSizes are B6's graph sizes: 1M only without -short.
func gcbSizes() []int {
	if testing.Short() {
		return []int{100_000}
	}
	return []int{100_000, 1_000_000}
}

// B6: drop the whole ring and time Collect(2), freeing included (target
// ≤ 150 ns per object at 1M; CPython 3.14: 214-250 ns).
func BenchmarkGCCyclicGarbage(b *testing.B) {
	gcbModes(b, func(b *testing.B, rt *Runtime) {
		th := rt.NewThread()
		defer th.Close()
		typ, _ := rt.NewType(TypeSpec{Name: "Node"})
		for _, n := range gcbSizes() {
			b.Run("n="+strconv.Itoa(n), func(b *testing.B) {
				t := newGCBTimer(b)
				iters := 0
				for b.Loop() {
					b.StopTimer()
					nodes := gcbRing(b, th, typ, n)
					gcbDrop(th, nodes)
					goruntime.GC()
					b.StartTimer()
					t.start()
					got := gcbCollect(b, th, 2)
					t.stop()
					iters++
					if got != n {
						b.Fatalf("Collect(2) found %d objects, want %d", got, n)
					}
				}
				t.report(b, iters*n)
				th.Checkpoint()
				if live := rt.Stats().Live; live != 0 {
					b.Fatalf("%d objects alive after the collection", live)
				}
			})
		}
	})
}

// B11: Collect(2) with the 1M-object ring still alive (target ≤ 50 ns per
// object; CPython 3.14: GIL 145-149, free-threaded 51-53).
func BenchmarkGCLiveHeap(b *testing.B) {
	n := 1_000_000
	if testing.Short() {
		n = 100_000
	}
	gcbModes(b, func(b *testing.B, rt *Runtime) {
		th := rt.NewThread()
		defer th.Close()
		typ, _ := rt.NewType(TypeSpec{Name: "Node"})
		nodes := gcbRing(b, th, typ, n)
		gcbCollect(b, th, 2) // into generation 2
		goruntime.GC()
		t := newGCBTimer(b)
		iters := 0
		for b.Loop() {
			t.start()
			if got := gcbCollect(b, th, 2); got != 0 {
				b.Fatalf("Collect(2) of a live heap found %d objects", got)
			}
			t.stop()
			iters++
		}
		b.StopTimer()
		t.report(b, iters*n)
		gcbDrop(th, nodes)
		gcbCollect(b, th, 2)
	})
}

// floorNode is the yardstick's object: 128 bytes, like an instance, with
// a count, a scratch count and two references.
type floorNode struct {
	count, refs int64
	a, b        *floorNode
	_           [12]int64
}

// The yardstick for B11 (and the first half of B6): what CPython's
// update_refs and subtract_refs do to memory for the ring, written as two
// plain Go loops over a plain Go array — copy each of the 1M 128-byte
// objects' count to its scratch count, then count down the scratch counts
// of each object's two referents (a the next object, b = 7i+3: one random
// access each). It runs in the same process as the collector's benchmarks, so
// the two can be compared on a machine whose memory speed changes with
// its neighbours' load: BenchmarkGCLiveHeap's ns/object over this one's is
// what the collector adds.
func BenchmarkGCMemoryFloor(b *testing.B) {
	n := 1_000_000
	if testing.Short() {
		n = 100_000
	}
	nodes := make([]floorNode, n)
	if !gcbNoHugePages {
		mimallocish.AdviseHugePages(nodes) // the same kind of memory as the heap's
	}
	for i := range nodes {
		nodes[i].count = 2
		nodes[i].a = &nodes[(i+1)%n]
		nodes[i].b = &nodes[(7*i+3)%n]
	}
	zeros := 0
	t := newGCBTimer(b)
	t.start()
	for b.Loop() {
		for i := range nodes {
			x := &nodes[i]
			x.refs = x.count
		}
		for i := range nodes {
			x := &nodes[i]
			if x.a.refs--; x.a.refs == 0 {
				zeros++
			}
			if x.b.refs--; x.b.refs == 0 {
				zeros++
			}
		}
	}
	t.stop()
	if zeros != b.N*n {
		b.Fatalf("%d counts reached zero, want %d", zeros, b.N*n)
	}
	t.report(b, b.N*n)
}

// gcbYoung makes the young generation of B8: k fresh lists of one small
// int each, alive.
func gcbYoung(th *Thread, k int) []*Object {
	young := make([]*Object, k)
	for i := range young {
		young[i] = th.NewList(th.NewInt(int64(i % 200)))
	}
	th.Checkpoint()
	return young
}

// gcbPercentile returns the p-th percentile (0..1) of the durations.
func gcbPercentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(p*float64(len(s))+0.5) - 1
	return s[min(max(i, 0), len(s)-1)]
}

func gcbMicros(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e3 }

// B8: the pause of Collect(0) with 1M long-lived objects (collected into
// generation 2 first) against the same with none, each with the same young
// generation of 1,000 fresh containers (target: ratio ≤ 2). The two
// runtimes are measured alternately, 20 pauses each per iteration;
// reported: the median pauses and their ratio.
func BenchmarkGCGen0PauseLongLived(b *testing.B) {
	const youngSize, perIter = 1000, 20
	old := 1_000_000
	if testing.Short() {
		old = 100_000
	}
	for _, mc := range allModes {
		b.Run("mode="+mc.name, func(b *testing.B) {
			empty, big := gcbRuntime(b, mc), gcbRuntime(b, mc)
			the, thb := empty.NewThread(), big.NewThread()
			typ, _ := big.NewType(TypeSpec{Name: "Node"})
			nodes := gcbRing(b, thb, typ, old)
			gcbCollect(b, thb, 2)
			gcbCollect(b, thb, 2)
			gcbCollect(b, the, 2)
			goruntime.GC()
			pause := func(th *Thread) time.Duration {
				young := gcbYoung(th, youngSize)
				start := time.Now()
				gcbCollect(b, th, 0)
				d := time.Since(start)
				gcbDrop(th, young)
				return d
			}
			var none, full []time.Duration
			for b.Loop() {
				for i := 0; i < perIter; i++ {
					none = append(none, pause(the))
					full = append(full, pause(thb))
				}
			}
			b.StopTimer()
			pn, pf := gcbPercentile(none, 0.5), gcbPercentile(full, 0.5)
			b.ReportMetric(gcbMicros(pn), "µs-pause-none")
			b.ReportMetric(gcbMicros(pf), "µs-pause-1M")
			b.ReportMetric(float64(pf)/float64(pn), "ratio")
			gcbDrop(thb, nodes)
			gcbCollect(b, thb, 2)
			the.Close()
			thb.Close()
			for _, rt := range []*Runtime{empty, big} {
				if err := rt.Close(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// gcbWorkers starts n threads running allocation loops until stop is
// called: each keeps a ring of 256 recent lists (replacing one each
// iteration), makes a piece of cyclic garbage every 64th iteration, and
// Checkpoints every iteration. In free-threaded mode a worker also records
// how long it is parked for each of another thread's stop-the-worlds (at
// a Checkpoint or at the end of an allocation): stop returns those stalls
// (the pauses as the mutators see them) and the iterations made. th must be detached while they start and stop.
func gcbWorkers(rt *Runtime, n int) (stop func() (iterations int64, stalls []time.Duration)) {
	var quit atomic.Bool
	var total atomic.Int64
	var mu sync.Mutex
	var stalls []time.Duration
	var wg sync.WaitGroup
	wg.Add(n)
	for w := 0; w < n; w++ {
		go func() {
			defer wg.Done()
			wt := rt.NewThread()
			var ring [256]*Object
			var mine []time.Duration
			wt.onPark = func(d time.Duration) { mine = append(mine, d) }
			var j int64
			for ; !quit.Load(); j++ {
				slot := &ring[j%int64(len(ring))]
				if *slot != nil {
					wt.DecRef(*slot)
				}
				*slot = wt.NewList(wt.NewInt(j % 100))
				if j%64 == 0 {
					g := wt.NewList()
					_ = wt.ListAppend(g, g)
					wt.DecRef(g)
				}
				wt.Checkpoint()
			}
			for _, o := range ring {
				if o != nil {
					wt.DecRef(o)
				}
			}
			total.Add(j)
			mu.Lock()
			stalls = append(stalls, mine...)
			mu.Unlock()
			wt.Close()
		}()
	}
	return func() (int64, []time.Duration) {
		quit.Store(true)
		wg.Wait()
		return total.Load(), stalls
	}
}

// B7: generation-0 pauses while 2 other threads run allocation loops
// (target p99 ≤ 200 µs). trigger=explicit: automatic collection off, the
// benchmark's own thread calls Collect(0) about every millisecond and
// times it. trigger=auto: automatic collection on (thresholds 700/10/10),
// the pauses are the generation-0 collections the workers trigger
// themselves, timed from the start to the stop callback. Reported: p50,
// p99 and max in µs of those times (a whole collection, including its
// world-running steps, where in free-threaded mode the collecting thread
// competes with the others for the 2 cores); in free-threaded mode also
// the stalls the workers see at Checkpoint while the world is stopped
// (µs-stall-*), the pause proper; and the time the hypervisor took from
// the machine meanwhile (steal-ms).
func BenchmarkGCGen0PauseThreads(b *testing.B) {
	for _, mc := range allModes {
		b.Run("mode="+mc.name, func(b *testing.B) {
			b.Run("trigger=explicit", func(b *testing.B) {
				rt := gcbRuntime(b, mc)
				th := rt.NewThread()
				th.Detach()
				stop := gcbWorkers(rt, 2)
				reportSteal := gcbStealMeter(b)
				var pauses []time.Duration
				for b.Loop() {
					for i := 0; i < 100; i++ {
						time.Sleep(time.Millisecond)
						th.Attach()
						start := time.Now()
						gcbCollect(b, th, 0)
						pauses = append(pauses, time.Since(start))
						th.Detach()
					}
				}
				b.StopTimer()
				_, stalls := stop()
				reportSteal()
				gcbReportPauses(b, pauses)
				gcbReportStalls(b, rt, stalls)
				th.Attach()
				th.Close()
				if err := rt.Close(); err != nil {
					b.Fatal(err)
				}
			})
			b.Run("trigger=auto", func(b *testing.B) {
				rt := gcbRuntime(b, mc)
				var mu sync.Mutex
				var pauses []time.Duration
				var started time.Time
				remove := rt.GC().AddCallback(func(p Phase, info Info) {
					if info.Generation != 0 {
						return
					}
					mu.Lock()
					defer mu.Unlock()
					if p == PhaseStart {
						started = time.Now()
					} else {
						pauses = append(pauses, time.Since(started))
					}
				})
				rt.GC().Enable()
				stop := gcbWorkers(rt, 2)
				reportSteal := gcbStealMeter(b)
				for b.Loop() {
					time.Sleep(100 * time.Millisecond)
				}
				b.StopTimer()
				iters, stalls := stop()
				reportSteal()
				gcbReportStalls(b, rt, stalls)
				rt.GC().Disable()
				remove()
				mu.Lock()
				gcbReportPauses(b, pauses)
				mu.Unlock()
				b.ReportMetric(float64(iters)/b.Elapsed().Seconds()/1e6, "Miter/s")
				if err := rt.Close(); err != nil {
					b.Fatal(err)
				}
			})
		})
	}
}

func gcbReportPauses(b *testing.B, pauses []time.Duration) {
	if len(pauses) == 0 {
		b.Fatal("no generation-0 pause measured")
	}
	b.ReportMetric(gcbMicros(gcbPercentile(pauses, 0.5)), "µs-p50")
	b.ReportMetric(gcbMicros(gcbPercentile(pauses, 0.99)), "µs-p99")
	b.ReportMetric(gcbMicros(slices.Max(pauses)), "µs-max")
	b.ReportMetric(float64(len(pauses)), "pauses")
}

// gcbStealMeter reports, as "steal-ms", the CPU time the hypervisor took
// from the machine between its creation and the call of the function it
// returns (Linux only): runs with steal are the machine's stalls.
func gcbStealMeter(b *testing.B) (report func()) {
	m := hoststeal.Start()
	return func() {
		if d, ok := m.Stop(); ok {
			b.ReportMetric(float64(d)/float64(time.Millisecond), "steal-ms")
		}
	}
}

func gcbReportStalls(b *testing.B, rt *Runtime, stalls []time.Duration) {
	if rt.Mode() != FreeThreaded || len(stalls) == 0 {
		return
	}
	b.ReportMetric(gcbMicros(gcbPercentile(stalls, 0.5)), "µs-stall-p50")
	b.ReportMetric(gcbMicros(gcbPercentile(stalls, 0.99)), "µs-stall-p99")
	b.ReportMetric(gcbMicros(slices.Max(stalls)), "µs-stall-max")
}

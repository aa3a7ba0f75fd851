package runtime

import (
	"testing"

	"github.com/nogil-lab/nogil/internal/cputime"
)

// B3's yardstick: Go's own allocation of the same structs, kept alive just
// long enough to escape (its cost includes Go's GC, amortized).
var goNewSink []any

func BenchmarkGoNew(b *testing.B) {
	goNewSink = make([]any, 1024)
	b.Run("float", func(b *testing.B) {
		b.ReportAllocs()
		defer reportCPUPerOp(b)()
		for i := 0; i < b.N; i++ {
			o := new(floatObject)
			o.v = float64(i)
			goNewSink[i&1023] = o
		}
	})
	b.Run("list", func(b *testing.B) {
		b.ReportAllocs()
		defer reportCPUPerOp(b)()
		for i := 0; i < b.N; i++ {
			goNewSink[i&1023] = new(listObject)
		}
	})
}

// reportCPUPerOp starts measuring the process's CPU time; the function it
// returns reports it per op as "cpu-ns/op". Wall time per op hides work
// done on other cores: Go's collector marks and sweeps in background
// workers, which on an otherwise idle second core cost the benchmark no
// wall time at all. B3 compares this figure as well as wall time (the
// runtime's own allocation runs on the calling thread only).
func reportCPUPerOp(b *testing.B) (stop func()) {
	start := cputime.Process()
	return func() {
		if used := cputime.Process() - start; used > 0 && b.N > 0 {
			b.ReportMetric(float64(used.Nanoseconds())/float64(b.N), "cpu-ns/op")
		}
	}
}

// BenchmarkNewEmptyListDecRef is B3 for a container: allocate, track,
// untrack and free an empty list through the runtime.
func BenchmarkNewEmptyListDecRef(b *testing.B) {
	benchModesThread(b, func(b *testing.B, th *Thread) {
		b.ReportAllocs()
		defer reportCPUPerOp(b)()
		for i := 0; i < b.N; i++ {
			th.DecRef(th.NewList())
		}
	})
}

// BenchmarkMemoryPerObject is B10: the allocator's reserved bytes per live
// int (outside the small-int range) and per live empty list, 100,000 of each.
func BenchmarkMemoryPerObject(b *testing.B) {
	const n = 100_000
	benchModesThread(b, func(b *testing.B, th *Thread) {
		for i := 0; i < b.N; i++ {
			base := th.AllocatorStats().BytesReserved
			objs := make([]*Object, n)
			for j := range objs {
				objs[j] = th.NewInt(int64(1000 + j))
			}
			perInt := float64(th.AllocatorStats().BytesReserved-base) / n
			for _, o := range objs {
				th.DecRef(o)
			}
			base = th.AllocatorStats().BytesReserved
			for j := range objs {
				objs[j] = th.NewList()
			}
			perList := float64(th.AllocatorStats().BytesReserved-base) / n
			for _, o := range objs {
				th.DecRef(o)
			}
			b.ReportMetric(perInt, "B/int")
			b.ReportMetric(perList, "B/list")
		}
	})
}

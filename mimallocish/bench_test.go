package mimallocish

import (
	"fmt"
	"sync"
	"testing"
	"time"
)

// Objects the size of the runtime's intObject (48 B) and listObject (96 B),
// with a pointer so that Go's GC has to scan them (as it scans real objects)
// and a 4-byte field for the free-list link (the runtime's Object.slot).
type bench48 struct {
	_ *int
	//lint:ignore U1000 the allocator's, found by its offset
	link uint32
	_    uint32
	a    [4]int64
}

type bench96 struct {
	_ *int
	//lint:ignore U1000 the allocator's, found by its offset
	link uint32
	_    uint32
	a    [10]int64
}

var (
	bench48Link = offsetOf[bench48]("link")
	bench96Link = offsetOf[bench96]("link")
)

var (
	sink48 *bench48
	sink96 *bench96
)

const batch = 1024

// BenchmarkAllocFree measures an allocation and its free (DESIGN.md B3):
// pair = alloc then free at once (the LIFO best case); batch = 1024 allocs
// kept, then 1024 frees (pages fill and come back). Go's new keeps its
// result reachable (a global, then a slice) so that it escapes; its GC cost
// is paid inside the loop and amortized over b.N.
func BenchmarkAllocFree(b *testing.B) {
	b.Run("48B", func(b *testing.B) {
		benchAllocFree[bench48](b, bench48Link, func(p *bench48, i int) { p.a[0] = int64(i) }, &sink48)
	})
	b.Run("96B", func(b *testing.B) {
		benchAllocFree[bench96](b, bench96Link, func(p *bench96, i int) { p.a[0] = int64(i) }, &sink96)
	})
}

func benchAllocFree[T any](b *testing.B, link uintptr, touch func(*T, int), sink **T) {
	b.Run("pair/heap", func(b *testing.B) {
		h := NewClass[T]("bench", 0, link).NewHeap()
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			p, id := h.Alloc()
			touch(p, i)
			h.Free(id)
		}
	})
	b.Run("pair/pools", func(b *testing.B) {
		p := NewPools[T]("bench", 0, link)
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			o, id := p.Alloc()
			touch(o, i)
			p.Free(id)
		}
	})
	b.Run("pair/gonew", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			p := new(T)
			touch(p, i)
			*sink = p
		}
		*sink = nil
	})
	ids := make([]SlotID, batch)
	b.Run("batch/heap", func(b *testing.B) {
		h := NewClass[T]("bench", 0, link).NewHeap()
		b.ReportAllocs()
		for i := 0; i < b.N; i += batch {
			for j := range ids {
				p, id := h.Alloc()
				touch(p, j)
				ids[j] = id
			}
			for _, id := range ids {
				h.Free(id)
			}
		}
	})
	b.Run("batch/pools", func(b *testing.B) {
		p := NewPools[T]("bench", 0, link)
		b.ReportAllocs()
		for i := 0; i < b.N; i += batch {
			for j := range ids {
				o, id := p.Alloc()
				touch(o, j)
				ids[j] = id
			}
			for _, id := range ids {
				p.Free(id)
			}
		}
	})
	b.Run("batch/gonew", func(b *testing.B) {
		ptrs := make([]*T, batch)
		b.ReportAllocs()
		for i := 0; i < b.N; i += batch {
			for j := range ptrs {
				p := new(T)
				touch(p, j)
				ptrs[j] = p
			}
			clear(ptrs)
		}
	})
}

// BenchmarkHeapParallel runs 1 and 2 goroutines, each with its own heap of
// one shared class, each doing b.N batches of 16 allocs then 16 frees
// (DESIGN.md B4's thread-private case for the allocator). ns/op is wall time
// per batch per goroutine; Mobj/s is total throughput. The 2/1 ratio of
// Mobj/s is the scaling (the ceiling on this 2-core machine is ~2, less
// with other load).
func BenchmarkHeapParallel(b *testing.B) {
	for _, n := range []int{1, 2} {
		b.Run(fmt.Sprintf("goroutines=%d", n), func(b *testing.B) {
			c := NewClass[bench48]("bench", 0, bench48Link)
			heaps := make([]*Heap[bench48], n)
			for i := range heaps {
				heaps[i] = c.NewHeap()
			}
			var wg sync.WaitGroup
			start := make(chan struct{})
			for g := 0; g < n; g++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					h := heaps[g]
					var ids [16]SlotID
					<-start
					for i := 0; i < b.N; i++ {
						for j := range ids {
							p, id := h.Alloc()
							p.a[0] = int64(j)
							ids[j] = id
						}
						for _, id := range ids {
							h.Free(id)
						}
					}
				}()
			}
			b.ResetTimer()
			t0 := time.Now()
			close(start)
			wg.Wait()
			el := time.Since(t0)
			b.ReportMetric(float64(n*b.N*16)/el.Seconds()/1e6, "Mobj/s")
		})
	}
}

// BenchmarkCrossThreadFree: one goroutine allocates, another frees
// (through its own heap: thread_free pushes; or through FreeRemote). The
// ids travel in batches of 256 so the channel costs little. ns/op is per
// object.
func BenchmarkCrossThreadFree(b *testing.B) {
	for _, mode := range []string{"heap", "FreeRemote"} {
		b.Run(mode, func(b *testing.B) {
			c := NewClass[bench48]("bench", 0, bench48Link)
			producer := c.NewHeap()
			ch := make(chan []SlotID, 8)
			free := make(chan []SlotID, 8)
			for i := 0; i < 8; i++ {
				free <- make([]SlotID, 0, 256)
			}
			done := make(chan struct{})
			go func() {
				consumer := c.NewHeap()
				for ids := range ch {
					for _, id := range ids {
						if mode == "heap" {
							consumer.Free(id)
						} else {
							c.FreeRemote(id)
						}
					}
					free <- ids[:0]
				}
				consumer.Abandon()
				close(done)
			}()
			b.ResetTimer()
			buf := <-free
			for i := 0; i < b.N; i++ {
				p, id := producer.Alloc()
				p.a[0] = int64(i)
				buf = append(buf, id)
				if len(buf) == cap(buf) {
					ch <- buf
					buf = <-free
				}
			}
			ch <- buf
			close(ch)
			<-done
			b.StopTimer()
			producer.Abandon()
		})
	}
}

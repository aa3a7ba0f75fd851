package mimallocish

import (
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nogil-lab/nogil/internal/invariants"
	"github.com/stretchr/testify/require"
)

// item is an object in flight between goroutines, with the tag it must
// still carry.
type item struct {
	p   *obj
	id  SlotID
	tag int64
}

// world is a minimal stop-the-world for the stress tests: workers park at
// safe points when asked, reporting how many objects they hold.
type world struct {
	stop   atomic.Bool
	parked chan int
	resume chan struct{}
}

func newWorld() *world { return &world{parked: make(chan int), resume: make(chan struct{})} }

// safepoint parks the caller while the world is stopped.
func (w *world) safepoint(held int) {
	if w.stop.Load() {
		w.parked <- held
		<-w.resume
	}
}

// stopTheWorld waits until n workers are parked and returns the number of
// objects they hold.
func (w *world) stopTheWorld(n int) int {
	w.stop.Store(true)
	held := 0
	for i := 0; i < n; i++ {
		held += <-w.parked
	}
	return held
}

func (w *world) startTheWorld(n int) {
	w.stop.Store(false)
	for i := 0; i < n; i++ {
		w.resume <- struct{}{}
	}
}

// TestHeapStress is mimalloc's test-stress: workers with their own heaps
// allocate, keep some objects, swap others through a shared transfer array
// (so most frees are by another thread), free with Free or FreeRemote, and
// now and then exit (abandon the heap) and restart with a new one. The world
// is stopped a few times to check Walk and Stats against the live count.
func TestHeapStress(t *testing.T) {
	const workers = 4
	iters := invariants.Scale(200000, 10)
	c := NewClass[obj]("obj", 32, objLink) // small pages: many go full and come back
	var transfer [256]atomic.Pointer[item]
	w := newWorld()
	var wg sync.WaitGroup
	var progress atomic.Int64 // iterations done, in steps of 64
	checkerDone := make(chan struct{})
	checks := 3
	for wi := 0; wi < workers; wi++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(wi), 99))
			h := c.NewHeap()
			var mine []item
			tag := int64(wi) << 40
			check := func(it item, where string) {
				if it.p.tag != it.tag || it.p.id != it.id {
					t.Errorf("%s: slot %v carries tag %d, want %d", where, it.id, it.p.tag, it.tag)
				}
			}
			for i := 0; i < iters; i++ {
				if i%64 == 0 {
					progress.Add(64)
					w.safepoint(len(mine))
				}
				switch k := rng.IntN(100); {
				case k < 45:
					p, id := h.Alloc()
					if *p != (obj{}) {
						t.Errorf("slot %v not zeroed", id)
					}
					tag++
					p.tag, p.id = tag, id
					it := item{p, id, tag}
					if rng.IntN(3) == 0 {
						// Hand it to whoever takes the transfer slot.
						if old := transfer[rng.IntN(len(transfer))].Swap(&it); old != nil {
							check(*old, "transfer")
							h.Free(old.id)
						}
					} else {
						mine = append(mine, it)
					}
				case k < 80 && len(mine) > 0 && (len(mine) > 2000 || k < 65):
					j := rng.IntN(len(mine))
					it := mine[j]
					mine[j] = mine[len(mine)-1]
					mine = mine[:len(mine)-1]
					check(it, "local")
					if rng.IntN(8) == 0 {
						c.FreeRemote(it.id)
					} else {
						h.Free(it.id)
					}
				case k < 90:
					if old := transfer[rng.IntN(len(transfer))].Swap(nil); old != nil {
						check(*old, "transfer")
						if rng.IntN(4) == 0 {
							c.FreeRemote(old.id)
						} else {
							h.Free(old.id)
						}
					}
				case k < 91 && rng.IntN(8) == 0:
					// The thread exits and a new one starts: the
					// objects it keeps now live in abandoned pages.
					h.Abandon()
					h = c.NewHeap()
				case k < 92:
					h.Collect()
				}
			}
			for _, it := range mine {
				check(it, "exit")
				h.Free(it.id)
			}
			h.Abandon()
			// Stay parkable (holding nothing) until the checker is done.
			for {
				select {
				case <-checkerDone:
					return
				case w.parked <- 0:
					<-w.resume
				}
			}
		}()
	}

	for i := 0; i < checks; i++ {
		for progress.Load() < int64((i+1)*workers*iters/(checks+1)) {
			time.Sleep(time.Millisecond)
		}
		held := w.stopTheWorld(workers)
		inTransfer := 0
		for k := range transfer {
			if transfer[k].Load() != nil {
				inTransfer++
			}
		}
		walked := 0
		c.Walk(func(p *obj, id SlotID) {
			if p.id != id {
				t.Errorf("walk: slot %v holds object of slot %v", id, p.id)
			}
			walked++
		})
		s := c.Stats()
		require.Equal(t, held+inTransfer, walked, "walk visits every live object")
		require.Equal(t, walked, s.SlotsInUse)
		require.Equal(t, s.RemoteFreesOut-s.RemoteFreesIn, int64(s.PendingFrees))
		t.Logf("stopped world %d: %d live objects (%d held, %d in transfer), %d pending remote frees", i, walked, held, inTransfer, s.PendingFrees)
		w.startTheWorld(workers)
	}
	close(checkerDone)
	wg.Wait()

	for k := range transfer {
		if it := transfer[k].Swap(nil); it != nil {
			require.Equal(t, it.tag, it.p.tag)
			c.FreeRemote(it.id)
		}
	}
	s := c.Stats()
	require.Zero(t, s.SlotsInUse)
	require.Zero(t, s.PendingFrees)
	require.Zero(t, s.Pages, "every heap abandoned, every object freed: every page released")
	require.Equal(t, s.RemoteFreesOut, s.RemoteFreesIn)
	require.Equal(t, s.PagesCreated+s.PagesReused, s.PagesReleased)
	require.LessOrEqual(t, s.SparePages, maxSpare)
	require.Positive(t, s.RemoteFreesOut)
	require.Positive(t, s.PagesAbandoned)
	require.Positive(t, s.PagesAdopted)
	t.Logf("%+v", s)
}

// TestHeapAbandonWhileFreeing: a producer fills full pages and exits while
// two consumers free its objects (one through its own heap, one through
// FreeRemote) and allocate, adopting the abandoned pages. Remote frees race
// with the notification of full pages and with the abandonment itself.
func TestHeapAbandonWhileFreeing(t *testing.T) {
	rounds := invariants.Scale(40, 4)
	c := NewClass[obj]("obj", 16, objLink)
	consumer := c.NewHeap()
	for r := 0; r < rounds; r++ {
		ch := make(chan item, 64)
		var wg sync.WaitGroup
		wg.Add(3)
		go func() { // producer
			defer wg.Done()
			h := c.NewHeap()
			for i := 0; i < 500; i++ {
				p, id := h.Alloc()
				p.tag, p.id = int64(i+1), id
				ch <- item{p, id, int64(i + 1)}
				if i == 300 {
					h.Collect()
				}
			}
			h.Abandon()
			close(ch)
		}()
		kept := make(chan []item, 1)
		go func() { // consumer with a heap
			defer wg.Done()
			var mine []item
			for it := range ch {
				if it.p.tag != it.tag {
					t.Errorf("slot %v overwritten while live", it.id)
				}
				consumer.Free(it.id)
				p, id := consumer.Alloc()
				p.tag, p.id = -1, id
				mine = append(mine, item{p, id, -1})
			}
			kept <- mine
		}()
		go func() { // consumer without a heap
			defer wg.Done()
			for it := range ch {
				if it.p.tag != it.tag {
					t.Errorf("slot %v overwritten while live", it.id)
				}
				c.FreeRemote(it.id)
			}
		}()
		wg.Wait()
		mine := <-kept
		n := 0
		c.Walk(func(p *obj, id SlotID) { n++ })
		require.Equal(t, len(mine), n)
		require.Equal(t, len(mine), c.Stats().SlotsInUse)
		for _, it := range mine {
			require.Equal(t, it.tag, it.p.tag)
			consumer.Free(it.id)
		}
	}
	consumer.Collect()
	s := c.Stats()
	require.Zero(t, s.SlotsInUse)
	require.Zero(t, s.Pages)
	require.Equal(t, s.RemoteFreesOut, s.RemoteFreesIn)
	require.Positive(t, s.PagesAbandoned)
	t.Logf("%+v", s)
	consumer.Abandon()
}

// TestHeapFullPagesCrossThread: the owner allocates page after page while
// another thread frees every object; full pages must come back through the
// delayed stack, so the number of pages stays bounded.
func TestHeapFullPagesCrossThread(t *testing.T) {
	c := NewClass[obj]("obj", 8, objLink)
	h := c.NewHeap()
	n := invariants.Scale(100000, 10)
	ch := make(chan SlotID, 256)
	done := make(chan struct{})
	go func() {
		for id := range ch {
			c.FreeRemote(id)
		}
		close(done)
	}()
	maxPages := 0
	for i := 0; i < n; i++ {
		_, id := h.Alloc()
		ch <- id
		if i%1024 == 0 {
			maxPages = max(maxPages, h.Stats().Pages)
		}
	}
	close(ch)
	<-done
	// At most 256 objects in the channel + one in the consumer's hands, 8
	// slots per page: pages that came back are reused.
	require.LessOrEqual(t, maxPages, 256/8+8, "full pages freed by another thread are not found again")
	h.Collect()
	s := c.Stats()
	require.Zero(t, s.SlotsInUse)
	require.Zero(t, s.Pages)
	require.Equal(t, int64(n), s.RemoteFreesIn)
	t.Logf("pages created %d for %d objects", s.PagesCreated, n)
	h.Abandon()
}

package mimallocish

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/nogil-lab/nogil/internal/invariants"
	"github.com/stretchr/testify/require"
)

func allocN[T any](h *Heap[T], n int) []SlotID {
	ids := make([]SlotID, n)
	for i := range ids {
		_, ids[i] = h.Alloc()
	}
	return ids
}

func tfState[T any](pg *page[T]) uint32 { return pg.tf.Load() >> tfStateShift }

func TestHeapAllocZeroedReuse(t *testing.T) {
	c := NewClass[obj]("obj", 8, objLink)
	h := c.NewHeap()
	m := newModel(t)
	for round := 0; round < 5; round++ {
		var ids []SlotID
		for i := 0; i < 20; i++ {
			p, id := h.Alloc()
			m.allocated(p, id)
			x := int64(i)
			p.ptr = &x
			ids = append(ids, id)
		}
		checkHeap(t, h)
		m.walked(c.Walk)
		for _, id := range ids {
			m.freeing(id)
			h.Free(id)
		}
		checkHeap(t, h)
	}
	s := h.Stats()
	require.Zero(t, s.SlotsInUse)
	require.Equal(t, int64(3), s.PagesCreated, "20 slots in pages of 8: later rounds reuse the pages")
	require.Zero(t, c.Stats().SlotsInUse)
}

// A page that filled up and then gets a free from another thread is found
// again through the owner's delayed stack (MI_DELAYED_FREEING).
func TestHeapFullPageRemoteFreeFoundAgain(t *testing.T) {
	c := NewClass[obj]("obj", 4, objLink)
	h := c.NewHeap()
	ids := allocN(h, 5) // page 1 full, page 2 current
	pg1 := c.lookup(ids[0])
	require.Equal(t, whereFull, pg1.where)
	require.Equal(t, uint32(stFull), tfState(pg1))

	done := make(chan struct{})
	go func() { c.FreeRemote(ids[1]); close(done) }()
	<-done
	require.Equal(t, uint32(stNotified), tfState(pg1))
	require.Same(t, pg1, h.delayed.Load(), "the freer put the page on the owner's delayed stack")
	require.Equal(t, 1, c.Stats().PendingFrees)

	more := allocN(h, 3) // fills page 2
	require.Equal(t, ids[4].Page(), more[2].Page())
	_, id := h.Alloc()
	require.Equal(t, ids[1], id, "the slot freed by the other thread is reused before a fresh page")
	s := h.Stats()
	require.Equal(t, int64(2), s.PagesCreated)
	require.Equal(t, int64(1), s.RemoteFreesIn)
	require.Equal(t, 8, s.SlotsInUse)
	cs := c.Stats()
	require.Equal(t, int64(1), cs.RemoteFreesOut)
	require.Equal(t, cs.RemoteFreesOut, cs.RemoteFreesIn)
	require.Zero(t, cs.PendingFrees)
	checkHeap(t, h)
}

// A full page whose notification was settled is re-armed when it fills
// again, and the next remote free finds it again.
func TestHeapFullPageNotifiedTwice(t *testing.T) {
	c := NewClass[obj]("obj", 2, objLink)
	h := c.NewHeap()
	ids := allocN(h, 3) // page 1 full
	pg1 := c.lookup(ids[0])
	for round := 0; round < 4; round++ {
		require.Equal(t, uint32(stFull), tfState(pg1), "round %d", round)
		c.FreeRemote(ids[0])
		require.Equal(t, uint32(stNotified), tfState(pg1))
		created := h.Stats().PagesCreated
		var extra []SlotID
		for {
			_, id := h.Alloc()
			if id.Page() == pg1.id {
				ids[0] = id
				break
			}
			extra = append(extra, id)
			require.Less(t, len(extra), 20, "round %d: page 1's free slot not found", round)
		}
		require.Equal(t, created, h.Stats().PagesCreated, "round %d: reused before a fresh page", round)
		checkHeap(t, h)
		// Fill until page 1 is moved to the full queue again.
		for pg1.where != whereFull {
			_, id := h.Alloc()
			extra = append(extra, id)
		}
		for _, id := range extra {
			h.Free(id)
		}
		checkHeap(t, h)
	}
}

func TestHeapLocalFreeUnfull(t *testing.T) {
	c := NewClass[obj]("obj", 4, objLink)
	h := c.NewHeap()
	ids := allocN(h, 5)
	pg1 := c.lookup(ids[0])
	require.Equal(t, whereFull, pg1.where)
	h.Free(ids[2])
	require.Equal(t, whereUsed, pg1.where, "a local free brings a full page back")
	require.Equal(t, uint32(stNormal), tfState(pg1))
	checkHeap(t, h)
	allocN(h, 3)
	_, id := h.Alloc()
	require.Equal(t, ids[2], id)
	require.Equal(t, int64(2), h.Stats().PagesCreated)
	checkHeap(t, h)
}

func TestHeapRetireRelease(t *testing.T) {
	c := NewClass[obj]("obj", 2, objLink)
	h := c.NewHeap()
	ids := allocN(h, 8) // 4 pages
	for _, id := range ids {
		h.Free(id)
		checkHeap(t, h)
	}
	s := h.Stats()
	require.Equal(t, 3, s.Pages, "two retired pages and the allocation page")
	require.Equal(t, 2, s.RetiredPages)
	require.Equal(t, int64(2), s.PagesRetired)
	require.Equal(t, int64(1), s.PagesReleased)
	require.Zero(t, s.SlotsInUse)
	require.Equal(t, int64(3*2*48), s.BytesReserved)

	ids = allocN(h, 6)
	require.Equal(t, int64(4), h.Stats().PagesCreated, "retired pages are reused before fresh ones")
	require.Zero(t, h.Stats().RetiredPages)
	checkHeap(t, h)
	for _, id := range ids {
		h.Free(id)
	}
	h.Collect()
	s = h.Stats()
	require.Zero(t, s.Pages)
	require.Equal(t, int64(4), s.PagesReleased)
	require.Zero(t, c.Stats().Pages)
	checkHeap(t, h)

	// Released ids are reused.
	_, id := h.Alloc()
	require.LessOrEqual(t, id.Page(), uint32(4))
}

func TestHeapAbandonAdopt(t *testing.T) {
	c := NewClass[obj]("obj", 4, objLink)
	a := c.NewHeap()
	m := newModel(t)
	var ids []SlotID
	for i := 0; i < 6; i++ {
		p, id := a.Alloc()
		m.allocated(p, id)
		ids = append(ids, id)
	}
	m.freeing(ids[0])
	a.Free(ids[0])
	a.Abandon()

	s := c.Stats()
	require.Equal(t, 2, s.AbandonedPages)
	require.Equal(t, int64(2), s.PagesAbandoned)
	require.Equal(t, 5, s.SlotsInUse)
	m.walked(c.Walk)

	b := c.NewHeap()
	p, id := b.Alloc()
	m.allocated(p, id)
	require.Equal(t, ids[4].Page(), id.Page(), "b adopted a's allocation page")
	s = c.Stats()
	require.Equal(t, int64(1), s.PagesAdopted)
	require.Equal(t, 1, s.AbandonedPages)
	checkHeap(t, b)

	// b frees into a's other page, still abandoned: straight in, and the
	// page is released with its last slot.
	for _, id := range ids[1:4] {
		m.freeing(id)
		b.Free(id)
	}
	s = c.Stats()
	require.Zero(t, s.AbandonedPages)
	require.Equal(t, int64(1), s.PagesReleased)
	require.Equal(t, int64(3), s.RemoteFreesOut)
	require.Equal(t, int64(3), s.RemoteFreesIn)
	m.walked(c.Walk)

	for _, id := range append(ids[4:], id) {
		m.freeing(id)
		b.Free(id) // now local: b owns the page
	}
	require.Equal(t, int64(3), c.Stats().RemoteFreesOut)
	b.Collect()
	require.Zero(t, c.Stats().Pages)
	b.Abandon()
	s = c.Stats()
	require.Zero(t, s.SlotsInUse)
	require.Equal(t, int64(2), s.PagesReleased)
}

func TestHeapAbandonReleasesEmptyPages(t *testing.T) {
	c := NewClass[obj]("obj", 4, objLink)
	h := c.NewHeap()
	ids := allocN(h, 10)
	for _, id := range ids[:8] {
		h.Free(id)
	}
	h.Abandon()
	s := c.Stats()
	require.Equal(t, 1, s.Pages, "only the page with live slots stays")
	require.Equal(t, 1, s.AbandonedPages)
	for _, id := range ids[8:] {
		c.FreeRemote(id)
	}
	s = c.Stats()
	require.Zero(t, s.Pages)
	require.Equal(t, int64(3), s.PagesReleased)
	require.Equal(t, int64(2), s.RemoteFreesIn)
}

// Frees pushed on a page's thread_free list before its owner exits are
// collected by Abandon.
func TestHeapAbandonCollectsThreadFree(t *testing.T) {
	c := NewClass[obj]("obj", 8, objLink)
	h := c.NewHeap()
	ids := allocN(h, 3)
	c.FreeRemote(ids[0])
	require.Equal(t, 1, c.Stats().PendingFrees)
	h.Abandon()
	s := c.Stats()
	require.Zero(t, s.PendingFrees)
	require.Equal(t, 2, s.SlotsInUse)
	require.Equal(t, int64(1), s.RemoteFreesIn)
	c.FreeRemote(ids[1])
	c.FreeRemote(ids[2])
	require.Zero(t, c.Stats().Pages)
}

func TestHeapMisuse(t *testing.T) {
	c := NewClass[obj]("obj", 200, objLink) // pages grow 85 slots at a time
	h := c.NewHeap()
	_, a := h.Alloc()
	_, b := h.Alloc()
	require.Equal(t, SlotID(0x1000), a)

	h.Free(a)
	require.PanicsWithValue(t, `mimallocish: double free of slot 0x1000 in class "obj"`, func() { h.Free(a) },
		"a double free of the last freed slot is caught in every build")
	require.PanicsWithValue(t, `mimallocish: free of never-allocated slot 0x1064 in class "obj"`, func() { h.Free(0x1064) },
		"beyond the page's capacity: caught in every build")
	require.PanicsWithValue(t, `mimallocish: free of never-allocated slot 0x1190 in class "obj"`, func() { c.FreeRemote(0x1190) },
		"beyond the page's end: caught in every build")
	require.PanicsWithValue(t, `mimallocish: free of unknown slot 0x0 in class "obj" (no such page: never allocated, or freed and its page released)`,
		func() { h.Free(NoSlot) })
	require.PanicsWithValue(t, `mimallocish: free of unknown slot 0x4d000 in class "obj" (no such page: never allocated, or freed and its page released)`,
		func() { c.FreeRemote(77 << SlotBits) })
	require.PanicsWithValue(t, `mimallocish: free of unknown slot 0xfffff000 in class "obj" (no such page: never allocated, or freed and its page released)`,
		func() { h.Free(MaxPages << SlotBits) })

	if invariants.Enabled {
		_, x := h.Alloc()
		h.Free(b)
		require.PanicsWithValue(t, `mimallocish: double free of slot 0x1001 in class "obj"`, func() { h.Free(b) })
		h.Free(x)
		require.PanicsWithValue(t, `mimallocish: double free of slot 0x1001 in class "obj"`, func() { h.Free(b) },
			"not the head of a free list: caught by the debug slot states")
		require.PanicsWithValue(t, `mimallocish: free of never-allocated slot 0x1032 in class "obj"`, func() { h.Free(0x1032) },
			"on the free list, never handed out")
		require.PanicsWithValue(t, `mimallocish: free of never-allocated slot 0x1064 in class "obj"`, func() { c.FreeRemote(0x1064) })
		_, y := h.Alloc()
		c.FreeRemote(y)
		require.PanicsWithValue(t, `mimallocish: double free of slot `+hex(y)+` in class "obj"`, func() { c.FreeRemote(y) },
			"remote double free caught at the freer")
	} else {
		// Normal builds: a double free by another thread is caught when
		// the owner collects the thread_free list.
		_, y := h.Alloc()
		c.FreeRemote(y)
		c.FreeRemote(y)
		require.PanicsWithValue(t, `mimallocish: corrupted thread_free list of page 1 in class "obj" (a slot freed twice by other threads?)`,
			func() { h.Collect() })
	}

	require.PanicsWithValue(t, `mimallocish: class "x": 5000 slots per page (want 1..4096)`, func() { NewClass[obj]("x", 5000, objLink) })
	require.PanicsWithValue(t, `mimallocish: class "x": -1 slots per page (want 1..4096)`, func() { NewClass[obj]("x", -1, objLink) })

	g := c.NewHeap()
	_, z := g.Alloc()
	g.Abandon()
	require.PanicsWithValue(t, `mimallocish: Alloc on abandoned heap of class "obj"`, func() { g.Alloc() })
	require.PanicsWithValue(t, `mimallocish: Free on abandoned heap of class "obj" (use Class.FreeRemote)`, func() { g.Free(z) })
	require.PanicsWithValue(t, `mimallocish: heap of class "obj" abandoned twice`, func() { g.Abandon() })
	require.PanicsWithValue(t, `mimallocish: Collect on abandoned heap of class "obj"`, func() { g.Collect() })
	c.FreeRemote(z)
	require.PanicsWithValue(t, `mimallocish: free of unknown slot `+hex(z)+` in class "obj" (no such page: never allocated, or freed and its page released)`,
		func() { c.FreeRemote(z) }, "the abandoned page was released with its last slot")
}

func hex(id SlotID) string { return fmt.Sprintf("%#x", uint32(id)) }

// heapRunner drives a class with a few heaps, one operation at a time, on
// one goroutine (each heap is "its own thread" in turn), against the model.
type heapRunner struct {
	t     testing.TB
	c     *Class[obj]
	heaps []*Heap[obj]
	m     *model
}

func newHeapRunner(t testing.TB, slotsPerPage, heaps int) *heapRunner {
	r := &heapRunner{t: t, c: NewClass[obj]("obj", slotsPerPage, objLink), m: newModel(t)}
	for i := 0; i < heaps; i++ {
		r.heaps = append(r.heaps, r.c.NewHeap())
	}
	return r
}

func (r *heapRunner) step(op, arg byte) {
	h := r.heaps[int(arg)%len(r.heaps)]
	switch op % 16 {
	case 0, 1, 2, 3, 4, 5:
		p, id := h.Alloc()
		r.m.allocated(p, id)
	case 6, 7, 8, 9:
		if id, ok := r.m.pick(int(arg) / len(r.heaps)); ok {
			r.m.freeing(id)
			h.Free(id)
		}
	case 10, 11:
		if id, ok := r.m.pick(int(arg)); ok {
			r.m.freeing(id)
			r.c.FreeRemote(id)
		}
	case 12:
		h.Abandon()
		r.heaps[int(arg)%len(r.heaps)] = r.c.NewHeap()
	case 13:
		h.Collect()
	case 14:
		r.m.walked(r.c.Walk)
	case 15:
		// A burst of allocations, so that pages fill.
		for i := 0; i < int(arg)%9; i++ {
			p, id := h.Alloc()
			r.m.allocated(p, id)
		}
	}
}

func (r *heapRunner) check() {
	r.t.Helper()
	for _, h := range r.heaps {
		checkHeap(r.t, h)
	}
	s := r.c.Stats()
	require.Equal(r.t, len(r.m.live), s.SlotsInUse, "class slots in use")
	require.Equal(r.t, s.RemoteFreesOut-s.RemoteFreesIn, int64(s.PendingFrees), "remote frees out = in + pending")
	require.Equal(r.t, int64(s.Pages), s.PagesCreated+s.PagesReused-s.PagesReleased, "pages = created + reused - released")
	require.LessOrEqual(r.t, s.SparePages, maxSpare)
	require.Equal(r.t, int64(s.SlotsInUse)*48, s.BytesInUse)
	require.GreaterOrEqual(r.t, s.Pages*s.SlotsPerPage, s.SlotsInUse+s.PendingFrees)
	hs := 0
	for _, h := range r.heaps {
		hs += h.Stats().Pages
	}
	require.Equal(r.t, s.Pages, hs+s.AbandonedPages, "every page is a heap's or abandoned")
}

func (r *heapRunner) finish() {
	r.t.Helper()
	r.m.walked(r.c.Walk)
	for i := 0; len(r.m.ids) > 0; i++ {
		id := r.m.ids[len(r.m.ids)-1]
		r.m.freeing(id)
		r.heaps[i%len(r.heaps)].Free(id)
	}
	for _, h := range r.heaps {
		h.Collect()
	}
	r.check()
	s := r.c.Stats()
	require.Zero(r.t, s.SlotsInUse)
	require.Zero(r.t, s.PendingFrees)
	require.Equal(r.t, s.RemoteFreesOut, s.RemoteFreesIn)
	require.Zero(r.t, s.Pages, "collected heaps with nothing live keep no page")
	require.Zero(r.t, s.AbandonedPages)
	for _, h := range r.heaps {
		h.Abandon()
	}
	require.Zero(r.t, r.c.Stats().Pages)
}

func TestHeapModel(t *testing.T) {
	for _, spp := range []int{1, 2, 7, 64, 200} {
		r := newHeapRunner(t, spp, 3)
		rng := rand.New(rand.NewPCG(uint64(spp), 42))
		n := invariants.Scale(20000, 4)
		for i := 0; i < n; i++ {
			r.step(byte(rng.IntN(256)), byte(rng.IntN(256)))
			if i%97 == 0 {
				r.check()
			}
		}
		r.check()
		r.finish()
	}
}

// FuzzHeap runs operation sequences (two bytes each: operation, argument)
// on three heaps of a class with 3-slot pages against the model.
func FuzzHeap(f *testing.F) {
	for _, seed := range [][]byte{
		{},
		{0, 0, 0, 0, 0, 0, 0, 0, 10, 0, 0, 0, 0, 0, 13, 0},          // fill a page, remote free, refill, collect
		{15, 8, 15, 8, 10, 3, 10, 5, 0, 0, 15, 8, 14, 0},            // bursts, remote frees into full pages, walk
		{15, 7, 12, 0, 0, 1, 6, 2, 6, 3, 10, 0, 14, 0},              // abandon with live slots, adopt, frees into abandoned pages
		{0, 0, 0, 1, 6, 3, 6, 0, 15, 5, 12, 1, 13, 2, 10, 1, 14, 0}, // mixed
		{15, 8, 15, 8, 6, 1, 6, 4, 6, 7, 13, 0, 12, 0, 0, 0, 14, 3}, // local frees, collect releases, abandon
		{15, 8, 10, 0, 10, 1, 10, 2, 0, 0, 0, 0, 0, 0, 12, 0, 0, 1}, // notified pages then abandon
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 1200 { // checks are O(live) per step
			data = data[:1200]
		}
		r := newHeapRunner(t, 3, 3)
		for i := 0; i+1 < len(data); i += 2 {
			r.step(data[i], data[i+1])
			if i%8 == 0 || len(data) < 100 {
				r.check()
			}
		}
		r.finish()
	})
}

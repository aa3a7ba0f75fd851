package mimallocish

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// An exited thread's empty pages go to the class's spare list, and the next
// heap's first allocation takes one from there instead of a fresh page: a
// zeroed slot with a working id, on a page back in the directory.
func TestSparePageReusedByNextHeap(t *testing.T) {
	c := NewClass[obj]("obj", 8, objLink)
	h1 := c.NewHeap()
	ids := allocN(h1, 3)
	p, _ := h1.Alloc()
	x := int64(7)
	p.ptr = &x
	for _, id := range append(ids, c.lookup(ids[0]).base|3) {
		h1.Free(id)
	}
	old := c.lookup(ids[0])
	h1.Abandon()
	s := c.Stats()
	require.Zero(t, s.Pages, "the spare page is out of the directory")
	require.Equal(t, 1, s.SparePages)
	require.Equal(t, int64(1), s.PagesReleased)
	require.Nil(t, c.pageOf(ids[0].Page()), "a stale id names no page")

	h2 := c.NewHeap()
	q, id := h2.Alloc()
	require.Equal(t, obj{}, *q, "a slot of a reused page is zero")
	pg := c.lookup(id)
	require.Same(t, old, pg, "the spare page, not a fresh one")
	require.Same(t, h2, pg.owner.Load())
	hs := h2.Stats()
	require.Equal(t, int64(1), hs.PagesReused)
	require.Zero(t, hs.PagesCreated)
	more := allocN(h2, 8) // the page's other 7 slots, then a fresh page
	require.Equal(t, id.Page(), more[6].Page())
	require.NotEqual(t, id.Page(), more[7].Page())
	require.Equal(t, int64(1), h2.Stats().PagesCreated)
	checkHeap(t, h2)

	// A remote free into the reused page reaches its new owner.
	done := make(chan struct{})
	go func() { c.FreeRemote(id); close(done) }()
	<-done
	h2.Collect()
	cs := c.Stats()
	require.Equal(t, 8, cs.SlotsInUse)
	require.Zero(t, cs.SparePages)
	require.Equal(t, int64(cs.Pages), cs.PagesCreated+cs.PagesReused-cs.PagesReleased)
}

// The spare list holds at most maxSpare pages; further empty pages go to
// Go's GC as before.
func TestSpareListBounded(t *testing.T) {
	c := NewClass[obj]("obj", 4, objLink)
	var heaps []*Heap[obj]
	for range maxSpare + 3 {
		h := c.NewHeap()
		for _, id := range allocN(h, 4) {
			h.Free(id)
		}
		heaps = append(heaps, h)
	}
	for _, h := range heaps {
		h.Abandon()
	}
	s := c.Stats()
	require.Equal(t, maxSpare, s.SparePages)
	require.Equal(t, int64(maxSpare+3), s.PagesReleased)
	require.Zero(t, s.Pages)

	// The kept pages serve the next heaps before any fresh page.
	h := c.NewHeap()
	allocN(h, 4*maxSpare)
	hs := h.Stats()
	require.Equal(t, int64(maxSpare), hs.PagesReused)
	require.Zero(t, hs.PagesCreated)
	allocN(h, 1)
	require.Equal(t, int64(1), h.Stats().PagesCreated)
}

// A revived heap is a fresh heap of its class: empty, counting from zero,
// taking the class's spare pages, and abandoned again like any other.
func TestHeapRevive(t *testing.T) {
	c := NewClass[obj]("obj", 8, objLink)
	h := c.NewHeap()
	require.PanicsWithValue(t, `mimallocish: Revive of a heap of class "obj" that is not abandoned`, func() { h.Revive() })
	kept := allocN(h, 10) // a full page and a page with 2 slots used
	h.Free(kept[9])
	h.Abandon()
	require.Equal(t, 2, c.Stats().AbandonedPages)

	h.Revive()
	hs := h.Stats()
	require.Zero(t, hs.Pages)
	require.Zero(t, hs.PagesCreated)
	_, id := h.Alloc()
	require.Equal(t, kept[9].Page(), id.Page(), "the abandoned page with room is adopted")
	require.Equal(t, int64(1), h.Stats().PagesAdopted)
	checkHeap(t, h)
	require.Equal(t, 10, c.Stats().SlotsInUse)
	for _, id := range append(kept[:9], id) {
		c.FreeRemote(id)
	}
	h.Abandon()
	s := c.Stats()
	require.Zero(t, s.SlotsInUse)
	require.Zero(t, s.Pages)
	require.Equal(t, s.PagesCreated+s.PagesReused, s.PagesReleased)
	require.PanicsWithValue(t, `mimallocish: Alloc on abandoned heap of class "obj"`, func() { h.Alloc() })
}

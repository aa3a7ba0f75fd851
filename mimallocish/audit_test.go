package mimallocish

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestAuditHeapAllocationOrder checks the allocation order on one
// page: pop free; when it is empty, take local_free (with thread_free
// collected into it, as mimalloc's _mi_page_free_collect does) before
// carving never-used slots; then the next page of the used queue with
// space; then a new page.
func TestAuditHeapAllocationOrder(t *testing.T) {
	c := NewClass[obj]("obj", 200, objLink) // the free list grows 85 slots at a time
	h := c.NewHeap()
	next := func() int {
		_, id := h.Alloc()
		require.Equal(t, uint32(1), id.Page())
		return id.Index()
	}
	for i := 0; i < 3; i++ {
		require.Equal(t, i, next())
	}
	h.Free(1<<SlotBits | 1) // local_free
	require.Equal(t, 3, next(), "free is popped before local_free")
	for i := 4; i < 85; i++ {
		require.Equal(t, i, next())
	}
	require.Equal(t, 1, next(), "free empty: local_free before never-used slots")

	// local_free and thread_free both waiting.
	h.Free(1<<SlotBits | 20)
	done := make(chan struct{})
	go func() { c.FreeRemote(1<<SlotBits | 10); close(done) }()
	<-done
	got := []int{next(), next()}
	require.ElementsMatch(t, []int{10, 20}, got, "local_free and the collected thread_free before never-used slots")
	require.Equal(t, int64(1), h.Stats().RemoteFreesIn)

	// thread_free alone.
	c.FreeRemote(1<<SlotBits | 30)
	require.Equal(t, 30, next(), "thread_free collected before never-used slots")
	require.Equal(t, 85, next(), "then the page is extended")
	checkHeap(t, h)

	// The next page with space before a new one: 4-slot pages A and B,
	// both full; a slot of A freed locally brings A back to the used queue
	// behind B.
	c2 := NewClass[obj]("obj", 4, objLink)
	h2 := c2.NewHeap()
	ids := allocN(h2, 8)
	pgA, pgB := c2.lookup(ids[0]), c2.lookup(ids[4])
	require.NotSame(t, pgA, pgB)
	h2.Free(ids[2])
	_, id := h2.Alloc()
	require.Equal(t, ids[2], id, "B is full: the next page of the used queue (A) serves")
	require.Equal(t, int64(2), h2.Stats().PagesCreated)
	require.Equal(t, whereFull, pgB.where, "B left the queue")
	// A remote free into B (full) and none in A: B is found again.
	c2.FreeRemote(ids[5])
	_, id = h2.Alloc()
	require.Equal(t, ids[5], id, "a full page freed into by another thread serves before a new page")
	require.Equal(t, int64(2), h2.Stats().PagesCreated)
	_, id = h2.Alloc()
	require.Equal(t, int64(3), h2.Stats().PagesCreated, "nothing free anywhere: a new page")
	require.NotEqual(t, pgA.id, id.Page())
	require.NotEqual(t, pgB.id, id.Page())
	checkHeap(t, h2)
}

// TestAuditRetiredBound: a heap keeps at most maxRetired empty pages, however
// many pages empty at once; the rest are released to Go's GC, and the kept
// ones serve before any new page.
func TestAuditRetiredBound(t *testing.T) {
	c := NewClass[obj]("obj", 2, objLink)
	h := c.NewHeap()
	ids := allocN(h, 20) // 10 pages
	for _, id := range ids {
		h.Free(id)
	}
	s := h.Stats()
	require.Equal(t, maxRetired, s.RetiredPages)
	require.Equal(t, maxRetired+1, s.Pages, "the retired pages and the allocation page")
	require.Equal(t, int64(10-maxRetired-1), s.PagesReleased)
	require.Equal(t, s.Pages, c.Stats().Pages)
	allocN(h, 2*(maxRetired+1))
	require.Equal(t, int64(10), h.Stats().PagesCreated, "the kept pages serve first")
	checkHeap(t, h)
}

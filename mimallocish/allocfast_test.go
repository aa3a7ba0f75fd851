package mimallocish

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// AllocFast serves only from a free list that has a slot (and, for pools,
// that the pop does not empty); otherwise it returns nil and Alloc must be
// called. What it hands out is zeroed and freed like anything Alloc hands
// out.
func TestHeapAllocFast(t *testing.T) {
	c := NewClass[obj]("obj", 8, objLink)
	h := c.NewHeap()
	p, id := h.AllocFast()
	require.Nil(t, p, "a new heap has no allocation page")
	require.Equal(t, NoSlot, id)
	m := newModel(t)
	p, id = h.Alloc() // makes a page and extends its free list
	m.allocated(p, id)
	var ids []SlotID
	for {
		p, id := h.AllocFast()
		if p == nil {
			break
		}
		m.allocated(p, id)
		x := int64(len(ids))
		p.ptr = &x
		ids = append(ids, id)
	}
	require.Len(t, ids, 7, "the fast path empties the page's free list, then falls through")
	checkHeap(t, h)
	for _, id := range ids {
		m.freeing(id)
		h.Free(id) // the allocation page's own slots: found without the directory
	}
	// local_free is not the allocation list: the fast path still finds
	// nothing, and Alloc moves local_free over.
	p, _ = h.AllocFast()
	require.Nil(t, p)
	p, id = h.Alloc()
	m.allocated(p, id)
	p, id = h.AllocFast()
	require.NotNil(t, p)
	m.allocated(p, id)
	checkHeap(t, h)
	m.walked(c.Walk)
}

func TestPoolsAllocFast(t *testing.T) {
	p := NewPools[obj]("obj", 8, objLink)
	s, id := p.AllocFast()
	require.Nil(t, s, "no used pool yet")
	require.Equal(t, NoSlot, id)
	m := newModel(t)
	s, id = p.Alloc()
	m.allocated(s, id)
	// pymalloc carves one slot at a time: the pool's free list holds one
	// slot, and popping it would empty the list, so the fast path declines.
	s, _ = p.AllocFast()
	require.Nil(t, s)
	s, id2 := p.Alloc()
	m.allocated(s, id2)
	m.freeing(id)
	p.Free(id) // the free list is now id, then the carved slot
	s, id3 := p.AllocFast()
	require.NotNil(t, s)
	require.Equal(t, id, id3, "LIFO: the slot just freed")
	m.allocated(s, id3)
	checkPools(t, p)
	m.walked(p.Walk)
	for _, id := range []SlotID{id2, id3} {
		m.freeing(id)
		p.Free(id)
	}
	checkPools(t, p)
	require.Zero(t, p.Stats().SlotsInUse)
}

package mimallocish

import (
	"testing"
	"unsafe"

	"github.com/stretchr/testify/require"
)

// line128 is a 128-byte slot with a pointer, the size of the runtime's
// instances and dicts.
type line128 struct {
	_ *int
	//lint:ignore U1000 the allocator's, found by its offset
	link uint32
	_    uint32
	_    [14]int64
}

// TestSlotsStartOnCacheLines: every 128-byte slot, from the GIL pools and
// from a per-thread heap, starts on a 64-byte cache line, so an object of
// two lines touches two, not three. (A pool's 16 KiB slot array is a small
// Go object, which would start 8 bytes past a line behind Go's allocation
// header; see Pools.newSlots.)
func TestSlotsStartOnCacheLines(t *testing.T) {
	require.Equal(t, uintptr(128), unsafe.Sizeof(line128{}))
	link := offsetOf[line128]("link")
	const n = 3000 // several pools and pages
	check := func(t *testing.T, p *line128) {
		t.Helper()
		require.Zero(t, uintptr(unsafe.Pointer(p))%64, "slot at %p", p)
	}

	allocFree := func(t *testing.T, a interface {
		Alloc() (*line128, SlotID)
		Free(SlotID)
	}) {
		ids := make([]SlotID, 0, n)
		for range n {
			s, id := a.Alloc()
			check(t, s)
			ids = append(ids, id)
		}
		for _, id := range ids {
			a.Free(id)
		}
	}
	t.Run("pools", func(t *testing.T) {
		allocFree(t, NewPools[line128]("line128", 0, link))
	})
	t.Run("heap", func(t *testing.T) {
		h := NewClass[line128]("line128", 0, link).NewHeap()
		allocFree(t, h)
		h.Abandon()
	})
}

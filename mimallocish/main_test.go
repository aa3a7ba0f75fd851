package mimallocish

import (
	"fmt"
	"testing"

	"github.com/nogil-lab/nogil/internal/leaktest"
	"github.com/stretchr/testify/require"
)

func TestMain(m *testing.M) { leaktest.Main(m) }

// obj is the tests' object: 48 bytes, with a pointer so that Go's GC scans
// the slot arrays.
type obj struct {
	tag int64 // set by whoever allocated it; checked by whoever frees it
	id  SlotID
	_   uint32
	ptr *int64
	_   [3]int64
}

// big is a 96-byte object.
type big struct {
	tag int64
	_   [11]int64
}

// checkHeap verifies a heap's internal invariants (owner, or a stopped
// world): every owned page is in exactly one queue that matches its where,
// h.page is the used queue's head, every page's counts agree with its lists.
func checkHeap[T any](t testing.TB, h *Heap[T]) {
	t.Helper()
	if h.usedQ.head != nil {
		require.Same(t, h.usedQ.head, h.page, "allocation page is not the used queue's head")
	} else {
		require.Same(t, &h.class.empty, h.page, "allocation page of an empty used queue is not the sentinel")
	}
	seen := map[uint32]bool{}
	for _, q := range []struct {
		q *pageQueue[T]
		w where
	}{{&h.usedQ, whereUsed}, {&h.fullQ, whereFull}, {&h.retired, whereRetired}} {
		n := 0
		var prev *page[T]
		for pg := q.q.head; pg != nil; pg = pg.nextPage {
			n++
			st := pg.tf.Load() >> tfStateShift
			switch {
			case pg.prev != prev:
				t.Fatalf("page %d: broken prev link", pg.id)
			case pg.where != q.w:
				t.Fatalf("page %d is in queue %d but says %d", pg.id, q.w, pg.where)
			case seen[pg.id]:
				t.Fatalf("page %d in two queues", pg.id)
			case !h.owns(pg.id):
				t.Fatalf("page %d in a queue but not owned", pg.id)
			case h.class.dir.get(pg.id) != pg:
				t.Fatalf("page %d not in the directory", pg.id)
			case pg.owner != h:
				t.Fatalf("page %d: wrong owner", pg.id)
			case q.w == whereRetired && pg.used != 0:
				t.Fatalf("retired page %d has %d live slots", pg.id, pg.used)
			case q.w == whereFull && st != stFull && st != stNotifying && st != stNotified:
				t.Fatalf("full page %d in state %d", pg.id, st)
			case q.w != whereFull && st != stNormal && st != stNotifying && st != stNotified:
				t.Fatalf("page %d (where %d) in state %d", pg.id, pg.where, st)
			}
			prev = pg
			seen[pg.id] = true
			checkPage(t, pg)
		}
		require.Same(t, prev, q.q.tail)
		require.Equal(t, n, q.q.n)
	}
	for w, bits := range h.owned {
		for b := 0; b < 64; b++ {
			if bits&(1<<b) != 0 && !seen[uint32(w*64+b)] {
				t.Fatalf("page %d owned but in no queue", w*64+b)
			}
		}
	}
}

// checkPage verifies used == capacity - len(free) - len(local_free).
func checkPage[T any](t testing.TB, pg *page[T]) {
	t.Helper()
	count := func(head uint16) int {
		n := 0
		for i := head; i != noSlot; i = pg.next[i] {
			n++
			if n > int(pg.reserved) {
				t.Fatalf("cyclic list in page %d", pg.id)
			}
			if uint32(i) >= pg.capacity {
				t.Fatalf("free slot %d beyond capacity %d in page %d", i, pg.capacity, pg.id)
			}
		}
		return n
	}
	if want := int(pg.capacity) - count(pg.free) - count(pg.localFree); want != int(pg.used) {
		t.Fatalf("page %d: used %d, lists say %d", pg.id, pg.used, want)
	}
	if pg.tfLen() > int(pg.used) {
		t.Fatalf("page %d: %d pending frees, %d used", pg.id, pg.tfLen(), pg.used)
	}
}

// checkArenas verifies pymalloc's arena ordering: usable sorted by
// nfreepools ascending, nfp2lasta naming the last arena of each count.
func checkArenas(t testing.TB, a *Arenas) {
	t.Helper()
	last := map[int]*arena{}
	prevNF := 0
	var prev *arena
	n := 0
	for ao := a.usable; ao != nil; ao = ao.next {
		n++
		require.Less(t, n, 1<<20)
		require.Same(t, prev, ao.prev, "broken usable link")
		require.Positive(t, ao.nfreepools, "a full arena is usable")
		require.GreaterOrEqual(t, ao.nfreepools, prevNF, "usable_arenas not sorted")
		prevNF = ao.nfreepools
		last[ao.nfreepools] = ao
		free := 0
		for ps := ao.freepools; ps != nil; ps = ps.nextFree {
			free++
		}
		require.Equal(t, ao.nfreepools, free+len(ao.pools)-ao.carved, "nfreepools disagrees with freepools")
		prev = ao
	}
	require.LessOrEqual(t, n, a.narenas)
	for k := 1; k < len(a.nfp2lasta); k++ {
		require.Same(t, last[k], a.nfp2lasta[k], "nfp2lasta[%d]", k)
	}
	require.Nil(t, a.nfp2lasta[0])
}

// model is the oracle of the allocation tests: which slots are live, with
// which tag, at which address.
type model struct {
	t    testing.TB
	live map[SlotID]*obj
	tags map[SlotID]int64
	ids  []SlotID // live ids, for picking; pos[id] is the index
	pos  map[SlotID]int
	addr map[*obj]SlotID
	next int64
}

func newModel(t testing.TB) *model {
	return &model{t: t, live: map[SlotID]*obj{}, tags: map[SlotID]int64{}, pos: map[SlotID]int{}, addr: map[*obj]SlotID{}}
}

func (m *model) allocated(p *obj, id SlotID) {
	m.t.Helper()
	require.NotZero(m.t, id, "SlotID 0 handed out")
	_, dup := m.live[id]
	require.False(m.t, dup, "slot %v handed out twice", id)
	require.Equal(m.t, obj{}, *p, "slot %v not zeroed", id)
	if other, ok := m.addr[p]; ok {
		require.Failf(m.t, "address reused", "slot %v has the address of live slot %v", id, other)
	}
	m.addr[p] = id
	m.next++
	p.tag, p.id = m.next, id
	m.live[id] = p
	m.tags[id] = m.next
	m.pos[id] = len(m.ids)
	m.ids = append(m.ids, id)
}

// pick returns the k-th live slot (deterministic for a given history).
func (m *model) pick(k int) (SlotID, bool) {
	if len(m.ids) == 0 {
		return 0, false
	}
	return m.ids[k%len(m.ids)], true
}

// freeing checks the object before its slot is freed.
func (m *model) freeing(id SlotID) {
	m.t.Helper()
	p := m.live[id]
	require.NotNil(m.t, p, "freeing a slot the model does not hold")
	require.Equal(m.t, m.tags[id], p.tag, "slot %v overwritten while live", id)
	require.Equal(m.t, id, p.id)
	delete(m.live, id)
	delete(m.tags, id)
	delete(m.addr, p)
	i := m.pos[id]
	last := m.ids[len(m.ids)-1]
	m.ids[i] = last
	m.pos[last] = i
	m.ids = m.ids[:len(m.ids)-1]
	delete(m.pos, id)
}

// walked checks a walk against the model. (Plain checks: require's
// per-call cost is too high for a per-slot loop.)
func (m *model) walked(walk func(func(*obj, SlotID))) {
	m.t.Helper()
	seen := map[SlotID]bool{}
	walk(func(p *obj, id SlotID) {
		q, ok := m.live[id]
		switch {
		case seen[id]:
			m.t.Fatalf("walk visited %v twice", id)
		case !ok:
			m.t.Fatalf("walk visited free slot %v", id)
		case q != p:
			m.t.Fatalf("walk gave another address for %v", id)
		case p.tag != m.tags[id]:
			m.t.Fatalf("walk: slot %v has tag %d, want %d", id, p.tag, m.tags[id])
		}
		seen[id] = true
	})
	require.Equal(m.t, len(m.live), len(seen), "walk missed live slots")
}

func TestSlotIDLayout(t *testing.T) {
	id := SlotID(3<<SlotBits | 17)
	require.Equal(t, uint32(3), id.Page())
	require.Equal(t, 17, id.Index())
	require.Equal(t, "0x3011(page 3, slot 17)", id.String())
	require.Equal(t, 4096, MaxSlotsPerPage)
	require.Equal(t, 1<<20-1, MaxPages)

	c := NewClass[obj]("obj", 0)
	require.Equal(t, 65536/48, c.SlotsPerPage())
	h := c.NewHeap()
	p, id := h.Alloc()
	require.NotNil(t, p)
	require.Equal(t, SlotID(1<<SlotBits), id, "first slot of the first page")
	_, id2 := h.Alloc()
	require.Equal(t, SlotID(1<<SlotBits|1), id2)

	require.Equal(t, 16384/96, NewPools[big]("big", 0).slotsPerPool)
	require.Equal(t, MaxSlotsPerPage, NewClass[struct{}]("empty", 0).SlotsPerPage())
	require.Equal(t, 1, NewClass[[100000]byte]("huge", 0).SlotsPerPage())
}

func TestIDAllocator(t *testing.T) {
	var a idAllocator
	require.Equal(t, uint32(1), a.alloc("page", "x"))
	require.Equal(t, uint32(2), a.alloc("page", "x"))
	a.release(1)
	require.Equal(t, uint32(1), a.alloc("page", "x"), "released ids are reused")
	a.next = MaxPages
	require.PanicsWithValue(t, fmt.Sprintf(`mimallocish: class "x": out of page ids (at most %d alive)`, MaxPages), func() { a.alloc("page", "x") })
}

func TestDirectory(t *testing.T) {
	var d directory[*int]
	x := 5
	require.Nil(t, d.get(7))
	d.set(MaxPages, &x)
	require.Same(t, &x, d.get(MaxPages))
	require.Nil(t, d.get(MaxPages+1))
	d.set(MaxPages, nil)
	require.Nil(t, d.get(MaxPages))
}

package mimallocish

import (
	"fmt"
	"reflect"
	"testing"

	"github.com/nogil-lab/nogil/internal/leaktest"
	"github.com/stretchr/testify/require"
)

func TestMain(m *testing.M) { leaktest.Main(m) }

// obj is the tests' object: 48 bytes, with a pointer so that Go's GC scans
// the slot arrays. Like the runtime's Object.slot, its id field (set after
// Alloc, read before Free) holds the free-list link while the slot is free.
type obj struct {
	tag int64 // set by whoever allocated it; checked by whoever frees it
	id  SlotID
	_   uint32
	ptr *int64
	_   [3]int64
}

// big is a 96-byte object with a 2-byte link field of its own.
type big struct {
	tag int64
	//lint:ignore U1000 the allocator's, found by its offset
	link uint16
	_    [3]uint16
	_    [10]int64
}

// offsetOf returns the offset of T's top-level field name (with reflect:
// package unsafe stays in *_unsafe.go files).
func offsetOf[T any](name string) uintptr {
	f, ok := reflect.TypeFor[T]().FieldByName(name)
	if !ok || len(f.Index) != 1 {
		panic("offsetOf: no top-level field " + name)
	}
	return f.Offset
}

var (
	objLink = offsetOf[obj]("id")
	bigLink = offsetOf[big]("link")
)

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
			case h.class.dir.get(pg.id) != pg:
				t.Fatalf("page %d not in the directory", pg.id)
			case pg.owner.Load() != h:
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
	h.class.mu.Lock()
	maxID := h.class.ids.next
	h.class.mu.Unlock()
	for id := uint32(1); id <= maxID; id++ {
		if pg := h.class.dir.get(id); pg != nil && pg.owner.Load() == h && !seen[id] {
			t.Fatalf("page %d owned but in no queue", id)
		}
	}
}

// checkPage verifies used == capacity - len(free) - len(local_free).
func checkPage[T any](t testing.TB, pg *page[T]) {
	t.Helper()
	count := func(head uint16) int {
		n := 0
		for i := head; i != noSlot; i = getLink(&pg.slots[i], pg.link) {
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

	c := NewClass[obj]("obj", 0, objLink)
	require.Equal(t, 65536/48, c.SlotsPerPage())
	h := c.NewHeap()
	p, id := h.Alloc()
	require.NotNil(t, p)
	require.Equal(t, SlotID(1<<SlotBits), id, "first slot of the first page")
	_, id2 := h.Alloc()
	require.Equal(t, SlotID(1<<SlotBits|1), id2)

	require.Equal(t, 16384/96, NewPools[big]("big", 0, bigLink).slotsPerPool)
	require.Equal(t, MaxSlotsPerPage, NewClass[uint16]("tiny", 0, 0).SlotsPerPage())
	type huge struct {
		_ uint32 // the link
		_ [100000]byte
	}
	require.Equal(t, 1, NewClass[huge]("huge", 0, 0).SlotsPerPage())
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

// The link field may sit anywhere in T (in an embedded header, in an array
// element), as long as it is a uint16 or uint32 field; anything else panics
// at construction.
func TestLinkOffset(t *testing.T) {
	type header struct {
		p    *int
		slot uint32
		_    uint16
	}
	type elem struct {
		x int64
		l uint16
	}
	type nested struct {
		header
		a [2]elem
	}
	// header.slot at 8, a at 16, a[1].l at 16+16+8.
	for _, off := range []uintptr{8, 40} {
		h := NewClass[nested]("nested", 3, off).NewHeap()
		p := NewPools[nested]("nested", 3, off)
		for round := 0; round < 3; round++ {
			var ids, pids []SlotID
			for i := 0; i < 7; i++ {
				o, id := h.Alloc()
				require.Equal(t, nested{}, *o, "offset %d: slot %v not zeroed", off, id)
				x := 1
				*o = nested{header{&x, 0xFFFFFFFF, 7}, [2]elem{{-1, 0xFFFF}, {-1, 0xFFFF}}}
				ids = append(ids, id)
				o, id = p.Alloc()
				require.Equal(t, nested{}, *o, "offset %d: slot %v not zeroed", off, id)
				*o = nested{header{&x, 0xFFFFFFFF, 7}, [2]elem{{-1, 0xFFFF}, {-1, 0xFFFF}}}
				pids = append(pids, id)
			}
			for i := range ids {
				h.Free(ids[i])
				p.Free(pids[i])
			}
		}
	}

	const why = "(the allocator keeps a free slot's free-list link there, so it must hold no pointer); found "
	for _, tc := range []struct {
		off  uintptr
		want string
	}{
		{0, `mimallocish: class "n": link offset 0 of mimallocish.nested must be the start of a uint16 or uint32 field ` + why + "mimallocish.nested.header.p (*int)"},
		{10, `mimallocish: class "n": link offset 10 of mimallocish.nested must be the start of a uint16 or uint32 field ` + why + "byte 2 of mimallocish.nested.header.slot (uint32)"},
		{14, `mimallocish: class "n": link offset 14 of mimallocish.nested must be the start of a uint16 or uint32 field ` + why + "padding in mimallocish.nested.header"},
		{16, `mimallocish: class "n": link offset 16 of mimallocish.nested must be the start of a uint16 or uint32 field ` + why + "mimallocish.nested.a[0].x (int64)"},
		{47, `mimallocish: class "n": link offset 47 is out of range for mimallocish.nested (48 bytes; the 2-byte link must fit)`},
		{1 << 40, `mimallocish: class "n": link offset 1099511627776 is out of range for mimallocish.nested (48 bytes; the 2-byte link must fit)`},
	} {
		require.PanicsWithValue(t, tc.want, func() { NewClass[nested]("n", 0, tc.off) }, "offset %d", tc.off)
		require.PanicsWithValue(t, tc.want, func() { NewPools[nested]("n", 0, tc.off) }, "offset %d", tc.off)
	}
	require.PanicsWithValue(t, `mimallocish: class "e": link offset 0 is out of range for struct {} (0 bytes; the 2-byte link must fit)`,
		func() { NewClass[struct{}]("e", 0, 0) })
	require.PanicsWithValue(t, `mimallocish: class "b": link offset 0 of [4]uint8 must be the start of a uint16 or uint32 field `+why+"[4]uint8[0] (uint8)",
		func() { NewPools[[4]byte]("b", 0, 0) })
}

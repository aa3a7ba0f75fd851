package mimallocish

import (
	"fmt"

	"github.com/nogil-lab/nogil/internal/invariants"
)

const (
	defaultPoolBytes = 16 << 10 // pymalloc's POOL_SIZE
	// DefaultPoolsPerArena is pymalloc's ARENA_SIZE / POOL_SIZE (1 MiB / 16 KiB).
	DefaultPoolsPerArena = 64
)

// Arenas is pymalloc's arena space: arenas of poolsPerArena pools, shared by
// every Pools of one runtime (every size class), and ordered so that new
// pools come from the fullest arenas and nearly empty arenas drain and are
// released. No locks: in GIL mode the GIL protects it, and it must be used
// under the same exclusion as the Pools that share it.
type Arenas struct {
	poolsPerArena int

	// usable is pymalloc's usable_arenas: the arenas with a free pool,
	// sorted by nfreepools, fewest first.
	usable *arena
	// nfp2lasta[k] is the last arena of usable with nfreepools == k, or nil.
	nfp2lasta []*arena

	narenas    int
	allocated  int64
	released   int64
	poolsInUse int   // pools serving a class
	emptyPools int   // carved pools on freepools lists
	emptyBytes int64 // slot arrays kept by those empty pools
}

// arena is pymalloc's arena_object. Its pools are carved lazily (pymalloc's
// pool_address bump): pools [0, carved) have served a class at least once.
type arena struct {
	pools      []poolSlot
	carved     int
	freepools  *poolSlot // empty pools, LIFO
	nfreepools int       // len(freepools) + uncarved pools
	prev, next *arena    // links in usable
}

// poolSlot is the class-independent part of a pool (pymalloc's
// pool_header minus the blocks): which arena it is in and which class used
// it last. The slot array itself is typed, so it lives in the class's
// pool[T], kept here while the pool is empty so that the same class can
// take it back as it is (pymalloc: "this pool last contained blocks of the
// same size class, so its header and free list are already initialized").
type poolSlot struct {
	arena    *arena
	class    any   // the *Pools[T] that used it last, or nil
	pool     any   // that class's *pool[T]
	bytes    int64 // size of its slot array
	nextFree *poolSlot
}

// NewArenas returns an arena space whose arenas hold poolsPerArena pools
// (at least 1; 0 means DefaultPoolsPerArena).
func NewArenas(poolsPerArena int) *Arenas {
	if poolsPerArena == 0 {
		poolsPerArena = DefaultPoolsPerArena
	}
	if poolsPerArena < 1 {
		panic(fmt.Sprintf("mimallocish: %d pools per arena (want at least 1)", poolsPerArena))
	}
	return &Arenas{poolsPerArena: poolsPerArena, nfp2lasta: make([]*arena, poolsPerArena+1)}
}

func (a *Arenas) newArena() *arena {
	ao := &arena{pools: make([]poolSlot, a.poolsPerArena), nfreepools: a.poolsPerArena}
	for i := range ao.pools {
		ao.pools[i].arena = ao
	}
	a.narenas++
	a.allocated++
	return ao
}

// takePool is pymalloc's allocate_from_new_pool minus the pool's
// initialization: a free pool of the first (fullest) usable arena, for
// class (a *Pools[T]).
//
// pymalloc takes the arena's most recently freed pool whatever size class
// it served, because re-making a pool for another class only rewrites its
// header. Here a pool's slot array is typed, so re-making one costs a Go
// allocation (its slot array, about 16 KiB) and, in the end, Go's
// collector: a cost CPython does not pay. So among the arena's empty pools
// takePool prefers one that last served class, and only then the most
// recent one. The arena is the one pymalloc would pick; only which of its
// empty pools serves changes (doc.go, "Cross-class reuse", has what it
// saved).
func (a *Arenas) takePool(class any) *poolSlot {
	ao := a.usable
	if ao == nil {
		ao = a.newArena()
		a.usable = ao
		a.nfp2lasta[ao.nfreepools] = ao
	}
	nf := ao.nfreepools
	// ao is first in usable, so it has the fewest free pools; taking one
	// keeps it first.
	if a.nfp2lasta[nf] == ao {
		a.nfp2lasta[nf] = nil
	}
	if nf > 1 {
		a.nfp2lasta[nf-1] = ao
	}
	ao.nfreepools = nf - 1
	ps := ao.takeFreePool(class)
	if ps != nil {
		a.emptyPools--
		a.emptyBytes -= ps.bytes
	} else {
		ps = &ao.pools[ao.carved]
		ao.carved++
	}
	if ao.nfreepools == 0 {
		// Wholly allocated: off the usable list.
		a.usable = ao.next
		if a.usable != nil {
			a.usable.prev = nil
		}
		ao.next = nil
	}
	a.poolsInUse++
	return ps
}

// takeFreePool unlinks and returns one of ao's empty pools: the most
// recent one that last served class, else the most recent one; nil if it
// has none (takePool says why).
func (ao *arena) takeFreePool(class any) *poolSlot {
	link := &ao.freepools
	for ps := ao.freepools; ps != nil; ps = ps.nextFree {
		if ps.class == class {
			break
		}
		link = &ps.nextFree
	}
	if *link == nil {
		link = &ao.freepools // none of class: the most recent
	}
	ps := *link
	if ps != nil {
		*link = ps.nextFree
		ps.nextFree = nil
	}
	return ps
}

// returnPool is pymalloc's insert_to_freepool: put an empty pool on its
// arena's freepools and keep usable sorted; release the arena if it became
// wholly free and is not the last usable one.
func (a *Arenas) returnPool(ps *poolSlot) {
	ao := ps.arena
	ps.nextFree = ao.freepools
	ao.freepools = ps
	a.emptyPools++
	a.emptyBytes += ps.bytes
	a.poolsInUse--

	nf := ao.nfreepools
	inList := nf > 0
	lastnf := a.nfp2lasta[nf] // nil when nf == 0
	if inList && lastnf == ao {
		// ao was the last arena with nf free pools; the one before it
		// becomes the last if it has nf too.
		if p := ao.prev; p != nil && p.nfreepools == nf {
			a.nfp2lasta[nf] = p
		} else {
			a.nfp2lasta[nf] = nil
		}
	}
	nf++
	ao.nfreepools = nf

	if nf == len(ao.pools) && ((inList && ao.next != nil) || (!inList && a.usable != nil)) {
		// Case 1: wholly free and another arena can serve: release it.
		if inList {
			a.unlink(ao)
		}
		a.releaseArena(ao)
		return
	}
	if nf == 1 {
		// Case 2: was wholly allocated; it is now the fullest usable arena.
		ao.prev, ao.next = nil, a.usable
		if a.usable != nil {
			a.usable.prev = ao
		}
		a.usable = ao
		if a.nfp2lasta[1] == nil {
			a.nfp2lasta[1] = ao
		}
		return
	}
	// Case 3: move ao right after the last arena with its old count.
	if a.nfp2lasta[nf] == nil {
		a.nfp2lasta[nf] = ao
	}
	if ao == lastnf {
		return
	}
	a.unlink(ao)
	ao.prev, ao.next = lastnf, lastnf.next
	if lastnf.next != nil {
		lastnf.next.prev = ao
	}
	lastnf.next = ao
}

func (a *Arenas) unlink(ao *arena) {
	if ao.prev != nil {
		ao.prev.next = ao.next
	} else {
		a.usable = ao.next
	}
	if ao.next != nil {
		ao.next.prev = ao.prev
	}
	ao.prev, ao.next = nil, nil
}

// releaseArena drops a wholly free arena, and the slot arrays its empty
// pools kept, to Go's GC (pymalloc: _PyObject_Arena.free).
func (a *Arenas) releaseArena(ao *arena) {
	for i := 0; i < ao.carved; i++ {
		a.emptyBytes -= ao.pools[i].bytes
	}
	a.emptyPools -= ao.carved
	ao.pools, ao.freepools = nil, nil
	a.narenas--
	a.released++
}

// ArenaStats describes an arena space.
type ArenaStats struct {
	PoolsPerArena   int
	Arenas          int   // arenas alive
	ArenasAllocated int64 // cumulative
	ArenasReleased  int64 // cumulative
	PoolsInUse      int   // pools serving a class (used or full)
	EmptyPools      int   // carved pools on the arenas' freepools
	UncarvedPools   int   // pools never used yet
	BytesEmpty      int64 // slot arrays kept by empty pools for their last class
}

// Stats describes the arena space.
func (a *Arenas) Stats() ArenaStats {
	return ArenaStats{
		PoolsPerArena:   a.poolsPerArena,
		Arenas:          a.narenas,
		ArenasAllocated: a.allocated,
		ArenasReleased:  a.released,
		PoolsInUse:      a.poolsInUse,
		EmptyPools:      a.emptyPools,
		UncarvedPools:   a.narenas*a.poolsPerArena - a.poolsInUse - a.emptyPools,
		BytesEmpty:      a.emptyBytes,
	}
}

type poolState uint8

const (
	poolEmpty poolState = iota // on its arena's freepools
	poolUsed                   // in usedpools: has a free slot
	poolFull                   // unlinked: no free slot
)

// pool is the typed part of a pymalloc pool: the slots of one class with
// their free list (pymalloc's freeblock, linked through the free slots like
// pymalloc's blocks, link_unsafe.go) and its bump pointer (nextoffset, here
// capacity).
type pool[T any] struct {
	// The fields of Alloc's and Free's fast paths come first.
	slots     []T
	link      uintptr // offset of the link field in a T (checkLink)
	base      SlotID
	capacity  uint32 // slots [0, capacity) have been carved
	ref       int32  // slots handed out (pymalloc ref.count)
	freeblock uint16 // head of the free list; never noSlot while in usedpools
	state     poolState

	dbg      []uint8 // per-slot dbg* state; invariants.Enabled only
	owner    *Pools[T]
	slot     *poolSlot
	id       uint32
	reserved uint32
	prev     *pool[T] // usedpools links
	nextPool *pool[T]
}

// Pools is pymalloc for one size class: usedpools and the class's pools,
// taking empty pools from (and returning them to) an Arenas. No locks: in
// GIL mode the GIL protects it. Every access must be ordered by the
// caller's exclusion; the race detector checks that it is (every field is
// plain, so two unordered calls are reported as a race).
type Pools[T any] struct {
	name         string
	arenas       *Arenas
	slotsPerPool int
	slotSize     int
	link         uintptr // offset of the link field in a T

	usedHead *pool[T] // usedpools[class]: pools with a free slot, most recently refilled first
	nused    int
	nfull    int
	dir      directory[*pool[T]]
	ids      idAllocator
	remade   int64 // empty pools of another class re-made for this one
	reused   int64 // empty pools of this class taken back as they were
	fresh    int64 // never-used pools carved for this class

	// spare is the rest of the last group of slot arrays (newSlots).
	spare []T
	// huge is the pools' use of large OS pages (hugepages.go): each new
	// group is a "page" to it.
	huge hugePages
}

// largeObject is the size above which Go allocates an object on pages of
// its own, starting on a page boundary, with no header before it.
const largeObject = 32 << 10

// newSlots returns a slot array of n slots for a new pool. A pool's array
// (16 KiB) is small for Go, and a small Go object that holds pointers
// starts with an 8-byte type header (Go 1.22's allocation headers), so its
// slots would start 8 bytes past a cache line: every 128-byte instance
// would touch three lines instead of two. So the arrays are cut from
// groups of more than largeObject bytes, which start on a page; the rest
// of a group waits here for the class's next new pool (it is not a pool
// yet, so no statistic counts it: at most 32 KiB per class), and Go frees
// a group once no pool holds any of it (a pool re-made for another class
// drops its array).
func (p *Pools[T]) newSlots(n int) []T {
	if len(p.spare) < n {
		group := n * (largeObject/(n*p.slotSize) + 1)
		p.spare = make([]T, group)
		p.huge.note(addressRange(p.spare))
	}
	s := p.spare[:n:n]
	p.spare = p.spare[n:]
	return s
}

// NewPools returns the pools of one class with slotsPerPool slots per pool
// (1..MaxSlotsPerPage; 0 picks about 16 KiB per pool) in an arena space of
// its own. Use NewPoolsIn to share arenas between classes. linkOffset names
// the uint16 or uint32 field of T that holds a free slot's free-list link,
// as for NewClass.
func NewPools[T any](name string, slotsPerPool int, linkOffset uintptr) *Pools[T] {
	return NewPoolsIn[T](NewArenas(0), name, slotsPerPool, linkOffset)
}

// NewPoolsIn returns the pools of one class in the shared arena space a: an
// empty pool of any class that shares a can be given to this one (its slot
// array is then re-made for T, see doc.go). linkOffset is as for NewClass.
func NewPoolsIn[T any](a *Arenas, name string, slotsPerPool int, linkOffset uintptr) *Pools[T] {
	if slotsPerPool == 0 {
		slotsPerPool = defaultSlots[T](defaultPoolBytes)
	}
	checkSlots("pool", name, slotsPerPool)
	checkLink[T](name, linkOffset)
	return &Pools[T]{name: name, arenas: a, slotsPerPool: slotsPerPool, slotSize: sizeOf[T](), link: linkOffset}
}

// Name returns the class's name.
func (p *Pools[T]) Name() string { return p.name }

// Arenas returns the arena space the pools come from.
func (p *Pools[T]) Arenas() *Arenas { return p.arenas }

// UseHugePages makes the pools ask the kernel to back their slot arrays
// with transparent huge pages once they have more than a few groups of
// them (hugepages.go). Call it before the first allocation; it panics
// after.
func (p *Pools[T]) UseHugePages() {
	if p.ids.next != 0 || p.spare != nil {
		panic("mimallocish: UseHugePages on pools " + p.name + " after their first pool")
	}
	p.huge.on = true
}

// Alloc returns a zeroed slot and its id (pymalloc_alloc).
func (p *Pools[T]) Alloc() (*T, SlotID) {
	pl := p.usedHead
	if pl == nil {
		return p.allocSlow()
	}
	i := pl.freeblock
	s := &pl.slots[i]
	pl.freeblock = popLink(s, pl.link)
	pl.ref++
	if pl.freeblock == noSlot {
		p.exhausted(pl)
	}
	if invariants.Enabled {
		p.dbgAlloc(pl, i)
	}
	return s, pl.base | SlotID(i)
}

// AllocFast is Alloc's fast path, small enough to inline into the caller
// (the compiler's budget is 80; this is 80 for the runtime's classes,
// TestAllocFastInlines in package runtime guards it): it pops the first
// used pool's free list unless that would empty it, since the pool must
// then carve a slot or leave usedpools. It returns nil, NoSlot when it
// cannot serve; the caller then calls Alloc, which always can.
func (p *Pools[T]) AllocFast() (*T, SlotID) {
	if pl := p.usedHead; pl != nil {
		i := pl.freeblock
		s := &pl.slots[i]
		if next := popLink(s, pl.link); next != noSlot {
			pl.freeblock = next
			pl.ref++
			if invariants.Enabled {
				p.dbgAlloc(pl, i)
			}
			return s, pl.base | SlotID(i)
		}
	}
	return nil, NoSlot
}

// exhausted carves the next slot of a pool whose free list ran out, or
// unlinks the pool as full (pymalloc_pool_extend).
func (p *Pools[T]) exhausted(pl *pool[T]) {
	if pl.capacity < pl.reserved {
		pl.freeblock = uint16(pl.capacity)
		setLink(&pl.slots[pl.capacity], pl.link, noSlot)
		pl.capacity++
		return
	}
	p.unlinkUsed(pl)
	pl.state = poolFull
	p.nfull++
}

func (p *Pools[T]) allocSlow() (*T, SlotID) {
	pl := p.newPool()
	p.pushUsed(pl)
	return p.Alloc()
}

// newPool takes a pool from the arenas and sets it up for this class.
func (p *Pools[T]) newPool() *pool[T] {
	ps := p.arenas.takePool(p)
	var pl *pool[T]
	if ps.class == any(p) {
		pl = ps.pool.(*pool[T])
		p.reused++
	} else {
		if ps.class != nil {
			p.remade++
		} else {
			p.fresh++
		}
		n := p.slotsPerPool
		pl = &pool[T]{
			slots:     p.newSlots(n),
			link:      p.link,
			owner:     p,
			slot:      ps,
			reserved:  uint32(n),
			freeblock: noSlot,
		}
		if invariants.Enabled {
			pl.dbg = make([]uint8, n)
		}
		ps.class, ps.pool = p, pl
		ps.bytes = int64(n) * int64(p.slotSize)
	}
	pl.id = p.ids.alloc("pool", p.name)
	pl.base = SlotID(pl.id << SlotBits)
	p.dir.set(pl.id, pl)
	if pl.freeblock == noSlot {
		p.exhausted(pl) // carve slot 0
	}
	pl.state = poolUsed
	return pl
}

func (p *Pools[T]) pushUsed(pl *pool[T]) {
	pl.prev, pl.nextPool = nil, p.usedHead
	if p.usedHead != nil {
		p.usedHead.prev = pl
	}
	p.usedHead = pl
	p.nused++
}

func (p *Pools[T]) unlinkUsed(pl *pool[T]) {
	if pl.prev != nil {
		pl.prev.nextPool = pl.nextPool
	} else {
		p.usedHead = pl.nextPool
	}
	if pl.nextPool != nil {
		pl.nextPool.prev = pl.prev
	}
	pl.prev, pl.nextPool = nil, nil
	p.nused--
}

// poolOf returns the pool with id pid, or nil. Small enough to inline.
func (p *Pools[T]) poolOf(pid uint32) *pool[T] {
	leaf := p.dir.top[pid>>leafBits]
	if leaf == nil {
		return nil
	}
	return leaf[pid&leafMask]
}

// Free frees the slot id (pymalloc_free).
//
// The first used pool, the one allocations come from, is tried first: an
// object that dies soon after it was born, the commonest free, is found
// there with one compare instead of the directory's two dependent loads.
func (p *Pools[T]) Free(id SlotID) {
	pl := p.usedHead
	var idx uint32
	if pl != nil {
		idx = uint32(id - pl.base) // as in Heap.Free
	}
	if pl == nil || idx >= pl.capacity {
		idx = uint32(id) & slotMask
		if pl = p.poolOf(uint32(id) >> SlotBits); pl == nil {
			panicUnknownSlot(p.name, id)
		}
		if idx >= pl.capacity {
			panicNeverAllocated(p.name, id)
		}
	}
	if invariants.Enabled {
		p.dbgFree(pl, idx, id)
	}
	// The slot at the head of the free list, or any slot of a pool with
	// nothing handed out, is free already. Checked before the slot is
	// touched: a free slot holds its link.
	if uint16(idx) == pl.freeblock || pl.ref <= 0 {
		panicDoubleFree(p.name, id)
	}
	s := &pl.slots[idx]
	var zero T
	*s = zero
	last := pl.freeblock
	setLink(s, pl.link, last)
	pl.freeblock = uint16(idx)
	pl.ref--
	// The slow path runs when the pool was full, or is now empty and is
	// not the class's only pool, which stays put (see freeSlow): checked
	// here, so that a loop that allocates and frees one object does not
	// call freeSlow every time.
	if last == noSlot || pl.ref == 0 && (p.nused != 1 || p.nfull != 0) {
		p.freeSlow(pl, last == noSlot)
	}
}

func (p *Pools[T]) freeSlow(pl *pool[T], wasFull bool) {
	if wasFull {
		// The pool was full, so in no list: link it at the front of
		// usedpools (pymalloc insert_to_usedpool).
		pl.state = poolUsed
		p.nfull--
		p.pushUsed(pl)
	}
	if pl.ref == 0 {
		if p.nused == 1 && p.nfull == 0 {
			// The class's only pool: keep it (hysteresis; pymalloc
			// would give it back and take it again on the next
			// allocation, see doc.go).
			return
		}
		// Empty: unlink it and give it back to its arena
		// (insert_to_freepool). Its id goes; its free list stays intact.
		p.unlinkUsed(pl)
		pl.state = poolEmpty
		p.dir.set(pl.id, nil)
		p.ids.release(pl.id)
		p.arenas.returnPool(pl.slot)
	}
}

func (p *Pools[T]) dbgAlloc(pl *pool[T], i uint16) {
	if pl.dbg[i] == dbgLive {
		panic(fmt.Sprintf("mimallocish: internal error: slot %#x of class %q handed out twice", uint32(pl.base|SlotID(i)), p.name))
	}
	pl.dbg[i] = dbgLive
}

func (p *Pools[T]) dbgFree(pl *pool[T], i uint32, id SlotID) {
	switch pl.dbg[i] {
	case dbgLive:
		pl.dbg[i] = dbgFreed
	case dbgNever:
		panicNeverAllocated(p.name, id)
	default:
		panicDoubleFree(p.name, id)
	}
}

func (pl *pool[T]) freeMap(buf []uint64) []uint64 {
	words := (int(pl.reserved) + 63) / 64
	buf = append(buf[:0], make([]uint64, words)...)
	n := 0
	for i := pl.freeblock; i != noSlot; i = getLink(&pl.slots[i], pl.link) {
		if n++; n > int(pl.reserved) {
			panic(fmt.Sprintf("mimallocish: corrupted free list of pool %d in class %q", pl.id, pl.owner.name))
		}
		buf[i>>6] |= 1 << (i & 63)
	}
	for i := pl.capacity; i < pl.reserved; i++ {
		buf[i>>6] |= 1 << (i & 63)
	}
	return buf
}

// Walk calls fn for every allocated slot of the class. fn must not Alloc or
// Free in these pools.
func (p *Pools[T]) Walk(fn func(*T, SlotID)) {
	var fm []uint64
	for id := uint32(1); id <= p.ids.next; id++ {
		pl := p.dir.get(id)
		if pl == nil {
			continue
		}
		fm = pl.freeMap(fm)
		for i := uint32(0); i < pl.capacity; i++ {
			if fm[i>>6]&(1<<(i&63)) == 0 {
				fn(&pl.slots[i], pl.base|SlotID(i))
			}
		}
	}
}

// PoolStats describes one class of pools and its arena space.
type PoolStats struct {
	SlotsPerPool int
	SlotSize     int

	UsedPools     int   // in usedpools: some slot free
	FullPools     int   // no slot free
	SlotsInUse    int   // handed out and not freed
	BytesReserved int64 // (UsedPools+FullPools) × SlotsPerPool × SlotSize (free lists live in the free slots)
	BytesInUse    int64 // SlotsInUse × SlotSize

	PoolsFresh  int64 // never-used pools carved for this class
	PoolsReused int64 // empty pools of this class taken back as they were
	PoolsRemade int64 // empty pools of another class whose slot array was re-made for this one

	Arenas ArenaStats // the (possibly shared) arena space: arenas, empty pools

	HugePages       bool  // the pools ask for huge pages (UseHugePages)
	HugePageWindows int64 // 2 MiB windows of memory these pools advised for huge pages (hugepages.go)
}

// Stats describes the pools.
func (p *Pools[T]) Stats() PoolStats {
	s := PoolStats{
		SlotsPerPool: p.slotsPerPool,
		SlotSize:     p.slotSize,
		UsedPools:    p.nused,
		FullPools:    p.nfull,
		PoolsFresh:   p.fresh,
		PoolsReused:  p.reused,
		PoolsRemade:  p.remade,
		Arenas:       p.arenas.Stats(),

		HugePages:       p.huge.on,
		HugePageWindows: p.huge.windows,
	}
	for id := uint32(1); id <= p.ids.next; id++ {
		if pl := p.dir.get(id); pl != nil {
			s.SlotsInUse += int(pl.ref)
		}
	}
	s.BytesReserved = int64(p.nused+p.nfull) * int64(p.slotsPerPool) * int64(p.slotSize)
	s.BytesInUse = int64(s.SlotsInUse) * int64(p.slotSize)
	return s
}

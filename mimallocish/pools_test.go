package mimallocish

import (
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/nogil-lab/nogil/internal/invariants"
	"github.com/stretchr/testify/require"
)

func poolOf[T any](p *Pools[T], id SlotID) *pool[T] { return p.dir.get(id.Page()) }

func allocPoolsN[T any](p *Pools[T], n int) []SlotID {
	ids := make([]SlotID, n)
	for i := range ids {
		_, ids[i] = p.Alloc()
	}
	return ids
}

// checkPools verifies usedpools and every pool's counts.
func checkPools[T any](t testing.TB, p *Pools[T]) {
	t.Helper()
	n := 0
	var prev *pool[T]
	for pl := p.usedHead; pl != nil; pl = pl.nextPool {
		n++
		switch {
		case pl.prev != prev:
			t.Fatalf("pool %d: broken prev link", pl.id)
		case pl.state != poolUsed:
			t.Fatalf("pool %d in usedpools in state %d", pl.id, pl.state)
		case pl.freeblock == noSlot:
			t.Fatalf("pool %d in usedpools without a free slot", pl.id)
		}
		prev = pl
	}
	require.Equal(t, p.nused, n)
	full := 0
	for id := uint32(1); id <= p.ids.next; id++ {
		pl := p.dir.get(id)
		if pl == nil {
			continue
		}
		if pl.state == poolFull {
			full++
			if pl.freeblock != noSlot || pl.capacity != pl.reserved {
				t.Fatalf("full pool %d has room", pl.id)
			}
		}
		free := 0
		for i := pl.freeblock; i != noSlot; i = getLink(&pl.slots[i], pl.link) {
			if free++; free > int(pl.reserved) {
				t.Fatalf("pool %d: cyclic free list", pl.id)
			}
		}
		if int(pl.capacity)-free != int(pl.ref) || pl.ref < 0 {
			t.Fatalf("pool %d: ref %d, capacity %d, %d free", pl.id, pl.ref, pl.capacity, free)
		}
		if pl.ref == 0 && (p.nused != 1 || p.nfull != 0) {
			t.Fatalf("empty pool %d kept while the class has other pools", pl.id)
		}
	}
	require.Equal(t, p.nfull, full)
}

// Used → full → used → empty (back to the arena), with pymalloc's lazy
// carving of slots; a class's only pool is kept when it empties.
func TestPoolsStates(t *testing.T) {
	p := NewPools[obj]("obj", 3, objLink)
	a := p.Arenas()
	ids := allocPoolsN(p, 2)
	pl := poolOf(p, ids[0])
	require.Equal(t, poolUsed, pl.state)
	require.Equal(t, uint32(3), pl.capacity, "slots are carved one ahead")
	_, id := p.Alloc()
	ids = append(ids, id)
	require.Equal(t, poolFull, pl.state)
	s := p.Stats()
	require.Equal(t, 0, s.UsedPools)
	require.Equal(t, 1, s.FullPools)
	require.Equal(t, 3, s.SlotsInUse)
	require.Equal(t, int64(3*48), s.BytesReserved)
	require.Equal(t, int64(3*48), s.BytesInUse)
	checkPools(t, p)

	p.Free(ids[1])
	require.Equal(t, poolUsed, pl.state, "a free into a full pool links it again")
	require.Same(t, pl, p.usedHead)
	_, id = p.Alloc()
	require.Equal(t, ids[1], id)
	checkPools(t, p)

	for _, id := range ids {
		p.Free(id)
	}
	require.Equal(t, poolUsed, pl.state, "the class's only pool is kept when it empties")
	require.Zero(t, p.Stats().SlotsInUse)
	require.Equal(t, 1, p.Stats().UsedPools)
	require.Zero(t, a.Stats().EmptyPools)
	checkPools(t, p)

	ids = allocPoolsN(p, 4) // fills pl again, and a second pool
	require.Same(t, pl, poolOf(p, ids[0]))
	pl2 := poolOf(p, ids[3])
	require.NotSame(t, pl, pl2)
	for _, id := range ids[:3] {
		p.Free(id)
	}
	require.Equal(t, poolEmpty, pl.state, "an empty pool goes back to its arena")
	require.Nil(t, poolOf(p, ids[0]), "with its id")
	s = p.Stats()
	require.Equal(t, 1, s.UsedPools)
	require.Zero(t, s.FullPools)
	require.Equal(t, 1, s.Arenas.EmptyPools)
	require.Equal(t, 1, s.Arenas.Arenas)
	require.Equal(t, int64(3*48), s.Arenas.BytesEmpty, "an empty pool keeps its slot array for its class")
	checkArenas(t, a)
	checkPools(t, p)

	// The same class takes the pool back as it was.
	allocPoolsN(p, 3) // fills pl2
	require.Equal(t, poolFull, pl2.state)
	_, id = p.Alloc()
	require.Same(t, pl, poolOf(p, id))
	s = p.Stats()
	require.Equal(t, int64(1), s.PoolsReused)
	require.Equal(t, int64(2), s.PoolsFresh)
	require.Zero(t, s.Arenas.EmptyPools)
	checkPools(t, p)
}

func TestPoolsArenaRelease(t *testing.T) {
	a := NewArenas(4)
	p := NewPoolsIn[obj](a, "obj", 2, objLink)
	ids := allocPoolsN(p, 17) // 9 pools: 3 arenas
	require.Equal(t, 3, a.Stats().Arenas)
	checkArenas(t, a)
	for _, id := range ids[:16] {
		p.Free(id)
		checkArenas(t, a)
		checkPools(t, p)
	}
	s := a.Stats()
	require.Equal(t, 1, s.PoolsInUse, "the ninth pool's slot is live")
	require.Equal(t, 1, s.Arenas, "both wholly free arenas are released: the third one can serve")
	require.Equal(t, int64(3), s.ArenasAllocated)
	require.Equal(t, int64(2), s.ArenasReleased)
	require.Zero(t, s.EmptyPools, "the released arenas took their empty pools along")
	require.Zero(t, s.BytesEmpty)

	p.Free(ids[16])
	s = a.Stats()
	require.Equal(t, 1, s.PoolsInUse, "the class keeps its last pool")
	require.Equal(t, 1, s.Arenas)
	checkArenas(t, a)

	// Two arenas again; when the second drains, nothing else can serve
	// after it, so it is kept: at most one wholly free arena.
	ids = allocPoolsN(p, 16) // the kept pool, the rest of its arena, a new arena
	require.Equal(t, 2, a.Stats().Arenas)
	for i := len(ids) - 1; i >= 0; i-- {
		p.Free(ids[i])
		checkArenas(t, a)
	}
	s = a.Stats()
	require.Equal(t, 2, s.Arenas, "the arena of the kept pool, and one wholly free arena")
	require.Equal(t, int64(2), s.ArenasReleased, "the new arena drained first, with no usable arena after it: kept")
	require.Equal(t, 4, s.EmptyPools+s.UncarvedPools-3, "the wholly free arena's 4 pools (+ 3 of the other)")
}

// New pools come from the fullest arena (usable_arenas sorted by
// nfreepools), so that nearly empty arenas drain.
func TestPoolsFullestArenaFirst(t *testing.T) {
	a := NewArenas(4)
	p := NewPoolsIn[obj](a, "obj", 1, objLink) // a slot per pool: an alloc is a pool
	ids := allocPoolsN(p, 8)
	arenaOf := func(id SlotID) *arena { return poolOf(p, id).slot.arena }
	A, B := arenaOf(ids[0]), arenaOf(ids[4])
	require.NotSame(t, A, B)
	require.Nil(t, a.usable, "both arenas wholly allocated")
	for _, id := range ids[:3] {
		p.Free(id) // A: 3 free pools
	}
	p.Free(ids[4]) // B: 1 free pool
	checkArenas(t, a)
	require.Same(t, B, a.usable, "the fuller arena comes first")
	require.Same(t, A, a.usable.next)

	_, id := p.Alloc()
	require.Same(t, B, arenaOf(id), "allocation prefers the fullest arena")
	_, id = p.Alloc()
	require.Same(t, A, arenaOf(id))
	checkArenas(t, a)

	// Free everything in A first: with B full, A is the last usable arena
	// and is kept; then B drains, and B (not last) is released.
	for _, id := range append(ids[5:], ids[3]) {
		p.Free(id)
		checkArenas(t, a)
	}
	require.Equal(t, 2, a.Stats().Arenas)
	live := []SlotID{}
	p.Walk(func(_ *obj, id SlotID) { live = append(live, id) })
	for _, id := range live {
		p.Free(id)
		checkArenas(t, a)
	}
	require.Equal(t, 1, a.Stats().Arenas)
	require.Equal(t, int64(1), a.Stats().ArenasReleased)
}

// twoClasses returns an arena space of poolsPerArena pools shared by two
// classes of one slot per pool, so that every allocation takes a pool.
func twoClasses(poolsPerArena int) (*Arenas, *Pools[obj], *Pools[big]) {
	a := NewArenas(poolsPerArena)
	return a, NewPoolsIn[obj](a, "obj", 1, objLink), NewPoolsIn[big](a, "big", 1, bigLink)
}

// A class that needs a pool takes an empty one of its own from its arena
// even when another class's empty pool was freed after it: re-making a
// pool costs a Go allocation (takePool). With none of its own, it takes
// the most recent one.
func TestPoolsPreferOwnEmptyPool(t *testing.T) {
	a, small, large := twoClasses(4)
	_, s1 := small.Alloc()
	_, s2 := small.Alloc()
	_, l1 := large.Alloc()
	_, l2 := large.Alloc()
	own := poolOf(small, s1).slot
	small.Free(s1) // small's pool first
	large.Free(l1) // then large's: the most recent
	require.Equal(t, 2, a.Stats().EmptyPools)

	_, s3 := small.Alloc()
	require.Same(t, own, poolOf(small, s3).slot, "small took its own empty pool, not the more recent one")
	st := small.Stats()
	require.Equal(t, int64(1), st.PoolsReused)
	require.Zero(t, st.PoolsRemade)
	require.Equal(t, 1, a.Stats().EmptyPools)
	checkArenas(t, a)

	_, s4 := small.Alloc() // only large's empty pool is left: re-made
	require.Equal(t, int64(1), small.Stats().PoolsRemade)
	require.Zero(t, a.Stats().EmptyPools)
	checkArenas(t, a)
	for _, id := range []SlotID{s2, s3, s4} {
		small.Free(id)
	}
	large.Free(l2)
	checkArenas(t, a)
}

// Pools of different classes share the arenas: an empty pool of one class
// is given to another, its slot array re-made.
func TestPoolsCrossClass(t *testing.T) {
	a, small, large := twoClasses(3)
	_, s1 := small.Alloc()
	_, s2 := small.Alloc()
	_, l1 := large.Alloc()
	require.Equal(t, 1, a.Stats().Arenas)
	require.Same(t, poolOf(small, s1).slot.arena, poolOf(large, l1).slot.arena, "one arena, two classes")
	ps := poolOf(small, s1).slot
	small.Free(s1)
	require.Equal(t, 1, a.Stats().EmptyPools)

	p, l2 := large.Alloc()
	require.Equal(t, big{}, *p)
	require.Same(t, ps, poolOf(large, l2).slot, "the big class took the small class's empty pool")
	require.Equal(t, 1, a.Stats().Arenas, "no new arena")
	st := large.Stats()
	require.Equal(t, int64(1), st.PoolsRemade)
	require.Equal(t, int64(1), st.PoolsFresh)
	require.Equal(t, int64(96), ps.bytes)
	checkArenas(t, a)

	large.Free(l1)
	_, s3 := small.Alloc()
	require.Equal(t, int64(1), small.Stats().PoolsRemade, "the small class takes one back, re-made again")
	small.Free(s2)
	small.Free(s3)
	large.Free(l2)
	require.Equal(t, 1, a.Stats().Arenas)
	require.Equal(t, 2, a.Stats().PoolsInUse, "each class keeps its last pool")
	require.Equal(t, 1, a.Stats().EmptyPools)
	checkArenas(t, a)
}

func TestPoolsMisuse(t *testing.T) {
	p := NewPools[obj]("obj", 200, objLink)
	_, x := p.Alloc()
	_, y := p.Alloc()
	require.Equal(t, SlotID(0x1000), x)
	p.Free(x)
	require.PanicsWithValue(t, `mimallocish: double free of slot 0x1000 in class "obj"`, func() { p.Free(x) })
	require.PanicsWithValue(t, `mimallocish: free of never-allocated slot 0x1064 in class "obj"`, func() { p.Free(0x1064) })
	require.PanicsWithValue(t, `mimallocish: free of unknown slot 0x2000 in class "obj" (no such page: never allocated, or freed and its page released)`,
		func() { p.Free(0x2000) })
	require.PanicsWithValue(t, `mimallocish: free of unknown slot 0x0 in class "obj" (no such page: never allocated, or freed and its page released)`,
		func() { p.Free(0) })
	if invariants.Enabled {
		_, z := p.Alloc() // reuses x's slot
		require.Equal(t, x, z)
		_, anchor := p.Alloc() // keeps the pool alive
		p.Free(y)
		p.Free(z)
		require.PanicsWithValue(t, `mimallocish: double free of slot 0x1001 in class "obj"`, func() { p.Free(y) },
			"not the head of the free list: caught by the debug slot states")
		require.PanicsWithValue(t, `mimallocish: free of never-allocated slot 0x1003 in class "obj"`, func() { p.Free(0x1003) },
			"carved, never handed out")
		_, y = p.Alloc()
		p.Free(anchor)
	}
	p.Free(y)
	require.PanicsWithValue(t, `mimallocish: double free of slot `+hex(y)+` in class "obj"`, func() { p.Free(y) })
	require.Equal(t, 1, p.Stats().UsedPools, "the class's only pool is kept")
	require.PanicsWithValue(t, `mimallocish: class "x": -1 slots per pool (want 1..4096)`, func() { NewPools[obj]("x", -1, objLink) })
	require.PanicsWithValue(t, `mimallocish: class "x": 4097 slots per pool (want 1..4096)`, func() { NewPools[obj]("x", 4097, objLink) })
	require.PanicsWithValue(t, `mimallocish: -2 pools per arena (want at least 1)`, func() { NewArenas(-2) })
}

// poolRunner drives two classes of pools sharing small arenas against the
// model (the big class only counts).
type poolRunner struct {
	t     testing.TB
	a     *Arenas
	p     *Pools[obj]
	q     *Pools[big]
	qLive []SlotID
	m     *model
}

func newPoolRunner(t testing.TB, slotsPerPool, poolsPerArena int) *poolRunner {
	a := NewArenas(poolsPerArena)
	return &poolRunner{t: t, a: a, p: NewPoolsIn[obj](a, "obj", slotsPerPool, objLink), q: NewPoolsIn[big](a, "big", slotsPerPool, bigLink), m: newModel(t)}
}

func (r *poolRunner) step(op, arg byte) {
	switch op % 10 {
	case 0, 1, 2, 3:
		p, id := r.p.Alloc()
		r.m.allocated(p, id)
	case 4, 5, 6:
		if id, ok := r.m.pick(int(arg)); ok {
			r.m.freeing(id)
			r.p.Free(id)
		}
	case 7:
		p, id := r.q.Alloc()
		require.Equal(r.t, big{}, *p)
		p.tag = int64(id)
		r.qLive = append(r.qLive, id)
	case 8:
		if n := len(r.qLive); n > 0 {
			i := int(arg) % n
			id := r.qLive[i]
			r.qLive[i] = r.qLive[n-1]
			r.qLive = r.qLive[:n-1]
			r.q.Free(id)
		}
	case 9:
		r.m.walked(r.p.Walk)
	}
}

func (r *poolRunner) check() {
	r.t.Helper()
	checkArenas(r.t, r.a)
	checkPools(r.t, r.p)
	checkPools(r.t, r.q)
	s, sq := r.p.Stats(), r.q.Stats()
	require.Equal(r.t, len(r.m.live), s.SlotsInUse)
	require.Equal(r.t, len(r.qLive), sq.SlotsInUse)
	as := r.a.Stats()
	require.Equal(r.t, s.UsedPools+s.FullPools+sq.UsedPools+sq.FullPools, as.PoolsInUse)
	require.Equal(r.t, as.Arenas*as.PoolsPerArena, as.PoolsInUse+as.EmptyPools+as.UncarvedPools)
	require.Equal(r.t, int64(as.Arenas), as.ArenasAllocated-as.ArenasReleased)
	require.GreaterOrEqual(r.t, as.UncarvedPools, 0)
}

func (r *poolRunner) finish() {
	r.t.Helper()
	r.m.walked(r.p.Walk)
	n := 0
	r.q.Walk(func(p *big, id SlotID) {
		require.Equal(r.t, int64(id), p.tag)
		n++
	})
	require.Equal(r.t, len(r.qLive), n)
	for len(r.m.ids) > 0 {
		id := r.m.ids[0]
		r.m.freeing(id)
		r.p.Free(id)
	}
	for _, id := range r.qLive {
		r.q.Free(id)
	}
	r.qLive = nil
	r.check()
	as := r.a.Stats()
	require.LessOrEqual(r.t, as.PoolsInUse, 2, "each class keeps at most its last pool")
	require.LessOrEqual(r.t, as.Arenas, as.PoolsInUse+1, "at most one wholly free arena is kept")
}

func TestPoolsModel(t *testing.T) {
	for _, cfg := range [][2]int{{1, 1}, {1, 3}, {3, 2}, {16, 4}} {
		r := newPoolRunner(t, cfg[0], cfg[1])
		rng := rand.New(rand.NewPCG(uint64(cfg[0]), uint64(cfg[1])))
		n := invariants.Scale(20000, 4)
		for i := 0; i < n; i++ {
			r.step(byte(rng.IntN(256)), byte(rng.IntN(256)))
			if i%97 == 0 {
				r.check()
			}
		}
		r.finish()
	}
}

// FuzzPools runs operation sequences (operation, argument) on two classes
// of 2-slot pools sharing 3-pool arenas against the model.
func FuzzPools(f *testing.F) {
	for _, seed := range [][]byte{
		{},
		{0, 0, 0, 0, 0, 0, 4, 0, 4, 0, 4, 0, 9, 0},
		{0, 0, 7, 0, 0, 0, 7, 0, 0, 0, 4, 1, 8, 0, 4, 0, 0, 0, 7, 0, 9, 0},
		{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4, 3, 4, 3, 4, 0, 0, 0, 7, 0},
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 1200 {
			data = data[:1200]
		}
		r := newPoolRunner(t, 2, 3)
		for i := 0; i+1 < len(data); i += 2 {
			r.step(data[i], data[i+1])
			if i%8 == 0 || len(data) < 100 {
				r.check()
			}
		}
		r.finish()
	})
}

// In GIL mode the pools are used by many threads, one at a time; here a
// mutex plays the GIL and the race detector checks the exclusion.
func TestPoolsUnderGIL(t *testing.T) {
	var gil sync.Mutex
	a := NewArenas(4)
	p := NewPoolsIn[obj](a, "obj", 8, objLink)
	q := NewPoolsIn[big](a, "big", 4, bigLink)
	const workers = 4
	n := invariants.Scale(20000, 10)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 7))
			var mine []SlotID
			var objs []*obj
			var bigs []SlotID
			for i := 0; i < n; i++ {
				gil.Lock()
				switch k := rng.IntN(5); {
				case k < 2 || len(mine) == 0:
					o, id := p.Alloc()
					if *o != (obj{}) {
						t.Errorf("slot %v not zeroed", id)
					}
					o.tag, o.id = int64(w), id
					mine, objs = append(mine, id), append(objs, o)
				case k < 4:
					j := rng.IntN(len(mine))
					if objs[j].tag != int64(w) || objs[j].id != mine[j] {
						t.Errorf("slot %v overwritten while live", mine[j])
					}
					p.Free(mine[j])
					mine[j], objs[j] = mine[len(mine)-1], objs[len(objs)-1]
					mine, objs = mine[:len(mine)-1], objs[:len(objs)-1]
				default:
					if len(bigs) > 0 && rng.IntN(2) == 0 {
						q.Free(bigs[len(bigs)-1])
						bigs = bigs[:len(bigs)-1]
					} else {
						_, id := q.Alloc()
						bigs = append(bigs, id)
					}
				}
				gil.Unlock()
			}
			gil.Lock()
			for _, id := range mine {
				p.Free(id)
			}
			for _, id := range bigs {
				q.Free(id)
			}
			gil.Unlock()
		}()
	}
	wg.Wait()
	require.Zero(t, p.Stats().SlotsInUse)
	require.Zero(t, q.Stats().SlotsInUse)
	require.LessOrEqual(t, a.Stats().PoolsInUse, 2)
	require.LessOrEqual(t, a.Stats().Arenas, 3)
	checkArenas(t, a)
}

package runtime

import (
	"github.com/nogil-lab/nogil/internal/invariants"
	"github.com/nogil-lab/nogil/mimallocish"
)

// The allocation interface. Every object is allocated by one of the alloc
// functions below and its slot is given back through freeSlot or
// releaseSlot (freed ints, floats, lists and dicts wait on a free list
// first, and their constructors take them from there before they
// allocate: freelist.go); the types never allocate themselves. Each object
// struct is one size class of package mimallocish:
//
//   - free-threaded mode: every thread has its own heap per class
//     (mimalloc's free-list sharding): allocation and frees of the thread's
//     own objects touch no lock and no atomic; a free of another thread's
//     object goes to that page's atomic thread_free list. A closing thread
//     abandons its pages to be adopted by others.
//   - GIL mode: one set of pymalloc-style pools per class, all classes in
//     one arena space, protected by the GIL.
//
// Memory stays Go-managed: a slot is an element of a typed page, reused by
// the allocator and dropped to Go's collector with its page. While a slot
// is free, the allocator keeps its free-list link in the header's slot field
// (slotlink_unsafe.go): the alloc functions set slot right after Alloc and
// releaseSlot reads it before Free, and nothing else touches it. A slot is
// reused only after its object was freed. The lock-free readers of a
// possibly dead object are WeakRefGet, which reads under the weak
// references' stripe lock (a dying object's weak references are cleared
// under it before its slot is freed), and ListGet on a shared list, whose
// try-incref refuses a dead or freed count word and whose re-check catches
// a reused slot (listview.go).
//
// In Debug mode slots are never reused (releaseSlot keeps them), so every use
// after free keeps finding the poisoned header and panics.

// classes are a free-threaded runtime's size classes.
type classes struct {
	ints        *mimallocish.Class[intObject]
	floats      *mimallocish.Class[floatObject]
	strs        *mimallocish.Class[strObject]
	tuples      *mimallocish.Class[tupleObject]
	lists       *mimallocish.Class[listObject]
	dicts       *mimallocish.Class[dictObject]
	instances   *mimallocish.Class[instanceObject]
	weakrefs    *mimallocish.Class[weakrefObject]
	items4      *mimallocish.Class[items4]
	items8      *mimallocish.Class[items8]
	items16     *mimallocish.Class[items16]
	smallTables *mimallocish.Class[smallTable]
}

// heaps are one thread's heaps, one per class. Owned by the thread.
type heaps struct {
	ints        *mimallocish.Heap[intObject]
	floats      *mimallocish.Heap[floatObject]
	strs        *mimallocish.Heap[strObject]
	tuples      *mimallocish.Heap[tupleObject]
	lists       *mimallocish.Heap[listObject]
	dicts       *mimallocish.Heap[dictObject]
	instances   *mimallocish.Heap[instanceObject]
	weakrefs    *mimallocish.Heap[weakrefObject]
	items4      *mimallocish.Heap[items4]
	items8      *mimallocish.Heap[items8]
	items16     *mimallocish.Heap[items16]
	smallTables *mimallocish.Heap[smallTable]
}

// pools are a GIL runtime's pymalloc pools. Protected by the GIL.
type pools struct {
	arenas      *mimallocish.Arenas
	ints        *mimallocish.Pools[intObject]
	floats      *mimallocish.Pools[floatObject]
	strs        *mimallocish.Pools[strObject]
	tuples      *mimallocish.Pools[tupleObject]
	lists       *mimallocish.Pools[listObject]
	dicts       *mimallocish.Pools[dictObject]
	instances   *mimallocish.Pools[instanceObject]
	weakrefs    *mimallocish.Pools[weakrefObject]
	items4      *mimallocish.Pools[items4]
	items8      *mimallocish.Pools[items8]
	items16     *mimallocish.Pools[items16]
	smallTables *mimallocish.Pools[smallTable]
}

func (rt *Runtime) initAllocator() {
	if rt.mode == GIL {
		a := mimallocish.NewArenas(0)
		rt.pools = &pools{
			arenas:      a,
			ints:        mimallocish.NewPoolsIn[intObject](a, "int", 0, intSlotLink),
			floats:      mimallocish.NewPoolsIn[floatObject](a, "float", 0, floatSlotLink),
			strs:        mimallocish.NewPoolsIn[strObject](a, "str", 0, strSlotLink),
			tuples:      mimallocish.NewPoolsIn[tupleObject](a, "tuple", 0, tupleSlotLink),
			lists:       mimallocish.NewPoolsIn[listObject](a, "list", 0, listSlotLink),
			dicts:       mimallocish.NewPoolsIn[dictObject](a, "dict", 0, dictSlotLink),
			instances:   mimallocish.NewPoolsIn[instanceObject](a, "instance", 0, instanceSlotLink),
			weakrefs:    mimallocish.NewPoolsIn[weakrefObject](a, "weakref", 0, weakrefSlotLink),
			items4:      mimallocish.NewPoolsIn[items4](a, "list-items-4", 0, items4SlotLink),
			items8:      mimallocish.NewPoolsIn[items8](a, "list-items-8", 0, items8SlotLink),
			items16:     mimallocish.NewPoolsIn[items16](a, "list-items-16", 0, items16SlotLink),
			smallTables: mimallocish.NewPoolsIn[smallTable](a, "dict-table-8", 0, smallTableSlotLink),
		}
		if !rt.cfg.NoHugePages {
			for _, c := range rt.pools.all() {
				c.UseHugePages()
			}
		}
		return
	}
	rt.classes = &classes{
		ints:        mimallocish.NewClass[intObject]("int", 0, intSlotLink),
		floats:      mimallocish.NewClass[floatObject]("float", 0, floatSlotLink),
		strs:        mimallocish.NewClass[strObject]("str", 0, strSlotLink),
		tuples:      mimallocish.NewClass[tupleObject]("tuple", 0, tupleSlotLink),
		lists:       mimallocish.NewClass[listObject]("list", 0, listSlotLink),
		dicts:       mimallocish.NewClass[dictObject]("dict", 0, dictSlotLink),
		instances:   mimallocish.NewClass[instanceObject]("instance", 0, instanceSlotLink),
		weakrefs:    mimallocish.NewClass[weakrefObject]("weakref", 0, weakrefSlotLink),
		items4:      mimallocish.NewClass[items4]("list-items-4", 0, items4SlotLink),
		items8:      mimallocish.NewClass[items8]("list-items-8", 0, items8SlotLink),
		items16:     mimallocish.NewClass[items16]("list-items-16", 0, items16SlotLink),
		smallTables: mimallocish.NewClass[smallTable]("dict-table-8", 0, smallTableSlotLink),
	}
	if !rt.cfg.NoHugePages {
		for _, c := range rt.classes.all() {
			c.UseHugePages()
		}
	}
}

// heapClass and poolClass are what the runtime asks of every size class
// as a whole, whatever its object type: its name, statistics and the use
// of huge pages (Config.NoHugePages).
type heapClass interface {
	Name() string
	Stats() mimallocish.HeapStats
	UseHugePages()
}

type poolClass interface {
	Name() string
	Stats() mimallocish.PoolStats
	UseHugePages()
}

// all returns every class.
func (c *classes) all() []heapClass {
	return []heapClass{c.ints, c.floats, c.strs, c.tuples, c.lists, c.dicts, c.instances,
		c.weakrefs, c.items4, c.items8, c.items16, c.smallTables}
}

// all returns every class's pools.
func (p *pools) all() []poolClass {
	return []poolClass{p.ints, p.floats, p.strs, p.tuples, p.lists, p.dicts, p.instances,
		p.weakrefs, p.items4, p.items8, p.items16, p.smallTables}
}

func (c *classes) newHeaps() heaps {
	return heaps{
		ints:        c.ints.NewHeap(),
		floats:      c.floats.NewHeap(),
		strs:        c.strs.NewHeap(),
		tuples:      c.tuples.NewHeap(),
		lists:       c.lists.NewHeap(),
		dicts:       c.dicts.NewHeap(),
		instances:   c.instances.NewHeap(),
		weakrefs:    c.weakrefs.NewHeap(),
		items4:      c.items4.NewHeap(),
		items8:      c.items8.NewHeap(),
		items16:     c.items16.NewHeap(),
		smallTables: c.smallTables.NewHeap(),
	}
}

// abandon gives a closing thread's pages to the runtime.
func (h *heaps) abandon() {
	h.ints.Abandon()
	h.floats.Abandon()
	h.strs.Abandon()
	h.tuples.Abandon()
	h.lists.Abandon()
	h.dicts.Abandon()
	h.instances.Abandon()
	h.weakrefs.Abandon()
	h.items4.Abandon()
	h.items8.Abandon()
	h.items16.Abandon()
	h.smallTables.Abandon()
}

// revive makes the abandoned heaps of a closed thread a new thread's.
func (h *heaps) revive() {
	h.ints.Revive()
	h.floats.Revive()
	h.strs.Revive()
	h.tuples.Revive()
	h.lists.Revive()
	h.dicts.Revive()
	h.instances.Revive()
	h.weakrefs.Revive()
	h.items4.Revive()
	h.items8.Revive()
	h.items16.Revive()
	h.smallTables.Revive()
}

// The alloc functions take a zeroed slot from the runtime's pools (GIL
// mode) or the thread's heap (free-threaded). They are written out per
// class, without a generic helper, so that the allocator's fast path
// (AllocFast, a pop from a free list) inlines into each; Alloc, the
// complete allocation, is called only when the fast path cannot serve.
// The scalars' constructors (NewInt, NewFloat, NewStr: scalars.go) write
// the same lines out themselves rather than call an allocInt: with both
// modes' fast paths such a function is too large to inline, and its call
// would be one of the few left on a scalar's allocate-and-free (B3).

func (th *Thread) allocTuple() *tupleObject {
	var o *tupleObject
	var id mimallocish.SlotID
	if p := th.pools; p != nil {
		if o, id = p.tuples.AllocFast(); o == nil {
			o, id = p.tuples.Alloc()
		}
	} else if o, id = th.heaps.tuples.AllocFast(); o == nil {
		o, id = th.heaps.tuples.Alloc()
	}
	o.slot = id
	return o
}

func (th *Thread) allocList() *listObject {
	if f, ok := th.freeLists.lists[kindList].pop(); ok {
		return freedList(f)
	}
	var o *listObject
	var id mimallocish.SlotID
	if p := th.pools; p != nil {
		if o, id = p.lists.AllocFast(); o == nil {
			o, id = p.lists.Alloc()
		}
	} else if o, id = th.heaps.lists.AllocFast(); o == nil {
		o, id = th.heaps.lists.Alloc()
	}
	o.slot = id
	return o
}

func (th *Thread) allocDict() *dictObject {
	if f, ok := th.freeLists.lists[kindDict].pop(); ok {
		return freedDict(f)
	}
	var o *dictObject
	var id mimallocish.SlotID
	if p := th.pools; p != nil {
		if o, id = p.dicts.AllocFast(); o == nil {
			o, id = p.dicts.Alloc()
		}
	} else if o, id = th.heaps.dicts.AllocFast(); o == nil {
		o, id = th.heaps.dicts.Alloc()
	}
	o.slot = id
	return o
}

func (th *Thread) allocInstance() *instanceObject {
	var o *instanceObject
	var id mimallocish.SlotID
	if p := th.pools; p != nil {
		if o, id = p.instances.AllocFast(); o == nil {
			o, id = p.instances.Alloc()
		}
	} else if o, id = th.heaps.instances.AllocFast(); o == nil {
		o, id = th.heaps.instances.Alloc()
	}
	o.slot = id
	return o
}

func (th *Thread) allocWeakref() *weakrefObject {
	var o *weakrefObject
	var id mimallocish.SlotID
	if p := th.pools; p != nil {
		if o, id = p.weakrefs.AllocFast(); o == nil {
			o, id = p.weakrefs.Alloc()
		}
	} else if o, id = th.heaps.weakrefs.AllocFast(); o == nil {
		o, id = th.heaps.weakrefs.Alloc()
	}
	o.slot = id
	return o
}

// freeSlot gives a freed object's slot back: to its kind's free list if
// it has one with room (freelist.go), or else to the allocator; t is the
// type the object had.
func (th *Thread) freeSlot(o *Object, t *Type) {
	if !th.freeLists.keep(o, t, t.kind) {
		th.releaseSlot(o, t)
	}
}

// releaseSlot gives a freed object's slot back to the allocator; t is the
// type the object had. In Debug mode it poisons the header and keeps the
// slot (quarantine), so that a use after free keeps hitting the poison.
// Otherwise the allocator zeroes the slot at once, and poisoning it first
// would be a wasted pointer store (with its write-barrier check) on the
// path every free takes. A free-threaded free goes to the freeing thread's
// heap, which passes it on to the page's owner when the page is another
// heap's.
//
// One switch on the kind, each case calling its class's Free directly (a
// second switch per mode would cost a call).
func (th *Thread) releaseSlot(o *Object, t *Type) {
	if th.quarantine {
		o.typ = t.freed
		return
	}
	id := o.slot
	p := th.pools
	h := &th.heaps
	switch t.kind {
	case kindInt:
		if p != nil {
			p.ints.Free(id)
		} else {
			h.ints.Free(id)
		}
	case kindFloat:
		if p != nil {
			p.floats.Free(id)
		} else {
			h.floats.Free(id)
		}
	case kindStr:
		if p != nil {
			p.strs.Free(id)
		} else {
			h.strs.Free(id)
		}
	case kindTuple:
		if p != nil {
			p.tuples.Free(id)
		} else {
			h.tuples.Free(id)
		}
	case kindList:
		if p != nil {
			p.lists.Free(id)
		} else {
			h.lists.Free(id)
		}
	case kindDict:
		if p != nil {
			p.dicts.Free(id)
		} else {
			h.dicts.Free(id)
		}
	case kindInstance:
		if p != nil {
			p.instances.Free(id)
		} else {
			h.instances.Free(id)
		}
	case kindWeakref:
		if p != nil {
			p.weakrefs.Free(id)
		} else {
			h.weakrefs.Free(id)
		}
	default:
		misuse("free of a slot of kind %d", t.kind)
	}
}

// bornBuiltin finishes a new object of a builtin type: its type, its first
// reference (owned by th), its count in the statistics. i is t's index
// (tiInt, ...), a constant at every call site, so that counting is one
// increment. Small enough to inline.
func (th *Thread) bornBuiltin(o *Object, t *Type, i int) {
	if invariants.Enabled && t.index != i {
		misuse("internal: %s born with the statistics index %d", t.name, i)
	}
	o.typ = t
	o.rc.InitFresh(th.fresh)
	th.stats.countBuiltinAlloc(i)
}

// born is bornBuiltin for any type (user types: instances).
func (th *Thread) born(o *Object, t *Type) {
	o.typ = t
	o.rc.InitFresh(th.fresh)
	th.stats.countAlloc(t)
}

// bornContainer also tracks the new container.
func (th *Thread) bornContainer(c *container, t *Type) {
	th.born(&c.Object, t)
	th.track(c)
}

package runtime

import "github.com/nogil-lab/nogil/mimallocish"

// The allocation interface. Every object is allocated by one of the alloc
// functions below and its slot is given back through freeSlot; the types
// never allocate themselves. Each object struct is one size class of
// package mimallocish:
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
// freeSlot reads it before Free, and nothing else touches it. A slot is
// reused only after its object was freed; the only lock-free reader of a
// possibly dead object is WeakRefGet, and a dying object's weak references
// are cleared under their stripe lock before its slot is freed.
//
// In Debug mode slots are never reused (freeSlot keeps them), so every use
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
	attrs       *mimallocish.Class[attrs4]
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
	attrs       *mimallocish.Heap[attrs4]
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
	attrs       *mimallocish.Pools[attrs4]
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
			attrs:       mimallocish.NewPoolsIn[attrs4](a, "attrs-4", 0, attrsSlotLink),
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
		attrs:       mimallocish.NewClass[attrs4]("attrs-4", 0, attrsSlotLink),
	}
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
		attrs:       c.attrs.NewHeap(),
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
	h.attrs.Abandon()
}

// The alloc functions take a zeroed slot from the runtime's pools (GIL
// mode) or the thread's heap (free-threaded). They are written out per
// class, without a generic helper, so that the allocator's fast path
// inlines into each.

func (th *Thread) allocInt() *intObject {
	var o *intObject
	var id mimallocish.SlotID
	if p := th.pools; p != nil {
		o, id = p.ints.Alloc()
	} else {
		o, id = th.heaps.ints.Alloc()
	}
	o.slot = id
	return o
}

func (th *Thread) allocFloat() *floatObject {
	var o *floatObject
	var id mimallocish.SlotID
	if p := th.pools; p != nil {
		o, id = p.floats.Alloc()
	} else {
		o, id = th.heaps.floats.Alloc()
	}
	o.slot = id
	return o
}

func (th *Thread) allocStr() *strObject {
	var o *strObject
	var id mimallocish.SlotID
	if p := th.pools; p != nil {
		o, id = p.strs.Alloc()
	} else {
		o, id = th.heaps.strs.Alloc()
	}
	o.slot = id
	return o
}

func (th *Thread) allocTuple() *tupleObject {
	var o *tupleObject
	var id mimallocish.SlotID
	if p := th.pools; p != nil {
		o, id = p.tuples.Alloc()
	} else {
		o, id = th.heaps.tuples.Alloc()
	}
	o.slot = id
	return o
}

func (th *Thread) allocList() *listObject {
	var o *listObject
	var id mimallocish.SlotID
	if p := th.pools; p != nil {
		o, id = p.lists.Alloc()
	} else {
		o, id = th.heaps.lists.Alloc()
	}
	o.slot = id
	return o
}

func (th *Thread) allocDict() *dictObject {
	var o *dictObject
	var id mimallocish.SlotID
	if p := th.pools; p != nil {
		o, id = p.dicts.Alloc()
	} else {
		o, id = th.heaps.dicts.Alloc()
	}
	o.slot = id
	return o
}

func (th *Thread) allocInstance() *instanceObject {
	var o *instanceObject
	var id mimallocish.SlotID
	if p := th.pools; p != nil {
		o, id = p.instances.Alloc()
	} else {
		o, id = th.heaps.instances.Alloc()
	}
	o.slot = id
	return o
}

func (th *Thread) allocWeakref() *weakrefObject {
	var o *weakrefObject
	var id mimallocish.SlotID
	if p := th.pools; p != nil {
		o, id = p.weakrefs.Alloc()
	} else {
		o, id = th.heaps.weakrefs.Alloc()
	}
	o.slot = id
	return o
}

// freeSlot gives a freed object's slot back to the allocator. k is the
// kind the object had (its header is already poisoned). A free-threaded
// free goes to the freeing thread's heap, which passes it on to the page's
// owner when the page is another heap's.
func (th *Thread) freeSlot(o *Object, k kind) {
	if th.quarantine {
		return // Debug: a use after free keeps hitting the poison
	}
	id := o.slot
	if p := th.pools; p != nil {
		p.free(k, id)
		return
	}
	h := &th.heaps
	switch k {
	case kindInt:
		h.ints.Free(id)
	case kindFloat:
		h.floats.Free(id)
	case kindStr:
		h.strs.Free(id)
	case kindTuple:
		h.tuples.Free(id)
	case kindList:
		h.lists.Free(id)
	case kindDict:
		h.dicts.Free(id)
	case kindInstance:
		h.instances.Free(id)
	case kindWeakref:
		h.weakrefs.Free(id)
	default:
		misuse("free of a slot of kind %d", k)
	}
}

// free gives a slot back to its pool.
func (p *pools) free(k kind, id mimallocish.SlotID) {
	switch k {
	case kindInt:
		p.ints.Free(id)
	case kindFloat:
		p.floats.Free(id)
	case kindStr:
		p.strs.Free(id)
	case kindTuple:
		p.tuples.Free(id)
	case kindList:
		p.lists.Free(id)
	case kindDict:
		p.dicts.Free(id)
	case kindInstance:
		p.instances.Free(id)
	case kindWeakref:
		p.weakrefs.Free(id)
	default:
		misuse("free of a slot of kind %d", k)
	}
}

// born finishes a new object: its type, its first reference (owned by th),
// its count in the statistics.
func (th *Thread) born(o *Object, t *Type) {
	o.typ = t
	o.rc.InitFresh(th.strategy, th.id) // the allocator hands out zeroed slots
	th.stats.countAlloc(t)
}

// bornContainer also tracks the new container.
func (th *Thread) bornContainer(c *container, t *Type) {
	th.born(&c.Object, t)
	th.track(c)
}

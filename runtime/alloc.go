package runtime

// The allocation interface. Every object is allocated by one of these
// functions and given back through freeSlot, so that an allocator (package
// mimallocish: per-thread heaps in free-threaded mode, global pools in GIL
// mode) can replace plain Go allocation without touching the types. For
// now a slot is a fresh Go allocation and freeSlot leaves the memory to
// Go's collector.

func (th *Thread) allocInt() *intObject           { return new(intObject) }
func (th *Thread) allocFloat() *floatObject       { return new(floatObject) }
func (th *Thread) allocStr() *strObject           { return new(strObject) }
func (th *Thread) allocTuple() *tupleObject       { return new(tupleObject) }
func (th *Thread) allocList() *listObject         { return new(listObject) }
func (th *Thread) allocDict() *dictObject         { return new(dictObject) }
func (th *Thread) allocInstance() *instanceObject { return new(instanceObject) }
func (th *Thread) allocWeakref() *weakrefObject   { return new(weakrefObject) }

// freeSlot gives a freed object's slot back to the allocator.
func (th *Thread) freeSlot(o *Object) {}

// born finishes a new object: its type, its first reference (owned by th),
// its count in the statistics.
func (th *Thread) born(o *Object, t *Type) {
	o.typ = t
	th.initCount(o)
	th.stats.countAlloc(t)
}

// bornContainer also tracks the new container.
func (th *Thread) bornContainer(c *container, t *Type) {
	th.born(&c.Object, t)
	th.track(c)
}

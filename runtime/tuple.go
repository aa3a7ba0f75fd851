package runtime

// NewTuple returns a tuple of items (each gets a new reference). A tuple
// that holds no object the collector may track is born untracked: it can
// never be part of a cycle, and counting it would only make generation 0
// fill up and collect sooner (CPython 3.14.1 and later, gh-139951). A
// tuple of such tuples is untracked too, so a tree of tuples with atomic
// leaves costs the collector nothing.
func (th *Thread) NewTuple(items ...*Object) *Object {
	th.mustBeAttached()
	th.checkAll(items)
	t := th.allocTuple()
	n := len(items)
	if n <= len(t.inline) {
		t.items = t.inline[:n:n]
	} else {
		t.items = make([]*Object, n)
	}
	needsTracking := false
	for i, it := range items {
		th.incref(it)
		t.items[i] = it
		needsTracking = needsTracking || mayBeTracked(it)
	}
	th.bornBuiltin(&t.Object, th.rt.t.tuple, tiTuple)
	if needsTracking {
		th.track(&t.container)
	} else {
		t.gc.SetUncounted()
	}
	th.afterAlloc()
	return &t.Object
}

// mayBeTracked reports whether o keeps a tuple holding it under the
// collector (CPython's _PyObject_GC_MAY_BE_TRACKED): every container but
// an untracked tuple. A tuple's tracked state changes only at its birth,
// in a collector pause or at its death, never while the caller holds a
// reference to it outside a pause, so reading it here is not a race.
func mayBeTracked(o *Object) bool {
	switch o.typ.kind {
	case kindTuple:
		return asContainer(o).gc.IsTracked()
	default:
		return o.typ.kind.container()
	}
}

func (th *Thread) checkAll(items []*Object) {
	for _, it := range items {
		th.check(it)
	}
}

func (th *Thread) tupleArg(o *Object) (*tupleObject, error) {
	th.enter(o)
	if o.typ.kind != kindTuple {
		return nil, typeError("expected a tuple, got '%s' object", o.typ.name)
	}
	return asTuple(o), nil
}

// TupleLen returns the number of items.
func (th *Thread) TupleLen(o *Object) (int, error) {
	t, err := th.tupleArg(o)
	if err != nil {
		return 0, err
	}
	return len(t.items), nil
}

// TupleGet returns a new reference to item i; negative i counts from the end.
func (th *Thread) TupleGet(o *Object, i int) (*Object, error) {
	t, err := th.tupleArg(o)
	if err != nil {
		return nil, err
	}
	// Items never change, except that the collector may clear an
	// unreachable tuple; nobody can reach that one.
	if i < 0 {
		i += len(t.items)
	}
	if i < 0 || i >= len(t.items) {
		return nil, errorf(ErrIndex, "tuple index out of range")
	}
	it := t.items[i]
	th.incref(it)
	return it, nil
}

package runtime

// NewTuple returns a tuple of items (each gets a new reference).
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
	for i, it := range items {
		th.incref(it)
		t.items[i] = it
	}
	th.bornBuiltin(&t.Object, th.rt.t.tuple, tiTuple)
	th.track(&t.container)
	th.afterAlloc()
	return &t.Object
}

func (th *Thread) checkAll(items []*Object) {
	for _, it := range items {
		th.check(it)
	}
}

func (th *Thread) tupleArg(o *Object) (*tupleObject, error) {
	th.mustBeAttached()
	th.check(o)
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

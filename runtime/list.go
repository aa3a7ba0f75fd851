package runtime

// NewList returns a list of items (each gets a new reference).
func (th *Thread) NewList(items ...*Object) *Object {
	th.mustBeAttached()
	var a []*Object // an empty list has no array: skip the calls
	if len(items) > 0 {
		th.checkAll(items)
		a = th.appendNewRefs(th.newItems(len(items)), items)
	}
	l := th.allocList()
	l.setItems(a)
	th.bornBuiltin(&l.Object, th.rt.t.list, tiList)
	th.track(&l.container)
	th.afterAlloc()
	return &l.Object
}

// appendNewRefs appends items to a, with a new reference to each. One
// append per item: append(a, items...) calls typedslicecopy, which cost
// alloc-churn 48 instructions per op.
func (th *Thread) appendNewRefs(a, items []*Object) []*Object {
	for _, it := range items {
		th.incref(it)
		a = append(a, it)
	}
	return a
}

func (th *Thread) listArg(o *Object) (*listObject, error) {
	th.enter(o)
	if o.typ.kind != kindList {
		return nil, typeError("expected a list, got '%s' object", o.typ.name)
	}
	return asList(o), nil
}

// ListLen returns the number of items.
func (th *Thread) ListLen(o *Object) (int, error) {
	l, err := th.listArg(o)
	if err != nil {
		return 0, err
	}
	th.lockObject(o)
	n := int(l.n)
	th.unlockObject(o)
	return n, nil
}

func normIndex(i, n int) (int, bool) {
	if i < 0 {
		i += n
	}
	return i, i >= 0 && i < n
}

// ListGet returns a new reference to item i; negative i counts from the end.
// The reference is taken under the list's lock, so it stays valid even if
// another thread replaces the item at once.
func (th *Thread) ListGet(o *Object, i int) (*Object, error) {
	l, err := th.listArg(o)
	if err != nil {
		return nil, err
	}
	if lockFreeListReads && i >= 0 {
		if v := l.view.Load(); v != nil {
			if it := th.listGetShared(l, v, i); it != nil {
				return it, nil
			}
		}
	}
	locked := false
	if th.needsLock(o) {
		o.lock()
		locked = true
	}
	items := l.itemSlice()
	j, ok := normIndex(i, len(items))
	if !ok {
		th.unlockShared(o, locked)
		return nil, errorf(ErrIndex, "list index out of range")
	}
	it := items[j]
	th.incref(it)
	if locked {
		th.noteSharedRead(o, l, it)
	}
	th.unlockShared(o, locked)
	return it, nil
}

// ListSet replaces item i (negative counts from the end).
func (th *Thread) ListSet(o *Object, i int, v *Object) error {
	l, err := th.listArg(o)
	if err != nil {
		return err
	}
	th.check(v)
	th.incref(v)
	locked := false
	if th.needsLock(o) {
		o.lock()
		locked = true
	}
	items := l.itemSlice()
	j, ok := normIndex(i, len(items))
	if !ok {
		th.unlockShared(o, locked)
		th.decref(v)
		return errorf(ErrIndex, "list assignment index out of range")
	}
	old := items[j]
	items[j] = v
	th.unlockShared(o, locked)
	// The old item's destructor may run user code: never under the lock.
	th.decref(old)
	return nil
}

// ListAppend appends v.
func (th *Thread) ListAppend(o *Object, v *Object) error {
	l, err := th.listArg(o)
	if err != nil {
		return err
	}
	th.check(v)
	th.incref(v)
	locked := false
	if th.needsLock(o) {
		o.lock()
		locked = true
	}
	th.listAppend(l, v)
	th.unlockShared(o, locked)
	return nil
}

// ListPop removes item i (negative counts from the end; -1 is the last) and
// returns it: the list's reference becomes the caller's.
func (th *Thread) ListPop(o *Object, i int) (*Object, error) {
	l, err := th.listArg(o)
	if err != nil {
		return nil, err
	}
	locked := false
	if th.needsLock(o) {
		o.lock()
		locked = true
	}
	items := l.itemSlice()
	n := len(items)
	if n == 0 {
		th.unlockShared(o, locked)
		return nil, errorf(ErrIndex, "pop from empty list")
	}
	j, ok := normIndex(i, n)
	if !ok {
		th.unlockShared(o, locked)
		return nil, errorf(ErrIndex, "pop index out of range")
	}
	it := items[j]
	copy(items[j:], items[j+1:])
	items[n-1] = nil // lock-free readers take a nil item for the end
	l.n--
	th.unlockShared(o, locked)
	return it, nil
}

// ListExtend appends every item of the iterable src to the list dst, as
// list.extend: a list's or a tuple's items, a dict's keys in insertion
// order, a str's characters (one-character strs; those below U+0100 are
// the interned ones, as CPython caches them). Other types give ErrType
// ("'int' object is not iterable"). A list or dict src is locked with
// dst, in address order, so the copy is atomic.
func (th *Thread) ListExtend(dst, src *Object) error {
	l, err := th.listArg(dst)
	if err != nil {
		return err
	}
	th.check(src)
	switch src.typ.kind {
	case kindTuple:
		th.lockObject(dst)
		items := asTuple(src).items
		l.setItems(th.appendNewRefs(th.listReserve(l, len(items)), items))
		th.unlockObject(dst)
	case kindList:
		th.lockTwo(dst, src)
		// Reserve first: when dst is src, the old items move, and only
		// they are read.
		n := int(asList(src).n)
		a := th.listReserve(l, n)
		l.setItems(th.appendNewRefs(a, asList(src).itemSlice()[:n:n]))
		th.unlockTwo(dst, src)
	case kindDict:
		th.lockTwo(dst, src)
		table := &asDict(src).table
		a := th.listReserve(l, table.len())
		table.each(func(k, _ *Object) {
			th.incref(k)
			a = append(a, k)
		})
		l.setItems(a)
		th.unlockTwo(dst, src)
	case kindStr:
		// The characters are made first: a str is immutable, and making
		// objects must not happen under dst's lock.
		var chars []*Object
		for _, r := range asStr(src).s {
			if r < 0x100 {
				chars = append(chars, th.Intern(string(r)))
			} else {
				chars = append(chars, th.NewStr(string(r)))
			}
		}
		th.lockObject(dst)
		a := th.listReserve(l, len(chars))
		l.setItems(append(a, chars...)) // the new references move in
		th.unlockObject(dst)
	default:
		return typeError("'%s' object is not iterable", src.typ.name)
	}
	return nil
}

package runtime

// NewDict returns an empty dict.
func (th *Thread) NewDict() *Object {
	th.mustBeAttached()
	d := th.allocDict()
	th.bornBuiltin(&d.Object, th.rt.t.dict, tiDict)
	th.track(&d.container)
	th.afterAlloc()
	return &d.Object
}

func (th *Thread) dictArg(o *Object) (*dictObject, error) {
	th.enter(o)
	if o.typ.kind != kindDict {
		return nil, typeError("expected a dict, got '%s' object", o.typ.name)
	}
	return asDict(o), nil
}

// DictLen returns the number of items.
func (th *Thread) DictLen(o *Object) (int, error) {
	d, err := th.dictArg(o)
	if err != nil {
		return 0, err
	}
	th.lockObject(o)
	n := d.table.len()
	th.unlockObject(o)
	return n, nil
}

// dictKeyArgs checks a dict and a key and hashes the key (ErrType for an
// unhashable one).
func (th *Thread) dictKeyArgs(o, key *Object) (*dictObject, uint64, error) {
	d, err := th.dictArg(o)
	if err != nil {
		return nil, 0, err
	}
	th.check(key)
	h, err := hashOf(key)
	if err != nil {
		return nil, 0, err
	}
	return d, h, nil
}

// DictGet returns a new reference to the value of key; a missing key gives
// ErrKey, an unhashable one ErrType.
func (th *Thread) DictGet(o, key *Object) (*Object, error) {
	d, h, err := th.dictKeyArgs(o, key)
	if err != nil {
		return nil, err
	}
	locked := false
	if th.needsLock(o) {
		o.lock()
		locked = true
	}
	v := d.table.get(key, h)
	if v != nil {
		th.incref(v)
	}
	th.unlockShared(o, locked)
	if v == nil {
		return nil, errorf(ErrKey, "%s", th.repr(key))
	}
	return v, nil
}

// DictSet stores v under key; an unhashable key gives ErrType.
func (th *Thread) DictSet(o, key, v *Object) error {
	d, h, err := th.dictKeyArgs(o, key)
	if err != nil {
		return err
	}
	th.check(v)
	th.incref(key)
	th.incref(v)
	locked := false
	if th.needsLock(o) {
		o.lock()
		locked = true
	}
	old, kept := d.table.set(th, key, h, v)
	th.unlockShared(o, locked)
	// Destructors may run user code: never under the lock.
	if !kept {
		th.decref(key)
	}
	if old != nil {
		th.decref(old)
	}
	return nil
}

// DictDel removes key; a missing key gives ErrKey.
func (th *Thread) DictDel(o, key *Object) error {
	d, h, err := th.dictKeyArgs(o, key)
	if err != nil {
		return err
	}
	locked := false
	if th.needsLock(o) {
		o.lock()
		locked = true
	}
	k, v := d.table.del(key, h)
	th.unlockShared(o, locked)
	if k == nil {
		return errorf(ErrKey, "%s", th.repr(key))
	}
	th.decref(k)
	th.decref(v)
	return nil
}

// DictKeys returns a new list of the keys, in insertion order.
func (th *Thread) DictKeys(o *Object) (*Object, error) {
	d, err := th.dictArg(o)
	if err != nil {
		return nil, err
	}
	th.lockObject(o)
	keys := make([]*Object, 0, d.table.len())
	d.table.each(func(k, _ *Object) {
		th.incref(k)
		keys = append(keys, k)
	})
	th.unlockObject(o)
	l := th.NewList(keys...)
	for _, k := range keys {
		th.decref(k)
	}
	return l, nil
}

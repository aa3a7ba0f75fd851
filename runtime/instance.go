package runtime

// NewInstance returns a new instance of a user type.
func (th *Thread) NewInstance(t *Type) *Object {
	th.mustBeAttached()
	if t == nil {
		misuse("NewInstance of a nil *Type")
	}
	if t.rt != th.rt {
		misuse("NewInstance of type %s from another runtime", t.name)
	}
	if t.kind != kindInstance {
		misuse("NewInstance of builtin type %s (use its own constructor)", t.name)
	}
	inst := th.allocInstance()
	th.bornContainer(&inst.container, t)
	th.afterAlloc()
	return &inst.Object
}

// afterAlloc makes the end of a container's allocation a safe point for
// the collector, now that the new object is complete and no lock is held:
// it parks for another thread's stop-the-world request and runs an
// automatic collection that became due while the object was made. CPython
// gets the same from its eval breaker, checked at every call: a thread
// building a large structure answers a stop request within one allocation,
// not at the end of its work (binary-trees stalled the other thread for a
// whole tree before this). GIL hand-overs stay at Checkpoint: code between
// two Checkpoints runs under the GIL without interruption by other threads.
func (th *Thread) afterAlloc() {
	if th.gcDue || th.rt.stopRequested.Load() {
		th.allocSafePoint()
	}
}

func (th *Thread) allocSafePoint() {
	if th.rt.stopRequested.Load() && !th.stoppedWorld && th.freeState != freeing {
		th.park()
	}
	th.runDueCollection()
}

func (th *Thread) attrOwner(o *Object, name string) (*instanceObject, error) {
	th.enter(o)
	if o.typ.kind != kindInstance {
		return nil, errorf(ErrAttribute, "'%s' object has no attribute '%s'", o.typ.name, name)
	}
	return asInstance(o), nil
}

// GetAttr returns a new reference to attribute name; a missing attribute
// gives ErrAttribute.
func (th *Thread) GetAttr(o *Object, name string) (*Object, error) {
	inst, err := th.attrOwner(o, name)
	if err != nil {
		return nil, err
	}
	k := o.typ.attrKeys.lookup(name)
	locked := false
	if th.needsLock(o) {
		o.lock()
		locked = true
	}
	v := inst.getAttr(k, name)
	if v == nil {
		th.unlockShared(o, locked)
		return nil, errorf(ErrAttribute, "'%s' object has no attribute '%s'", o.typ.name, name)
	}
	th.incref(v)
	th.unlockShared(o, locked)
	return v, nil
}

// SetAttr sets attribute name to v (a new reference).
func (th *Thread) SetAttr(o *Object, name string, v *Object) error {
	th.enter(o)
	if o.typ.kind != kindInstance {
		return errorf(ErrAttribute, "'%s' object has no attribute '%s' and no __dict__ for setting new attributes", o.typ.name, name)
	}
	inst := asInstance(o)
	th.check(v)
	k := o.typ.attrKeys.lookupOrAdd(name)
	th.incref(v)
	locked := false
	if th.needsLock(o) {
		o.lock()
		locked = true
	}
	old := inst.setAttr(k, name, v)
	th.unlockShared(o, locked)
	if old != nil {
		th.decref(old)
	}
	return nil
}

// DelAttr deletes attribute name; a missing attribute gives ErrAttribute.
func (th *Thread) DelAttr(o *Object, name string) error {
	inst, err := th.attrOwner(o, name)
	if err != nil {
		return err
	}
	k := o.typ.attrKeys.lookup(name)
	locked := false
	if th.needsLock(o) {
		o.lock()
		locked = true
	}
	old := inst.delAttr(k, name)
	th.unlockShared(o, locked)
	if old == nil {
		return errorf(ErrAttribute, "'%s' object has no attribute '%s'", o.typ.name, name)
	}
	th.decref(old)
	return nil
}

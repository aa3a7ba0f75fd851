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
	if th.rt.stopRequested.Load() && !th.stoppedWorld && !th.freeing {
		th.park()
	}
	th.runDueCollection()
}

func (th *Thread) attrOwner(o *Object, name string) (*instanceObject, error) {
	th.mustBeAttached()
	th.check(o)
	if o.typ.kind != kindInstance {
		return nil, errorf(ErrAttribute, "'%s' object has no attribute '%s'", o.typ.name, name)
	}
	return asInstance(o), nil
}

func (inst *instanceObject) find(name string) int {
	for i := range inst.attrs {
		if inst.attrs[i].name == name {
			return i
		}
	}
	return -1
}

// GetAttr returns a new reference to attribute name; a missing attribute
// gives ErrAttribute.
func (th *Thread) GetAttr(o *Object, name string) (*Object, error) {
	inst, err := th.attrOwner(o, name)
	if err != nil {
		return nil, err
	}
	th.lockObject(o)
	i := inst.find(name)
	if i < 0 {
		th.unlockObject(o)
		return nil, errorf(ErrAttribute, "'%s' object has no attribute '%s'", o.typ.name, name)
	}
	v := inst.attrs[i].value
	th.incref(v)
	th.unlockObject(o)
	return v, nil
}

// SetAttr sets attribute name to v (a new reference).
func (th *Thread) SetAttr(o *Object, name string, v *Object) error {
	th.mustBeAttached()
	th.check(o)
	if o.typ.kind != kindInstance {
		return errorf(ErrAttribute, "'%s' object has no attribute '%s' and no __dict__ for setting new attributes", o.typ.name, name)
	}
	inst := asInstance(o)
	th.check(v)
	th.incref(v)
	th.lockObject(o)
	var old *Object
	if i := inst.find(name); i >= 0 {
		old = inst.attrs[i].value
		inst.attrs[i].value = v
	} else {
		th.addAttr(inst, attr{name: name, value: v})
	}
	th.unlockObject(o)
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
	th.lockObject(o)
	i := inst.find(name)
	if i < 0 {
		th.unlockObject(o)
		return errorf(ErrAttribute, "'%s' object has no attribute '%s'", o.typ.name, name)
	}
	old := inst.attrs[i].value
	n := len(inst.attrs)
	copy(inst.attrs[i:], inst.attrs[i+1:])
	inst.attrs[n-1] = attr{}
	inst.attrs = inst.attrs[:n-1]
	th.unlockObject(o)
	th.decref(old)
	return nil
}

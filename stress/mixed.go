package stress

import (
	"errors"
	"fmt"
	goruntime "runtime"
	"sync/atomic"

	"github.com/nogil-lab/nogil/runtime"
)

// mixed: a seeded random mix of every operation on private and shared
// objects. Each worker keeps a pool of references of its own; shared state
// is a list of slots, a dict and an instance. Operations allocate every type,
// link pool objects into each other (making cycles), publish them to and
// fetch them from the shared containers (so objects die on threads that did
// not make them), make and read weak references, and now and then run an
// explicit collection, detach around a yield, or close the worker's thread
// and continue on a new one while its objects live on.
//
// Instances of Obj have a PEP 442 finalizer; one in eight resurrects itself
// into a shared graveyard list, from which workers take them back.
//
// Checks: everything read back has a known type and a readable value; every
// instance of the finalized type is finalized exactly once by the end
// (resurrected ones included).

const (
	mixedSlots    = 64
	mixedPool     = 48
	mixedKeys     = 32
	mixedAttrs    = 8
	mixedMaxItems = 16 // a pool list stops growing here
)

type mixed struct {
	chk       *checker
	objType   *runtime.Type // instances with a finalizer and weak references
	shareType *runtime.Type
	slots     *runtime.Object
	graveyard *runtime.Object // instances their finalizer resurrected
	dict      *runtime.Object
	inst      *runtime.Object
	keys      [mixedKeys]*runtime.Object // small ints: immortal
	attrs     [mixedAttrs]string
	loops     []*mixedLoop

	closing   atomic.Bool  // teardown: finalizers no longer resurrect
	created   atomic.Int64 // objType instances made
	resurrect atomic.Int64 // finalizer resurrections
	finalized atomic.Int64 // objType finalizer runs
	callbacks atomic.Int64 // weakref callbacks
}

func setupMixed(s *setupCtx) (state, error) {
	th := s.th
	rt := th.Runtime()
	st := &mixed{chk: s.chk, loops: make([]*mixedLoop, s.threads)}
	var err error
	st.objType, err = rt.NewType(runtime.TypeSpec{Name: "Obj", Finalize: st.finalize})
	if err != nil {
		return nil, err
	}
	st.shareType, err = rt.NewType(runtime.TypeSpec{Name: "Shared"})
	if err != nil {
		return nil, err
	}
	for i := range st.keys {
		st.keys[i] = th.NewInt(int64(i))
	}
	for i := range st.attrs {
		st.attrs[i] = fmt.Sprintf("a%d", i)
	}
	nones := make([]*runtime.Object, mixedSlots)
	for i := range nones {
		nones[i] = rt.None()
	}
	st.slots = th.NewList(nones...)
	st.graveyard = th.NewList()
	st.dict = th.NewDict()
	st.inst = th.NewInstance(st.shareType)
	return st, nil
}

// finalize is Obj's PEP 442 finalizer: it may run on any thread, from a
// DecRef or from the collector.
func (s *mixed) finalize(th *runtime.Thread, self *runtime.Object) {
	s.finalized.Add(1)
	v, err := th.GetAttr(self, "v")
	if err != nil {
		s.chk.violationf("mixed: finalizer: %v", err)
		return
	}
	n, err := th.Int(v)
	if err != nil {
		s.chk.violationf("mixed: finalizer: attribute v is %s: %v", v.Type().Name(), err)
	}
	th.DecRef(v)
	// One in eight resurrects itself (PEP 442): it lives on in the
	// graveyard until a worker takes it out; it is never finalized again.
	if n%8 == 0 && !s.closing.Load() {
		if err := th.ListAppend(s.graveyard, self); err != nil {
			s.chk.violationf("mixed: finalizer: %v", err)
		}
		s.resurrect.Add(1)
	}
}

func (s *mixed) start(w *Worker) (loop, error) {
	l := &mixedLoop{s: s, pool: make([]*runtime.Object, 0, mixedPool)}
	s.loops[w.ID] = l
	return l, nil
}

func (s *mixed) finish(f *final) {
	th := f.th
	if n, err := th.ListLen(s.slots); err != nil || n != mixedSlots {
		f.violationf("mixed: %d slots (%v), want %d", n, err, mixedSlots)
	}
	th.DecRef(s.slots)
	th.DecRef(s.dict)
	th.DecRef(s.inst)
	s.closing.Store(true)
	if _, err := th.Collect(2); err != nil {
		f.violationf("mixed: collect: %v", err)
	}
	th.DecRef(s.graveyard)
	if _, err := th.Collect(2); err != nil {
		f.violationf("mixed: collect: %v", err)
	}
	if f.failed {
		return
	}
	// Every Obj is unreachable now, so each was finalized exactly once.
	if c, fz := s.created.Load(), s.finalized.Load(); c != fz {
		f.violationf("mixed: %d Obj instances made but %d finalizer runs, want equal", c, fz)
	}
}

type mixedLoop struct {
	s    *mixed
	pool []*runtime.Object // references this worker owns
}

// push adds a reference to the pool, dropping a random one if it is full.
func (l *mixedLoop) push(w *Worker, o *runtime.Object) {
	if len(l.pool) == cap(l.pool) {
		i := w.Rand.IntN(len(l.pool))
		w.Th.DecRef(l.pool[i])
		l.pool[i] = o
		return
	}
	l.pool = append(l.pool, o)
}

// pick returns a borrowed pool object, or None when the pool is empty.
func (l *mixedLoop) pick(w *Worker) *runtime.Object {
	if len(l.pool) == 0 {
		return w.Runtime().None()
	}
	return l.pool[w.Rand.IntN(len(l.pool))]
}

// ignore reports the errors a random operation may legitimately get.
func ignore(err error) bool {
	return err == nil || errors.Is(err, runtime.ErrKey) || errors.Is(err, runtime.ErrAttribute) ||
		errors.Is(err, runtime.ErrIndex)
}

// validate checks an object read back from anywhere.
func (l *mixedLoop) validate(w *Worker, o *runtime.Object, where string) {
	th := w.Th
	var err error
	switch name := o.Type().Name(); name {
	case "NoneType", "bool":
	case "int":
		_, err = th.Int(o)
	case "float":
		_, err = th.Float(o)
	case "str":
		_, err = th.Str(o)
	case "tuple":
		_, err = th.TupleLen(o)
	case "list":
		_, err = th.ListLen(o)
	case "dict":
		_, err = th.DictLen(o)
	case "Obj":
		var v *runtime.Object
		if v, err = th.GetAttr(o, "v"); err == nil {
			_, err = th.Int(v)
			th.DecRef(v)
		}
	case "Shared":
	case "weakref":
		var t *runtime.Object
		if t, err = th.WeakRefGet(o); err == nil && t != nil {
			if t.Type() != l.s.objType {
				w.Violationf("mixed: %s: weak reference to a %s, want Obj", where, t.Type().Name())
			}
			th.DecRef(t)
		}
	default:
		w.Violationf("mixed: %s: object of unexpected type %s", where, name)
	}
	if err != nil {
		w.Violationf("mixed: %s: %s object: %v", where, o.Type().Name(), err)
	}
}

// newObject makes an object of a random type.
func (l *mixedLoop) newObject(w *Worker) *runtime.Object {
	th := w.Th
	s := l.s
	switch w.Rand.IntN(8) {
	case 0:
		return th.NewInt(1000 + w.Rand.Int64N(1<<20))
	case 1:
		return th.NewFloat(w.Rand.Float64())
	case 2:
		return th.NewStr("s")
	case 3:
		return th.NewTuple(l.pick(w), l.pick(w))
	case 4:
		return th.NewList(l.pick(w))
	case 5:
		d := th.NewDict()
		_ = th.DictSet(d, s.keys[w.Rand.IntN(mixedKeys)], l.pick(w))
		return d
	default:
		o := th.NewInstance(s.objType)
		s.created.Add(1)
		v := th.NewInt(1000 + w.Rand.Int64N(1<<20))
		_ = th.SetAttr(o, "v", v)
		th.DecRef(v)
		return o
	}
}

// link stores y into x when x is a container: cycles appear by chance.
func (l *mixedLoop) link(w *Worker, x, y *runtime.Object) error {
	th := w.Th
	switch x.Type() {
	case l.s.objType:
		return th.SetAttr(x, l.s.attrs[w.Rand.IntN(mixedAttrs)], y)
	}
	switch x.Type().Name() {
	case "list":
		n, err := th.ListLen(x)
		if err != nil {
			return err
		}
		if n >= mixedMaxItems {
			it, err := th.ListPop(x, w.Rand.IntN(n))
			if err != nil {
				return err
			}
			th.DecRef(it)
			return nil
		}
		return th.ListAppend(x, y)
	case "dict":
		return th.DictSet(x, l.s.keys[w.Rand.IntN(mixedKeys)], y)
	}
	return nil
}

// unlink removes something from a pool container.
func (l *mixedLoop) unlink(w *Worker, x *runtime.Object) error {
	th := w.Th
	if x.Type() == l.s.objType {
		return th.DelAttr(x, l.s.attrs[w.Rand.IntN(mixedAttrs)])
	}
	switch x.Type().Name() {
	case "list":
		it, err := th.ListPop(x, -1)
		if err != nil {
			return err
		}
		th.DecRef(it)
	case "dict":
		return th.DictDel(x, l.s.keys[w.Rand.IntN(mixedKeys)])
	}
	return nil
}

func (l *mixedLoop) step(w *Worker) error {
	th := w.Th
	s := l.s
	var err error
	switch r := w.Rand.IntN(1000); {
	case r < 200: // allocate
		l.push(w, l.newObject(w))
	case r < 280: // drop
		if n := len(l.pool); n > 0 {
			i := w.Rand.IntN(n)
			th.DecRef(l.pool[i])
			l.pool[i] = l.pool[n-1]
			l.pool[n-1] = nil
			l.pool = l.pool[:n-1]
		}
	case r < 380: // link two private objects
		err = l.link(w, l.pick(w), l.pick(w))
	case r < 400: // a self-reference
		x := l.pick(w)
		err = l.link(w, x, x)
	case r < 430:
		err = l.unlink(w, l.pick(w))
	case r < 500: // publish: the slot's old object may die here, made elsewhere
		err = th.ListSet(s.slots, w.Rand.IntN(mixedSlots), l.pick(w))
	case r < 600: // fetch from a slot
		var o *runtime.Object
		if o, err = th.ListGet(s.slots, w.Rand.IntN(mixedSlots)); err == nil {
			l.validate(w, o, "slot")
			if w.Rand.IntN(2) == 0 {
				l.push(w, o)
			} else {
				th.DecRef(o)
			}
		}
	case r < 660:
		err = th.DictSet(s.dict, s.keys[w.Rand.IntN(mixedKeys)], l.pick(w))
	case r < 720:
		var o *runtime.Object
		if o, err = th.DictGet(s.dict, s.keys[w.Rand.IntN(mixedKeys)]); err == nil {
			l.validate(w, o, "dict")
			th.DecRef(o)
		}
	case r < 750:
		err = th.DictDel(s.dict, s.keys[w.Rand.IntN(mixedKeys)])
	case r < 790:
		err = th.SetAttr(s.inst, s.attrs[w.Rand.IntN(mixedAttrs)], l.pick(w))
	case r < 830:
		var o *runtime.Object
		if o, err = th.GetAttr(s.inst, s.attrs[w.Rand.IntN(mixedAttrs)]); err == nil {
			l.validate(w, o, "attribute")
			th.DecRef(o)
		}
	case r < 860: // a weak reference to a private instance
		if x := l.pick(w); x.Type() == s.objType {
			var cb func(*runtime.Thread, *runtime.Object)
			if w.Rand.IntN(2) == 0 {
				cb = func(*runtime.Thread, *runtime.Object) { s.callbacks.Add(1) }
			}
			var ref *runtime.Object
			if ref, err = th.NewWeakRef(x, cb); err == nil {
				l.push(w, ref)
			}
		}
	case r < 960: // read a private object
		l.validate(w, l.pick(w), "pool")
	case r < 970: // take a resurrected object out of the graveyard
		var o *runtime.Object
		if o, err = th.ListPop(s.graveyard, 0); err == nil {
			if o.Type() != s.objType {
				w.Violationf("mixed: graveyard holds a %s", o.Type().Name())
			}
			l.validate(w, o, "graveyard")
			l.push(w, o)
		}
	case r < 995: // block briefly, detached
		w.Blocking(goruntime.Gosched)
	case r < 999: // an explicit collection, while the others run
		_, err = th.Collect(w.Rand.IntN(3))
	default: // the thread exits and a new one takes over its objects
		w.Restart()
	}
	if !ignore(err) {
		w.Violationf("mixed: %v", err)
	}
	return nil
}

func (l *mixedLoop) stop(w *Worker) error {
	for i, o := range l.pool {
		w.Th.DecRef(o)
		l.pool[i] = nil
	}
	l.pool = l.pool[:0]
	return nil
}

package runtime

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Misuse panics and Runtime.Close, in every mode. Misuse panics with a
// string that names the misuse and, where there is one, the object's type.

const (
	msgClosedThread   = "nogil: use of a closed thread"
	msgDetachedThread = "nogil: use of a detached thread (call Attach first)"
)

// apiFreshRuntime makes a debug runtime for a test that cannot use eachMode
// (it leaves the runtime in a state Close reports, or closes it itself).
func apiFreshRuntime(t *testing.T, mc modeCase) *Runtime {
	t.Helper()
	cfg := mc.cfg
	cfg.Debug = true
	rt, err := New(cfg)
	require.NoError(t, err)
	return rt
}

// apiCloseWithin runs rt.Close in a goroutine and fails the test if it does
// not return within a generous deadline.
func apiCloseWithin(t *testing.T, rt *Runtime) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- rt.Close() }()
	select {
	case err := <-done:
		return err
	case <-time.After(20 * time.Second):
		t.Fatal("Runtime.Close hangs")
		return nil
	}
}

func TestAPIMisuseUseAfterFree(t *testing.T) {
	eachDebugModeThread(t, func(t *testing.T, th *Thread) {
		rt := th.Runtime()
		foo, err := rt.NewType(TypeSpec{Name: "Foo"})
		require.NoError(t, err)
		target := th.NewInstance(foo)
		wr, err := th.NewWeakRef(target, nil)
		require.NoError(t, err)
		freed := map[string]*Object{
			"int":     th.NewInt(1000),
			"float":   th.NewFloat(1.5),
			"str":     th.NewStr("s"),
			"tuple":   th.NewTuple(),
			"list":    th.NewList(),
			"dict":    th.NewDict(),
			"Foo":     th.NewInstance(foo),
			"weakref": wr,
		}
		for _, o := range freed {
			th.DecRef(o)
		}
		l := th.NewList()
		d := th.NewDict()
		inst := th.NewInstance(foo)
		k := th.NewStr("k")
		for name, o := range freed {
			msg := "nogil: use after free of a " + name + " object"
			ops := map[string]func(){
				// DecRef of a freed object is a double free; the entry
				// check reports it as the use after free it is.
				"DecRef":       func() { th.DecRef(o) },
				"IncRef":       func() { th.IncRef(o) },
				"NewRef":       func() { th.NewRef(o) },
				"RefCount":     func() { th.RefCount(o) },
				"Repr":         func() { th.Repr(o) },
				"Str":          func() { _, _ = th.Str(o) },
				"Int":          func() { _, _ = th.Int(o) },
				"Float":        func() { _, _ = th.Float(o) },
				"NewList":      func() { th.NewList(k, o) },
				"NewTuple":     func() { th.NewTuple(o) },
				"ListAppend":   func() { _ = th.ListAppend(l, o) },
				"ListExtend":   func() { _ = th.ListExtend(l, o) },
				"DictSet key":  func() { _ = th.DictSet(d, o, k) },
				"DictSet val":  func() { _ = th.DictSet(d, k, o) },
				"DictGet key":  func() { _, _ = th.DictGet(d, o) },
				"SetAttr":      func() { _ = th.SetAttr(inst, "x", o) },
				"GetAttr":      func() { _, _ = th.GetAttr(o, "x") },
				"NewWeakRef":   func() { _, _ = th.NewWeakRef(o, nil) },
				"WeakRefGet":   func() { _, _ = th.WeakRefGet(o) },
				"ListLen":      func() { _, _ = th.ListLen(o) },
				"TupleLen":     func() { _, _ = th.TupleLen(o) },
				"DictLen":      func() { _, _ = th.DictLen(o) },
				"GC.IsTracked": func() { rt.GC().IsTracked(o) },
			}
			for op, fn := range ops {
				require.PanicsWithValue(t, msg, fn, "%s of a freed %s", op, name)
			}
		}
		// Nothing above took a reference or changed a container.
		n, err := th.ListLen(l)
		require.NoError(t, err)
		require.Equal(t, 0, n)
		n, err = th.DictLen(d)
		require.NoError(t, err)
		require.Equal(t, 0, n)
		require.Equal(t, 1, th.RefCount(k))
		for _, o := range []*Object{l, d, inst, k, target} {
			th.DecRef(o)
		}
		apiRequireLive(t, th, map[string]int{})
	})
}

func TestAPIMisuseNilObject(t *testing.T) {
	eachModeThread(t, func(t *testing.T, th *Thread) {
		const msg = "nogil: nil *Object passed to the API"
		require.PanicsWithValue(t, msg, func() { th.IncRef(nil) })
		require.PanicsWithValue(t, msg, func() { th.DecRef(nil) })
		require.PanicsWithValue(t, msg, func() { th.Repr(nil) })
		require.PanicsWithValue(t, msg, func() { th.NewList(nil) })
		l := th.NewList()
		require.PanicsWithValue(t, msg, func() { _ = th.ListAppend(l, nil) })
		th.DecRef(l)
		require.PanicsWithValue(t, "nogil: NewInstance of a nil *Type", func() { th.NewInstance(nil) })
	})
}

func TestAPIMisuseBelowZero(t *testing.T) {
	for _, mc := range allModes {
		t.Run(mc.name+"/over-decref", func(t *testing.T) {
			rt := apiFreshRuntime(t, mc)
			th := rt.NewThread()
			x := th.NewInt(1000)
			l := th.NewList(x)
			th.DecRef(x)
			th.DecRef(x) // one too many: x dies while l still points at it
			require.PanicsWithValue(t, "nogil: reference count of a int object went below zero", func() { th.DecRef(l) })
			// The thread stays usable: the panic did not leave it freeing
			// (which would send every later container to the work list for
			// good), and a list that frees a list frees both.
			require.Equal(t, notFreeing, th.freeState, "the misuse left the thread freeing")
			th.Checkpoint()
			lists := rt.Stats().LiveByType["list"]
			outer := th.NewList(th.NewList())
			inner, err := th.ListGet(outer, 0)
			require.NoError(t, err)
			th.DecRef(inner)
			th.DecRef(inner) // NewList's reference
			th.DecRef(outer)
			th.Checkpoint()
			require.Equal(t, lists, rt.Stats().LiveByType["list"], "both lists freed")
			th.Close()
			// The runtime is damaged (the misuse interrupted a free), but
			// Close must still return, reporting what it could not free.
			require.Error(t, apiCloseWithin(t, rt))
		})
		t.Run(mc.name+"/finalizer-decrefs-self", func(t *testing.T) {
			rt := apiFreshRuntime(t, mc)
			typ, err := rt.NewType(TypeSpec{Name: "Bad", Finalize: func(th *Thread, self *Object) {
				th.DecRef(self) // a reference it does not own
			}})
			require.NoError(t, err)
			th := rt.NewThread()
			o := th.NewInstance(typ)
			require.PanicsWithValue(t, "nogil: reference count of a Bad object went below zero", func() { th.DecRef(o) })
			th.Close()
			require.Error(t, apiCloseWithin(t, rt))
		})
	}
}

func TestAPIMisuseClosedThread(t *testing.T) {
	eachMode(t, func(t *testing.T, rt *Runtime) {
		th := rt.NewThread()
		l := th.NewList()
		th.DecRef(l)
		th.Close()
		require.Same(t, rt, th.Runtime(), "Runtime works on a closed thread")
		cases := map[string]func(){
			"NewInt":     func() { th.NewInt(1000) },
			"NewList":    func() { th.NewList() },
			"NewDict":    func() { th.NewDict() },
			"IncRef":     func() { th.IncRef(rt.None()) },
			"DecRef":     func() { th.DecRef(rt.None()) },
			"RefCount":   func() { th.RefCount(rt.None()) },
			"Repr":       func() { th.Repr(rt.True()) },
			"Checkpoint": func() { th.Checkpoint() },
			"Detach":     func() { th.Detach() },
			"Intern":     func() { th.Intern("x") },
			"Collect":    func() { _, _ = th.Collect(0) },
		}
		for name, fn := range cases {
			require.PanicsWithValue(t, msgClosedThread, fn, name)
		}
		require.PanicsWithValue(t, "nogil: Attach of a closed thread", th.Attach)
		require.PanicsWithValue(t, "nogil: Close of a thread that is already closed", th.Close)
		// The runtime is unharmed.
		th2 := rt.NewThread()
		x := th2.NewInt(1000)
		th2.DecRef(x)
		th2.Close()
	})
}

func TestAPIMisuseDetachedThread(t *testing.T) {
	eachMode(t, func(t *testing.T, rt *Runtime) {
		th := rt.NewThread()
		l := th.NewList()
		freed := th.NewFloat(2.5)
		th.DecRef(freed)
		th.Detach()
		cases := map[string]func(){
			// The thread's misuse is named before the object's (a freed
			// object's type has no runtime, as a detached thread has none
			// to enter: enter must still tell them apart).
			"DecRef of a freed object": func() { th.DecRef(freed) },
			"IncRef of nil":            func() { th.IncRef(nil) },
			"NewInt":                   func() { th.NewInt(1000) },
			"NewList":                  func() { th.NewList() },
			"IncRef":                   func() { th.IncRef(l) },
			"DecRef":                   func() { th.DecRef(l) },
			"RefCount":                 func() { th.RefCount(l) },
			"Repr":                     func() { th.Repr(l) },
			"ListAppend":               func() { _ = th.ListAppend(l, rt.None()) },
			"ListLen":                  func() { _, _ = th.ListLen(l) },
			"Checkpoint":               func() { th.Checkpoint() },
			"Detach":                   func() { th.Detach() },
			"NewWeakRef":               func() { _, _ = th.NewWeakRef(l, nil) },
		}
		for name, fn := range cases {
			require.PanicsWithValue(t, msgDetachedThread, fn, name)
		}
		th.Attach()
		require.Equal(t, 1, th.RefCount(l), "nothing happened while detached")
		n, err := th.ListLen(l)
		require.NoError(t, err)
		require.Equal(t, 0, n)
		require.PanicsWithValue(t, "nogil: Attach of a thread that is already attached", th.Attach)
		// Still usable after the misuse.
		require.NoError(t, th.ListAppend(l, rt.None()))
		th.DecRef(l)
		// Close of a detached thread attaches it first.
		th.Detach()
		th.Close()
	})
}

func TestAPIMisuseAttachTwice(t *testing.T) {
	eachModeThread(t, func(t *testing.T, th *Thread) {
		require.PanicsWithValue(t, "nogil: Attach of a thread that is already attached", th.Attach)
		th.Detach()
		th.Attach()
		require.PanicsWithValue(t, "nogil: Attach of a thread that is already attached", th.Attach)
		x := th.NewInt(1000)
		th.DecRef(x)
	})
}

func TestAPIMisuseOtherRuntime(t *testing.T) {
	for _, mc := range allModes {
		t.Run(mc.name, func(t *testing.T) {
			rt1, rt2 := apiFreshRuntime(t, mc), apiFreshRuntime(t, mc)
			th1, th2 := rt1.NewThread(), rt2.NewThread()
			foo2, err := rt2.NewType(TypeSpec{Name: "Foo"})
			require.NoError(t, err)
			o2 := th2.NewInt(1000)
			l2 := th2.NewList()
			inst2 := th2.NewInstance(foo2)
			l1, d1 := th1.NewList(), th1.NewDict()
			foo1, err := rt1.NewType(TypeSpec{Name: "Foo"})
			require.NoError(t, err)
			inst1 := th1.NewInstance(foo1)

			intMsg := "nogil: int object of another runtime used in this one"
			cases := map[string]func(){
				"IncRef":      func() { th1.IncRef(o2) },
				"DecRef":      func() { th1.DecRef(o2) },
				"RefCount":    func() { th1.RefCount(o2) },
				"Repr":        func() { th1.Repr(o2) },
				"Int":         func() { _, _ = th1.Int(o2) },
				"NewList":     func() { th1.NewList(o2) },
				"NewTuple":    func() { th1.NewTuple(o2) },
				"ListAppend":  func() { _ = th1.ListAppend(l1, o2) },
				"DictSet key": func() { _ = th1.DictSet(d1, o2, rt1.None()) },
				"DictSet val": func() { _ = th1.DictSet(d1, rt1.None(), o2) },
				"DictGet":     func() { _, _ = th1.DictGet(d1, o2) },
				"SetAttr":     func() { _ = th1.SetAttr(inst1, "x", o2) },
			}
			for name, fn := range cases {
				require.PanicsWithValue(t, intMsg, fn, name)
			}
			require.PanicsWithValue(t, "nogil: list object of another runtime used in this one", func() { _, _ = th1.ListLen(l2) })
			require.PanicsWithValue(t, "nogil: list object of another runtime used in this one", func() { _ = th1.ListExtend(l1, l2) })
			require.PanicsWithValue(t, "nogil: Foo object of another runtime used in this one", func() { _, _ = th1.NewWeakRef(inst2, nil) })
			require.PanicsWithValue(t, "nogil: Foo object of another runtime used in this one", func() { _, _ = th1.GetAttr(inst2, "x") })
			// Immortal objects belong to their runtime too.
			require.PanicsWithValue(t, "nogil: NoneType object of another runtime used in this one", func() { _ = th1.ListAppend(l1, rt2.None()) })
			require.PanicsWithValue(t, "nogil: int object of another runtime used in this one", func() { _ = th1.ListAppend(l1, th2.NewInt(5)) })
			require.PanicsWithValue(t, "nogil: NewInstance of type Foo from another runtime", func() { th1.NewInstance(foo2) })
			require.PanicsWithValue(t, "nogil: IsTracked of an object of another runtime", func() { rt1.GC().IsTracked(l2) })

			// Nothing changed in either runtime.
			n, err := th1.ListLen(l1)
			require.NoError(t, err)
			require.Equal(t, 0, n)
			require.Equal(t, 1, th2.RefCount(o2))
			require.Equal(t, 1, th2.RefCount(l2))
			for _, o := range []*Object{l1, d1, inst1} {
				th1.DecRef(o)
			}
			for _, o := range []*Object{o2, l2, inst2} {
				th2.DecRef(o)
			}
			th1.Close()
			th2.Close()
			require.NoError(t, rt1.Close())
			require.NoError(t, rt2.Close())
		})
	}
}

func TestAPIMisuseNewInstanceBuiltin(t *testing.T) {
	eachModeThread(t, func(t *testing.T, th *Thread) {
		rt := th.Runtime()
		foo, err := rt.NewType(TypeSpec{Name: "Foo"})
		require.NoError(t, err)
		target := th.NewInstance(foo)
		wr, err := th.NewWeakRef(target, nil)
		require.NoError(t, err)
		objs := []*Object{th.NewInt(1000), th.NewFloat(1), th.NewStr("s"), th.NewTuple(), th.NewList(), th.NewDict(), wr, rt.None(), rt.True()}
		for _, o := range objs {
			typ := o.Type()
			require.PanicsWithValue(t, "nogil: NewInstance of builtin type "+typ.Name()+" (use its own constructor)", func() { th.NewInstance(typ) })
		}
		for _, o := range objs {
			th.DecRef(o)
		}
		th.DecRef(target)
		apiRequireLive(t, th, map[string]int{})
	})
}

// ---------------------------------------------------------------- Close

func TestAPICloseWithOpenThread(t *testing.T) {
	for _, mc := range allModes {
		for _, detached := range []bool{false, true} {
			name := mc.name + "/attached"
			if detached {
				name = mc.name + "/detached"
			}
			t.Run(name, func(t *testing.T) {
				rt := apiFreshRuntime(t, mc)
				th := rt.NewThread()
				l := th.NewList()
				if detached {
					th.Detach()
				}
				err := apiCloseWithin(t, rt)
				require.Error(t, err)
				require.ErrorIs(t, err, ErrThreadsOpen)
				var leak *LeakError
				require.False(t, errors.As(err, &leak))
				// A second try says the same.
				require.ErrorIs(t, apiCloseWithin(t, rt), ErrThreadsOpen)

				// The runtime stays usable.
				if detached {
					th.Attach()
				}
				x := th.NewInt(1000)
				require.NoError(t, th.ListAppend(l, x))
				th.DecRef(x)
				require.Equal(t, "[1000]", th.Repr(l))
				th.DecRef(l)
				th.Close()
				require.NoError(t, apiCloseWithin(t, rt))

				err = rt.Close()
				require.Error(t, err, "a second Close is an error")
				require.NotErrorIs(t, err, ErrThreadsOpen)
				require.Contains(t, err.Error(), "already closed")
				require.PanicsWithValue(t, "nogil: use of a closed runtime", func() { rt.NewThread() })
				require.PanicsWithValue(t, "nogil: use of a closed runtime", func() { _, _ = rt.NewType(TypeSpec{Name: "Late"}) })
			})
		}
	}
}

func TestAPICloseWithTwoOpenThreads(t *testing.T) {
	for _, mc := range allModes {
		t.Run(mc.name, func(t *testing.T) {
			rt := apiFreshRuntime(t, mc)
			th1 := rt.NewThread()
			th1.Detach() // GIL mode: let the second thread take the GIL
			th2 := rt.NewThread()
			err := apiCloseWithin(t, rt)
			require.ErrorIs(t, err, ErrThreadsOpen)
			require.Contains(t, err.Error(), "2 thread(s)")
			th2.Close()
			err = apiCloseWithin(t, rt)
			require.ErrorIs(t, err, ErrThreadsOpen)
			require.Contains(t, err.Error(), "1 thread(s)")
			th1.Close()
			require.NoError(t, apiCloseWithin(t, rt))
		})
	}
}

func TestAPICloseReportsLeaks(t *testing.T) {
	for _, mc := range allModes {
		t.Run(mc.name, func(t *testing.T) {
			rt := apiFreshRuntime(t, mc)
			foo, err := rt.NewType(TypeSpec{Name: "Foo"})
			require.NoError(t, err)
			th := rt.NewThread()
			x := th.NewInt(1000)
			l := th.NewList(x, x)
			th.DecRef(x)
			_ = th.NewInstance(foo)
			_ = th.NewInstance(foo)
			s := th.NewStr("leaked")
			_ = s
			_ = th.Intern("immortal, not counted")
			_ = th.NewInt(3)
			_ = l
			th.Close()

			err = apiCloseWithin(t, rt)
			require.Error(t, err)
			var leak *LeakError
			require.True(t, errors.As(err, &leak), "Close returns a *LeakError, got %T: %v", err, err)
			require.Equal(t, 5, leak.Live)
			require.Equal(t, map[string]int{"int": 1, "list": 1, "Foo": 2, "str": 1}, leak.ByType)
			require.Equal(t, "nogil: 5 objects still alive at Close: Foo=2, int=1, list=1, str=1", err.Error())
			require.NotErrorIs(t, err, ErrThreadsOpen)

			err = rt.Close()
			require.Error(t, err, "a second Close is an error")
			require.False(t, errors.As(err, &leak), "the second Close does not report the leaks again")
		})
	}
}

func TestAPICloseFreesUnreachableCycle(t *testing.T) {
	for _, mc := range allModes {
		t.Run(mc.name, func(t *testing.T) {
			rt := apiFreshRuntime(t, mc)
			th := rt.NewThread()
			l := th.NewList()
			require.NoError(t, th.ListAppend(l, l))
			th.DecRef(l)
			th.Close()
			require.NoError(t, apiCloseWithin(t, rt), "Close runs a full collection first")
		})
	}
}

func TestAPICloseEmptyRuntime(t *testing.T) {
	for _, mc := range allModes {
		t.Run(mc.name, func(t *testing.T) {
			rt := apiFreshRuntime(t, mc)
			require.NoError(t, apiCloseWithin(t, rt))
			require.Error(t, rt.Close())
			require.Error(t, rt.Close())
		})
	}
}

// A non-owner that drops one reference too many, under biased counting:
// the drops are queued to the owner, whose merge at its next safe point
// finds the count below zero and panics naming the type; the owner stays
// usable.
func TestAPIMisuseBelowZeroQueued(t *testing.T) {
	rt := apiFreshRuntime(t, allModes[1])
	owner := rt.NewThread()
	x := owner.NewInt(1 << 40)
	other := rt.NewThread()
	other.DecRef(x) // the one reference: queued to the owner
	other.DecRef(x) // one too many
	other.Checkpoint()
	require.PanicsWithValue(t, "nogil: reference count of a int object went below zero", func() { owner.Checkpoint() })
	require.Equal(t, notFreeing, owner.freeState)
	l := owner.NewList()
	owner.DecRef(l)
	owner.Checkpoint()
	other.Close()
	owner.Close()
	require.Error(t, apiCloseWithin(t, rt))
}

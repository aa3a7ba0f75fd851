package runtime

import (
	"fmt"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// An audit of package runtime against API.md ("Conventions", "Runtime",
// "Threads", "References and objects", "Types defined by users"): the
// behaviours the other api_*_test.go files leave out. Expected messages
// and values are CPython's (3.11, checked with the interpreter), except
// where a comment says why they cannot be.

var auditSentinels = []error{ErrIndex, ErrKey, ErrType, ErrAttribute, ErrValue}

// auditRequireOneSentinel checks that err wraps kind and none of the other
// sentinels, and that its message starts with the exception's name.
func auditRequireOneSentinel(t *testing.T, err error, kind error, what string) {
	t.Helper()
	require.Error(t, err, what)
	for _, s := range auditSentinels {
		if s == kind {
			require.ErrorIs(t, err, s, what)
		} else {
			require.NotErrorIs(t, err, s, what)
		}
	}
	require.True(t, strings.HasPrefix(err.Error(), kind.Error()+": "), "%s: message %q", what, err.Error())
}

// ---------------------------------------------------------------- Conventions

// Every error a Python program could catch wraps exactly one sentinel,
// with Python's message.
func TestAuditErrorsWrapOneSentinel(t *testing.T) {
	eachModeThread(t, func(t *testing.T, th *Thread) {
		rt := th.Runtime()
		foo, err := rt.NewType(TypeSpec{Name: "Foo"})
		require.NoError(t, err)
		inst := th.NewInstance(foo)
		x, big := th.NewStr("x"), th.NewInt(1000)
		tu := th.NewTuple(big)
		l, empty := th.NewList(big), th.NewList()
		d := th.NewDict()
		unhashable := th.NewTuple(big, l)

		cases := []struct {
			what string
			kind error
			msg  string // "" when Python has no equivalent message
			run  func() error
		}{
			{"tuple index", ErrIndex, "IndexError: tuple index out of range", func() error { _, err := th.TupleGet(tu, 1); return err }},
			{"tuple negative index", ErrIndex, "IndexError: tuple index out of range", func() error { _, err := th.TupleGet(tu, -2); return err }},
			{"list index", ErrIndex, "IndexError: list index out of range", func() error { _, err := th.ListGet(l, -2); return err }},
			{"list assignment", ErrIndex, "IndexError: list assignment index out of range", func() error { return th.ListSet(l, 1, big) }},
			{"pop empty", ErrIndex, "IndexError: pop from empty list", func() error { _, err := th.ListPop(empty, -1); return err }},
			{"pop index", ErrIndex, "IndexError: pop index out of range", func() error { _, err := th.ListPop(l, 1); return err }},
			{"dict get", ErrKey, "KeyError: 'x'", func() error { _, err := th.DictGet(d, x); return err }},
			{"dict del", ErrKey, "KeyError: 'x'", func() error { return th.DictDel(d, x) }},
			{"dict get tuple", ErrKey, "KeyError: (1000,)", func() error { _, err := th.DictGet(d, tu); return err }},
			{"unhashable set", ErrType, "TypeError: unhashable type: 'list'", func() error { return th.DictSet(d, l, big) }},
			{"unhashable get", ErrType, "TypeError: unhashable type: 'dict'", func() error { _, err := th.DictGet(d, d); return err }},
			{"unhashable in tuple", ErrType, "TypeError: unhashable type: 'list'", func() error { return th.DictDel(d, unhashable) }},
			{"getattr", ErrAttribute, "AttributeError: 'Foo' object has no attribute 'x'", func() error { _, err := th.GetAttr(inst, "x"); return err }},
			{"delattr", ErrAttribute, "AttributeError: 'Foo' object has no attribute 'x'", func() error { return th.DelAttr(inst, "x") }},
			{"getattr of int", ErrAttribute, "AttributeError: 'int' object has no attribute 'x'", func() error { _, err := th.GetAttr(big, "x"); return err }},
			{"setattr of list", ErrAttribute, "", func() error { return th.SetAttr(l, "x", big) }},
			{"int of str", ErrValue, "ValueError: invalid literal for int() with base 10: 'x'", func() error { _, err := th.Int(x); return err }},
			{"int of None", ErrType, "TypeError: int() argument must be a string, a bytes-like object or a real number, not 'NoneType'", func() error { _, err := th.Int(rt.None()); return err }},
			{"int of instance", ErrType, "TypeError: int() argument must be a string, a bytes-like object or a real number, not 'Foo'", func() error { _, err := th.Int(inst); return err }},
			{"float of str", ErrValue, "ValueError: could not convert string to float: 'x'", func() error { _, err := th.Float(x); return err }},
			{"float of tuple", ErrType, "TypeError: float() argument must be a string or a real number, not 'tuple'", func() error { _, err := th.Float(tu); return err }},
			{"list op on tuple", ErrType, "", func() error { return th.ListAppend(tu, big) }},
			{"tuple op on list", ErrType, "", func() error { _, err := th.TupleGet(l, 0); return err }},
			{"dict op on list", ErrType, "", func() error { _, err := th.DictLen(l); return err }},
			{"extend with int", ErrType, "TypeError: 'int' object is not iterable", func() error { return th.ListExtend(l, big) }},
			{"NewType empty name", ErrValue, "", func() error { _, err := rt.NewType(TypeSpec{}); return err }},
			{"New without mode", ErrValue, "", func() error { _, err := New(Config{}); return err }},
			{"ParseMode", ErrValue, "", func() error { _, err := ParseMode("gilly"); return err }},
			{"Collect(3)", ErrValue, "", func() error { _, err := th.Collect(3); return err }},
			{"Collect(-1)", ErrValue, "", func() error { _, err := th.Collect(-1); return err }},
		}
		for _, c := range cases {
			err := c.run()
			auditRequireOneSentinel(t, err, c.kind, c.what)
			if c.msg != "" {
				require.Equal(t, c.msg, err.Error(), c.what)
			}
		}
		// Nothing above changed anything.
		n, err := th.ListLen(l)
		require.NoError(t, err)
		require.Equal(t, 1, n)
		n, err = th.DictLen(d)
		require.NoError(t, err)
		require.Equal(t, 0, n)
		require.Equal(t, 4, th.RefCount(big), "ours, tu's, l's and unhashable's")
		for _, o := range []*Object{unhashable, inst, x, big, tu, l, empty, d} {
			th.DecRef(o)
		}
		apiRequireLive(t, th, map[string]int{})
	})
}

// Immortal objects' counts never change; GC().Garbage() is one of them.
func TestAuditImmortalsIncludingGarbage(t *testing.T) {
	eachModeThread(t, func(t *testing.T, th *Thread) {
		rt := th.Runtime()
		g := rt.GC().Garbage()
		require.Same(t, g, rt.GC().Garbage())
		require.Equal(t, "list", g.Type().Name())
		for _, o := range []*Object{g, rt.None(), rt.True(), rt.False(), th.NewInt(-5), th.NewInt(256), th.Intern("audit")} {
			n := th.RefCount(o)
			require.GreaterOrEqual(t, n, immortalFloor, "%s is immortal", th.Repr(o))
			for i := 0; i < 3; i++ {
				th.DecRef(o)
			}
			require.Same(t, o, th.NewRef(o))
			th.IncRef(o)
			require.Equal(t, n, th.RefCount(o), "%s: IncRef/DecRef are no-ops", th.Repr(o))
		}
		n, err := th.ListLen(g)
		require.NoError(t, err)
		require.Equal(t, 0, n)
		require.Equal(t, "[]", th.Repr(g))
		apiRequireLive(t, th, map[string]int{})
	})
}

// Every Thread method but Attach, Close and Runtime requires an attached
// thread: a detached thread and a closed one panic, naming which.
func TestAuditEveryMethodNeedsAttachedThread(t *testing.T) {
	eachMode(t, func(t *testing.T, rt *Runtime) {
		foo, err := rt.NewType(TypeSpec{Name: "Foo"})
		require.NoError(t, err)
		th := rt.NewThread()
		th.Detach()
		require.Same(t, rt, th.Runtime(), "Runtime works on a detached thread")

		live := rt.NewThread() // makes the objects th misuses
		inst := live.NewInstance(foo)
		big := live.NewInt(1000)
		tu := live.NewTuple(big)
		l := live.NewList(big)
		d := live.NewDict()
		require.NoError(t, live.DictSet(d, big, big))
		require.NoError(t, live.SetAttr(inst, "a", big))
		wr, err := live.NewWeakRef(inst, nil)
		require.NoError(t, err)

		ops := map[string]func(){
			"NewInt":       func() { th.NewInt(1000) },
			"NewInt small": func() { th.NewInt(1) },
			"NewFloat":     func() { th.NewFloat(1) },
			"NewStr":       func() { th.NewStr("s") },
			"Intern":       func() { th.Intern("s") },
			"NewTuple":     func() { th.NewTuple() },
			"NewList":      func() { th.NewList() },
			"NewDict":      func() { th.NewDict() },
			"NewInstance":  func() { th.NewInstance(foo) },
			"IncRef":       func() { th.IncRef(big) },
			"DecRef":       func() { th.DecRef(big) },
			"NewRef":       func() { th.NewRef(big) },
			"RefCount":     func() { th.RefCount(big) },
			"Int":          func() { _, _ = th.Int(big) },
			"Float":        func() { _, _ = th.Float(big) },
			"Str":          func() { _, _ = th.Str(big) },
			"Repr":         func() { th.Repr(big) },
			"TupleLen":     func() { _, _ = th.TupleLen(tu) },
			"TupleGet":     func() { _, _ = th.TupleGet(tu, 0) },
			"ListLen":      func() { _, _ = th.ListLen(l) },
			"ListGet":      func() { _, _ = th.ListGet(l, 0) },
			"ListSet":      func() { _ = th.ListSet(l, 0, big) },
			"ListAppend":   func() { _ = th.ListAppend(l, big) },
			"ListPop":      func() { _, _ = th.ListPop(l, -1) },
			"ListExtend":   func() { _ = th.ListExtend(l, tu) },
			"DictLen":      func() { _, _ = th.DictLen(d) },
			"DictGet":      func() { _, _ = th.DictGet(d, big) },
			"DictSet":      func() { _ = th.DictSet(d, big, big) },
			"DictDel":      func() { _ = th.DictDel(d, big) },
			"DictKeys":     func() { _, _ = th.DictKeys(d) },
			"GetAttr":      func() { _, _ = th.GetAttr(inst, "a") },
			"SetAttr":      func() { _ = th.SetAttr(inst, "a", big) },
			"DelAttr":      func() { _ = th.DelAttr(inst, "a") },
			"NewWeakRef":   func() { _, _ = th.NewWeakRef(inst, nil) },
			"WeakRefGet":   func() { _, _ = th.WeakRefGet(wr) },
			"Collect":      func() { _, _ = th.Collect(0) },
			"Freeze":       func() { th.Freeze() },
			"Unfreeze":     func() { th.Unfreeze() },
			"Checkpoint":   func() { th.Checkpoint() },
			"Detach":       func() { th.Detach() },
		}
		for name, fn := range ops {
			require.PanicsWithValue(t, msgDetachedThread, fn, "%s on a detached thread", name)
		}
		live.Detach() // GIL mode: let th take the GIL to close
		th.Close()
		live.Attach()
		require.Same(t, rt, th.Runtime(), "Runtime works on a closed thread")
		for name, fn := range ops {
			require.PanicsWithValue(t, msgClosedThread, fn, "%s on a closed thread", name)
		}

		// Nothing happened to the objects.
		require.Equal(t, 6, live.RefCount(big), "ours, tu's, l's, d's key and value, inst's attribute")
		require.Equal(t, "[1000]", live.Repr(l))
		require.Equal(t, "{1000: 1000}", live.Repr(d))
		v, err := live.GetAttr(inst, "a")
		require.NoError(t, err)
		live.DecRef(v)
		for _, o := range []*Object{wr, inst, big, tu, l, d} {
			live.DecRef(o)
		}
		live.Close()
	})
}

// A freed container or instance passed as the object operated on (not only
// as an argument) is caught in Debug mode, naming its type.
func TestAuditUseAfterFreeOfReceiver(t *testing.T) {
	eachDebugModeThread(t, func(t *testing.T, th *Thread) {
		foo, err := th.Runtime().NewType(TypeSpec{Name: "Foo"})
		require.NoError(t, err)
		x := th.NewInt(1000)
		tu, l, d, inst := th.NewTuple(x), th.NewList(x), th.NewDict(), th.NewInstance(foo)
		for _, o := range []*Object{tu, l, d, inst} {
			th.DecRef(o)
		}
		cases := []struct {
			typ string
			fn  func()
		}{
			{"tuple", func() { _, _ = th.TupleGet(tu, 0) }},
			{"tuple", func() { _, _ = th.TupleLen(tu) }},
			{"list", func() { _, _ = th.ListGet(l, 0) }},
			{"list", func() { _ = th.ListSet(l, 0, x) }},
			{"list", func() { _ = th.ListAppend(l, x) }},
			{"list", func() { _, _ = th.ListPop(l, -1) }},
			{"list", func() { _ = th.ListExtend(l, x) }},
			{"dict", func() { _, _ = th.DictGet(d, x) }},
			{"dict", func() { _ = th.DictSet(d, x, x) }},
			{"dict", func() { _ = th.DictDel(d, x) }},
			{"dict", func() { _, _ = th.DictKeys(d) }},
			{"Foo", func() { _ = th.SetAttr(inst, "a", x) }},
			{"Foo", func() { _ = th.DelAttr(inst, "a") }},
			{"Foo", func() { th.NewTuple(x, inst) }},
		}
		for i, c := range cases {
			require.PanicsWithValue(t, "nogil: use after free of a "+c.typ+" object", c.fn, "case %d", i)
		}
		require.Equal(t, 1, th.RefCount(x), "no reference was taken")
		th.DecRef(x)
		apiRequireLive(t, th, map[string]int{})
	})
}

// An object of another runtime passed to any entry panics, naming its type.
func TestAuditOtherRuntimeEveryEntry(t *testing.T) {
	for _, mc := range allModes {
		t.Run(mc.name, func(t *testing.T) {
			rt1, rt2 := apiFreshRuntime(t, mc), apiFreshRuntime(t, mc)
			th1, th2 := rt1.NewThread(), rt2.NewThread()
			foo2, err := rt2.NewType(TypeSpec{Name: "Foo"})
			require.NoError(t, err)
			f2, tu2, l2, d2, inst2 := th2.NewFloat(1.5), th2.NewTuple(), th2.NewList(), th2.NewDict(), th2.NewInstance(foo2)
			x1 := th1.NewInt(1000)
			cases := []struct {
				typ string
				fn  func()
			}{
				{"float", func() { _, _ = th1.Float(f2) }},
				{"float", func() { _, _ = th1.Str(f2) }},
				{"float", func() { th1.NewRef(f2) }},
				{"tuple", func() { _, _ = th1.TupleLen(tu2) }},
				{"tuple", func() { _, _ = th1.TupleGet(tu2, 0) }},
				{"list", func() { _, _ = th1.ListGet(l2, 0) }},
				{"list", func() { _ = th1.ListSet(l2, 0, x1) }},
				{"list", func() { _ = th1.ListAppend(l2, x1) }},
				{"list", func() { _, _ = th1.ListPop(l2, 0) }},
				{"dict", func() { _, _ = th1.DictLen(d2) }},
				{"dict", func() { _ = th1.DictSet(d2, x1, x1) }},
				{"dict", func() { _ = th1.DictDel(d2, x1) }},
				{"dict", func() { _, _ = th1.DictGet(d2, x1) }},
				{"Foo", func() { _ = th1.SetAttr(inst2, "a", x1) }},
				{"Foo", func() { _ = th1.DelAttr(inst2, "a") }},
				{"Foo", func() { th1.DecRef(inst2) }},
			}
			for i, c := range cases {
				require.PanicsWithValue(t, "nogil: "+c.typ+" object of another runtime used in this one", c.fn, "case %d", i)
			}
			require.Equal(t, 1, th1.RefCount(x1))
			n, err := th2.ListLen(l2)
			require.NoError(t, err)
			require.Equal(t, 0, n)
			require.Equal(t, 1, th2.RefCount(inst2))
			th1.DecRef(x1)
			for _, o := range []*Object{f2, tu2, l2, d2, inst2} {
				th2.DecRef(o)
			}
			th1.Close()
			th2.Close()
			require.NoError(t, rt1.Close())
			require.NoError(t, rt2.Close())
		})
	}
}

// ---------------------------------------------------------------- Runtime

// Config: defaults are filled in and reported by Runtime.Config; invalid
// configurations say which field is wrong.
func TestAuditConfigDefaultsAndMessages(t *testing.T) {
	for _, mc := range allModes {
		t.Run(mc.name, func(t *testing.T) {
			rt, err := New(mc.cfg)
			require.NoError(t, err)
			cfg := rt.Config()
			require.Equal(t, mc.cfg.Mode, cfg.Mode)
			require.Equal(t, mc.cfg.RefCounting, cfg.RefCounting)
			if mc.cfg.Mode == GIL {
				require.Equal(t, 5*time.Millisecond, cfg.SwitchInterval, "0 means 5ms")
			} else {
				require.Zero(t, cfg.SwitchInterval, "no switch interval without a GIL")
			}
			require.Equal(t, [3]int{700, 10, 10}, cfg.GCThresholds)
			require.Equal(t, [3]int{700, 10, 10}, func() [3]int { a, b, c := rt.GC().Threshold(); return [3]int{a, b, c} }())
			require.NoError(t, rt.Close())
		})
	}
	rt, err := New(Config{Mode: GIL, SwitchInterval: 2 * time.Millisecond})
	require.NoError(t, err)
	require.Equal(t, 2*time.Millisecond, rt.Config().SwitchInterval, "an explicit interval is kept")
	require.NoError(t, rt.Close())
	// A zero RefCounting in free-threaded mode is Biased.
	rt, err = New(Config{Mode: FreeThreaded})
	require.NoError(t, err)
	require.Equal(t, Biased, rt.Config().RefCounting)
	require.Equal(t, FreeThreaded, rt.Mode())
	require.NoError(t, rt.Close())

	for cfg, field := range map[*Config]string{
		{}:                                   "Mode",
		{Mode: GIL, RefCounting: Atomic}:     "RefCounting",
		{Mode: FreeThreaded, RefCounting: 3}: "RefCounting",
		{Mode: FreeThreaded, SwitchInterval: time.Millisecond}: "SwitchInterval",
		{Mode: GIL, SwitchInterval: -1}:                        "SwitchInterval",
		{Mode: GIL, GCThresholds: [3]int{1, -2, 3}}:            "threshold",
	} {
		_, err := New(*cfg)
		auditRequireOneSentinel(t, err, ErrValue, field)
		require.Contains(t, err.Error(), field)
	}
}

// ---------------------------------------------------------------- Threads

// Intern gives one immortal object per distinct string, whichever thread
// asks, concurrently; each runtime has its own.
func TestAuditInternAcrossThreads(t *testing.T) {
	const workers, words = 4, 200
	eachMode(t, func(t *testing.T, rt *Runtime) {
		got := make([][]*Object, workers)
		var wg sync.WaitGroup
		for w := 0; w < workers; w++ {
			wg.Add(1)
			go func(w int) {
				defer wg.Done()
				th := rt.NewThread()
				defer th.Close()
				got[w] = make([]*Object, words)
				for i := 0; i < words; i++ {
					// Each worker goes through the words in its own order.
					j := (i*7 + w*53) % words
					got[w][j] = th.Intern(fmt.Sprintf("w%d", j))
					if i%16 == 0 {
						th.Checkpoint() // GIL mode: let the others run
					}
				}
			}(w)
		}
		wg.Wait()
		th := rt.NewThread()
		for j := 0; j < words; j++ {
			for w := 1; w < workers; w++ {
				require.Same(t, got[0][j], got[w][j], "word %d", j)
			}
			require.Same(t, got[0][j], th.Intern(fmt.Sprintf("w%d", j)))
			s, err := th.Str(got[0][j])
			require.NoError(t, err)
			require.Equal(t, fmt.Sprintf("w%d", j), s)
			require.GreaterOrEqual(t, th.RefCount(got[0][j]), immortalFloor)
		}
		require.NotSame(t, got[0][0], got[0][1])

		other, err := New(rt.Config())
		require.NoError(t, err)
		oth := other.NewThread()
		o := oth.Intern("w0")
		require.NotSame(t, got[0][0], o, "each runtime interns its own")
		oth.Close()
		require.NoError(t, other.Close())

		apiRequireLive(t, th, map[string]int{})
		th.Close()
	})
}

// ---------------------------------------------------------------- References and objects

// None, True and False are singletons distinct from the small ints they
// equal.
func TestAuditBoolNoneSingletons(t *testing.T) {
	eachModeThread(t, func(t *testing.T, th *Thread) {
		rt := th.Runtime()
		one, zero := th.NewInt(1), th.NewInt(0)
		require.NotSame(t, rt.True(), one)
		require.NotSame(t, rt.False(), zero)
		require.Equal(t, "int", one.Type().Name())
		require.Same(t, rt.True().Type(), rt.False().Type())
		require.NotSame(t, one.Type(), rt.True().Type())
		require.Equal(t, "1", th.Repr(one))
		require.Equal(t, "True", th.Repr(rt.True()))
		v, err := th.Int(rt.True())
		require.NoError(t, err)
		require.Equal(t, int64(1), v)

		// As keys: True == 1 == 1.0, False == 0, None is none of them, nor
		// is the empty str.
		d := th.NewDict()
		require.NoError(t, th.DictSet(d, rt.False(), rt.True()))
		got, err := th.DictGet(d, zero)
		require.NoError(t, err)
		require.Same(t, rt.True(), got)
		for _, k := range []*Object{rt.None(), th.NewStr(""), th.NewTuple(), one} {
			_, err := th.DictGet(d, k)
			auditRequireOneSentinel(t, err, ErrKey, th.Repr(k))
			require.Equal(t, "KeyError: "+th.Repr(k), err.Error())
			th.DecRef(k)
		}
		require.NoError(t, th.DictSet(d, rt.None(), rt.None()))
		require.Equal(t, "{False: True, None: None}", th.Repr(d))
		th.DecRef(d)
		apiRequireLive(t, th, map[string]int{})
	})
}

// Numeric keys at the edges of exactness, and NaN inside tuples: equal
// by identity only, as Python compares items with "is" first.
func TestAuditNumericKeyEdges(t *testing.T) {
	eachModeThread(t, func(t *testing.T, th *Thread) {
		d := th.NewDict()
		set := func(k *Object, v int64) {
			o := th.NewInt(v)
			require.NoError(t, th.DictSet(d, k, o))
			th.DecRef(o)
		}
		var owned []*Object
		keep := func(o *Object) *Object { owned = append(owned, o); return o }

		// 2**53 + 1 is not 2.0**53 (the float nearest it).
		set(keep(th.NewInt(1<<53+1)), 1)
		_, err := th.DictGet(d, keep(th.NewFloat(1<<53)))
		auditRequireOneSentinel(t, err, ErrKey, "2.0**53")
		require.Equal(t, "KeyError: 9007199254740992.0", err.Error())
		require.Equal(t, int64(1), apiGetInt(t, th, d, keep(th.NewInt(1<<53+1))))
		// 2.0**63 equals no int64: not MaxInt64.
		set(keep(th.NewInt(math.MaxInt64)), 2)
		_, err = th.DictGet(d, keep(th.NewFloat(math.Exp2(63))))
		require.Equal(t, "KeyError: 9.223372036854776e+18", err.Error())
		// -2.0**63 is MinInt64.
		set(keep(th.NewFloat(-math.Exp2(63))), 3)
		require.Equal(t, int64(3), apiGetInt(t, th, d, keep(th.NewInt(math.MinInt64))))
		// 0.5 is no int.
		set(keep(th.NewFloat(0.5)), 4)
		_, err = th.DictGet(d, keep(th.NewInt(0)))
		require.Equal(t, "KeyError: 0", err.Error())
		// inf and -inf are keys of their own, equal to themselves.
		set(keep(th.NewFloat(math.Inf(1))), 5)
		require.Equal(t, int64(5), apiGetInt(t, th, d, keep(th.NewFloat(math.Inf(1)))))
		_, err = th.DictGet(d, keep(th.NewFloat(math.Inf(-1))))
		require.Equal(t, "KeyError: -inf", err.Error())

		// (1, True) == (True, 1.0): one key.
		rt := th.Runtime()
		set(keep(th.NewTuple(th.NewInt(1), rt.True())), 6)
		tf := keep(th.NewTuple(rt.True(), keep(th.NewFloat(1))))
		require.Equal(t, int64(6), apiGetInt(t, th, d, tf))
		// (-0.0,) == (0,).
		set(keep(th.NewTuple(keep(th.NewFloat(math.Copysign(0, -1))))), 7)
		require.Equal(t, int64(7), apiGetInt(t, th, d, keep(th.NewTuple(th.NewInt(0)))))

		// NaN: a tuple holding the same NaN object is equal, one holding
		// another NaN is not.
		nan, nan2 := keep(th.NewFloat(math.NaN())), keep(th.NewFloat(math.NaN()))
		set(keep(th.NewTuple(nan)), 8)
		require.Equal(t, int64(8), apiGetInt(t, th, d, keep(th.NewTuple(nan))))
		_, err = th.DictGet(d, keep(th.NewTuple(nan2)))
		auditRequireOneSentinel(t, err, ErrKey, "(nan,)")
		require.Equal(t, "KeyError: (nan,)", err.Error())
		_, err = th.DictGet(d, nan)
		require.Equal(t, "KeyError: nan", err.Error(), "a NaN is not its 1-tuple")
		set(nan, 9)
		set(nan2, 10)
		require.Equal(t, int64(9), apiGetInt(t, th, d, nan))
		require.Equal(t, int64(10), apiGetInt(t, th, d, nan2))

		n, err := th.DictLen(d)
		require.NoError(t, err)
		require.Equal(t, 10, n)
		require.Equal(t, "{9007199254740993: 1, 9223372036854775807: 2, -9.223372036854776e+18: 3, 0.5: 4, inf: 5, (1, True): 6, (-0.0,): 7, (nan,): 8, nan: 9, nan: 10}", th.Repr(d))
		th.DecRef(d)
		for _, o := range owned {
			th.DecRef(o)
		}
		apiRequireLive(t, th, map[string]int{})
	})
}

// int() and float() of strs at the edges of Python's grammar (expected
// results from CPython 3.11), and of floats at the edges of int64.
func TestAuditNumericConversionEdges(t *testing.T) {
	eachModeThread(t, func(t *testing.T, th *Thread) {
		type res struct {
			ok bool
			v  float64
		}
		cases := []struct {
			s       string
			asInt   res
			asFloat res
		}{
			{"1e", res{}, res{}},
			{".", res{}, res{}},
			{"e5", res{}, res{}},
			{"-", res{}, res{}},
			{"+", res{}, res{}},
			{"1_e5", res{}, res{}},
			{"1e_5", res{}, res{}},
			{"1e1_0", res{}, res{true, 1e10}},
			{"0_0", res{true, 0}, res{true, 0}},
			{"00", res{true, 0}, res{true, 0}},
			{"-0", res{true, 0}, res{true, 0}},
			{"+0", res{true, 0}, res{true, 0}},
			{"1.", res{}, res{true, 1}},
			{"-.5e-1", res{}, res{true, -0.05}},
			{"1 000", res{}, res{}},
			{"--1", res{}, res{}},
			{"0b101", res{}, res{}},
			{"1e1.5", res{}, res{}},
			{"nan1", res{}, res{}},
			{"infinit", res{}, res{}},
			{" \u3000 7 \n", res{true, 7}, res{true, 7}}, // Unicode whitespace is stripped
			// Unicode decimal digits (category Nd) are digits: Arabic-Indic,
			// Devanagari, fullwidth, mathematical bold.
			{"\u0661\u0662", res{true, 12}, res{true, 12}},
			{"-\u0967\u0966\u0966", res{true, -100}, res{true, -100}},
			{"\uff17_\uff10", res{true, 70}, res{true, 70}},
			{"\U0001D7CF.\U0001D7D3", res{}, res{true, 1.5}},
			{"\u00b2", res{}, res{}}, // superscript two is a digit but not decimal (No)
			{"\u2167", res{}, res{}}, // Roman numeral eight (Nl)
		}
		for _, c := range cases {
			o := th.NewStr(c.s)
			i, err := th.Int(o)
			if c.asInt.ok {
				require.NoError(t, err, "int(%q)", c.s)
				require.Equal(t, int64(c.asInt.v), i, "int(%q)", c.s)
			} else {
				auditRequireOneSentinel(t, err, ErrValue, fmt.Sprintf("int(%q)", c.s))
				require.Equal(t, "ValueError: invalid literal for int() with base 10: "+th.Repr(o), err.Error())
			}
			f, err := th.Float(o)
			if c.asFloat.ok {
				require.NoError(t, err, "float(%q)", c.s)
				require.Equal(t, c.asFloat.v, f, "float(%q)", c.s)
			} else {
				auditRequireOneSentinel(t, err, ErrValue, fmt.Sprintf("float(%q)", c.s))
				require.Equal(t, "ValueError: could not convert string to float: "+th.Repr(o), err.Error())
			}
			th.DecRef(o)
		}

		// int() of floats at the edges of int64 (Python has big ints; an
		// int64 result cannot hold more, and says so with ErrValue).
		for _, c := range []struct {
			f  float64
			ok bool
			v  int64
		}{
			{-math.Exp2(63), true, math.MinInt64},
			{math.Nextafter(math.Exp2(63), 0), true, 1<<63 - 1024},
			{math.Exp2(63), false, 0},
			{math.Nextafter(-math.Exp2(63), math.Inf(-1)), false, 0},
			{1e300, false, 0},
			{-0.999, true, 0},
			{2.5e-300, true, 0},
		} {
			o := th.NewFloat(c.f)
			v, err := th.Int(o)
			if c.ok {
				require.NoError(t, err, "int(%v)", c.f)
				require.Equal(t, c.v, v, "int(%v)", c.f)
			} else {
				auditRequireOneSentinel(t, err, ErrValue, fmt.Sprintf("int(%v)", c.f))
				require.Contains(t, err.Error(), th.Repr(o))
			}
			th.DecRef(o)
		}
		// int() of a valid literal too large for an int64 is not an
		// "invalid literal".
		for _, s := range []string{"9223372036854775808", "-9223372036854775809", "1_000_000_000_000_000_000_000"} {
			o := th.NewStr(s)
			_, err := th.Int(o)
			auditRequireOneSentinel(t, err, ErrValue, s)
			require.Equal(t, "ValueError: int() literal too large for a 64-bit int: "+th.Repr(o), err.Error())
			th.DecRef(o)
		}
		o := th.NewStr("9223372036854775807")
		v, err := th.Int(o)
		require.NoError(t, err)
		require.Equal(t, int64(math.MaxInt64), v)
		th.DecRef(o)
		apiRequireLive(t, th, map[string]int{})
	})
}

// repr(float) of awkward values, against CPython's (the values are given
// in hexadecimal so that they are exact).
func TestAuditReprFloatsAgainstPython(t *testing.T) {
	cases := []struct {
		v    float64
		want string
	}{
		{0x1.3333333333334p-2, "0.30000000000000004"},
		{0x1.5555555555555p-2, "0.3333333333333333"},
		{0x1.5555555555555p-1, "0.6666666666666666"},
		{0x1.a36e2eb1c432dp-14, "0.0001"},
		{0x1.a36371ea531a8p-14, "9.999e-05"},
		{0x1.c6bf526340004p+49, "1000000000000000.5"},
		{0x1.0000000000000p+53, "9007199254740992.0"},
		{0x1.0000000000001p+53, "9007199254740994.0"},
		{0x1.0000000000000p+63, "9.223372036854776e+18"},
		{0x1.1c37937e07fffp+53, "9999999999999998.0"},
		{0x1.b69b4ba630f35p+56, "1.2345678901234568e+17"},
		{0x0.0000000000001p-1022, "5e-324"},
		{0x1.fffffffffffffp+1023, "1.7976931348623157e+308"},
		{0x1.0000000000000p-1022, "2.2250738585072014e-308"},
		{0x1.9000000000000p+6, "100.0"},
		{0x1.b1ae4d6e2ef50p+69, "1e+21"},
		{0x1.ad7f29abcaf48p-24, "1e-07"},
		{0x1.921fb54442d18p+1, "3.141592653589793"},
		{-0x1.5bf0a8b145769p+1, "-2.718281828459045"},
		{0x1.34a456d5cfaadp+10, "1234.5678"},
		{0x1.02e85be111841p-13, "0.000123456789"},
		{0x1.89f250454edaap-34, "8.957307212181266e-11"},
		{0x1.9529614d657f7p-19, "3.0186894607970752e-06"},
		{0x1.fd1455f0d105ap-88, "6.425485839826166e-27"},
		{-0x1.4c89c3363fe1cp-82, "-2.686221661748289e-25"},
		{0x1.03ae48f5bbaf1p-90, "8.194081262862046e-28"},
		{-0x1.5544999b94733p-57, "-9.250086831160304e-18"},
		{-0x1.5735fbc2ccb54p-13, "-0.00016365569725848106"},
		{-0x1.d7e0325cd05cdp-51, "-8.185739733122699e-16"},
		{-0x1.ce4e5f52163b2p-11, "-0.0008817789878420217"},
		{-0x1.6f61827c86327p+19, "-752396.0777007089"},
		{0x1.e1ecb072a1bbap-56, "2.6125183146347418e-17"},
		{0x1.114285b2c27e3p+23, "8954178.849140113"},
		{0x1.4e256c32290f3p+17, "171082.84528077356"},
		{0x1.2ddccf1beab90p-90, "9.525102111858402e-28"},
		{0x1.cbb8637c8c026p-97, "1.1332979587418523e-29"},
		{-0x1.96f46f7247e68p-75, "-4.2078142733664747e-23"},
		{0x1.897d5f9b9a01fp-74, "8.137177106428494e-23"},
		{-0x1.760f1683d3ebbp+18, "-383036.3517961313"},
		{0x1.8aa7ca87bf99ep+71, "3.6400538952240915e+21"},
		{0x1.94107f170c7f8p-83, "1.632003273249325e-25"},
		{-0x1.7416340841d34p+32, "-6242579464.25713"},
		{0x1.d8d699ea1dfd5p-84, "9.548893141911562e-26"},
		{0x1.97fb86e5e72b1p-90, "1.2873658626677332e-27"},
		{-0x1.186b6c72e409ep+29, "-588082574.361347"},
		{0x1.276af610276d7p+39, "634404931603.7137"},
		{-0x1.9cad1a375ece5p+61, "-3.7170565924641695e+18"},
		{0x1.0272b7587641dp+23, "8468827.67277723"},
		{-0x1.57ff67f5325f9p-25, "-4.0046600627263525e-08"},
		{-0x1.bc69b475648bdp+65, "-6.404665008337136e+19"},
		{-0x1.1c1c2569bf200p+62, "-5.118069785556943e+18"},
	}
	eachModeThread(t, func(t *testing.T, th *Thread) {
		for _, c := range cases {
			o := th.NewFloat(c.v)
			require.Equal(t, c.want, th.Repr(o), "repr(%v)", c.v)
			s, err := th.Str(o)
			require.NoError(t, err)
			require.Equal(t, c.want, s)
			// The repr converts back to the same float.
			back := th.NewStr(c.want)
			f, err := th.Float(back)
			require.NoError(t, err)
			require.Equal(t, c.v, f, "float(repr(%v))", c.v)
			th.DecRef(back)
			th.DecRef(o)
		}
		apiRequireLive(t, th, map[string]int{})
	})
}

// auditPythonUnprintable are the code points below U+0800 that CPython's
// str.isprintable() rejects: repr escapes them.
var auditPythonUnprintable = [][2]rune{
	{0x0, 0x1f}, {0x7f, 0xa0}, {0xad, 0xad}, {0x378, 0x379}, {0x380, 0x383}, {0x38b, 0x38b},
	{0x38d, 0x38d}, {0x3a2, 0x3a2}, {0x530, 0x530}, {0x557, 0x558}, {0x58b, 0x58c}, {0x590, 0x590},
	{0x5c8, 0x5cf}, {0x5eb, 0x5ee}, {0x5f5, 0x605}, {0x61c, 0x61c}, {0x6dd, 0x6dd}, {0x70e, 0x70f},
	{0x74b, 0x74c}, {0x7b2, 0x7bf}, {0x7fb, 0x7fc},
}

// repr(str) of every code point below U+0800, as CPython writes it.
func TestAuditReprStrCodePoints(t *testing.T) {
	unprintable := func(r rune) bool {
		for _, g := range auditPythonUnprintable {
			if g[0] <= r && r <= g[1] {
				return true
			}
		}
		return false
	}
	eachModeThread(t, func(t *testing.T, th *Thread) {
		for r := rune(0); r < 0x800; r++ {
			var want string
			switch {
			case r == '\'':
				want = `"'"`
			case r == '\\':
				want = `'\\'`
			case r == '\t':
				want = `'\t'`
			case r == '\n':
				want = `'\n'`
			case r == '\r':
				want = `'\r'`
			case unprintable(r) && r <= 0xff:
				want = fmt.Sprintf(`'\x%02x'`, r)
			case unprintable(r):
				want = fmt.Sprintf(`'\u%04x'`, r)
			default:
				want = "'" + string(r) + "'"
			}
			o := th.NewStr(string(r))
			require.Equal(t, want, th.Repr(o), "repr(chr(%#x))", r)
			th.DecRef(o)
		}
		apiRequireLive(t, th, map[string]int{})
	})
}

// ---------------------------------------------------------------- Types defined by users

// A *Type is not an object: it is never counted in Stats, and it outlives
// its instances.
func TestAuditTypesNotCounted(t *testing.T) {
	eachModeThread(t, func(t *testing.T, th *Thread) {
		rt := th.Runtime()
		base := apiStats(th)
		var types []*Type
		for i := 0; i < 50; i++ {
			typ, err := rt.NewType(TypeSpec{Name: fmt.Sprintf("T%d", i)})
			require.NoError(t, err)
			types = append(types, typ)
		}
		st := apiStats(th)
		require.Equal(t, base.Allocated, st.Allocated, "NewType allocates no object")
		require.Equal(t, 0, st.Live)
		require.Empty(t, st.LiveByType)
		for i, typ := range types {
			o := th.NewInstance(typ)
			require.Same(t, typ, o.Type())
			th.DecRef(o)
			require.Equal(t, fmt.Sprintf("T%d", i), typ.Name(), "the type outlives its instances")
		}
		// The type still makes instances after its first ones died.
		o := th.NewInstance(types[0])
		require.NoError(t, th.SetAttr(o, "a", rt.None()))
		apiRequireLive(t, th, map[string]int{"T0": 1})
		th.DecRef(o)
		st = apiStats(th)
		require.Equal(t, base.Allocated+51, st.Allocated)
		require.Equal(t, 0, st.Live)
		require.Empty(t, st.LiveByType)
	})
}

// Finalize and LegacyDel run on the thread that drops the last reference,
// also when the instance was made by another thread.
func TestAuditFinalizerOnDroppingThread(t *testing.T) {
	eachMode(t, func(t *testing.T, rt *Runtime) {
		var ranOn []*Thread
		var order []string
		typ, err := rt.NewType(TypeSpec{
			Name:      "Both",
			Finalize:  func(th *Thread, self *Object) { ranOn = append(ranOn, th); order = append(order, "finalize") },
			LegacyDel: func(th *Thread, self *Object) { ranOn = append(ranOn, th); order = append(order, "del") },
		})
		require.NoError(t, err)
		maker := rt.NewThread()
		o := maker.NewInstance(typ)
		maker.Close()
		dropper := rt.NewThread()
		dropper.DecRef(o)
		require.Equal(t, []string{"finalize", "del"}, order)
		require.Equal(t, []*Thread{dropper, dropper}, ranOn)
		apiRequireLive(t, dropper, map[string]int{})
		dropper.Close()
	})
}

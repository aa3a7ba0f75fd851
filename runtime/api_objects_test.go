package runtime

import (
	"errors"
	"math"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/nogil-lab/nogil/internal/invariants"
	"github.com/stretchr/testify/require"
)

// Single-threaded semantic tests of scalars, reference counts, user types,
// weak references, deallocation and statistics. Every case runs in every
// mode (gil, ft-biased, ft-atomic) through eachMode/eachModeThread.

// immortalFloor is a count no mortal object in these tests comes near:
// immortal objects must report at least this much.
const immortalFloor = 1 << 30

// apiStats checkpoints th (so its latest counts are published) and returns
// the runtime's statistics.
func apiStats(th *Thread) Stats {
	th.Checkpoint()
	return th.Runtime().Stats()
}

// apiRequireLive checks Stats().Live and LiveByType exactly.
func apiRequireLive(t *testing.T, th *Thread, byType map[string]int) {
	t.Helper()
	st := apiStats(th)
	total := 0
	for _, n := range byType {
		total += n
	}
	require.Equal(t, total, st.Live, "Live (by type %v)", st.LiveByType)
	require.Equal(t, byType, st.LiveByType)
}

// ---------------------------------------------------------------- Config

func TestAPIConfigInvalid(t *testing.T) {
	cases := []struct {
		name string
		cfg  Config
	}{
		{"missing mode", Config{}},
		{"missing mode with debug", Config{Debug: true, RefCounting: Biased}},
		{"unknown mode", Config{Mode: 7}},
		{"atomic refcounting in gil mode", Config{Mode: GIL, RefCounting: Atomic}},
		{"unknown refcounting in gil mode", Config{Mode: GIL, RefCounting: 9}},
		{"unknown refcounting in ft mode", Config{Mode: FreeThreaded, RefCounting: 9}},
		{"switch interval in ft biased", Config{Mode: FreeThreaded, SwitchInterval: time.Millisecond}},
		{"switch interval in ft atomic", Config{Mode: FreeThreaded, RefCounting: Atomic, SwitchInterval: time.Millisecond}},
		{"negative switch interval", Config{Mode: GIL, SwitchInterval: -time.Millisecond}},
		{"negative threshold 0 gil", Config{Mode: GIL, GCThresholds: [3]int{-1, 10, 10}}},
		{"negative threshold 1 gil", Config{Mode: GIL, GCThresholds: [3]int{700, -1, 10}}},
		{"negative threshold 2 gil", Config{Mode: GIL, GCThresholds: [3]int{700, 10, -1}}},
		{"negative threshold 0 ft", Config{Mode: FreeThreaded, GCThresholds: [3]int{-5, 0, 0}}},
		{"negative threshold 2 ft atomic", Config{Mode: FreeThreaded, RefCounting: Atomic, GCThresholds: [3]int{0, 0, -1}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rt, err := New(c.cfg)
			require.Error(t, err)
			require.ErrorIs(t, err, ErrValue)
			require.Nil(t, rt)
			require.True(t, strings.HasPrefix(err.Error(), "ValueError: "), "message %q", err.Error())
		})
	}
}

func TestAPIConfigValid(t *testing.T) {
	for _, mc := range allModes {
		t.Run(mc.name, func(t *testing.T) {
			rt, err := New(mc.cfg)
			require.NoError(t, err)
			require.Equal(t, mc.cfg.Mode, rt.Mode())
			require.Equal(t, DefaultGCThresholds, rt.Config().GCThresholds, "0s mean CPython's defaults")
			require.True(t, rt.GC().IsEnabled())
			require.NoError(t, rt.Close())
		})
	}
	t0 := [3]int{100, 5, 3}
	rt, err := New(Config{Mode: GIL, SwitchInterval: time.Millisecond, GCThresholds: t0, GCDisabled: true, Debug: true})
	require.NoError(t, err)
	require.Equal(t, GIL, rt.Mode())
	require.Equal(t, t0, rt.Config().GCThresholds)
	require.False(t, rt.GC().IsEnabled(), "GCDisabled starts with automatic collection off")
	require.NoError(t, rt.Close())
}

func TestAPIParseMode(t *testing.T) {
	ok := map[string]Mode{
		"gil": GIL, "GIL": GIL, " gil ": GIL, "Gil": GIL,
		"free-threaded": FreeThreaded, "Free-Threaded": FreeThreaded,
		"ft": FreeThreaded, "FT": FreeThreaded,
		"nogil": FreeThreaded, "NoGIL": FreeThreaded,
	}
	for s, want := range ok {
		got, err := ParseMode(s)
		require.NoError(t, err, "ParseMode(%q)", s)
		require.Equal(t, want, got, "ParseMode(%q)", s)
	}
	for _, s := range []string{"", " ", "gill", "free threaded", "threaded", "no-gil-please", "1", "atomic"} {
		m, err := ParseMode(s)
		require.Error(t, err, "ParseMode(%q)", s)
		require.ErrorIs(t, err, ErrValue, "ParseMode(%q)", s)
		require.Equal(t, Mode(0), m)
		require.Contains(t, err.Error(), "unknown mode")
	}
	for _, m := range []Mode{GIL, FreeThreaded} {
		back, err := ParseMode(m.String())
		require.NoError(t, err)
		require.Equal(t, m, back, "ParseMode(m.String()) round-trips")
	}
}

func TestAPIModeAndRefCountingString(t *testing.T) {
	require.Equal(t, "gil", GIL.String())
	require.Equal(t, "free-threaded", FreeThreaded.String())
	require.Equal(t, "Mode(0)", Mode(0).String())
	require.Equal(t, "Mode(9)", Mode(9).String())
	require.Equal(t, "biased", Biased.String())
	require.Equal(t, "atomic", Atomic.String())
	require.Equal(t, "RefCounting(7)", RefCounting(7).String())
	require.Equal(t, Biased, RefCounting(0), "Biased is the zero value (the default)")
}

// ---------------------------------------------------------------- scalars

func TestAPISmallIntsImmortalAndShared(t *testing.T) {
	eachModeThread(t, func(t *testing.T, th *Thread) {
		base := apiStats(th)
		for v := int64(-5); v <= 256; v++ {
			a := th.NewInt(v)
			b := th.NewInt(v)
			require.Same(t, a, b, "small int %d is shared", v)
			require.Equal(t, "int", a.Type().Name())
			n := th.RefCount(a)
			require.GreaterOrEqual(t, n, immortalFloor, "small int %d is immortal", v)
			th.IncRef(a)
			th.IncRef(a)
			require.Equal(t, n, th.RefCount(a), "IncRef on an immortal changes nothing")
			for i := 0; i < 5; i++ {
				th.DecRef(a)
			}
			require.Same(t, a, th.NewRef(a))
			require.Equal(t, n, th.RefCount(a), "DecRef on an immortal changes nothing")
			got, err := th.Int(a)
			require.NoError(t, err)
			require.Equal(t, v, got)
		}
		st := apiStats(th)
		require.Equal(t, base.Allocated, st.Allocated, "small ints are never allocated")
		require.Equal(t, 0, st.Live)
	})
}

func TestAPIMortalInts(t *testing.T) {
	eachModeThread(t, func(t *testing.T, th *Thread) {
		for _, v := range []int64{-6, 257, 1000, -1000, math.MaxInt64, math.MinInt64} {
			a := th.NewInt(v)
			b := th.NewInt(v)
			require.NotSame(t, a, b, "int %d is not shared", v)
			require.Equal(t, 1, th.RefCount(a))
			require.Equal(t, 1, th.RefCount(b))
			require.Equal(t, "int", a.Type().Name())
			th.IncRef(a)
			require.Equal(t, 2, th.RefCount(a))
			require.Same(t, a, th.NewRef(a))
			require.Equal(t, 3, th.RefCount(a))
			th.DecRef(a)
			th.DecRef(a)
			require.Equal(t, 1, th.RefCount(a))
			got, err := th.Int(a)
			require.NoError(t, err)
			require.Equal(t, v, got)
			th.DecRef(a)
			th.DecRef(b)
		}
		apiRequireLive(t, th, map[string]int{})
	})
}

func TestAPIFloatStrIntern(t *testing.T) {
	eachModeThread(t, func(t *testing.T, th *Thread) {
		f := th.NewFloat(2.5)
		require.Equal(t, "float", f.Type().Name())
		require.Equal(t, 1, th.RefCount(f))
		v, err := th.Float(f)
		require.NoError(t, err)
		require.Equal(t, 2.5, v)

		s := th.NewStr("hello")
		s2 := th.NewStr("hello")
		require.NotSame(t, s, s2, "NewStr makes a new object every time")
		require.Equal(t, "str", s.Type().Name())
		require.Equal(t, 1, th.RefCount(s))
		got, err := th.Str(s)
		require.NoError(t, err)
		require.Equal(t, "hello", got)

		i1 := th.Intern("hello")
		i2 := th.Intern("hello")
		require.Same(t, i1, i2, "one interned object per distinct string")
		require.NotSame(t, i1, s)
		require.NotSame(t, i1, th.Intern("hello!"))
		require.Same(t, th.Intern(""), th.Intern(""))
		require.Equal(t, "str", i1.Type().Name())
		n := th.RefCount(i1)
		require.GreaterOrEqual(t, n, immortalFloor, "interned strings are immortal")
		th.DecRef(i1)
		th.DecRef(i1)
		th.IncRef(i1)
		require.Equal(t, n, th.RefCount(i1))
		got, err = th.Str(i1)
		require.NoError(t, err)
		require.Equal(t, "hello", got)

		apiRequireLive(t, th, map[string]int{"float": 1, "str": 2})
		th.DecRef(f)
		th.DecRef(s)
		th.DecRef(s2)
		apiRequireLive(t, th, map[string]int{})
	})
}

func TestAPISingletons(t *testing.T) {
	eachModeThread(t, func(t *testing.T, th *Thread) {
		rt := th.Runtime()
		require.Equal(t, "NoneType", rt.None().Type().Name())
		require.Equal(t, "bool", rt.True().Type().Name())
		require.Equal(t, "bool", rt.False().Type().Name())
		require.NotSame(t, rt.True(), rt.False())
		require.Same(t, rt.None(), rt.None())
		for _, o := range []*Object{rt.None(), rt.True(), rt.False()} {
			n := th.RefCount(o)
			require.GreaterOrEqual(t, n, immortalFloor)
			th.IncRef(o)
			th.DecRef(o)
			th.DecRef(o)
			th.DecRef(o)
			require.Equal(t, n, th.RefCount(o))
		}
		// Containers holding immortals do not change their counts either.
		l := th.NewList(rt.None(), rt.True(), rt.False(), th.NewInt(7))
		require.GreaterOrEqual(t, th.RefCount(rt.None()), immortalFloor)
		th.DecRef(l)
		apiRequireLive(t, th, map[string]int{})
	})
}

func TestAPITypeNames(t *testing.T) {
	eachModeThread(t, func(t *testing.T, th *Thread) {
		rt := th.Runtime()
		foo, err := rt.NewType(TypeSpec{Name: "Foo"})
		require.NoError(t, err)
		require.Equal(t, "Foo", foo.Name())
		require.Equal(t, "Foo", foo.String())
		inst := th.NewInstance(foo)
		require.Same(t, foo, inst.Type())
		wr, err := th.NewWeakRef(inst, nil)
		require.NoError(t, err)
		objs := map[string]*Object{
			"int":      th.NewInt(1000),
			"float":    th.NewFloat(1),
			"str":      th.NewStr("x"),
			"tuple":    th.NewTuple(),
			"list":     th.NewList(),
			"dict":     th.NewDict(),
			"weakref":  wr,
			"Foo":      inst,
			"NoneType": rt.None(),
			"bool":     rt.True(),
		}
		for name, o := range objs {
			require.Equal(t, name, o.Type().Name())
			require.Equal(t, name, o.Type().String())
		}
		require.Equal(t, "int", th.NewInt(3).Type().Name())
		require.Equal(t, "str", th.Intern("i").Type().Name())
		require.Equal(t, "bool", rt.False().Type().Name())
		// Objects of one type share one *Type.
		a, b := th.NewList(), th.NewList()
		require.Same(t, a.Type(), b.Type())
		th.DecRef(a)
		th.DecRef(b)
		for _, o := range objs {
			th.DecRef(o)
		}
		apiRequireLive(t, th, map[string]int{})
	})
}

// ---------------------------------------------------------------- conversions

func TestAPIIntConversion(t *testing.T) {
	eachModeThread(t, func(t *testing.T, th *Thread) {
		rt := th.Runtime()
		ok := []struct {
			o    *Object
			want int64
		}{
			{th.NewInt(42), 42},
			{th.NewInt(-123456789), -123456789},
			{rt.True(), 1},
			{rt.False(), 0},
			{th.NewFloat(3.9), 3},
			{th.NewFloat(-3.9), -3},
			{th.NewFloat(math.Copysign(0, -1)), 0},
			{th.NewFloat(1e18), 1000000000000000000},
			{th.NewStr("42"), 42},
			{th.NewStr("  -17\n"), -17},
			{th.NewStr("+5"), 5},
			{th.NewStr("010"), 10},
			{th.NewStr("1_000_000"), 1000000},
			{th.NewStr("-9223372036854775808"), math.MinInt64},
		}
		for _, c := range ok {
			got, err := th.Int(c.o)
			require.NoError(t, err, "int(%s)", th.Repr(c.o))
			require.Equal(t, c.want, got, "int(%s)", th.Repr(c.o))
			th.DecRef(c.o)
		}
		bad := []struct {
			o    *Object
			kind error
			msg  string
		}{
			{th.NewStr("abc"), ErrValue, "ValueError: invalid literal for int() with base 10: 'abc'"},
			{th.NewStr("1.5"), ErrValue, "ValueError: invalid literal for int() with base 10: '1.5'"},
			{th.NewStr(""), ErrValue, "ValueError: invalid literal for int() with base 10: ''"},
			{th.NewStr("  "), ErrValue, "ValueError: invalid literal for int() with base 10: '  '"},
			{th.NewStr("0x10"), ErrValue, "ValueError: invalid literal for int() with base 10: '0x10'"},
			{th.NewStr("1 2"), ErrValue, "ValueError: invalid literal for int() with base 10: '1 2'"},
			{th.NewStr("it's"), ErrValue, `ValueError: invalid literal for int() with base 10: "it's"`},
			{th.NewFloat(math.NaN()), ErrValue, "ValueError: cannot convert float NaN to integer"},
			{th.NewFloat(math.Inf(1)), ErrValue, "ValueError: cannot convert float infinity to integer"},
			{th.NewFloat(math.Inf(-1)), ErrValue, "ValueError: cannot convert float infinity to integer"},
			{rt.None(), ErrType, "TypeError: int() argument must be a string, a bytes-like object or a real number, not 'NoneType'"},
			{th.NewList(), ErrType, "TypeError: int() argument must be a string, a bytes-like object or a real number, not 'list'"},
			{th.NewTuple(), ErrType, "TypeError: int() argument must be a string, a bytes-like object or a real number, not 'tuple'"},
			{th.NewDict(), ErrType, "TypeError: int() argument must be a string, a bytes-like object or a real number, not 'dict'"},
		}
		for _, c := range bad {
			_, err := th.Int(c.o)
			require.Error(t, err)
			require.ErrorIs(t, err, c.kind)
			require.Equal(t, c.msg, err.Error())
			th.DecRef(c.o)
		}
		// Python accepts underscores only between digits.
		for _, s := range []string{"1__000", "_1", "1_", "+_1", "1_ 000"} {
			o := th.NewStr(s)
			_, err := th.Int(o)
			require.ErrorIs(t, err, ErrValue, "int(%q)", s)
			require.Equal(t, "ValueError: invalid literal for int() with base 10: "+th.Repr(o), err.Error())
			th.DecRef(o)
		}
		apiRequireLive(t, th, map[string]int{})
	})
}

func TestAPIFloatConversion(t *testing.T) {
	eachModeThread(t, func(t *testing.T, th *Thread) {
		rt := th.Runtime()
		ok := []struct {
			o    *Object
			want float64
		}{
			{th.NewInt(1000), 1000},
			{th.NewInt(-7), -7},
			{rt.True(), 1},
			{rt.False(), 0},
			{th.NewFloat(0.1), 0.1},
			{th.NewStr("1.5"), 1.5},
			{th.NewStr("  -2.25 \t"), -2.25},
			{th.NewStr("1e5"), 1e5},
			{th.NewStr("1E-3"), 1e-3},
			{th.NewStr(".5"), 0.5},
			{th.NewStr("5."), 5},
			{th.NewStr("+7"), 7},
			{th.NewStr("1_000.5"), 1000.5},
			{th.NewStr("inf"), math.Inf(1)},
			{th.NewStr("-Infinity"), math.Inf(-1)},
			{th.NewStr("+iNF"), math.Inf(1)},
			{th.NewStr("1e400"), math.Inf(1)},
			{th.NewStr("-1e400"), math.Inf(-1)},
			{th.NewStr("1e-400"), 0},
		}
		for _, c := range ok {
			got, err := th.Float(c.o)
			require.NoError(t, err, "float(%s)", th.Repr(c.o))
			require.Equal(t, c.want, got, "float(%s)", th.Repr(c.o))
			th.DecRef(c.o)
		}
		for _, s := range []string{"nan", "NaN", "-nan", " +nan "} {
			o := th.NewStr(s)
			got, err := th.Float(o)
			require.NoError(t, err)
			require.True(t, math.IsNaN(got), "float(%q)", s)
			th.DecRef(o)
		}
		negZero := th.NewStr("-0.0")
		got, err := th.Float(negZero)
		require.NoError(t, err)
		require.True(t, got == 0 && math.Signbit(got), "float('-0.0') is negative zero")
		th.DecRef(negZero)

		bad := []struct {
			o    *Object
			kind error
			msg  string
		}{
			{th.NewStr("abc"), ErrValue, "ValueError: could not convert string to float: 'abc'"},
			{th.NewStr(""), ErrValue, "ValueError: could not convert string to float: ''"},
			{th.NewStr("1.2.3"), ErrValue, "ValueError: could not convert string to float: '1.2.3'"},
			{th.NewStr("0x1p-2"), ErrValue, "ValueError: could not convert string to float: '0x1p-2'"},
			{th.NewStr("1__0"), ErrValue, "ValueError: could not convert string to float: '1__0'"},
			{th.NewStr("_1.5"), ErrValue, "ValueError: could not convert string to float: '_1.5'"},
			{th.NewStr("in_f"), ErrValue, "ValueError: could not convert string to float: 'in_f'"},
			{rt.None(), ErrType, "TypeError: float() argument must be a string or a real number, not 'NoneType'"},
			{th.NewList(), ErrType, "TypeError: float() argument must be a string or a real number, not 'list'"},
			{th.NewDict(), ErrType, "TypeError: float() argument must be a string or a real number, not 'dict'"},
		}
		for _, c := range bad {
			_, err := th.Float(c.o)
			require.Error(t, err)
			require.ErrorIs(t, err, c.kind)
			require.Equal(t, c.msg, err.Error())
			th.DecRef(c.o)
		}
		apiRequireLive(t, th, map[string]int{})
	})
}

func TestAPIStrConversion(t *testing.T) {
	eachModeThread(t, func(t *testing.T, th *Thread) {
		rt := th.Runtime()
		foo, err := rt.NewType(TypeSpec{Name: "Foo"})
		require.NoError(t, err)
		inst := th.NewInstance(foo)
		q := th.NewStr("q")
		cases := []struct {
			o    *Object
			want string
		}{
			{th.NewStr("it's \"x\"\n"), "it's \"x\"\n"},
			{th.NewStr(""), ""},
			{th.Intern("interned"), "interned"},
			{th.NewInt(1000), "1000"},
			{th.NewInt(-5), "-5"},
			{th.NewFloat(1), "1.0"},
			{th.NewFloat(0.1), "0.1"},
			{th.NewFloat(1e16), "1e+16"},
			{rt.None(), "None"},
			{rt.True(), "True"},
			{rt.False(), "False"},
			{th.NewList(q), "['q']"},
			{th.NewTuple(q), "('q',)"},
			{th.NewDict(), "{}"},
		}
		for _, c := range cases {
			got, err := th.Str(c.o)
			require.NoError(t, err)
			require.Equal(t, c.want, got)
			th.DecRef(c.o)
		}
		s, err := th.Str(inst)
		require.NoError(t, err)
		require.Regexp(t, `^<Foo object at 0x[0-9a-f]+>$`, s)
		require.Equal(t, th.Repr(inst), s)
		th.DecRef(inst)
		th.DecRef(q)
		apiRequireLive(t, th, map[string]int{})
	})
}

// ---------------------------------------------------------------- reference counts

func TestAPIRefCountsContainers(t *testing.T) {
	eachModeThread(t, func(t *testing.T, th *Thread) {
		a, b, c := th.NewInt(1001), th.NewInt(1002), th.NewInt(1003)
		l := th.NewList(a, b, a)
		require.Equal(t, 3, th.RefCount(a), "NewList increfs each item, twice if it appears twice")
		require.Equal(t, 2, th.RefCount(b))
		require.Equal(t, 1, th.RefCount(l))

		require.NoError(t, th.ListAppend(l, c))
		require.Equal(t, 2, th.RefCount(c), "ListAppend takes its own reference")

		x, err := th.ListGet(l, 1)
		require.NoError(t, err)
		require.Same(t, b, x)
		require.Equal(t, 3, th.RefCount(b), "ListGet returns a new reference")
		th.DecRef(x)
		require.Equal(t, 2, th.RefCount(b))

		require.NoError(t, th.ListSet(l, 1, c))
		require.Equal(t, 1, th.RefCount(b), "ListSet drops the old item")
		require.Equal(t, 3, th.RefCount(c), "ListSet takes a reference to the new item")
		require.NoError(t, th.ListSet(l, 1, c))
		require.Equal(t, 3, th.RefCount(c), "ListSet of the same item leaves its count alone")

		p, err := th.ListPop(l, 0)
		require.NoError(t, err)
		require.Same(t, a, p)
		require.Equal(t, 3, th.RefCount(a), "ListPop hands the list's reference over")
		th.DecRef(p)
		require.Equal(t, 2, th.RefCount(a))

		tu := th.NewTuple(a, b)
		require.Equal(t, 3, th.RefCount(a))
		require.Equal(t, 2, th.RefCount(b))
		y, err := th.TupleGet(tu, -1)
		require.NoError(t, err)
		require.Same(t, b, y)
		require.Equal(t, 3, th.RefCount(b))
		th.DecRef(y)

		d := th.NewDict()
		require.NoError(t, th.DictSet(d, a, b))
		require.Equal(t, 4, th.RefCount(a), "DictSet takes a reference to a new key")
		require.Equal(t, 3, th.RefCount(b), "and to the value")
		require.NoError(t, th.DictSet(d, a, c))
		require.Equal(t, 4, th.RefCount(a), "overwriting keeps the stored key, takes no second reference")
		require.Equal(t, 2, th.RefCount(b), "overwriting drops the old value")
		require.Equal(t, 4, th.RefCount(c))
		// An equal but distinct key overwrites and keeps the original key.
		a2 := th.NewInt(1001)
		require.NoError(t, th.DictSet(d, a2, b))
		require.Equal(t, 1, th.RefCount(a2), "the equal key is not stored")
		require.Equal(t, 4, th.RefCount(a))
		require.Equal(t, 3, th.RefCount(b))
		require.Equal(t, 3, th.RefCount(c))
		v, err := th.DictGet(d, a2)
		require.NoError(t, err)
		require.Same(t, b, v)
		require.Equal(t, 4, th.RefCount(b), "DictGet returns a new reference")
		th.DecRef(v)
		require.NoError(t, th.DictDel(d, a2))
		require.Equal(t, 3, th.RefCount(a), "DictDel drops the stored key")
		require.Equal(t, 2, th.RefCount(b), "and the value")
		require.Equal(t, 1, th.RefCount(a2))
		th.DecRef(a2)

		keys, err := th.DictKeys(d)
		require.NoError(t, err)
		require.Equal(t, 1, th.RefCount(keys))
		th.DecRef(keys)

		// Attributes.
		foo, err := th.Runtime().NewType(TypeSpec{Name: "Foo"})
		require.NoError(t, err)
		o := th.NewInstance(foo)
		require.NoError(t, th.SetAttr(o, "x", a))
		require.Equal(t, 4, th.RefCount(a), "SetAttr takes a reference")
		require.NoError(t, th.SetAttr(o, "x", b))
		require.Equal(t, 3, th.RefCount(a), "overwriting an attribute drops the old value")
		require.Equal(t, 3, th.RefCount(b))
		g, err := th.GetAttr(o, "x")
		require.NoError(t, err)
		require.Same(t, b, g)
		require.Equal(t, 4, th.RefCount(b), "GetAttr returns a new reference")
		th.DecRef(g)
		require.NoError(t, th.DelAttr(o, "x"))
		require.Equal(t, 2, th.RefCount(b), "DelAttr drops the value")

		// Errors take no references.
		_, err = th.ListGet(l, 99)
		require.Error(t, err)
		require.Error(t, th.ListSet(l, 99, a))
		require.Equal(t, 3, th.RefCount(a), "a failed ListSet keeps no reference")
		lst := th.NewList()
		require.Error(t, th.DictSet(d, lst, a))
		require.Equal(t, 3, th.RefCount(a), "a failed DictSet keeps no reference")
		require.Equal(t, 1, th.RefCount(lst))
		require.Error(t, th.SetAttr(lst, "x", a))
		require.Equal(t, 3, th.RefCount(a), "a failed SetAttr keeps no reference")
		th.DecRef(lst)

		// Freeing a container releases what it holds.
		th.DecRef(o)
		th.DecRef(tu)
		require.Equal(t, 2, th.RefCount(a))
		require.Equal(t, 1, th.RefCount(b))
		th.DecRef(d)
		require.Equal(t, 2, th.RefCount(a), "l = [c, a, c] still holds a")
		require.Equal(t, 3, th.RefCount(c), "and c twice")
		require.Equal(t, 1, th.RefCount(b))
		th.DecRef(l)
		for _, o := range []*Object{a, b, c} {
			require.Equal(t, 1, th.RefCount(o))
			th.DecRef(o)
		}
		apiRequireLive(t, th, map[string]int{})
	})
}

func TestAPIRefCountSelfReference(t *testing.T) {
	eachModeThread(t, func(t *testing.T, th *Thread) {
		l := th.NewList()
		require.NoError(t, th.ListAppend(l, l))
		require.Equal(t, 2, th.RefCount(l))
		// Break the cycle by hand so reference counting frees it.
		p, err := th.ListPop(l, -1)
		require.NoError(t, err)
		require.Same(t, l, p)
		require.Equal(t, 2, th.RefCount(l))
		th.DecRef(p)
		th.DecRef(l)
		apiRequireLive(t, th, map[string]int{})
	})
}

// ---------------------------------------------------------------- user types

func TestAPINewTypeValidation(t *testing.T) {
	eachMode(t, func(t *testing.T, rt *Runtime) {
		for _, name := range []string{"", " ", "\t"} {
			_, err := rt.NewType(TypeSpec{Name: name})
			require.ErrorIs(t, err, ErrValue, "name %q", name)
		}
		for _, name := range []string{"int", "str", "tuple", "list", "dict", "NoneType", "bool", "float", "weakref"} {
			typ, err := rt.NewType(TypeSpec{Name: name})
			require.ErrorIs(t, err, ErrValue, "builtin name %q", name)
			require.Nil(t, typ)
			require.Contains(t, err.Error(), name)
		}
		for _, name := range []string{" Foo", "Foo ", "Foo Bar", "a.b", "x\ny"} {
			_, err := rt.NewType(TypeSpec{Name: name})
			require.ErrorIs(t, err, ErrValue, "name %q", name)
		}
		for _, name := range []string{"Foo", "foo_bar", "Node2", "Ünïcode"} {
			typ, err := rt.NewType(TypeSpec{Name: name})
			require.NoError(t, err)
			require.Equal(t, name, typ.Name())
		}
	})
}

func TestAPIAttributes(t *testing.T) {
	eachModeThread(t, func(t *testing.T, th *Thread) {
		rt := th.Runtime()
		foo, err := rt.NewType(TypeSpec{Name: "Foo"})
		require.NoError(t, err)
		o := th.NewInstance(foo)
		require.Equal(t, 1, th.RefCount(o))

		_, err = th.GetAttr(o, "x")
		require.ErrorIs(t, err, ErrAttribute)
		require.Equal(t, "AttributeError: 'Foo' object has no attribute 'x'", err.Error())
		err = th.DelAttr(o, "x")
		require.ErrorIs(t, err, ErrAttribute)
		require.Equal(t, "AttributeError: 'Foo' object has no attribute 'x'", err.Error())

		one, two := th.NewInt(1), th.NewInt(2)
		require.NoError(t, th.SetAttr(o, "x", one))
		require.NoError(t, th.SetAttr(o, "y", two))
		require.NoError(t, th.SetAttr(o, "self", o))
		require.Equal(t, 2, th.RefCount(o))
		for name, want := range map[string]*Object{"x": one, "y": two, "self": o} {
			v, err := th.GetAttr(o, name)
			require.NoError(t, err)
			require.Same(t, want, v)
			th.DecRef(v)
		}
		require.NoError(t, th.SetAttr(o, "x", two))
		v, err := th.GetAttr(o, "x")
		require.NoError(t, err)
		require.Same(t, two, v)
		th.DecRef(v)
		require.NoError(t, th.DelAttr(o, "x"))
		_, err = th.GetAttr(o, "x")
		require.ErrorIs(t, err, ErrAttribute)
		require.NoError(t, th.DelAttr(o, "self"))
		require.Equal(t, 1, th.RefCount(o))
		require.Error(t, th.DelAttr(o, "self"))
		// y survived the deletions of its neighbours.
		v, err = th.GetAttr(o, "y")
		require.NoError(t, err)
		require.Same(t, two, v)
		th.DecRef(v)

		// Attributes of other objects.
		others := []*Object{th.NewInt(1000), th.NewStr("s"), th.NewList(), th.NewDict(), th.NewTuple(), rt.None(), rt.True(), th.NewFloat(1)}
		for _, x := range others {
			name := x.Type().Name()
			_, err := th.GetAttr(x, "x")
			require.ErrorIs(t, err, ErrAttribute)
			require.Equal(t, "AttributeError: '"+name+"' object has no attribute 'x'", err.Error())
			err = th.SetAttr(x, "x", one)
			require.ErrorIs(t, err, ErrAttribute)
			require.True(t, strings.HasPrefix(err.Error(), "AttributeError: '"+name+"' object has no attribute 'x'"), err.Error())
			err = th.DelAttr(x, "x")
			require.ErrorIs(t, err, ErrAttribute)
			require.Equal(t, "AttributeError: '"+name+"' object has no attribute 'x'", err.Error())
			th.DecRef(x)
		}
		th.DecRef(o)
		apiRequireLive(t, th, map[string]int{})
	})
}

func TestAPIFinalizeOnce(t *testing.T) {
	eachModeThread(t, func(t *testing.T, th *Thread) {
		calls := 0
		var seen *Object
		var countInside int
		foo, err := th.Runtime().NewType(TypeSpec{Name: "Fin", Finalize: func(th2 *Thread, self *Object) {
			calls++
			seen = self
			require.Same(t, th, th2, "the finalizer runs on the thread that dropped the last reference")
			countInside = th2.RefCount(self)
			// The object is intact while it finalizes.
			v, err := th2.GetAttr(self, "v")
			require.NoError(t, err)
			th2.DecRef(v)
		}})
		require.NoError(t, err)
		o := th.NewInstance(foo)
		val := th.NewInt(5000)
		require.NoError(t, th.SetAttr(o, "v", val))
		apiRequireLive(t, th, map[string]int{"Fin": 1, "int": 1})
		th.IncRef(o)
		th.DecRef(o)
		require.Equal(t, 0, calls, "not finalized while referenced")
		th.DecRef(o)
		require.Equal(t, 1, calls)
		require.Same(t, o, seen)
		require.Equal(t, 1, countInside, "resurrected with one reference while it finalizes")
		require.Equal(t, 1, th.RefCount(val), "the instance released its attribute")
		th.DecRef(val)
		apiRequireLive(t, th, map[string]int{})
	})
}

func TestAPIFinalizeResurrect(t *testing.T) {
	eachModeThread(t, func(t *testing.T, th *Thread) {
		keep := th.NewList()
		calls := 0
		foo, err := th.Runtime().NewType(TypeSpec{Name: "Phoenix", Finalize: func(th *Thread, self *Object) {
			calls++
			require.NoError(t, th.ListAppend(keep, self))
		}})
		require.NoError(t, err)
		o := th.NewInstance(foo)
		val := th.NewInt(5000)
		require.NoError(t, th.SetAttr(o, "v", val))
		th.DecRef(val)
		th.DecRef(o)
		require.Equal(t, 1, calls)
		apiRequireLive(t, th, map[string]int{"Phoenix": 1, "int": 1, "list": 1})
		require.Equal(t, 1, th.RefCount(o), "the list holds the only reference")
		// Still a working object.
		v, err := th.GetAttr(o, "v")
		require.NoError(t, err)
		got, err := th.Int(v)
		require.NoError(t, err)
		require.Equal(t, int64(5000), got)
		th.DecRef(v)

		p, err := th.ListPop(keep, 0)
		require.NoError(t, err)
		require.Same(t, o, p)
		th.DecRef(p)
		require.Equal(t, 1, calls, "Finalize runs at most once per object")
		apiRequireLive(t, th, map[string]int{"list": 1})
		th.DecRef(keep)
		apiRequireLive(t, th, map[string]int{})
	})
}

func TestAPILegacyDel(t *testing.T) {
	eachModeThread(t, func(t *testing.T, th *Thread) {
		keep := th.NewList()
		calls := 0
		resurrect := true
		foo, err := th.Runtime().NewType(TypeSpec{Name: "Legacy", LegacyDel: func(th *Thread, self *Object) {
			calls++
			if resurrect {
				require.NoError(t, th.ListAppend(keep, self))
			}
		}})
		require.NoError(t, err)
		o := th.NewInstance(foo)
		th.DecRef(o)
		require.Equal(t, 1, calls, "LegacyDel runs on reference-count death")
		apiRequireLive(t, th, map[string]int{"Legacy": 1, "list": 1})
		resurrect = false
		p, err := th.ListPop(keep, 0)
		require.NoError(t, err)
		th.DecRef(p)
		require.Equal(t, 2, calls, "LegacyDel runs every time the object dies")
		apiRequireLive(t, th, map[string]int{"list": 1})

		// Plain: runs once and frees.
		o2 := th.NewInstance(foo)
		th.DecRef(o2)
		require.Equal(t, 3, calls)
		th.DecRef(keep)
		apiRequireLive(t, th, map[string]int{})
	})
}

func TestAPIFinalizeAndLegacyDel(t *testing.T) {
	eachModeThread(t, func(t *testing.T, th *Thread) {
		var order []string
		typ, err := th.Runtime().NewType(TypeSpec{
			Name:      "Both",
			Finalize:  func(*Thread, *Object) { order = append(order, "finalize") },
			LegacyDel: func(*Thread, *Object) { order = append(order, "del") },
		})
		require.NoError(t, err)
		th.DecRef(th.NewInstance(typ))
		require.Equal(t, []string{"finalize", "del"}, order)
		apiRequireLive(t, th, map[string]int{})
	})
}

func TestAPILiveByUserType(t *testing.T) {
	eachModeThread(t, func(t *testing.T, th *Thread) {
		rt := th.Runtime()
		a, err := rt.NewType(TypeSpec{Name: "A"})
		require.NoError(t, err)
		b, err := rt.NewType(TypeSpec{Name: "B"})
		require.NoError(t, err)
		var objs []*Object
		for i := 0; i < 3; i++ {
			objs = append(objs, th.NewInstance(a))
		}
		objs = append(objs, th.NewInstance(b))
		apiRequireLive(t, th, map[string]int{"A": 3, "B": 1})
		th.DecRef(objs[0])
		apiRequireLive(t, th, map[string]int{"A": 2, "B": 1})
		for _, o := range objs[1:] {
			th.DecRef(o)
		}
		apiRequireLive(t, th, map[string]int{})
	})
}

// ---------------------------------------------------------------- weak references

func TestAPIWeakRefTypes(t *testing.T) {
	eachModeThread(t, func(t *testing.T, th *Thread) {
		rt := th.Runtime()
		for _, o := range []*Object{th.NewInt(1000), th.NewInt(1), th.NewStr("s"), th.NewFloat(1), th.NewList(), th.NewDict(), th.NewTuple(), rt.None(), rt.True()} {
			wr, err := th.NewWeakRef(o, nil)
			require.Nil(t, wr)
			require.ErrorIs(t, err, ErrType)
			require.Equal(t, "TypeError: cannot create weak reference to '"+o.Type().Name()+"' object", err.Error())
			th.DecRef(o)
		}
		foo, err := rt.NewType(TypeSpec{Name: "Foo"})
		require.NoError(t, err)
		o := th.NewInstance(foo)
		wr, err := th.NewWeakRef(o, nil)
		require.NoError(t, err)
		// A weak reference to a weak reference: not an instance.
		_, err = th.NewWeakRef(wr, nil)
		require.ErrorIs(t, err, ErrType)
		// WeakRefGet of something that is not a weakref.
		_, err = th.WeakRefGet(o)
		require.ErrorIs(t, err, ErrType)
		l := th.NewList()
		_, err = th.WeakRefGet(l)
		require.ErrorIs(t, err, ErrType)
		th.DecRef(l)
		th.DecRef(wr)
		th.DecRef(o)
		apiRequireLive(t, th, map[string]int{})
	})
}

func TestAPIWeakRefLifecycle(t *testing.T) {
	eachModeThread(t, func(t *testing.T, th *Thread) {
		foo, err := th.Runtime().NewType(TypeSpec{Name: "Foo"})
		require.NoError(t, err)
		o := th.NewInstance(foo)
		var calls []*Object
		var getInCallback []*Object
		wr, err := th.NewWeakRef(o, func(th *Thread, ref *Object) {
			calls = append(calls, ref)
			got, err := th.WeakRefGet(ref)
			require.NoError(t, err)
			getInCallback = append(getInCallback, got)
			require.GreaterOrEqual(t, th.RefCount(ref), 1)
		})
		require.NoError(t, err)
		require.Equal(t, "weakref", wr.Type().Name())
		require.Equal(t, 1, th.RefCount(o), "a weak reference takes no strong reference")
		require.Equal(t, 1, th.RefCount(wr))

		got, err := th.WeakRefGet(wr)
		require.NoError(t, err)
		require.Same(t, o, got)
		require.Equal(t, 2, th.RefCount(o), "WeakRefGet returns a new reference")
		th.DecRef(got)
		require.Equal(t, 1, th.RefCount(o))
		require.Empty(t, calls)

		th.DecRef(o)
		require.Equal(t, []*Object{wr}, calls, "the callback runs once, with the weak reference")
		require.Equal(t, []*Object{nil}, getInCallback, "the reference is already cleared in the callback")
		got, err = th.WeakRefGet(wr)
		require.NoError(t, err)
		require.Nil(t, got, "(nil, nil) after death")
		require.Equal(t, 1, th.RefCount(wr))
		apiRequireLive(t, th, map[string]int{"weakref": 1})
		th.DecRef(wr)
		require.Len(t, calls, 1)
		apiRequireLive(t, th, map[string]int{})
	})
}

func TestAPIWeakRefDiesFirst(t *testing.T) {
	eachModeThread(t, func(t *testing.T, th *Thread) {
		foo, err := th.Runtime().NewType(TypeSpec{Name: "Foo"})
		require.NoError(t, err)
		o := th.NewInstance(foo)
		calls := 0
		wr, err := th.NewWeakRef(o, func(*Thread, *Object) { calls++ })
		require.NoError(t, err)
		wr2, err := th.NewWeakRef(o, func(*Thread, *Object) { calls += 100 })
		require.NoError(t, err)
		th.DecRef(wr)
		apiRequireLive(t, th, map[string]int{"Foo": 1, "weakref": 1})
		th.DecRef(o)
		require.Equal(t, 100, calls, "no callback for a weak reference that died first")
		th.DecRef(wr2)
		require.Equal(t, 100, calls)
		apiRequireLive(t, th, map[string]int{})
	})
}

func TestAPIWeakRefSeveral(t *testing.T) {
	eachModeThread(t, func(t *testing.T, th *Thread) {
		foo, err := th.Runtime().NewType(TypeSpec{Name: "Foo"})
		require.NoError(t, err)
		o := th.NewInstance(foo)
		var order []int
		var refs []*Object
		for i := 0; i < 5; i++ {
			var cb func(*Thread, *Object)
			if i != 2 {
				cb = func(th *Thread, ref *Object) {
					require.Same(t, refs[i], ref)
					order = append(order, i)
				}
			}
			wr, err := th.NewWeakRef(o, cb)
			require.NoError(t, err)
			refs = append(refs, wr)
		}
		// Drop one from the middle of the referent's list.
		th.DecRef(refs[3])
		for i, wr := range refs {
			if i == 3 {
				continue
			}
			got, err := th.WeakRefGet(wr)
			require.NoError(t, err)
			require.Same(t, o, got)
			th.DecRef(got)
		}
		require.Equal(t, 1, th.RefCount(o))
		th.DecRef(o)
		// Python: callbacks run from the most recently registered weak
		// reference to the oldest.
		require.Equal(t, []int{4, 1, 0}, order)
		for i, wr := range refs {
			if i == 3 {
				continue
			}
			got, err := th.WeakRefGet(wr)
			require.NoError(t, err)
			require.Nil(t, got)
			th.DecRef(wr)
		}
		apiRequireLive(t, th, map[string]int{})
	})
}

func TestAPIWeakRefHeldByTarget(t *testing.T) {
	eachModeThread(t, func(t *testing.T, th *Thread) {
		foo, err := th.Runtime().NewType(TypeSpec{Name: "Foo"})
		require.NoError(t, err)
		o := th.NewInstance(foo)
		calls := 0
		wr, err := th.NewWeakRef(o, func(*Thread, *Object) { calls++ })
		require.NoError(t, err)
		require.NoError(t, th.SetAttr(o, "me", wr))
		th.DecRef(wr)
		// The target holds the only reference to its weak reference: the
		// weak reference is cleared while still alive, so its callback runs.
		th.DecRef(o)
		require.Equal(t, 1, calls)
		apiRequireLive(t, th, map[string]int{})
	})
}

func TestAPIWeakRefCallbackDropsRef(t *testing.T) {
	eachModeThread(t, func(t *testing.T, th *Thread) {
		foo, err := th.Runtime().NewType(TypeSpec{Name: "Foo"})
		require.NoError(t, err)
		o := th.NewInstance(foo)
		holder := th.NewList()
		calls := 0
		wr, err := th.NewWeakRef(o, func(th *Thread, ref *Object) {
			calls++
			// Drop the last outside reference to the weak reference from
			// inside its own callback.
			p, err := th.ListPop(holder, 0)
			require.NoError(t, err)
			require.Same(t, ref, p)
			th.DecRef(p)
		})
		require.NoError(t, err)
		require.NoError(t, th.ListAppend(holder, wr))
		th.DecRef(wr)
		th.DecRef(o)
		require.Equal(t, 1, calls)
		th.DecRef(holder)
		apiRequireLive(t, th, map[string]int{})
	})
}

func TestAPIWeakRefWithFinalizer(t *testing.T) {
	eachModeThread(t, func(t *testing.T, th *Thread) {
		keep := th.NewList()
		resurrect := true
		finals := 0
		foo, err := th.Runtime().NewType(TypeSpec{Name: "Fin", Finalize: func(th *Thread, self *Object) {
			finals++
			if resurrect {
				require.NoError(t, th.ListAppend(keep, self))
			}
		}})
		require.NoError(t, err)

		// Dies at once: the finalizer runs, then the weak reference is
		// cleared and its callback runs.
		o := th.NewInstance(foo)
		calls := 0
		resurrect = false
		wr, err := th.NewWeakRef(o, func(*Thread, *Object) { calls++ })
		require.NoError(t, err)
		th.DecRef(o)
		require.Equal(t, 1, finals)
		require.Equal(t, 1, calls, "the callback runs after the finalizer")
		got, err := th.WeakRefGet(wr)
		require.NoError(t, err)
		require.Nil(t, got)
		th.DecRef(wr)

		// Resurrected: the weak reference survives and still works; when
		// the object dies for good, the callback runs.
		resurrect = true
		o = th.NewInstance(foo)
		wr, err = th.NewWeakRef(o, func(*Thread, *Object) { calls++ })
		require.NoError(t, err)
		th.DecRef(o)
		require.Equal(t, 2, finals)
		require.Equal(t, 1, calls, "no callback for a resurrected object")
		got, err = th.WeakRefGet(wr)
		require.NoError(t, err)
		require.Same(t, o, got)
		th.DecRef(got)
		p, err := th.ListPop(keep, 0)
		require.NoError(t, err)
		th.DecRef(p)
		require.Equal(t, 2, finals)
		require.Equal(t, 2, calls, "the callback runs when the resurrected object dies")
		got, err = th.WeakRefGet(wr)
		require.NoError(t, err)
		require.Nil(t, got)
		th.DecRef(wr)
		th.DecRef(keep)
		apiRequireLive(t, th, map[string]int{})
	})
}

// ---------------------------------------------------------------- deallocation

// apiChainDepth builds a chain of n containers, each holding the next, whose
// innermost object is an instance whose finalizer records the call-stack
// depth it runs at; it frees the chain with one DecRef and returns that depth.
func apiChainDepth(t *testing.T, th *Thread, n int, wrap func(th *Thread, inner *Object) *Object) int {
	t.Helper()
	depth := -1
	typ, err := th.Runtime().NewType(TypeSpec{Name: "Bottom", Finalize: func(*Thread, *Object) {
		pcs := make([]uintptr, 1<<16)
		depth = runtime.Callers(0, pcs)
	}})
	require.NoError(t, err)
	base := apiStats(th)
	cur := th.NewInstance(typ)
	for i := 0; i < n; i++ {
		next := wrap(th, cur)
		th.DecRef(cur)
		cur = next
	}
	st := apiStats(th)
	require.Equal(t, base.Live+n+1, st.Live)
	th.DecRef(cur)
	require.GreaterOrEqual(t, depth, 0, "the finalizer ran")
	st = apiStats(th)
	require.Equal(t, base.Live, st.Live, "the whole chain is freed by one DecRef")
	require.Equal(t, base.Freed+uint64(n+1), st.Freed)
	return depth
}

func TestAPIDeepChainDealloc(t *testing.T) {
	n := invariants.Scale(300_000, 2)
	wraps := map[string]func(th *Thread, inner *Object) *Object{
		"list":  func(th *Thread, inner *Object) *Object { return th.NewList(inner) },
		"tuple": func(th *Thread, inner *Object) *Object { return th.NewTuple(inner) },
		"dict": func(th *Thread, inner *Object) *Object {
			d := th.NewDict()
			k := th.NewInt(1)
			if err := th.DictSet(d, k, inner); err != nil {
				panic(err)
			}
			return d
		},
		"instance": func(th *Thread, inner *Object) *Object {
			typ := inner.Type()
			if typ.Name() != "Link" {
				var err error
				typ, err = th.Runtime().NewType(TypeSpec{Name: "Link"})
				if err != nil {
					panic(err)
				}
			}
			o := th.NewInstance(typ)
			if err := th.SetAttr(o, "next", inner); err != nil {
				panic(err)
			}
			return o
		},
	}
	for name, wrap := range wraps {
		t.Run(name, func(t *testing.T) {
			eachModeThread(t, func(t *testing.T, th *Thread) {
				size := n
				if name == "dict" || name == "instance" {
					size = n / 3
				}
				shallow := apiChainDepth(t, th, 1, wrap)
				deep := apiChainDepth(t, th, size, wrap)
				// Freeing must not recurse: the innermost object is finalized
				// at (about) the same stack depth however long the chain.
				require.LessOrEqual(t, deep, shallow+8, "stack depth %d for a chain of %d vs %d for a chain of 1", deep, size, shallow)
			})
		})
	}
}

// ---------------------------------------------------------------- statistics

func TestAPIStatsExact(t *testing.T) {
	eachModeThread(t, func(t *testing.T, th *Thread) {
		rt := th.Runtime()
		st := apiStats(th)
		require.Equal(t, 0, st.Live)
		require.Equal(t, uint64(0), st.Allocated)
		require.Equal(t, uint64(0), st.Freed)
		require.Empty(t, st.LiveByType)

		foo, err := rt.NewType(TypeSpec{Name: "Foo"})
		require.NoError(t, err)
		// Immortals are never counted.
		_ = th.NewInt(7)
		_ = th.Intern("x")
		_ = rt.None()
		st = apiStats(th)
		require.Equal(t, uint64(0), st.Allocated)

		i := th.NewInt(1000)
		f := th.NewFloat(1.5)
		s := th.NewStr("s")
		tu := th.NewTuple(i, f)
		l := th.NewList(s)
		d := th.NewDict()
		o := th.NewInstance(foo)
		wr, err := th.NewWeakRef(o, nil)
		require.NoError(t, err)
		st = apiStats(th)
		require.Equal(t, 8, st.Live)
		require.Equal(t, uint64(8), st.Allocated)
		require.Equal(t, uint64(0), st.Freed)
		require.Equal(t, map[string]int{"int": 1, "float": 1, "str": 1, "tuple": 1, "list": 1, "dict": 1, "Foo": 1, "weakref": 1}, st.LiveByType)

		th.DecRef(i) // still held by the tuple
		th.DecRef(f)
		st = apiStats(th)
		require.Equal(t, 8, st.Live)
		require.Equal(t, uint64(0), st.Freed)

		th.DecRef(tu)
		st = apiStats(th)
		require.Equal(t, 5, st.Live)
		require.Equal(t, uint64(8), st.Allocated)
		require.Equal(t, uint64(3), st.Freed)
		require.Equal(t, map[string]int{"str": 1, "list": 1, "dict": 1, "Foo": 1, "weakref": 1}, st.LiveByType)

		// Freed objects are not counted again by later allocations.
		k := th.NewStr("k")
		require.NoError(t, th.DictSet(d, k, l))
		th.DecRef(k)
		th.DecRef(l)
		th.DecRef(s)
		th.DecRef(o)
		st = apiStats(th)
		require.Equal(t, map[string]int{"str": 2, "list": 1, "dict": 1, "weakref": 1}, st.LiveByType)
		require.Equal(t, 5, st.Live)
		require.Equal(t, uint64(9), st.Allocated)
		require.Equal(t, uint64(4), st.Freed)
		th.DecRef(d)
		th.DecRef(wr)
		st = apiStats(th)
		require.Equal(t, 0, st.Live)
		require.Equal(t, uint64(9), st.Allocated)
		require.Equal(t, uint64(9), st.Freed)
		require.Empty(t, st.LiveByType)
	})
}

func TestAPIStatsAcrossThreads(t *testing.T) {
	// Counts of a closed thread are kept; a second thread's counts join them.
	eachMode(t, func(t *testing.T, rt *Runtime) {
		th1 := rt.NewThread()
		l := th1.NewList()
		x := th1.NewInt(1000)
		require.NoError(t, th1.ListAppend(l, x))
		th1.DecRef(x)
		th1.Close()
		st := rt.Stats()
		require.Equal(t, 2, st.Live)
		require.Equal(t, uint64(2), st.Allocated)

		th2 := rt.NewThread()
		th2.DecRef(l)
		th2.Checkpoint()
		st = rt.Stats()
		require.Equal(t, 0, st.Live, "%v", st.LiveByType)
		require.Equal(t, uint64(2), st.Freed)
		th2.Close()
	})
}

func TestAPILeakErrorMessage(t *testing.T) {
	e := &LeakError{Live: 3, ByType: map[string]int{"list": 2, "Foo": 1}}
	require.Equal(t, "nogil: 3 objects still alive at Close: Foo=1, list=2", e.Error())
	var target *LeakError
	require.True(t, errors.As(error(e), &target))
}

func TestAPIFinalizeResurrectKeepsGCCount(t *testing.T) {
	// GC().Count()'s first figure rises once when a container is allocated
	// and falls once when it is freed; a resurrection in between is neither.
	eachModeThread(t, func(t *testing.T, th *Thread) {
		keep := th.NewList()
		typ, err := th.Runtime().NewType(TypeSpec{Name: "Phoenix", Finalize: func(th *Thread, self *Object) {
			require.NoError(t, th.ListAppend(keep, self))
		}})
		require.NoError(t, err)
		th.Checkpoint()
		before, _, _ := th.Runtime().GC().Count()
		const n = 50
		for i := 0; i < n; i++ {
			th.DecRef(th.NewInstance(typ))
		}
		th.Checkpoint()
		mid, _, _ := th.Runtime().GC().Count()
		require.Equal(t, before+n, mid, "resurrected objects are counted once")
		for i := 0; i < n; i++ {
			p, err := th.ListPop(keep, -1)
			require.NoError(t, err)
			th.DecRef(p)
		}
		th.Checkpoint()
		after, _, _ := th.Runtime().GC().Count()
		require.Equal(t, before, after)
		th.DecRef(keep)
		apiRequireLive(t, th, map[string]int{})
	})
}

func TestAPIWeakRefGetInsideFinalizer(t *testing.T) {
	eachModeThread(t, func(t *testing.T, th *Thread) {
		var wr *Object
		var got *Object
		typ, err := th.Runtime().NewType(TypeSpec{Name: "Fin", Finalize: func(th *Thread, self *Object) {
			// Weak references are cleared after the finalizer: it still
			// sees itself through them.
			var err error
			got, err = th.WeakRefGet(wr)
			require.NoError(t, err)
			if got != nil {
				th.DecRef(got)
			}
		}})
		require.NoError(t, err)
		o := th.NewInstance(typ)
		wr, err = th.NewWeakRef(o, nil)
		require.NoError(t, err)
		th.DecRef(o)
		require.Same(t, o, got)
		dead, err := th.WeakRefGet(wr)
		require.NoError(t, err)
		require.Nil(t, dead)
		th.DecRef(wr)
		apiRequireLive(t, th, map[string]int{})
	})
}

func TestAPILiveByTypeSameName(t *testing.T) {
	eachModeThread(t, func(t *testing.T, th *Thread) {
		a1, err := th.Runtime().NewType(TypeSpec{Name: "A"})
		require.NoError(t, err)
		a2, err := th.Runtime().NewType(TypeSpec{Name: "A"})
		require.NoError(t, err)
		require.NotSame(t, a1, a2, "two types may share a name, as in Python")
		x, y := th.NewInstance(a1), th.NewInstance(a2)
		require.NotSame(t, x.Type(), y.Type())
		apiRequireLive(t, th, map[string]int{"A": 2})
		th.DecRef(x)
		th.DecRef(y)
		apiRequireLive(t, th, map[string]int{})
	})
}

func TestAPIDeepChainOfFinalizers(t *testing.T) {
	// Every link has a finalizer: each runs exactly once, none recursively.
	n := invariants.Scale(50_000, 2)
	eachModeThread(t, func(t *testing.T, th *Thread) {
		calls := 0
		minDepth, maxDepth := 1<<30, 0
		pcs := make([]uintptr, 1<<16)
		typ, err := th.Runtime().NewType(TypeSpec{Name: "Link", Finalize: func(*Thread, *Object) {
			calls++
			d := runtime.Callers(0, pcs)
			minDepth, maxDepth = min(minDepth, d), max(maxDepth, d)
		}})
		require.NoError(t, err)
		cur := th.NewInstance(typ)
		for i := 1; i < n; i++ {
			next := th.NewInstance(typ)
			require.NoError(t, th.SetAttr(next, "next", cur))
			th.DecRef(cur)
			cur = next
		}
		apiRequireLive(t, th, map[string]int{"Link": n})
		th.DecRef(cur)
		require.Equal(t, n, calls)
		require.LessOrEqual(t, maxDepth-minDepth, 8, "finalizers run at a bounded stack depth")
		apiRequireLive(t, th, map[string]int{})
	})
}

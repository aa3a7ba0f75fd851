package runtime

import (
	"math"
	"regexp"
	"testing"

	"github.com/stretchr/testify/require"
)

// Repr like Python's repr(), in every mode.

func TestAPIReprInts(t *testing.T) {
	eachModeThread(t, func(t *testing.T, th *Thread) {
		cases := map[int64]string{
			0: "0", 1: "1", -1: "-1", -5: "-5", 256: "256", 257: "257", 1000: "1000", -1000: "-1000",
			math.MaxInt64: "9223372036854775807", math.MinInt64: "-9223372036854775808",
		}
		for v, want := range cases {
			o := th.NewInt(v)
			require.Equal(t, want, th.Repr(o))
			th.DecRef(o)
		}
		require.Equal(t, "True", th.Repr(th.Runtime().True()))
		require.Equal(t, "False", th.Repr(th.Runtime().False()))
		require.Equal(t, "None", th.Repr(th.Runtime().None()))
	})
}

func TestAPIReprFloats(t *testing.T) {
	eachModeThread(t, func(t *testing.T, th *Thread) {
		cases := []struct {
			v    float64
			want string
		}{
			{1.0, "1.0"},
			{0.0, "0.0"},
			{math.Copysign(0, -1), "-0.0"},
			{0.1, "0.1"},
			{-1.5, "-1.5"},
			{2.5, "2.5"},
			{100, "100.0"},
			{1.0 / 3, "0.3333333333333333"},
			{123456789.0, "123456789.0"},
			{1e15, "1000000000000000.0"},
			{9999999999999998.0, "9999999999999998.0"},
			{1e16, "1e+16"},
			{1.5e16, "1.5e+16"},
			{1e22, "1e+22"},
			{12345678901234567890.0, "1.2345678901234567e+19"},
			{1e100, "1e+100"},
			{math.MaxFloat64, "1.7976931348623157e+308"},
			{0.0001, "0.0001"},
			{0.00012, "0.00012"},
			{1e-05, "1e-05"},
			{1.5e-07, "1.5e-07"},
			{-2.5e-10, "-2.5e-10"},
			{5e-324, "5e-324"},
			{math.Inf(1), "inf"},
			{math.Inf(-1), "-inf"},
			{math.NaN(), "nan"},
		}
		for _, c := range cases {
			o := th.NewFloat(c.v)
			require.Equal(t, c.want, th.Repr(o), "repr(%v)", c.v)
			s, err := th.Str(o)
			require.NoError(t, err)
			require.Equal(t, c.want, s, "str(%v)", c.v)
			th.DecRef(o)
		}
	})
}

func TestAPIReprStrings(t *testing.T) {
	eachModeThread(t, func(t *testing.T, th *Thread) {
		cases := []struct{ s, want string }{
			{"", `''`},
			{"abc", `'abc'`},
			{"it's", `"it's"`},
			{`say "hi"`, `'say "hi"'`},
			{`it's "x"`, `'it\'s "x"'`},
			{`a\b`, `'a\\b'`},
			{"\n\t\r", `'\n\t\r'`},
			{"\x00\x01\x1f\x7f", `'\x00\x01\x1f\x7f'`},
			{"é日本😀", `'é日本😀'`},
			{"\u0085", `'\x85'`},
			{"\u00a0", `'\xa0'`},
			{"\u00ad", `'\xad'`},
			{"\u200b", `'\u200b'`},
			{"\u2028", `'\u2028'`},
			{"\U000e0001", `'\U000e0001'`},
			{" ", `' '`},
		}
		for _, c := range cases {
			o := th.NewStr(c.s)
			require.Equal(t, c.want, th.Repr(o), "repr(%q)", c.s)
			s, err := th.Str(o)
			require.NoError(t, err)
			require.Equal(t, c.s, s, "str of a str is its text")
			th.DecRef(o)
		}
		require.Equal(t, `'interned'`, th.Repr(th.Intern("interned")))
	})
}

func TestAPIReprContainers(t *testing.T) {
	eachModeThread(t, func(t *testing.T, th *Thread) {
		rt := th.Runtime()
		one, two := th.NewInt(1), th.NewInt(2)
		a := th.NewStr("a")
		f := th.NewFloat(1.5)

		empty := th.NewTuple()
		require.Equal(t, "()", th.Repr(empty))
		single := th.NewTuple(one)
		require.Equal(t, "(1,)", th.Repr(single))
		pair := th.NewTuple(one, a)
		require.Equal(t, "(1, 'a')", th.Repr(pair))
		nested := th.NewTuple(single, empty)
		require.Equal(t, "((1,), ())", th.Repr(nested))

		el := th.NewList()
		require.Equal(t, "[]", th.Repr(el))
		inner := th.NewList(two)
		l := th.NewList(one, inner)
		require.Equal(t, "[1, [2]]", th.Repr(l))
		mixed := th.NewList(a, rt.None(), f, rt.True(), rt.False(), single, el)
		require.Equal(t, "['a', None, 1.5, True, False, (1,), []]", th.Repr(mixed))
		s, err := th.Str(mixed)
		require.NoError(t, err)
		require.Equal(t, "['a', None, 1.5, True, False, (1,), []]", s)

		ed := th.NewDict()
		require.Equal(t, "{}", th.Repr(ed))
		d := th.NewDict()
		require.NoError(t, th.DictSet(d, a, one))
		require.Equal(t, "{'a': 1}", th.Repr(d))
		require.NoError(t, th.DictSet(d, pair, l))
		require.NoError(t, th.DictSet(d, rt.None(), ed))
		require.NoError(t, th.DictSet(d, f, rt.False()))
		require.Equal(t, "{'a': 1, (1, 'a'): [1, [2]], None: {}, 1.5: False}", th.Repr(d))

		// The same object twice is not a recursion.
		shared := th.NewList(inner, inner)
		require.Equal(t, "[[2], [2]]", th.Repr(shared))
		tshared := th.NewTuple(d, d)
		require.Equal(t, "({'a': 1, (1, 'a'): [1, [2]], None: {}, 1.5: False}, {'a': 1, (1, 'a'): [1, [2]], None: {}, 1.5: False})", th.Repr(tshared))

		// Repr takes no lasting references.
		require.Equal(t, 1, th.RefCount(mixed))
		require.Equal(t, 4, th.RefCount(inner), "ours, l and shared (twice)")
		require.Equal(t, 3, th.RefCount(d))

		for _, o := range []*Object{tshared, shared, d, ed, mixed, l, inner, el, nested, pair, single, empty, a, f} {
			th.DecRef(o)
		}
		apiRequireLive(t, th, map[string]int{})
	})
}

func TestAPIReprRecursive(t *testing.T) {
	eachModeThread(t, func(t *testing.T, th *Thread) {
		// l = [l] → [[...]]
		l := th.NewList()
		require.NoError(t, th.ListAppend(l, l))
		require.Equal(t, "[[...]]", th.Repr(l))
		require.NoError(t, th.ListAppend(l, l))
		require.Equal(t, "[[...], [...]]", th.Repr(l))
		s, err := th.Str(l)
		require.NoError(t, err)
		require.Equal(t, "[[...], [...]]", s)
		require.Equal(t, 3, th.RefCount(l))

		// d = {'k': d} → {'k': {...}}
		d := th.NewDict()
		k := th.NewStr("k")
		require.NoError(t, th.DictSet(d, k, d))
		require.Equal(t, "{'k': {...}}", th.Repr(d))

		// m = [1, {'d': m}] → [1, {'d': [...]}]
		m := th.NewList(th.NewInt(1))
		md := th.NewDict()
		dk := th.NewStr("d")
		require.NoError(t, th.DictSet(md, dk, m))
		require.NoError(t, th.ListAppend(m, md))
		require.Equal(t, "[1, {'d': [...]}]", th.Repr(m))
		require.Equal(t, "{'d': [1, {...}]}", th.Repr(md))

		// t = ([t],) → ([(...)],)
		inner := th.NewList()
		tu := th.NewTuple(inner)
		require.NoError(t, th.ListAppend(inner, tu))
		require.Equal(t, "([(...)],)", th.Repr(tu))
		require.Equal(t, "[([...],)]", th.Repr(inner))

		// Break the cycles by hand so reference counting frees everything.
		for i := 0; i < 2; i++ {
			p, err := th.ListPop(l, -1)
			require.NoError(t, err)
			th.DecRef(p)
		}
		require.NoError(t, th.DictDel(d, k))
		require.NoError(t, th.DictDel(md, dk))
		p, err := th.ListPop(inner, 0)
		require.NoError(t, err)
		th.DecRef(p)
		for _, o := range []*Object{l, d, k, m, md, dk, tu, inner} { // m holds md, tu holds inner
			require.Equal(t, 1, th.RefCount(o), "%s", th.Repr(o))
			th.DecRef(o)
		}
		apiRequireLive(t, th, map[string]int{})
	})
}

func TestAPIReprInstancesAndWeakRefs(t *testing.T) {
	eachModeThread(t, func(t *testing.T, th *Thread) {
		foo, err := th.Runtime().NewType(TypeSpec{Name: "Foo"})
		require.NoError(t, err)
		a, b := th.NewInstance(foo), th.NewInstance(foo)
		instRe := regexp.MustCompile(`^<Foo object at (0x[0-9a-f]+)>$`)
		ra, rb := th.Repr(a), th.Repr(b)
		require.Regexp(t, instRe, ra)
		require.Regexp(t, instRe, rb)
		require.NotEqual(t, ra, rb, "distinct objects, distinct addresses")
		require.Equal(t, ra, th.Repr(a), "stable")
		l := th.NewList(a)
		require.Equal(t, "["+ra+"]", th.Repr(l))

		wr, err := th.NewWeakRef(a, nil)
		require.NoError(t, err)
		m := regexp.MustCompile(`^<weakref at 0x[0-9a-f]+; to 'Foo' at (0x[0-9a-f]+)>$`).FindStringSubmatch(th.Repr(wr))
		require.NotNil(t, m, th.Repr(wr))
		require.Equal(t, instRe.FindStringSubmatch(ra)[1], m[1], "the weakref names its referent's address")
		require.Equal(t, 2, th.RefCount(a), "the list and us")
		th.DecRef(l)
		th.DecRef(a)
		require.Regexp(t, `^<weakref at 0x[0-9a-f]+; dead>$`, th.Repr(wr))
		th.DecRef(wr)
		th.DecRef(b)
		apiRequireLive(t, th, map[string]int{})
	})
}

// TestReprDropsItsSnapshotsWhenAFinalizerPanics: when a drop of a
// snapshot's reference runs a finalizer that panics (the snapshot held the
// last reference: another thread emptied the container during the walk,
// which the test does by hand between the walk's steps), the panic
// unwinds through the walk and every reference the open frames' snapshots
// still hold is dropped all the same: nothing leaks.
func TestReprDropsItsSnapshotsWhenAFinalizerPanics(t *testing.T) {
	eachModeThread(t, func(t *testing.T, th *Thread) {
		boom, err := th.rt.NewType(TypeSpec{Name: "Boom", Finalize: func(*Thread, *Object) { panic("finalizer failed") }})
		require.NoError(t, err)
		b := th.NewInstance(boom)
		y := th.NewFloat(1.5)
		inner := th.NewList(b, y)
		x := th.NewList()
		outer := th.NewList(inner, x)
		for _, o := range []*Object{b, y, inner, x} {
			th.DecRef(o)
		}
		// The walk opens outer, then inner (run's first step).
		w := reprWalk{th: th}
		w.write(outer)
		f := &w.frames[0]
		f.next++
		w.separate(f, f.start)
		w.write(w.items[f.start])
		require.Len(t, w.frames, 2)
		// Meanwhile inner is emptied and outer dropped: the snapshots hold
		// the last references to b, y, inner and x.
		for range 2 {
			it, err := th.ListPop(inner, -1)
			require.NoError(t, err)
			th.DecRef(it)
		}
		th.DecRef(outer)
		require.PanicsWithValue(t, "finalizer failed", func() {
			defer w.dropAll()
			w.run()
		})
		// b's finalizer ran (once) and b keeps the reference it got for
		// it; y (after b in inner's snapshot), inner and x (in outer's)
		// were dropped and freed.
		require.Equal(t, 1, th.RefCount(b))
		th.DecRef(b)
		apiRequireLive(t, th, map[string]int{})
	})
}

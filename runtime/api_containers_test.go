package runtime

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/nogil-lab/nogil/internal/invariants"
	"github.com/stretchr/testify/require"
)

// Single-threaded semantic tests of tuples, lists and dicts in every mode.

// apiInts returns the int values of a list's or tuple's items.
func apiInts(t *testing.T, th *Thread, seq *Object) []int64 {
	t.Helper()
	var out []int64
	switch seq.Type().Name() {
	case "list":
		n, err := th.ListLen(seq)
		require.NoError(t, err)
		for i := 0; i < n; i++ {
			it, err := th.ListGet(seq, i)
			require.NoError(t, err)
			v, err := th.Int(it)
			require.NoError(t, err)
			th.DecRef(it)
			out = append(out, v)
		}
	case "tuple":
		n, err := th.TupleLen(seq)
		require.NoError(t, err)
		for i := 0; i < n; i++ {
			it, err := th.TupleGet(seq, i)
			require.NoError(t, err)
			v, err := th.Int(it)
			require.NoError(t, err)
			th.DecRef(it)
			out = append(out, v)
		}
	default:
		t.Fatalf("apiInts of a %s", seq.Type().Name())
	}
	return out
}

// apiIntList makes a list of ints.
func apiIntList(th *Thread, vs ...int64) *Object {
	l := th.NewList()
	for _, v := range vs {
		o := th.NewInt(v)
		if err := th.ListAppend(l, o); err != nil {
			panic(err)
		}
		th.DecRef(o)
	}
	return l
}

func apiRequireErr(t *testing.T, err error, kind error, msg string) {
	t.Helper()
	require.Error(t, err)
	require.ErrorIs(t, err, kind)
	require.Equal(t, msg, err.Error())
}

// ---------------------------------------------------------------- tuples

func TestAPITuple(t *testing.T) {
	eachModeThread(t, func(t *testing.T, th *Thread) {
		empty := th.NewTuple()
		n, err := th.TupleLen(empty)
		require.NoError(t, err)
		require.Equal(t, 0, n)
		_, err = th.TupleGet(empty, 0)
		apiRequireErr(t, err, ErrIndex, "IndexError: tuple index out of range")
		_, err = th.TupleGet(empty, -1)
		apiRequireErr(t, err, ErrIndex, "IndexError: tuple index out of range")

		a, b, c := th.NewInt(1000), th.NewInt(2000), th.NewInt(3000)
		tu := th.NewTuple(a, b, c)
		th.DecRef(a)
		th.DecRef(b)
		th.DecRef(c)
		n, err = th.TupleLen(tu)
		require.NoError(t, err)
		require.Equal(t, 3, n)
		require.Equal(t, []int64{1000, 2000, 3000}, apiInts(t, th, tu))
		for i, want := range map[int]*Object{0: a, 1: b, 2: c, -1: c, -2: b, -3: a} {
			got, err := th.TupleGet(tu, i)
			require.NoError(t, err, "index %d", i)
			require.Same(t, want, got, "index %d", i)
			th.DecRef(got)
		}
		for _, i := range []int{3, 4, -4, 100, math.MinInt} {
			_, err := th.TupleGet(tu, i)
			apiRequireErr(t, err, ErrIndex, "IndexError: tuple index out of range")
		}

		// Tuple operations on other types.
		l := th.NewList()
		_, err = th.TupleLen(l)
		require.ErrorIs(t, err, ErrType)
		_, err = th.TupleGet(l, 0)
		require.ErrorIs(t, err, ErrType)
		_, err = th.TupleLen(th.Runtime().None())
		require.ErrorIs(t, err, ErrType)
		th.DecRef(l)

		// A tuple is not a list.
		_, err = th.ListLen(tu)
		require.ErrorIs(t, err, ErrType)
		require.ErrorIs(t, th.ListAppend(tu, a), ErrType)
		require.ErrorIs(t, th.ListSet(tu, 0, a), ErrType)
		_, err = th.ListPop(tu, 0)
		require.ErrorIs(t, err, ErrType)
		require.Equal(t, 1, th.RefCount(a))

		th.DecRef(tu)
		th.DecRef(empty)
		apiRequireLive(t, th, map[string]int{})
	})
}

// ---------------------------------------------------------------- lists

func TestAPIListIndexing(t *testing.T) {
	eachModeThread(t, func(t *testing.T, th *Thread) {
		l := apiIntList(th, 10, 20, 30, 40)
		n, err := th.ListLen(l)
		require.NoError(t, err)
		require.Equal(t, 4, n)
		for i, want := range map[int]int64{0: 10, 3: 40, -1: 40, -4: 10, -2: 30} {
			it, err := th.ListGet(l, i)
			require.NoError(t, err)
			v, err := th.Int(it)
			require.NoError(t, err)
			require.Equal(t, want, v, "l[%d]", i)
			th.DecRef(it)
		}
		for _, i := range []int{4, -5, 1 << 40, math.MinInt} {
			_, err := th.ListGet(l, i)
			apiRequireErr(t, err, ErrIndex, "IndexError: list index out of range")
			x := th.NewInt(1)
			apiRequireErr(t, th.ListSet(l, i, x), ErrIndex, "IndexError: list assignment index out of range")
			_, err = th.ListPop(l, i)
			apiRequireErr(t, err, ErrIndex, "IndexError: pop index out of range")
		}

		x := th.NewInt(99)
		require.NoError(t, th.ListSet(l, -1, x))
		require.NoError(t, th.ListSet(l, 0, x))
		require.Equal(t, []int64{99, 20, 30, 99}, apiInts(t, th, l))

		p, err := th.ListPop(l, 1)
		require.NoError(t, err)
		v, _ := th.Int(p)
		require.Equal(t, int64(20), v)
		th.DecRef(p)
		require.Equal(t, []int64{99, 30, 99}, apiInts(t, th, l))
		p, err = th.ListPop(l, -1)
		require.NoError(t, err)
		th.DecRef(p)
		p, err = th.ListPop(l, -2)
		require.NoError(t, err)
		v, _ = th.Int(p)
		require.Equal(t, int64(99), v)
		th.DecRef(p)
		require.Equal(t, []int64{30}, apiInts(t, th, l))
		p, err = th.ListPop(l, 0)
		require.NoError(t, err)
		th.DecRef(p)
		n, err = th.ListLen(l)
		require.NoError(t, err)
		require.Equal(t, 0, n)

		for _, i := range []int{0, -1, 5} {
			_, err = th.ListPop(l, i)
			apiRequireErr(t, err, ErrIndex, "IndexError: pop from empty list")
			_, err = th.ListGet(l, i)
			apiRequireErr(t, err, ErrIndex, "IndexError: list index out of range")
			apiRequireErr(t, th.ListSet(l, i, x), ErrIndex, "IndexError: list assignment index out of range")
		}
		// The list still works after errors.
		require.NoError(t, th.ListAppend(l, x))
		require.Equal(t, []int64{99}, apiInts(t, th, l))
		th.DecRef(l)
		apiRequireLive(t, th, map[string]int{})
	})
}

func TestAPIListWrongType(t *testing.T) {
	eachModeThread(t, func(t *testing.T, th *Thread) {
		rt := th.Runtime()
		x := th.NewInt(1000)
		others := []*Object{th.NewTuple(x), th.NewDict(), th.NewStr("abc"), x, rt.None(), th.NewFloat(1)}
		for _, o := range others {
			name := o.Type().Name()
			_, err := th.ListLen(o)
			apiRequireErr(t, err, ErrType, "TypeError: expected a list, got '"+name+"' object")
			_, err = th.ListGet(o, 0)
			require.ErrorIs(t, err, ErrType)
			require.ErrorIs(t, th.ListSet(o, 0, x), ErrType)
			require.ErrorIs(t, th.ListAppend(o, x), ErrType)
			_, err = th.ListPop(o, -1)
			require.ErrorIs(t, err, ErrType)
			l := th.NewList()
			require.ErrorIs(t, th.ListExtend(o, l), ErrType)
			th.DecRef(l)
		}
		require.Equal(t, 2, th.RefCount(x), "failed list operations keep no reference (the tuple holds one)")
		for _, o := range others {
			th.DecRef(o)
		}
		apiRequireLive(t, th, map[string]int{})
	})
}

func TestAPIListExtend(t *testing.T) {
	eachModeThread(t, func(t *testing.T, th *Thread) {
		l := apiIntList(th, 1, 2)
		src := apiIntList(th, 1000, 2000)
		big, err := th.ListGet(src, 0)
		require.NoError(t, err)
		require.Equal(t, 2, th.RefCount(big))

		require.NoError(t, th.ListExtend(l, src))
		require.Equal(t, []int64{1, 2, 1000, 2000}, apiInts(t, th, l))
		require.Equal(t, []int64{1000, 2000}, apiInts(t, th, src), "the source is unchanged")
		require.Equal(t, 3, th.RefCount(big), "ListExtend takes a reference to each item")

		tu := th.NewTuple(big)
		require.NoError(t, th.ListExtend(l, tu))
		require.Equal(t, []int64{1, 2, 1000, 2000, 1000}, apiInts(t, th, l))
		require.Equal(t, 5, th.RefCount(big))

		empty := th.NewList()
		require.NoError(t, th.ListExtend(l, empty))
		et := th.NewTuple()
		require.NoError(t, th.ListExtend(empty, et))
		n, err := th.ListLen(empty)
		require.NoError(t, err)
		require.Equal(t, 0, n)
		th.DecRef(et)
		th.DecRef(empty)
		require.Equal(t, []int64{1, 2, 1000, 2000, 1000}, apiInts(t, th, l))

		// Extending a list with itself doubles it once (Python: l.extend(l)).
		s := apiIntList(th, 7, 8, 9)
		require.NoError(t, th.ListExtend(s, s))
		require.Equal(t, []int64{7, 8, 9, 7, 8, 9}, apiInts(t, th, s))
		require.NoError(t, th.ListExtend(s, s))
		require.Equal(t, []int64{7, 8, 9, 7, 8, 9, 7, 8, 9, 7, 8, 9}, apiInts(t, th, s))
		require.Equal(t, 1, th.RefCount(s))

		// Not iterable.
		for _, o := range []*Object{th.NewInt(1000), th.Runtime().None(), th.NewFloat(1)} {
			err := th.ListExtend(l, o)
			apiRequireErr(t, err, ErrType, "TypeError: '"+o.Type().Name()+"' object is not iterable")
			th.DecRef(o)
		}
		n, err = th.ListLen(l)
		require.NoError(t, err)
		require.Equal(t, 5, n, "a failed extend changes nothing")

		th.DecRef(tu)
		th.DecRef(src)
		th.DecRef(s)
		th.DecRef(l)
		require.Equal(t, 1, th.RefCount(big))
		th.DecRef(big)
		apiRequireLive(t, th, map[string]int{})
	})
}

// ---------------------------------------------------------------- dicts

// apiSetStr does d[key] = value for a str key and an int value.
func apiSetStr(t *testing.T, th *Thread, d *Object, key string, value int64) {
	t.Helper()
	k, v := th.NewStr(key), th.NewInt(value)
	require.NoError(t, th.DictSet(d, k, v))
	th.DecRef(k)
	th.DecRef(v)
}

func apiDelStr(t *testing.T, th *Thread, d *Object, key string) error {
	t.Helper()
	k := th.NewStr(key)
	defer th.DecRef(k)
	return th.DictDel(d, k)
}

// apiGetInt returns d[key] as an int64.
func apiGetInt(t *testing.T, th *Thread, d, key *Object) int64 {
	t.Helper()
	v, err := th.DictGet(d, key)
	require.NoError(t, err, "d[%s]", th.Repr(key))
	n, err := th.Int(v)
	require.NoError(t, err)
	th.DecRef(v)
	return n
}

// apiKeysRepr returns the repr of DictKeys(d).
func apiKeysRepr(t *testing.T, th *Thread, d *Object) string {
	t.Helper()
	keys, err := th.DictKeys(d)
	require.NoError(t, err)
	defer th.DecRef(keys)
	return th.Repr(keys)
}

func TestAPIDictOrder(t *testing.T) {
	eachModeThread(t, func(t *testing.T, th *Thread) {
		d := th.NewDict()
		n, err := th.DictLen(d)
		require.NoError(t, err)
		require.Equal(t, 0, n)
		require.Equal(t, "[]", apiKeysRepr(t, th, d))

		apiSetStr(t, th, d, "a", 1)
		apiSetStr(t, th, d, "b", 2)
		apiSetStr(t, th, d, "c", 3)
		require.Equal(t, "{'a': 1, 'b': 2, 'c': 3}", th.Repr(d))
		require.Equal(t, "['a', 'b', 'c']", apiKeysRepr(t, th, d))

		apiSetStr(t, th, d, "a", 10)
		require.Equal(t, "{'a': 10, 'b': 2, 'c': 3}", th.Repr(d), "overwriting keeps the position")

		require.NoError(t, apiDelStr(t, th, d, "a"))
		require.Equal(t, "{'b': 2, 'c': 3}", th.Repr(d))
		apiSetStr(t, th, d, "a", 1)
		require.Equal(t, "{'b': 2, 'c': 3, 'a': 1}", th.Repr(d), "delete then insert goes to the end")
		require.Equal(t, "['b', 'c', 'a']", apiKeysRepr(t, th, d))

		require.NoError(t, apiDelStr(t, th, d, "c"))
		apiSetStr(t, th, d, "d", 4)
		require.Equal(t, "{'b': 2, 'a': 1, 'd': 4}", th.Repr(d))
		n, err = th.DictLen(d)
		require.NoError(t, err)
		require.Equal(t, 3, n)

		// Interned and plain strs are the same key.
		k := th.Intern("b")
		require.Equal(t, int64(2), apiGetInt(t, th, d, k))

		for _, key := range []string{"a", "b", "d"} {
			require.NoError(t, apiDelStr(t, th, d, key))
		}
		require.Equal(t, "{}", th.Repr(d))
		n, err = th.DictLen(d)
		require.NoError(t, err)
		require.Equal(t, 0, n)
		apiSetStr(t, th, d, "z", 26)
		require.Equal(t, "{'z': 26}", th.Repr(d))
		th.DecRef(d)
		apiRequireLive(t, th, map[string]int{})
	})
}

func TestAPIDictNumericKeys(t *testing.T) {
	eachModeThread(t, func(t *testing.T, th *Thread) {
		rt := th.Runtime()
		set := func(d, k *Object, v string) {
			s := th.NewStr(v)
			require.NoError(t, th.DictSet(d, k, s))
			th.DecRef(s)
		}
		get := func(d, k *Object) string {
			v, err := th.DictGet(d, k)
			require.NoError(t, err, "d[%s]", th.Repr(k))
			s, err := th.Str(v)
			require.NoError(t, err)
			th.DecRef(v)
			return s
		}

		// 1, 1.0 and True are one key; the first key object stays.
		d := th.NewDict()
		one, oneF := th.NewInt(1), th.NewFloat(1.0)
		set(d, one, "int")
		set(d, oneF, "float")
		set(d, rt.True(), "bool")
		require.Equal(t, "{1: 'bool'}", th.Repr(d))
		for _, k := range []*Object{one, oneF, rt.True()} {
			require.Equal(t, "bool", get(d, k))
		}
		n, _ := th.DictLen(d)
		require.Equal(t, 1, n)
		require.NoError(t, th.DictDel(d, oneF))
		n, _ = th.DictLen(d)
		require.Equal(t, 0, n)
		th.DecRef(d)

		d = th.NewDict()
		set(d, rt.True(), "bool")
		set(d, one, "int")
		require.Equal(t, "{True: 'int'}", th.Repr(d))
		set(d, rt.False(), "false")
		zero := th.NewInt(0)
		require.Equal(t, "false", get(d, zero))
		th.DecRef(d)

		// -0.0, 0.0 and 0 are one key.
		d = th.NewDict()
		negZero, posZero := th.NewFloat(math.Copysign(0, -1)), th.NewFloat(0)
		set(d, negZero, "negzero")
		require.Equal(t, "negzero", get(d, zero))
		require.Equal(t, "negzero", get(d, posZero))
		require.Equal(t, "negzero", get(d, rt.False()))
		set(d, zero, "zero")
		require.Equal(t, "{-0.0: 'zero'}", th.Repr(d))

		// Big ints and their float equivalents.
		big, bigF := th.NewInt(1<<53), th.NewFloat(1<<53)
		set(d, big, "big")
		require.Equal(t, "big", get(d, bigF))
		minI, minF := th.NewInt(math.MinInt64), th.NewFloat(math.MinInt64)
		set(d, minF, "min")
		require.Equal(t, "min", get(d, minI))
		// Non-integral and huge floats are their own keys.
		half, two, huge := th.NewFloat(2.5), th.NewInt(2), th.NewFloat(1e300)
		set(d, half, "2.5")
		set(d, two, "2")
		set(d, huge, "huge")
		require.Equal(t, "2.5", get(d, half))
		require.Equal(t, "2", get(d, two))
		require.Equal(t, "huge", get(d, huge))
		n, _ = th.DictLen(d)
		require.Equal(t, 6, n)

		// NaN: found by identity only.
		nan, nan2 := th.NewFloat(math.NaN()), th.NewFloat(math.NaN())
		set(d, nan, "nan")
		require.Equal(t, "nan", get(d, nan))
		_, err := th.DictGet(d, nan2)
		apiRequireErr(t, err, ErrKey, "KeyError: nan")
		set(d, nan2, "nan2")
		n, _ = th.DictLen(d)
		require.Equal(t, 8, n)

		// Strs are not numbers.
		s1 := th.NewStr("1")
		_, err = th.DictGet(d, s1)
		apiRequireErr(t, err, ErrKey, "KeyError: '1'")
		th.DecRef(d)

		for _, o := range []*Object{oneF, negZero, posZero, big, bigF, minI, minF, half, huge, nan, nan2, s1} {
			require.Equal(t, 1, th.RefCount(o))
			th.DecRef(o)
		}
		for _, o := range []*Object{one, zero, two} {
			require.GreaterOrEqual(t, th.RefCount(o), immortalFloor)
		}
		apiRequireLive(t, th, map[string]int{})
	})
}

func TestAPIDictTupleKeys(t *testing.T) {
	eachModeThread(t, func(t *testing.T, th *Thread) {
		rt := th.Runtime()
		mk := func(items ...*Object) *Object {
			tu := th.NewTuple(items...)
			for _, it := range items {
				th.DecRef(it)
			}
			return tu
		}
		d := th.NewDict()
		k1 := mk(th.NewInt(1000), th.NewStr("a"), mk(th.NewInt(2), th.NewFloat(2.5)), rt.None())
		k2 := mk(th.NewFloat(1000), th.NewStr("a"), mk(th.NewFloat(2), th.NewFloat(2.5)), rt.None())
		require.NotSame(t, k1, k2)
		v := th.NewInt(5000)
		require.NoError(t, th.DictSet(d, k1, v))
		require.Equal(t, int64(5000), apiGetInt(t, th, d, k2), "tuples are keys by value, nested too")
		require.NoError(t, th.DictSet(d, k2, rt.None()))
		n, _ := th.DictLen(d)
		require.Equal(t, 1, n)
		require.Equal(t, 1, th.RefCount(k2), "the equal tuple is not stored")
		require.Equal(t, 2, th.RefCount(k1))
		require.Equal(t, "{(1000, 'a', (2, 2.5), None): None}", th.Repr(d))

		// Tuples that differ.
		differ := []*Object{
			mk(th.NewInt(1000), th.NewStr("a"), mk(th.NewInt(2), th.NewFloat(2.5))),
			mk(th.NewStr("a"), th.NewInt(1000), mk(th.NewInt(2), th.NewFloat(2.5)), rt.None()),
			mk(th.NewInt(1000), th.NewStr("a"), mk(th.NewInt(2), th.NewFloat(3.5)), rt.None()),
			mk(th.NewInt(1000)),
			th.NewTuple(),
		}
		for _, k := range differ {
			_, err := th.DictGet(d, k)
			require.ErrorIs(t, err, ErrKey, "%s", th.Repr(k))
			require.Equal(t, "KeyError: "+th.Repr(k), err.Error())
		}
		for i, k := range differ {
			x := th.NewInt(int64(i))
			require.NoError(t, th.DictSet(d, k, x))
			th.DecRef(x)
		}
		n, _ = th.DictLen(d)
		require.Equal(t, 1+len(differ), n)
		empty := th.NewTuple()
		require.Equal(t, int64(4), apiGetInt(t, th, d, empty), "() is a key too")
		one := mk(th.NewInt(1000))
		require.Equal(t, int64(3), apiGetInt(t, th, d, one))
		th.DecRef(one)
		th.DecRef(empty)

		// A tuple and its single item are different keys.
		x := th.NewInt(1000)
		_, err := th.DictGet(d, x)
		apiRequireErr(t, err, ErrKey, "KeyError: 1000")
		th.DecRef(x)

		require.NoError(t, th.DictDel(d, k2))
		_, err = th.DictGet(d, k1)
		apiRequireErr(t, err, ErrKey, "KeyError: (1000, 'a', (2, 2.5), None)")
		err = th.DictDel(d, k1)
		apiRequireErr(t, err, ErrKey, "KeyError: (1000, 'a', (2, 2.5), None)")

		th.DecRef(d)
		for _, k := range append(differ, k1, k2, v) {
			require.Equal(t, 1, th.RefCount(k))
			th.DecRef(k)
		}
		apiRequireLive(t, th, map[string]int{})
	})
}

func TestAPIDictIdentityAndNoneKeys(t *testing.T) {
	eachModeThread(t, func(t *testing.T, th *Thread) {
		rt := th.Runtime()
		foo, err := rt.NewType(TypeSpec{Name: "Foo"})
		require.NoError(t, err)
		a, b := th.NewInstance(foo), th.NewInstance(foo)
		d := th.NewDict()
		va, vb := th.NewInt(1000), th.NewInt(2000)
		require.NoError(t, th.DictSet(d, a, va))
		require.NoError(t, th.DictSet(d, b, vb))
		require.Equal(t, 2, th.RefCount(a), "the dict holds its key")
		require.Equal(t, int64(1000), apiGetInt(t, th, d, a))
		require.Equal(t, int64(2000), apiGetInt(t, th, d, b))
		c := th.NewInstance(foo)
		_, err = th.DictGet(d, c)
		require.ErrorIs(t, err, ErrKey)
		require.Regexp(t, `^KeyError: <Foo object at 0x[0-9a-f]+>$`, err.Error())

		// Tuples of instances: by the instances' identity.
		ta, ta2, tc := th.NewTuple(a), th.NewTuple(a), th.NewTuple(c)
		require.NoError(t, th.DictSet(d, ta, va))
		require.Equal(t, int64(1000), apiGetInt(t, th, d, ta2))
		_, err = th.DictGet(d, tc)
		require.ErrorIs(t, err, ErrKey)

		// None.
		_, err = th.DictGet(d, rt.None())
		apiRequireErr(t, err, ErrKey, "KeyError: None")
		require.NoError(t, th.DictSet(d, rt.None(), vb))
		require.Equal(t, int64(2000), apiGetInt(t, th, d, rt.None()))
		require.NoError(t, th.DictDel(d, rt.None()))
		apiRequireErr(t, th.DictDel(d, rt.None()), ErrKey, "KeyError: None")

		// A weak reference is hashable.
		wr, err := th.NewWeakRef(a, nil)
		require.NoError(t, err)
		require.NoError(t, th.DictSet(d, wr, va))
		require.Equal(t, int64(1000), apiGetInt(t, th, d, wr))

		n, _ := th.DictLen(d)
		require.Equal(t, 4, n)
		th.DecRef(d)
		for _, o := range []*Object{wr, ta, ta2, tc, a, b, c, va, vb} {
			require.Equal(t, 1, th.RefCount(o))
			th.DecRef(o)
		}
		apiRequireLive(t, th, map[string]int{})
	})
}

func TestAPIDictUnhashable(t *testing.T) {
	eachModeThread(t, func(t *testing.T, th *Thread) {
		d := th.NewDict()
		v := th.NewInt(1000)
		apiSetStr(t, th, d, "a", 1)
		lst, dct := th.NewList(), th.NewDict()
		inner := th.NewTuple(th.NewInt(1), lst)
		nested := th.NewTuple(inner)
		withDict := th.NewTuple(th.Runtime().None(), dct)
		cases := []struct {
			key  *Object
			name string
		}{{lst, "list"}, {dct, "dict"}, {inner, "list"}, {nested, "list"}, {withDict, "dict"}}
		for _, c := range cases {
			msg := "TypeError: unhashable type: '" + c.name + "'"
			apiRequireErr(t, th.DictSet(d, c.key, v), ErrType, msg)
			_, err := th.DictGet(d, c.key)
			apiRequireErr(t, err, ErrType, msg)
			apiRequireErr(t, th.DictDel(d, c.key), ErrType, msg)
		}
		// Unhashable values are fine.
		k := th.NewStr("l")
		require.NoError(t, th.DictSet(d, k, lst))
		th.DecRef(k)
		require.Equal(t, "{'a': 1, 'l': []}", th.Repr(d))
		require.Equal(t, 1, th.RefCount(v), "failed operations keep no reference")
		require.Equal(t, 1, th.RefCount(withDict))

		// Dict operations on other types.
		for _, o := range []*Object{lst, inner, v, th.Runtime().None()} {
			_, err := th.DictLen(o)
			apiRequireErr(t, err, ErrType, "TypeError: expected a dict, got '"+o.Type().Name()+"' object")
			_, err = th.DictGet(o, v)
			require.ErrorIs(t, err, ErrType)
			require.ErrorIs(t, th.DictSet(o, v, v), ErrType)
			require.ErrorIs(t, th.DictDel(o, v), ErrType)
			_, err = th.DictKeys(o)
			require.ErrorIs(t, err, ErrType)
		}
		for _, o := range []*Object{d, v, lst, dct, inner, nested, withDict} {
			th.DecRef(o)
		}
		apiRequireLive(t, th, map[string]int{})
	})
}

func TestAPIDictMissingKey(t *testing.T) {
	eachModeThread(t, func(t *testing.T, th *Thread) {
		d := th.NewDict()
		x := th.NewStr("x")
		_, err := th.DictGet(d, x)
		require.ErrorIs(t, err, ErrKey)
		require.Equal(t, "KeyError: 'x'", err.Error())
		err = th.DictDel(d, x)
		require.ErrorIs(t, err, ErrKey)
		require.Equal(t, "KeyError: 'x'", err.Error())
		q := th.NewStr("it's")
		_, err = th.DictGet(d, q)
		apiRequireErr(t, err, ErrKey, `KeyError: "it's"`)
		f := th.NewFloat(1.5)
		_, err = th.DictGet(d, f)
		apiRequireErr(t, err, ErrKey, "KeyError: 1.5")
		apiSetStr(t, th, d, "y", 1)
		_, err = th.DictGet(d, x)
		apiRequireErr(t, err, ErrKey, "KeyError: 'x'")
		require.NoError(t, apiDelStr(t, th, d, "y"))
		apiRequireErr(t, apiDelStr(t, th, d, "y"), ErrKey, "KeyError: 'y'")
		for _, o := range []*Object{d, x, q, f} {
			th.DecRef(o)
		}
		apiRequireLive(t, th, map[string]int{})
	})
}

// apiDictModel is an insertion-ordered Go model of a dict with int and str
// keys and int values.
type apiDictModel struct {
	vals  map[string]int64
	order []string
}

func (m *apiDictModel) set(k string, v int64) {
	if _, ok := m.vals[k]; !ok {
		m.order = append(m.order, k)
	}
	m.vals[k] = v
}

func (m *apiDictModel) del(k string) bool {
	if _, ok := m.vals[k]; !ok {
		return false
	}
	delete(m.vals, k)
	for i, x := range m.order {
		if x == k {
			m.order = append(m.order[:i], m.order[i+1:]...)
			break
		}
	}
	return true
}

// apiModelKey makes the runtime key for a model key: "i:N" is an int (or,
// at random, the equal float), "s:X" a str.
func apiModelKey(th *Thread, r *rand.Rand, k string) *Object {
	var n int64
	if _, err := fmt.Sscanf(k, "i:%d", &n); err == nil {
		if r.IntN(3) == 0 {
			return th.NewFloat(float64(n))
		}
		return th.NewInt(n)
	}
	return th.NewStr(k[2:])
}

// apiKeyOf is the model key of a runtime key.
func apiKeyOf(t *testing.T, th *Thread, o *Object) string {
	if o.Type().Name() == "str" {
		s, err := th.Str(o)
		require.NoError(t, err)
		return "s:" + s
	}
	n, err := th.Int(o)
	require.NoError(t, err)
	return fmt.Sprintf("i:%d", n)
}

func apiCheckDictModel(t *testing.T, th *Thread, d *Object, m *apiDictModel) {
	t.Helper()
	n, err := th.DictLen(d)
	require.NoError(t, err)
	require.Equal(t, len(m.order), n)
	keys, err := th.DictKeys(d)
	require.NoError(t, err)
	defer th.DecRef(keys)
	kn, err := th.ListLen(keys)
	require.NoError(t, err)
	require.Equal(t, n, kn)
	for i := 0; i < kn; i++ {
		k, err := th.ListGet(keys, i)
		require.NoError(t, err)
		require.Equal(t, m.order[i], apiKeyOf(t, th, k), "key %d", i)
		v, err := th.DictGet(d, k)
		require.NoError(t, err)
		got, err := th.Int(v)
		require.NoError(t, err)
		require.Equal(t, m.vals[m.order[i]], got)
		th.DecRef(v)
		th.DecRef(k)
	}
}

func TestAPIDictAgainstModel(t *testing.T) {
	ops := invariants.Scale(10_000, 4)
	eachModeThread(t, func(t *testing.T, th *Thread) {
		r := rand.New(rand.NewPCG(1, 2))
		d := th.NewDict()
		m := &apiDictModel{vals: map[string]int64{}}
		randKey := func(space int) string {
			i := r.IntN(space)
			if i%4 == 0 {
				return fmt.Sprintf("s:k%d", i)
			}
			return fmt.Sprintf("i:%d", i-space/2)
		}
		set := func(k string, v int64) {
			ko, vo := apiModelKey(th, r, k), th.NewInt(v)
			require.NoError(t, th.DictSet(d, ko, vo))
			th.DecRef(ko)
			th.DecRef(vo)
			m.set(k, v)
		}
		del := func(k string) {
			ko := apiModelKey(th, r, k)
			err := th.DictDel(d, ko)
			if m.del(k) {
				require.NoError(t, err, "del %s", k)
			} else {
				require.ErrorIs(t, err, ErrKey, "del %s", k)
			}
			th.DecRef(ko)
		}

		// Phase 1: grow to ops keys, then delete every one of them.
		for i := 0; i < ops; i++ {
			set(fmt.Sprintf("i:%d", i*7-ops), int64(i))
		}
		apiCheckDictModel(t, th, d, m)
		for i := 0; i < ops; i += 2 {
			del(fmt.Sprintf("i:%d", i*7-ops))
		}
		apiCheckDictModel(t, th, d, m)
		for i := 1; i < ops; i += 2 {
			del(fmt.Sprintf("i:%d", i*7-ops))
		}
		apiCheckDictModel(t, th, d, m)
		require.Empty(t, m.order)
		apiRequireLive(t, th, map[string]int{"dict": 1})

		// Phase 2: random mix of sets, deletes and lookups over a small
		// key space, so keys are deleted and re-inserted often.
		for i := 0; i < ops; i++ {
			k := randKey(300)
			switch op := r.IntN(10); {
			case op < 5:
				set(k, r.Int64N(1_000_000))
			case op < 8:
				del(k)
			default:
				ko := apiModelKey(th, r, k)
				v, err := th.DictGet(d, ko)
				if want, ok := m.vals[k]; ok {
					require.NoError(t, err)
					got, err := th.Int(v)
					require.NoError(t, err)
					require.Equal(t, want, got)
					th.DecRef(v)
				} else {
					require.ErrorIs(t, err, ErrKey)
					require.Equal(t, "KeyError: "+th.Repr(ko), err.Error())
				}
				th.DecRef(ko)
			}
			if i%500 == 0 {
				apiCheckDictModel(t, th, d, m)
			}
		}
		apiCheckDictModel(t, th, d, m)
		th.DecRef(d)
		apiRequireLive(t, th, map[string]int{})
	})
}

// Destructors run user code; a container operation that drops the last
// reference to an item must be finished (and, in free-threaded mode,
// unlocked) before that code runs, so the code may use the same container.
func TestAPIContainersReentrantDestructors(t *testing.T) {
	eachModeThread(t, func(t *testing.T, th *Thread) {
		l := th.NewList()
		d := th.NewDict()
		owner, err := th.Runtime().NewType(TypeSpec{Name: "Owner"})
		require.NoError(t, err)
		o := th.NewInstance(owner)
		var log []string
		typ, err := th.Runtime().NewType(TypeSpec{Name: "Noisy", Finalize: func(th *Thread, self *Object) {
			v, err := th.GetAttr(self, "tag")
			require.NoError(t, err)
			tag, err := th.Str(v)
			require.NoError(t, err)
			th.DecRef(v)
			log = append(log, tag)
			x := th.NewInt(1000)
			defer th.DecRef(x)
			// Touch the container this object is leaving.
			switch tag {
			case "list-set", "list-pop":
				require.NoError(t, th.ListAppend(l, x))
				n, err := th.ListLen(l)
				require.NoError(t, err)
				require.Positive(t, n)
				_ = th.Repr(l)
			case "dict-set", "dict-del":
				k := th.NewStr("from-" + tag)
				require.NoError(t, th.DictSet(d, k, x))
				th.DecRef(k)
				_ = th.Repr(d)
			case "attr-set", "attr-del":
				require.NoError(t, th.SetAttr(o, "from-"+tag, x))
			}
		}})
		require.NoError(t, err)
		noisy := func(tag string) *Object {
			n := th.NewInstance(typ)
			s := th.NewStr(tag)
			require.NoError(t, th.SetAttr(n, "tag", s))
			th.DecRef(s)
			return n
		}
		put := func(fn func(v *Object) error, tag string) {
			v := noisy(tag)
			require.NoError(t, fn(v))
			th.DecRef(v)
		}
		none := th.Runtime().None()
		k := th.NewStr("k")

		put(func(v *Object) error { return th.ListAppend(l, v) }, "list-set")
		require.NoError(t, th.ListSet(l, 0, none))
		put(func(v *Object) error { return th.ListAppend(l, v) }, "list-pop")
		p, err := th.ListPop(l, -1)
		require.NoError(t, err)
		th.DecRef(p)
		put(func(v *Object) error { return th.DictSet(d, k, v) }, "dict-set")
		require.NoError(t, th.DictSet(d, k, none))
		put(func(v *Object) error { return th.DictSet(d, k, v) }, "dict-del")
		require.NoError(t, th.DictDel(d, k))
		put(func(v *Object) error { return th.SetAttr(o, "a", v) }, "attr-set")
		require.NoError(t, th.SetAttr(o, "a", none))
		put(func(v *Object) error { return th.SetAttr(o, "a", v) }, "attr-del")
		require.NoError(t, th.DelAttr(o, "a"))

		require.Equal(t, []string{"list-set", "list-pop", "dict-set", "dict-del", "attr-set", "attr-del"}, log)
		require.Equal(t, "[None, 1000, 1000]", th.Repr(l))
		require.Equal(t, "{'from-dict-set': 1000, 'from-dict-del': 1000}", th.Repr(d))
		for _, name := range []string{"from-attr-set", "from-attr-del"} {
			v, err := th.GetAttr(o, name)
			require.NoError(t, err)
			th.DecRef(v)
		}
		for _, x := range []*Object{l, d, o, k} {
			th.DecRef(x)
		}
		apiRequireLive(t, th, map[string]int{})
	})
}

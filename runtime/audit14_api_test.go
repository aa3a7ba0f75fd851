package runtime

import (
	"math"
	"regexp"
	"testing"

	"github.com/stretchr/testify/require"
)

// Audit 14: CPython behaviours of objects, containers, reference counts
// and weak references that the other tests leave out. Expected values
// are CPython 3.11's (checked with the interpreter, or read in its
// sources: the comment of each case says where), except where API.md
// says otherwise (a weak reference's type is named "weakref").

var audit14DeadWeakRef = regexp.MustCompile(`^<weakref at 0x[0-9a-f]+; dead>$`)

// audit14Type makes a user type or fails the test.
func audit14Type(t *testing.T, th *Thread, spec TypeSpec) *Type {
	t.Helper()
	typ, err := th.Runtime().NewType(spec)
	require.NoError(t, err)
	return typ
}

// audit14Keys returns DictKeys(d) as a slice of new references (the
// caller drops them) and drops the list.
func audit14Keys(t *testing.T, th *Thread, d *Object) []*Object {
	t.Helper()
	keys, err := th.DictKeys(d)
	require.NoError(t, err)
	n, err := th.ListLen(keys)
	require.NoError(t, err)
	out := make([]*Object, n)
	for i := range out {
		out[i], err = th.ListGet(keys, i)
		require.NoError(t, err)
	}
	th.DecRef(keys)
	return out
}

func audit14DecRefAll(th *Thread, objs ...*Object) {
	for _, o := range objs {
		th.DecRef(o)
	}
}

// ---------------------------------------------------------------- weak references

// A weak reference (with a callback) that the object's own Finalize
// (__del__) makes to it, when the object then dies without being
// resurrected: cleared, and its callback runs once with it. CPython:
// subtype_dealloc calls tp_finalize, then PyObject_ClearWeakRefs, which
// runs the callbacks of every live weak reference, those made by the
// finalizer included (test_weakref.test_ref_created_during_del; the
// interpreter: `class A: __del__ = lambda s: setw(weakref.ref(s, cb))`,
// del a -> cb called once, w() is None).
func TestAudit14APIWeakRefMadeInFinalizeGetsCallback(t *testing.T) {
	eachModeThread(t, func(t *testing.T, th *Thread) {
		var made *Object
		var calls []*Object
		typ := audit14Type(t, th, TypeSpec{Name: "MakesRef", Finalize: func(th *Thread, self *Object) {
			var err error
			made, err = th.NewWeakRef(self, func(_ *Thread, ref *Object) { calls = append(calls, ref) })
			require.NoError(t, err)
		}})
		o := th.NewInstance(typ)
		th.DecRef(o)
		require.NotNil(t, made, "the finalizer ran")
		require.Equal(t, []*Object{made}, calls, "the callback of the finalizer's weak reference ran once, with it")
		got, err := th.WeakRefGet(made)
		require.NoError(t, err)
		require.Nil(t, got)
		require.Regexp(t, audit14DeadWeakRef, th.Repr(made))
		require.Equal(t, 1, th.RefCount(made))
		apiRequireLive(t, th, map[string]int{"weakref": 1})
		th.DecRef(made)
		require.Len(t, calls, 1)
		apiRequireLive(t, th, map[string]int{})
	})
}

// A legacy finalizer (tp_del) runs after the weak references are cleared
// and their callbacks have run; weak references it makes to the dying
// object are cleared without their callbacks. CPython: Objects/
// typeobject.c, subtype_dealloc ("If we added a weaklist, we clear it.
// Do this *before* calling tp_del"; then "New weakrefs could be created
// during the finalizer call. If this occurs, clear them out without
// calling their finalizers").
func TestAudit14APIWeakRefMadeInLegacyDelNoCallback(t *testing.T) {
	eachModeThread(t, func(t *testing.T, th *Thread) {
		var log []string
		var old, made *Object
		madeCalls := 0
		typ := audit14Type(t, th, TypeSpec{Name: "Legacy", LegacyDel: func(th *Thread, self *Object) {
			log = append(log, "del")
			got, err := th.WeakRefGet(old)
			require.NoError(t, err)
			require.Nil(t, got, "the old weak reference is cleared before tp_del")
			made, err = th.NewWeakRef(self, func(*Thread, *Object) { madeCalls++ })
			require.NoError(t, err)
		}})
		o := th.NewInstance(typ)
		var err error
		old, err = th.NewWeakRef(o, func(*Thread, *Object) { log = append(log, "old callback") })
		require.NoError(t, err)
		th.DecRef(o)
		require.Equal(t, []string{"old callback", "del"}, log)
		require.NotNil(t, made)
		got, err := th.WeakRefGet(made)
		require.NoError(t, err)
		require.Nil(t, got, "the legacy finalizer's weak reference is cleared")
		require.Zero(t, madeCalls, "without its callback")
		audit14DecRefAll(th, old, made)
		require.Zero(t, madeCalls)
		apiRequireLive(t, th, map[string]int{})
	})
}

// Every weak reference to an object is cleared before any callback runs:
// each callback sees all of them dead, its own included, and its repr
// says so (test_weakref.test_multiple_selfref_callbacks; the interpreter
// prints "<weakref at 0x...; dead>" for repr(ref) inside a callback). A
// callback may keep its weak reference alive past the call.
func TestAudit14APIWeakRefCallbacksSeeAllCleared(t *testing.T) {
	eachModeThread(t, func(t *testing.T, th *Thread) {
		typ := audit14Type(t, th, TypeSpec{Name: "Target"})
		o := th.NewInstance(typ)
		keep := th.NewList()
		var refs []*Object
		var seenLive, calls int
		cb := func(th *Thread, ref *Object) {
			calls++
			require.Regexp(t, audit14DeadWeakRef, th.Repr(ref))
			for _, r := range refs {
				got, err := th.WeakRefGet(r)
				require.NoError(t, err)
				if got != nil {
					seenLive++
					th.DecRef(got)
				}
			}
			require.NoError(t, th.ListAppend(keep, ref))
		}
		plain, err := th.NewWeakRef(o, nil)
		require.NoError(t, err)
		refs = append(refs, plain)
		for i := 0; i < 3; i++ {
			wr, err := th.NewWeakRef(o, cb)
			require.NoError(t, err)
			refs = append(refs, wr)
		}
		th.DecRef(o)
		require.Equal(t, 3, calls)
		require.Zero(t, seenLive, "a callback saw a weak reference that was not cleared yet")
		for _, r := range refs {
			th.DecRef(r)
		}
		// keep holds the three weak references with callbacks.
		apiRequireLive(t, th, map[string]int{"list": 1, "weakref": 3})
		n, err := th.ListLen(keep)
		require.NoError(t, err)
		require.Equal(t, 3, n)
		th.DecRef(keep)
		apiRequireLive(t, th, map[string]int{})
	})
}

// A callback that drops the last outside reference to another weak
// reference of the same referent, whose callback has not run yet: that
// callback still runs (PyObject_ClearWeakRefs keeps a reference to every
// weak reference whose callback it will call). The interpreter:
// w1 = ref(b, cb1); w2 = ref(b, cb2 doing `del w1`); del b -> cb2, cb1.
func TestAudit14APIWeakRefCallbackDropsSibling(t *testing.T) {
	eachModeThread(t, func(t *testing.T, th *Thread) {
		typ := audit14Type(t, th, TypeSpec{Name: "Target"})
		o := th.NewInstance(typ)
		var log []string
		var w1, w2 *Object
		var err error
		w1, err = th.NewWeakRef(o, func(_ *Thread, ref *Object) {
			require.Same(t, w1, ref)
			log = append(log, "cb1")
		})
		require.NoError(t, err)
		w2, err = th.NewWeakRef(o, func(th *Thread, ref *Object) {
			require.Same(t, w2, ref)
			log = append(log, "cb2")
			th.DecRef(w1) // del w1
		})
		require.NoError(t, err)
		th.DecRef(o)
		require.Equal(t, []string{"cb2", "cb1"}, log)
		th.DecRef(w2)
		apiRequireLive(t, th, map[string]int{})
	})
}

// A weak reference hashes like its referent but is not equal to it: the
// two are different dict keys. The interpreter: d[ref] = 1; b in d ->
// False; hash(ref) == hash(b) -> True; ref == b -> False; d[b] = 2;
// len(d) -> 2.
func TestAudit14APIWeakRefAndReferentAreDistinctKeys(t *testing.T) {
	eachModeThread(t, func(t *testing.T, th *Thread) {
		typ := audit14Type(t, th, TypeSpec{Name: "Target"})
		o := th.NewInstance(typ)
		wr, err := th.NewWeakRef(o, nil)
		require.NoError(t, err)
		d := th.NewDict()
		one, two := th.NewInt(1), th.NewInt(2)
		require.NoError(t, th.DictSet(d, wr, one))
		_, err = th.DictGet(d, o)
		auditRequireOneSentinel(t, err, ErrKey, "referent of a weak key")
		require.Regexp(t, `^KeyError: <Target object at 0x[0-9a-f]+>$`, err.Error())
		require.NoError(t, th.DictSet(d, o, two))
		n, err := th.DictLen(d)
		require.NoError(t, err)
		require.Equal(t, 2, n)
		require.Equal(t, int64(1), apiGetInt(t, th, d, wr))
		require.Equal(t, int64(2), apiGetInt(t, th, d, o))
		// A key-tuple holding the weak reference is not one holding the referent.
		tw, to := th.NewTuple(wr), th.NewTuple(o)
		_, err = th.DictGet(d, tw)
		auditRequireOneSentinel(t, err, ErrKey, "(wr,)")
		require.NoError(t, th.DictSet(d, to, one))
		_, err = th.DictGet(d, tw)
		auditRequireOneSentinel(t, err, ErrKey, "(wr,) with (o,) present")
		require.NoError(t, th.DictDel(d, o))
		require.Equal(t, int64(1), apiGetInt(t, th, d, wr), "deleting the referent's key leaves the weak key")
		audit14DecRefAll(th, d, tw, to, wr, o)
		apiRequireLive(t, th, map[string]int{})
	})
}

// A callback may delete its own (dead, already hashed) weak reference from
// a dict where it is a key: the WeakValueDictionary pattern
// (test_weakref.test_callbacks_protected: `remove(k): del data[k]`).
func TestAudit14APIWeakRefCallbackDeletesItsDictKey(t *testing.T) {
	eachModeThread(t, func(t *testing.T, th *Thread) {
		typ := audit14Type(t, th, TypeSpec{Name: "Target"})
		d := th.NewDict()
		var objs, refs []*Object
		removed := 0
		for i := 0; i < 3; i++ {
			o := th.NewInstance(typ)
			wr, err := th.NewWeakRef(o, func(th *Thread, ref *Object) {
				require.NoError(t, th.DictDel(d, ref))
				removed++
			})
			require.NoError(t, err)
			v := th.NewInt(int64(1000 + i))
			require.NoError(t, th.DictSet(d, wr, v))
			th.DecRef(v)
			th.DecRef(wr) // the dict holds the only reference
			objs = append(objs, o)
			refs = append(refs, wr)
		}
		th.DecRef(objs[1])
		require.Equal(t, 1, removed)
		n, err := th.DictLen(d)
		require.NoError(t, err)
		require.Equal(t, 2, n)
		require.Equal(t, int64(1000), apiGetInt(t, th, d, refs[0]))
		require.Equal(t, int64(1002), apiGetInt(t, th, d, refs[2]))
		apiRequireLive(t, th, map[string]int{"dict": 1, "Target": 2, "weakref": 2, "int": 2})
		th.DecRef(objs[0])
		th.DecRef(objs[2])
		require.Equal(t, 3, removed)
		require.Equal(t, "{}", th.Repr(d))
		th.DecRef(d)
		apiRequireLive(t, th, map[string]int{})
	})
}

// Dropping the last reference to an object from inside a weak reference
// callback, or from inside another object's finalizer, destroys it at
// once, before the call returns: CPython deallocates as soon as a count
// reaches zero (only the trashcan defers, past 50 nested deallocations).
// The interpreter: wb = ref(b, cb_b); wa = ref(a, cb_a doing `del b`);
// del a -> ['a start', 'b', ('wb', None), 'a end']; x.__del__ doing
// `del y` -> ['x start', 'y start', 'y end', 'x end'].
func TestAudit14APINestedDeathRunsAtOnce(t *testing.T) {
	eachModeThread(t, func(t *testing.T, th *Thread) {
		typ := audit14Type(t, th, TypeSpec{Name: "Target"})
		a, b := th.NewInstance(typ), th.NewInstance(typ)
		var log []string
		wb, err := th.NewWeakRef(b, func(*Thread, *Object) { log = append(log, "b") })
		require.NoError(t, err)
		wa, err := th.NewWeakRef(a, func(th *Thread, _ *Object) {
			log = append(log, "a start")
			th.DecRef(b)
			got, err := th.WeakRefGet(wb)
			require.NoError(t, err)
			require.Nil(t, got)
			log = append(log, "a end")
		})
		require.NoError(t, err)
		th.DecRef(a)
		require.Equal(t, []string{"a start", "b", "a end"}, log)
		audit14DecRefAll(th, wa, wb)

		// The same from a finalizer.
		log = nil
		var y *Object
		fin := audit14Type(t, th, TypeSpec{Name: "Fin", Finalize: func(th *Thread, self *Object) {
			name := "y"
			if self != y {
				name = "x"
			}
			log = append(log, name+" start")
			if name == "x" {
				th.DecRef(y)
			}
			log = append(log, name+" end")
		}})
		x := th.NewInstance(fin)
		y = th.NewInstance(fin)
		th.DecRef(x)
		require.Equal(t, []string{"x start", "y start", "y end", "x end"}, log)
		apiRequireLive(t, th, map[string]int{})
	})
}

// A weak reference never hands out an object whose count already reached
// zero, even while that object waits to be destroyed behind another one
// (CPython issue #16602, test_weakref.test_trashcan_16602: the weak
// reference returns None when Py_REFCNT(target) is 0). Children of one
// container die together; each child's callback asks the weak references
// of its siblings for them: it gets nil, or a live object that something
// other than our new reference still holds. Then the same along a long
// chain, each link asking for the next and the previous one.
func TestAudit14APIWeakRefNeverReturnsDyingObject(t *testing.T) {
	eachModeThread(t, func(t *testing.T, th *Thread) {
		typ := audit14Type(t, th, TypeSpec{Name: "Child"})
		parentType := audit14Type(t, th, TypeSpec{Name: "Parent"})
		probe := func(th *Thread, refs []*Object) {
			for _, r := range refs {
				got, err := th.WeakRefGet(r)
				require.NoError(t, err)
				if got != nil {
					require.GreaterOrEqual(t, th.RefCount(got), 2, "WeakRefGet returned an object whose count had reached zero")
					th.DecRef(got)
				}
			}
		}
		for _, kind := range []string{"list", "tuple", "dict", "instance"} {
			const n = 4
			var refs []*Object
			calls := 0
			kids := make([]*Object, n)
			for i := range kids {
				kids[i] = th.NewInstance(typ)
				wr, err := th.NewWeakRef(kids[i], func(th *Thread, _ *Object) { calls++; probe(th, refs) })
				require.NoError(t, err)
				refs = append(refs, wr)
			}
			var parent *Object
			switch kind {
			case "list":
				parent = th.NewList(kids...)
			case "tuple":
				parent = th.NewTuple(kids...)
			case "dict":
				parent = th.NewDict()
				for i, k := range kids {
					key := th.NewInt(int64(1000 + i))
					require.NoError(t, th.DictSet(parent, key, k))
					th.DecRef(key)
				}
			case "instance":
				parent = th.NewInstance(parentType)
				for i, k := range kids {
					require.NoError(t, th.SetAttr(parent, string(rune('a'+i)), k))
				}
			}
			audit14DecRefAll(th, kids...)
			th.DecRef(parent)
			require.Equal(t, n, calls, kind)
			audit14DecRefAll(th, refs...)
			apiRequireLive(t, th, map[string]int{})
		}

		// A chain: link i holds link i+1.
		const chain = 2000
		links := make([]*Object, chain)
		refs := make([]*Object, chain)
		calls := 0
		for i := chain - 1; i >= 0; i-- {
			links[i] = th.NewInstance(typ)
			if i+1 < chain {
				require.NoError(t, th.SetAttr(links[i], "next", links[i+1]))
				th.DecRef(links[i+1])
			}
			i := i
			wr, err := th.NewWeakRef(links[i], func(th *Thread, _ *Object) {
				calls++
				var near []*Object
				for _, j := range []int{i - 1, i + 1} {
					if j >= 0 && j < chain {
						near = append(near, refs[j])
					}
				}
				probe(th, near)
			})
			require.NoError(t, err)
			refs[i] = wr
		}
		th.DecRef(links[0])
		require.Equal(t, chain, calls)
		audit14DecRefAll(th, refs...)
		apiRequireLive(t, th, map[string]int{})
	})
}

// ---------------------------------------------------------------- attributes

// setattr/getattr/delattr take any str as a name, not only identifiers,
// and the AttributeError message quotes the name as is (no repr
// escaping). The interpreter, for "", "a b", "it's", "1x", "é":
// getattr after delattr -> "'B' object has no attribute 'it's'".
func TestAudit14APIAttributeNamesAnyStr(t *testing.T) {
	eachModeThread(t, func(t *testing.T, th *Thread) {
		typ := audit14Type(t, th, TypeSpec{Name: "Foo"})
		o := th.NewInstance(typ)
		names := []string{"", "a b", "it's", "1x", "é", "x\ny", "ü" + string(rune(0x10348))}
		vals := make([]*Object, len(names))
		for i, name := range names {
			vals[i] = th.NewInt(int64(2000 + i))
			require.NoError(t, th.SetAttr(o, name, vals[i]), "setattr(o, %q)", name)
		}
		for i, name := range names {
			v, err := th.GetAttr(o, name)
			require.NoError(t, err, "getattr(o, %q)", name)
			require.Same(t, vals[i], v, "getattr(o, %q)", name)
			th.DecRef(v)
			require.Equal(t, 2, th.RefCount(vals[i]))
		}
		for _, name := range names {
			require.NoError(t, th.DelAttr(o, name), "delattr(o, %q)", name)
			want := "AttributeError: 'Foo' object has no attribute '" + name + "'"
			_, err := th.GetAttr(o, name)
			auditRequireOneSentinel(t, err, ErrAttribute, name)
			require.Equal(t, want, err.Error())
			err = th.DelAttr(o, name)
			auditRequireOneSentinel(t, err, ErrAttribute, name)
			require.Equal(t, want, err.Error())
		}
		for _, v := range vals {
			require.Equal(t, 1, th.RefCount(v))
		}
		audit14DecRefAll(th, vals...)
		th.DecRef(o)
		apiRequireLive(t, th, map[string]int{})
	})
}

// A weak reference has no attributes and is no number; its str is its
// repr. The interpreter names the type 'weakref.ReferenceType' in these
// messages; API.md names it "weakref", which wins. float() of an
// instance: "float() argument must be a string or a real number, not 'B'".
func TestAudit14APIWeakRefAttributesAndConversions(t *testing.T) {
	eachModeThread(t, func(t *testing.T, th *Thread) {
		typ := audit14Type(t, th, TypeSpec{Name: "Foo"})
		o := th.NewInstance(typ)
		wr, err := th.NewWeakRef(o, nil)
		require.NoError(t, err)
		x := th.NewInt(1000)

		_, err = th.GetAttr(wr, "x")
		auditRequireOneSentinel(t, err, ErrAttribute, "getattr(wr)")
		require.Equal(t, "AttributeError: 'weakref' object has no attribute 'x'", err.Error())
		err = th.DelAttr(wr, "x")
		auditRequireOneSentinel(t, err, ErrAttribute, "delattr(wr)")
		require.Equal(t, "AttributeError: 'weakref' object has no attribute 'x'", err.Error())
		err = th.SetAttr(wr, "x", x)
		auditRequireOneSentinel(t, err, ErrAttribute, "setattr(wr)")
		require.Contains(t, err.Error(), "'weakref' object has no attribute 'x'")
		require.Equal(t, 1, th.RefCount(x), "a failed SetAttr keeps no reference")

		_, err = th.Int(wr)
		auditRequireOneSentinel(t, err, ErrType, "int(wr)")
		require.Equal(t, "TypeError: int() argument must be a string, a bytes-like object or a real number, not 'weakref'", err.Error())
		_, err = th.Float(wr)
		auditRequireOneSentinel(t, err, ErrType, "float(wr)")
		require.Equal(t, "TypeError: float() argument must be a string or a real number, not 'weakref'", err.Error())
		_, err = th.Float(o)
		auditRequireOneSentinel(t, err, ErrType, "float(o)")
		require.Equal(t, "TypeError: float() argument must be a string or a real number, not 'Foo'", err.Error())

		s, err := th.Str(wr)
		require.NoError(t, err)
		require.Equal(t, th.Repr(wr), s)
		th.DecRef(o)
		s, err = th.Str(wr)
		require.NoError(t, err)
		require.Regexp(t, audit14DeadWeakRef, s)
		audit14DecRefAll(th, wr, x)
		apiRequireLive(t, th, map[string]int{})
	})
}

// ---------------------------------------------------------------- conversions

// int() and float() strip the whitespace str.isspace() knows only when
// it is not ASCII: "\x1c" (an ASCII character isspace() accepts) stays
// and makes the literal invalid, "\x85" and "\u2029" are stripped;
// a minus sign U+2212, a NUL, a space after the sign are invalid, and
// the message shows the argument's repr. The interpreter:
// int('7\x1c') -> ValueError "invalid literal for int() with base 10:
// '7\x1c'"; int('\x85 7 \u2029') -> 7 (Objects/unicodeobject.c,
// _PyUnicode_TransformDecimalAndSpaceToASCII copies chars < 127 as they
// are; PyLong_FromString strips with Py_ISSPACE, ASCII only).
func TestAudit14APIConversionWhitespaceAndSigns(t *testing.T) {
	eachModeThread(t, func(t *testing.T, th *Thread) {
		for _, c := range []struct {
			s    string
			repr string
		}{
			{"7\x1c", `'7\x1c'`},
			{"\x1f7", `'\x1f7'`},
			{"\u22121", "'\u22121'"},
			{"1\x00", `'1\x00'`},
			{"+ 1", `'+ 1'`},
			{"- 1", `'- 1'`},
			{"\u200b1", `'\u200b1'`},
		} {
			o := th.NewStr(c.s)
			require.Equal(t, c.repr, th.Repr(o))
			_, err := th.Int(o)
			auditRequireOneSentinel(t, err, ErrValue, "int("+c.repr+")")
			require.Equal(t, "ValueError: invalid literal for int() with base 10: "+c.repr, err.Error())
			_, err = th.Float(o)
			auditRequireOneSentinel(t, err, ErrValue, "float("+c.repr+")")
			require.Equal(t, "ValueError: could not convert string to float: "+c.repr, err.Error())
			th.DecRef(o)
		}
		for _, s := range []string{"\u0085 7 \u2029", "\u00a07\u3000", "\u20287\u205f", "\v\f7\r"} {
			o := th.NewStr(s)
			i, err := th.Int(o)
			require.NoError(t, err, "int(%q)", s)
			require.Equal(t, int64(7), i)
			f, err := th.Float(o)
			require.NoError(t, err, "float(%q)", s)
			require.Equal(t, 7.0, f)
			th.DecRef(o)
		}
		apiRequireLive(t, th, map[string]int{})
	})
}

// float() keeps the sign of an underflow to zero, and repr writes it;
// a NaN's sign never shows. The interpreter: repr(float('-1e-400')) ->
// '-0.0'; repr(-float('nan')) -> 'nan'; repr(float('-nan')) -> 'nan'
// (Python/pystrtod.c, format_float_short: "nan" whatever the sign).
func TestAudit14APIFloatSignedZeroAndNaN(t *testing.T) {
	eachModeThread(t, func(t *testing.T, th *Thread) {
		for _, c := range []struct {
			s       string
			negZero bool
		}{{"-1e-400", true}, {"1e-400", false}, {"-0", true}, {"-0e5", true}, {"-.0", true}, {"+0.0", false}} {
			o := th.NewStr(c.s)
			f, err := th.Float(o)
			require.NoError(t, err, "float(%q)", c.s)
			require.Zero(t, f)
			require.Equal(t, c.negZero, math.Signbit(f), "sign of float(%q)", c.s)
			fo := th.NewFloat(f)
			want := "0.0"
			if c.negZero {
				want = "-0.0"
			}
			require.Equal(t, want, th.Repr(fo))
			th.DecRef(fo)
			th.DecRef(o)
		}
		negNaN := th.NewFloat(math.Copysign(math.NaN(), -1))
		require.Equal(t, "nan", th.Repr(negNaN))
		s := th.NewStr("-nan")
		f, err := th.Float(s)
		require.NoError(t, err)
		fo := th.NewFloat(f)
		require.Equal(t, "nan", th.Repr(fo))
		l := th.NewList(negNaN, fo)
		require.Equal(t, "[nan, nan]", th.Repr(l))
		audit14DecRefAll(th, l, fo, s, negNaN)
		apiRequireLive(t, th, map[string]int{})
	})
}

// float() of an int rounds to the nearest float, ties to even. The
// interpreter: float(2**53+1) -> 9007199254740992.0, float(2**53+3) ->
// 9007199254740996.0, float(2**63-1) -> 9.223372036854776e+18.
func TestAudit14APIFloatOfLargeInts(t *testing.T) {
	eachModeThread(t, func(t *testing.T, th *Thread) {
		for _, c := range []struct {
			v    int64
			want float64
			repr string
		}{
			{1<<53 + 1, 9007199254740992, "9007199254740992.0"},
			{1<<53 + 3, 9007199254740996, "9007199254740996.0"},
			{-(1<<53 + 1), -9007199254740992, "-9007199254740992.0"},
			{math.MaxInt64, 9223372036854775808, "9.223372036854776e+18"},
			{math.MinInt64, -9223372036854775808, "-9.223372036854776e+18"},
		} {
			o := th.NewInt(c.v)
			f, err := th.Float(o)
			require.NoError(t, err)
			require.Equal(t, c.want, f, "float(%d)", c.v)
			fo := th.NewFloat(f)
			require.Equal(t, c.repr, th.Repr(fo))
			audit14DecRefAll(th, fo, o)
		}
		apiRequireLive(t, th, map[string]int{})
	})
}

// ---------------------------------------------------------------- dicts

// Keys whose CPython hashes collide (hash(-1) == hash(-2) == -2,
// hash(2**61-1) == hash(0) == 0, hash(inf) == hash(314159)) stay
// distinct keys; 2.0**61 and 2**61 are one key. The interpreter prints
// {-1: 1, -2: 2, 2305843009213693951: 3, 0: 4, 2.305843009213694e+18: 6,
// inf: 7, 314159: 8}.
func TestAudit14APIDictCollidingHashesDistinctKeys(t *testing.T) {
	eachModeThread(t, func(t *testing.T, th *Thread) {
		d := th.NewDict()
		keys := []*Object{
			th.NewInt(-1), th.NewInt(-2), th.NewInt(1<<61 - 1), th.NewInt(0),
			th.NewFloat(1 << 61), th.NewInt(1 << 61), th.NewFloat(math.Inf(1)), th.NewInt(314159),
		}
		for i, k := range keys {
			v := th.NewInt(int64(i + 1))
			require.NoError(t, th.DictSet(d, k, v))
			th.DecRef(v)
		}
		require.Equal(t, "{-1: 1, -2: 2, 2305843009213693951: 3, 0: 4, 2.305843009213694e+18: 6, inf: 7, 314159: 8}", th.Repr(d))
		for i, want := range []int64{1, 2, 3, 4, 6, 6, 7, 8} {
			require.Equal(t, want, apiGetInt(t, th, d, keys[i]), "d[%s]", th.Repr(keys[i]))
		}
		require.NoError(t, th.DictDel(d, keys[1]))
		require.NoError(t, th.DictDel(d, keys[3]))
		require.Equal(t, int64(1), apiGetInt(t, th, d, keys[0]))
		require.Equal(t, int64(3), apiGetInt(t, th, d, keys[2]))
		_, err := th.DictGet(d, keys[3])
		require.Equal(t, "KeyError: 0", err.Error())
		require.Equal(t, "{-1: 1, 2305843009213693951: 3, 2.305843009213694e+18: 6, inf: 7, 314159: 8}", th.Repr(d))
		th.DecRef(d)
		audit14DecRefAll(th, keys...)
		apiRequireLive(t, th, map[string]int{})
	})
}

// str keys compare by code points: no Unicode normalization ('é' and
// 'e\u0301' are two keys: the interpreter's len(d) is 2), a NUL counts,
// and the empty str is a key like any other.
func TestAudit14APIDictStrKeysByCodePoints(t *testing.T) {
	eachModeThread(t, func(t *testing.T, th *Thread) {
		d := th.NewDict()
		strs := []string{"\u00e9", "e\u0301", "a", "a\x00", "", "A"}
		for i, s := range strs {
			apiSetStr(t, th, d, s, int64(i))
		}
		n, err := th.DictLen(d)
		require.NoError(t, err)
		require.Equal(t, len(strs), n)
		for i, s := range strs {
			k := th.NewStr(s)
			require.Equal(t, int64(i), apiGetInt(t, th, d, k), "d[%q]", s)
			th.DecRef(k)
		}
		require.Equal(t, int64(4), apiGetInt(t, th, d, th.Intern("")))
		require.Equal(t, "{'\u00e9': 0, 'e\u0301': 1, 'a': 2, 'a\\x00': 3, '': 4, 'A': 5}", th.Repr(d))
		th.DecRef(d)
		apiRequireLive(t, th, map[string]int{})
	})
}

// After a delete, an equal key of another type goes in as a new key
// with its own object (the interpreter: d[1] = 'a'; del d[1];
// d[True] = 'b' -> {True: 'b'}); while the key is present, an equal key
// of another type only replaces the value, in place, and the first key
// object stays.
func TestAudit14APIDictEqualKeyOfOtherType(t *testing.T) {
	eachModeThread(t, func(t *testing.T, th *Thread) {
		rt := th.Runtime()
		d := th.NewDict()
		one, a, b := th.NewInt(1), th.NewStr("a"), th.NewStr("b")
		require.NoError(t, th.DictSet(d, one, a))
		require.NoError(t, th.DictDel(d, rt.True()))
		require.NoError(t, th.DictSet(d, rt.True(), b))
		require.Equal(t, "{True: 'b'}", th.Repr(d))
		keys := audit14Keys(t, th, d)
		require.Len(t, keys, 1)
		require.Same(t, rt.True(), keys[0])
		audit14DecRefAll(th, keys...)
		th.DecRef(d)

		d = th.NewDict()
		big, x := th.NewInt(1000), th.NewStr("x")
		bigF := th.NewFloat(1000)
		require.NoError(t, th.DictSet(d, big, a))
		require.NoError(t, th.DictSet(d, x, a))
		require.NoError(t, th.DictSet(d, bigF, b))
		require.Equal(t, "{1000: 'b', 'x': 'a'}", th.Repr(d))
		keys = audit14Keys(t, th, d)
		require.Same(t, big, keys[0], "the first key object stays")
		require.Same(t, x, keys[1])
		audit14DecRefAll(th, keys...)
		require.Equal(t, 1, th.RefCount(bigF), "the equal float is not stored")
		require.NoError(t, th.DictDel(d, bigF))
		require.NoError(t, th.DictSet(d, bigF, a))
		require.Equal(t, "{'x': 'a', 1000.0: 'a'}", th.Repr(d))
		require.Equal(t, 2, th.RefCount(bigF))
		require.Equal(t, 1, th.RefCount(big))
		audit14DecRefAll(th, d, big, bigF, x, a, b)
		apiRequireLive(t, th, map[string]int{})
	})
}

// DictKeys is a snapshot like list(d): a new list holding its own
// references to the keys, unchanged by later changes to the dict, and
// changing it does not change the dict.
func TestAudit14APIDictKeysSnapshot(t *testing.T) {
	eachModeThread(t, func(t *testing.T, th *Thread) {
		d := th.NewDict()
		k1, k2, v := th.NewInt(1001), th.NewStr("k2"), th.NewInt(5000)
		require.NoError(t, th.DictSet(d, k1, v))
		require.NoError(t, th.DictSet(d, k2, v))
		keys, err := th.DictKeys(d)
		require.NoError(t, err)
		require.Equal(t, 3, th.RefCount(k1), "ours, the dict's and the snapshot's")
		require.Equal(t, 3, th.RefCount(v), "values are not in the snapshot")

		require.NoError(t, th.DictDel(d, k1))
		k3 := th.NewFloat(2.5)
		require.NoError(t, th.DictSet(d, k3, v))
		require.Equal(t, "[1001, 'k2']", th.Repr(keys), "the snapshot does not follow the dict")
		require.Equal(t, 2, th.RefCount(k1), "the snapshot keeps the deleted key alive")

		p, err := th.ListPop(keys, 0)
		require.NoError(t, err)
		th.DecRef(p)
		require.NoError(t, th.ListAppend(keys, v))
		require.Equal(t, "{'k2': 5000, 2.5: 5000}", th.Repr(d), "changing the snapshot does not change the dict")
		keys2, err := th.DictKeys(d)
		require.NoError(t, err)
		require.NotSame(t, keys, keys2, "each call makes a new list")
		require.Equal(t, "['k2', 2.5]", th.Repr(keys2))
		require.Equal(t, 1, th.RefCount(k1))
		audit14DecRefAll(th, keys, keys2)
		require.Equal(t, 2, th.RefCount(k2))
		audit14DecRefAll(th, d, k1, k2, k3, v)
		apiRequireLive(t, th, map[string]int{})
	})
}

// Reference counts when one object is both key and value, and when a
// value is set again to itself (dict_ass_sub: insertdict increfs the new
// value before it drops the old one).
func TestAudit14APIDictRefCountsKeyIsValue(t *testing.T) {
	eachModeThread(t, func(t *testing.T, th *Thread) {
		d := th.NewDict()
		k := th.NewInt(1001)
		require.NoError(t, th.DictSet(d, k, k))
		require.Equal(t, 3, th.RefCount(k), "ours, as key and as value")
		require.NoError(t, th.DictSet(d, k, k))
		require.Equal(t, 3, th.RefCount(k), "setting the same value again changes nothing")
		// The dict holds the only reference to a value set again to itself.
		s := th.NewStr("s")
		v := th.NewInt(2002)
		require.NoError(t, th.DictSet(d, s, v))
		th.DecRef(v)
		got, err := th.DictGet(d, s)
		require.NoError(t, err)
		require.NoError(t, th.DictSet(d, s, got))
		th.DecRef(got)
		require.Equal(t, 1, th.RefCount(got), "the dict's")
		require.Equal(t, int64(2002), apiGetInt(t, th, d, s))
		require.NoError(t, th.DictDel(d, k))
		require.Equal(t, 1, th.RefCount(k))
		require.Equal(t, "{'s': 2002}", th.Repr(d))
		audit14DecRefAll(th, d, k, s)
		apiRequireLive(t, th, map[string]int{})
	})
}

// ---------------------------------------------------------------- repr

// Only objects on the current repr path print as [...] / {...}: the same
// list twice at different depths is printed in full each time (the
// interpreter: x = []; repr([x, [x]]) -> '[[], [[]]]'; d = {};
// d['a'] = [d]; repr(d) -> "{'a': [{...}]}"), and a repr leaves nothing
// marked behind (Py_ReprLeave).
func TestAudit14APIReprRecursionPathOnly(t *testing.T) {
	eachModeThread(t, func(t *testing.T, th *Thread) {
		x := th.NewList()
		inner := th.NewList(x)
		l := th.NewList(x, inner)
		require.Equal(t, "[[], [[]]]", th.Repr(l))
		xd := th.NewDict()
		mid := th.NewTuple(xd)
		tu := th.NewTuple(xd, mid, xd)
		th.DecRef(mid)
		require.Equal(t, "({}, ({},), {})", th.Repr(tu))

		d := th.NewDict()
		ka := th.NewStr("a")
		dl := th.NewList(d)
		require.NoError(t, th.DictSet(d, ka, dl))
		require.Equal(t, "{'a': [{...}]}", th.Repr(d))
		require.Equal(t, "[{'a': [...]}]", th.Repr(dl))
		// Nothing stays marked: the same objects print in full inside another.
		outer := th.NewList(dl, d)
		require.Equal(t, "[[{'a': [...]}], {'a': [{...}]}]", th.Repr(outer))
		require.Equal(t, "{'a': [{...}]}", th.Repr(d))

		// l[0] = l through ListSet.
		s := th.NewList(th.Runtime().None())
		require.NoError(t, th.ListSet(s, 0, s))
		require.Equal(t, "[[...]]", th.Repr(s))
		require.Equal(t, 2, th.RefCount(s))
		require.NoError(t, th.ListSet(s, -1, th.Runtime().None()))
		require.Equal(t, 1, th.RefCount(s))
		require.Equal(t, "[None]", th.Repr(s))

		// Break d's cycle by hand.
		require.NoError(t, th.DictDel(d, ka))
		audit14DecRefAll(th, outer, dl, d, ka, s, tu, xd, l, inner, x)
		apiRequireLive(t, th, map[string]int{})
	})
}

// ---------------------------------------------------------------- reference counts

// RefCount is the true count whichever thread asks and whichever threads
// took the references, also after the creating thread has exited.
func TestAudit14APIRefCountAcrossThreads(t *testing.T) {
	eachMode(t, func(t *testing.T, rt *Runtime) {
		a := rt.NewThread()
		o := a.NewList()
		x := a.NewInt(1000)
		require.NoError(t, a.ListAppend(o, x))
		a.DecRef(x)
		a.Detach()

		b := rt.NewThread()
		b.IncRef(o)
		got := b.NewRef(o)
		require.Same(t, o, got)
		require.Equal(t, 3, b.RefCount(o))
		it, err := b.ListGet(o, 0)
		require.NoError(t, err)
		require.Equal(t, 2, b.RefCount(it), "the list's and b's")
		b.DecRef(it)
		b.Detach()

		a.Attach()
		require.Equal(t, 3, a.RefCount(o), "the creator sees the other thread's references")
		a.DecRef(o)
		require.Equal(t, 2, a.RefCount(o))
		a.Close()

		b.Attach()
		require.Equal(t, 2, b.RefCount(o), "the count survives its creator's exit")
		b.DecRef(o)
		require.Equal(t, 1, b.RefCount(o))
		require.Equal(t, "[1000]", b.Repr(o))
		b.DecRef(o)
		apiRequireLive(t, b, map[string]int{})
		b.Close()
	})
}

// ---------------------------------------------------------------- lists

// list.extend takes any iterable: a str gives its characters, a dict its
// keys in order (the interpreter: l = [1]; l.extend('ab');
// l.extend({'k': 1}) -> [1, 'a', 'b', 'k']; Objects/listobject.c,
// list_extend: PyObject_GetIter for anything but a list or tuple).
func TestAudit14APIListExtendIterables(t *testing.T) {
	eachModeThread(t, func(t *testing.T, th *Thread) {
		l := apiIntList(th, 1)
		s := th.NewStr("ab")
		d := th.NewDict()
		apiSetStr(t, th, d, "k", 1)
		errS := th.ListExtend(l, s)
		errD := th.ListExtend(l, d)
		repr := th.Repr(l)
		audit14DecRefAll(th, l, s, d)
		apiRequireLive(t, th, map[string]int{})
		require.NoError(t, errS, "l.extend('ab')")
		require.NoError(t, errD, "l.extend({'k': 1})")
		require.Equal(t, "[1, 'a', 'b', 'k']", repr)
	})
}

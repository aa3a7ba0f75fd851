package runtime

import (
	"strings"
)

type kind uint8

const (
	kindFreed kind = iota // a poisoned, freed object
	kindNone
	kindBool
	kindInt
	kindFloat
	kindStr
	kindTuple
	kindList
	kindDict
	kindInstance
	kindWeakref
)

// container reports whether objects of the kind carry a collector header.
func (k kind) container() bool { return k >= kindTuple }

// TypeSpec defines a user type. Its instances carry attributes and can be
// the target of weak references.
type TypeSpec struct {
	Name string
	// Finalize runs at most once per object, before it is freed, whether it
	// dies by reference count or in a cycle (PEP 442). It may resurrect the
	// object by storing a new reference to it somewhere reachable.
	Finalize func(th *Thread, self *Object)
	// LegacyDel marks instances as having a legacy finalizer: when such an
	// instance is in unreachable cyclic garbage, the collector does not free
	// it, nor anything reachable from it, but appends it to GC().Garbage().
	// When it dies by reference count, LegacyDel runs and it is freed.
	LegacyDel func(th *Thread, self *Object)
}

// Type is an object's type. A Type lives as long as its runtime.
type Type struct {
	name string
	kind kind
	rt   *Runtime
	// index numbers the runtime's types for the per-thread statistics.
	index int
	// freed is the poisoned twin freed objects of this type point to. Its
	// rt is nil: a freed object belongs to no runtime, so that check's one
	// compare of the runtime also catches a use after free.
	freed *Type
	// original is, for a freed twin, the type it poisons.
	original  *Type
	finalize  func(th *Thread, self *Object)
	legacyDel func(th *Thread, self *Object)
	// attrKeys are an instance type's attribute names (instattrs.go).
	attrKeys sharedKeys
}

// Name returns the type's name: "int", "str", ..., or the TypeSpec name.
func (t *Type) Name() string { return t.name }

func (t *Type) String() string { return t.name }

func (rt *Runtime) addType(name string, k kind) *Type {
	t := &Type{name: name, kind: k, rt: rt}
	t.freed = &Type{name: name, kind: kindFreed, original: t}
	rt.typesMu.Lock()
	t.index = len(rt.types)
	t.freed.index = t.index
	rt.types = append(rt.types, t)
	rt.typesMu.Unlock()
	return t
}

// NewType defines a user type.
func (rt *Runtime) NewType(spec TypeSpec) (*Type, error) {
	rt.checkOpen()
	name := strings.TrimSpace(spec.Name)
	if name == "" {
		return nil, errorf(ErrValue, "type name must not be empty")
	}
	if name != spec.Name || strings.ContainsAny(name, " \t\n.") {
		return nil, errorf(ErrValue, "invalid type name %q", spec.Name)
	}
	if builtinTypeNames[name] {
		return nil, errorf(ErrValue, "type name %q is taken by a builtin type", name)
	}
	t := rt.addType(name, kindInstance)
	t.finalize = spec.Finalize
	t.legacyDel = spec.LegacyDel
	return t, nil
}

var builtinTypeNames = map[string]bool{
	"NoneType": true, "bool": true, "int": true, "float": true, "str": true,
	"tuple": true, "list": true, "dict": true, "weakref": true,
}

// builtins are a runtime's builtin types.
type builtins struct {
	none, boolean, integer, float, str, tuple, list, dict, weakref *Type
}

// The builtin types' indexes (Type.index): initBuiltins adds them first,
// in this order, so that the statistics can count them at constant
// indexes (stats.go). User types follow.
const (
	tiNone = iota
	tiBool
	tiInt
	tiFloat
	tiStr
	tiTuple
	tiList
	tiDict
	tiWeakref
	numBuiltins
)

func (rt *Runtime) initBuiltins() {
	add := func(name string, k kind, index int) *Type {
		t := rt.addType(name, k)
		if t.index != index {
			panic("nogil: internal error: builtin type " + name + " added out of order")
		}
		return t
	}
	rt.t = builtins{
		none:    add("NoneType", kindNone, tiNone),
		boolean: add("bool", kindBool, tiBool),
		integer: add("int", kindInt, tiInt),
		float:   add("float", kindFloat, tiFloat),
		str:     add("str", kindStr, tiStr),
		tuple:   add("tuple", kindTuple, tiTuple),
		list:    add("list", kindList, tiList),
		dict:    add("dict", kindDict, tiDict),
		weakref: add("weakref", kindWeakref, tiWeakref),
	}
}

// check panics unless o is a live object of th's runtime: the misuse
// checks every API entry makes. They cost two loads and two compares (a
// freed object's type has no runtime: Type.freed).
func (th *Thread) check(o *Object) {
	if o == nil || o.typ.rt != th.rt {
		panic(badObject(o))
	}
}

// badObject is the misuse message for an object check failed.
//
//go:noinline
func badObject(o *Object) string {
	if o == nil {
		return misuseMessage("nil *Object passed to the API")
	}
	t := o.typ
	if t.kind == kindFreed {
		return misuseMessage("use after free of a %s object", t.name)
	}
	return misuseMessage("%s object of another runtime used in this one", t.name)
}

func typeError(format string, args ...any) error { return errorf(ErrType, format, args...) }

package runtime

import (
	"unsafe"

	"github.com/nogil-lab/nogil/gc"
	"github.com/nogil-lab/nogil/internal/invariants"
)

// Downcasts from the header to the concrete object. Every concrete object
// embeds Object (through container for tracked ones) as its first field,
// so the header's address is the object's address. The type's kind says
// which struct it is; builds with invariants check it.

func checkKind(o *Object, k kind) {
	if invariants.Enabled && o.typ.kind != k {
		misuse("internal downcast of %s object to kind %d", o.typ.name, k)
	}
}

func asInt(o *Object) *intObject {
	if invariants.Enabled && o.typ.kind != kindInt && o.typ.kind != kindBool {
		misuse("internal downcast of %s object to int", o.typ.name)
	}
	return (*intObject)(unsafe.Pointer(o))
}
func asFloat(o *Object) *floatObject {
	checkKind(o, kindFloat)
	return (*floatObject)(unsafe.Pointer(o))
}

// freedInt, freedFloat, freedList and freedDict cast an object taken off a
// free list, whose type is the freed twin of its kind's.
func freedInt(o *Object) *intObject {
	checkFreed(o, kindInt)
	return (*intObject)(unsafe.Pointer(o))
}
func freedFloat(o *Object) *floatObject {
	checkFreed(o, kindFloat)
	return (*floatObject)(unsafe.Pointer(o))
}
func freedList(o *Object) *listObject {
	checkFreed(o, kindList)
	return (*listObject)(unsafe.Pointer(o))
}
func freedDict(o *Object) *dictObject {
	checkFreed(o, kindDict)
	return (*dictObject)(unsafe.Pointer(o))
}

func checkFreed(o *Object, k kind) {
	if invariants.Enabled && (o.typ.kind != kindFreed || o.typ.original.kind != k) {
		misuse("internal: %s object on the free list of kind %d", o.typ.name, k)
	}
}

func asStr(o *Object) *strObject {
	checkKind(o, kindStr)
	return (*strObject)(unsafe.Pointer(o))
}

func asTuple(o *Object) *tupleObject {
	checkKind(o, kindTuple)
	return (*tupleObject)(unsafe.Pointer(o))
}

func asList(o *Object) *listObject {
	checkKind(o, kindList)
	return (*listObject)(unsafe.Pointer(o))
}

func asDict(o *Object) *dictObject {
	checkKind(o, kindDict)
	return (*dictObject)(unsafe.Pointer(o))
}

func asInstance(o *Object) *instanceObject {
	checkKind(o, kindInstance)
	return (*instanceObject)(unsafe.Pointer(o))
}
func asWeakref(o *Object) *weakrefObject {
	checkKind(o, kindWeakref)
	return (*weakrefObject)(unsafe.Pointer(o))
}

// asContainer returns the container header of a tracked kind.
func asContainer(o *Object) *container {
	if invariants.Enabled && !o.typ.kind.container() {
		misuse("internal downcast of %s object to a container", o.typ.name)
	}
	return (*container)(unsafe.Pointer(o))
}

// gcOffset is where the collector's header sits inside a container.
const gcOffset = unsafe.Offsetof(container{}.gc)

// fromGC returns the object whose collector header is h.
func fromGC(h *gc.Header) *Object {
	return (*Object)(unsafe.Add(unsafe.Pointer(h), -int(gcOffset)))
}

// identityHash hashes an object by its address. Go's heap objects do not
// move, and the address is only hashed, never kept as a reference.
func identityHash(o *Object) uint64 {
	p := uint64(uintptr(unsafe.Pointer(o)))
	return (p >> 4) | (p << 60)
}

// addressOf formats an object's address for repr ("0x...").
func addressOf(o *Object) uintptr { return uintptr(unsafe.Pointer(o)) }

// youngOf returns the youngList whose list l is (its first field).
func youngOf(l *gc.List) *youngList { return (*youngList)(unsafe.Pointer(l)) }

func mutexHash(m *objectMutex) uintptr {
	p := uintptr(unsafe.Pointer(m))
	return (p >> 4) ^ (p >> 12)
}

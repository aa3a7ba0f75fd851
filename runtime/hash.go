package runtime

import (
	"hash/maphash"
	"math"
)

// Hashing and equality of dict keys, like Python's: equal numbers hash
// equal (1 == 1.0 == True), strs by value, tuples by their items,
// instances by identity; lists and dicts are unhashable. A weak reference
// hashes and compares like its referent while that lives (CPython's
// weakref.__hash__ and __eq__); its hash, once taken, is kept, and a weak
// reference first hashed after its referent died is unhashable.

var strSeed = maphash.MakeSeed()

const noneHash = 0x5f3759df

func mixInt(v int64) uint64 {
	x := uint64(v)
	x ^= x >> 33
	x *= 0xff51afd7ed558ccd
	x ^= x >> 33
	x *= 0xc4ceb9fe1a85ec53
	x ^= x >> 33
	return x
}

// floatAsInt reports whether f is integral and fits an int64, and its value.
func floatAsInt(f float64) (int64, bool) {
	if f != math.Trunc(f) || f < -9.223372036854775808e18 || f >= 9.223372036854775807e18 {
		return 0, false
	}
	return int64(f), true
}

// hashOf returns o's hash, or ErrType for an unhashable object.
func hashOf(o *Object) (uint64, error) {
	switch o.typ.kind {
	case kindNone:
		return noneHash, nil
	case kindInt, kindBool:
		return mixInt(asInt(o).v), nil
	case kindFloat:
		f := asFloat(o).v
		if i, ok := floatAsInt(f); ok {
			return mixInt(i), nil
		}
		if math.IsNaN(f) {
			return identityHash(o), nil
		}
		return mixInt(int64(math.Float64bits(f))), nil
	case kindStr:
		return maphash.String(strSeed, asStr(o).s), nil
	case kindTuple:
		h := uint64(0x27d4eb2f165667c5)
		for _, it := range asTuple(o).items {
			ih, err := hashOf(it)
			if err != nil {
				return 0, err
			}
			h ^= ih + 0x9e3779b97f4a7c15 + h<<6 + h>>2
		}
		return h ^ uint64(len(asTuple(o).items)), nil
	case kindList, kindDict:
		return 0, typeError("unhashable type: '%s'", o.typ.name)
	case kindWeakref:
		return weakrefHash(asWeakref(o))
	}
	return identityHash(o), nil
}

// equal is Python's == for hashable keys.
func equal(a, b *Object) bool {
	if a == b {
		return true
	}
	ka, kb := a.typ.kind, b.typ.kind
	switch {
	case isIntKind(ka) && isIntKind(kb):
		return asInt(a).v == asInt(b).v
	case isIntKind(ka) && kb == kindFloat:
		i, ok := floatAsInt(asFloat(b).v)
		return ok && i == asInt(a).v
	case ka == kindFloat && isIntKind(kb):
		i, ok := floatAsInt(asFloat(a).v)
		return ok && i == asInt(b).v
	case ka == kindFloat && kb == kindFloat:
		return asFloat(a).v == asFloat(b).v
	case ka == kindStr && kb == kindStr:
		return asStr(a).s == asStr(b).s
	case ka == kindWeakref && kb == kindWeakref:
		// Referents are instances, equal only to themselves; reading the
		// pointers needs no reference.
		x, y := asWeakref(a).target.Load(), asWeakref(b).target.Load()
		return x != nil && x == y
	case ka == kindTuple && kb == kindTuple:
		x, y := asTuple(a).items, asTuple(b).items
		if len(x) != len(y) {
			return false
		}
		for i := range x {
			if !equal(x[i], y[i]) {
				return false
			}
		}
		return true
	}
	return false
}

func isIntKind(k kind) bool { return k == kindInt || k == kindBool }

func weakrefHash(w *weakrefObject) (uint64, error) {
	if w.hashKnown.Load() {
		return w.hash.Load(), nil
	}
	target := w.target.Load()
	if target == nil {
		return 0, typeError("weak object has gone away")
	}
	h, err := hashOf(target)
	if err != nil {
		return 0, err
	}
	w.hash.Store(h)
	w.hashKnown.Store(true)
	return h, nil
}

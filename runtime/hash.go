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

// hashOf returns o's hash, or ErrType for an unhashable object. It nests
// a few calls deep at most, however deep the object: a tuple goes to
// hashTuple, which walks nested tuples without recursion (hashNested) and
// calls hashOf only for the other items, and a weak reference to
// weakrefHash, which calls it for an instance.
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
		return hashTuple(asTuple(o))
	case kindList, kindDict:
		return 0, typeError("unhashable type: '%s'", o.typ.name)
	case kindWeakref:
		return weakrefHash(asWeakref(o))
	}
	return identityHash(o), nil
}

// equal is Python's == for hashable keys. Tuples go to equalTuples, which
// walks nested tuples without recursion (equalNested) and calls equal only
// for pairs that are not both tuples.
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
		return equalTuples(asTuple(a), asTuple(b))
	}
	return false
}

// Tuple hashing (a mix in the manner of boost's hash_combine): the seed,
// each item's hash combined in order, then the length.
const (
	tupleHashSeed = 0x27d4eb2f165667c5
	tupleHashMix  = 0x9e3779b97f4a7c15
)

// tupleWalkDepth is how many nested tuples hashNested and equalNested keep
// track of without allocating.
const tupleWalkDepth = 8

// hashTuple is hashOf for a tuple: a loop over its items, until it meets
// a nested tuple, which it leaves to hashNested.
func hashTuple(t *tupleObject) (uint64, error) {
	h := uint64(tupleHashSeed)
	for i, it := range t.items {
		if it.typ.kind == kindTuple {
			return hashNested(hashFrame{t: t, i: i, h: h})
		}
		ih, err := hashOf(it)
		if err != nil {
			return 0, err
		}
		h ^= ih + tupleHashMix + h<<6 + h>>2
	}
	return h ^ uint64(len(t.items)), nil
}

// hashFrame is a tuple being hashed: its items from i on are still to
// combine into h.
type hashFrame struct {
	t *tupleObject
	i int
	h uint64
}

// hashNested finishes hashTuple's work, top, for a tuple that holds
// tuples. It keeps the tuples being hashed on an explicit stack rather
// than recursing, so that a tuple nested millions deep costs heap, not Go
// stack; the items are combined in the order a recursion would, so the
// first unhashable item met gives the error.
func hashNested(top hashFrame) (uint64, error) {
	var local [tupleWalkDepth]hashFrame
	stack := append(local[:0], top)
	for {
		f := &stack[len(stack)-1]
		items := f.t.items
		if f.i == len(items) {
			h := f.h ^ uint64(len(items))
			stack = stack[:len(stack)-1]
			if len(stack) == 0 {
				return h, nil
			}
			p := &stack[len(stack)-1]
			p.h ^= h + tupleHashMix + p.h<<6 + p.h>>2
			continue
		}
		it := items[f.i]
		f.i++
		if it.typ.kind == kindTuple {
			stack = append(stack, hashFrame{t: asTuple(it), h: tupleHashSeed})
			continue
		}
		ih, err := hashOf(it)
		if err != nil {
			return 0, err
		}
		f.h ^= ih + tupleHashMix + f.h<<6 + f.h>>2
	}
}

// equalTuples is equal for two tuples: a loop over their items, until it
// meets a pair of tuples, which it leaves to equalNested.
func equalTuples(x, y *tupleObject) bool {
	if len(x.items) != len(y.items) {
		return false
	}
	for i, a := range x.items {
		b := y.items[i]
		switch {
		case a == b:
		case a.typ.kind == kindTuple && b.typ.kind == kindTuple:
			return equalNested(equalFrame{x: x, y: y, i: i})
		case !equal(a, b):
			return false
		}
	}
	return true
}

// equalFrame is a pair of tuples of the same length being compared: their
// items from i on are still to compare.
type equalFrame struct {
	x, y *tupleObject
	i    int
}

// equalNested finishes equalTuples' work, top, for tuples that hold
// tuples. Pairs of nested tuples go on an explicit stack rather than into
// a recursion, so that tuples nested millions deep cost heap, not Go
// stack; equal is called only for the other pairs.
func equalNested(top equalFrame) bool {
	var local [tupleWalkDepth]equalFrame
	stack := append(local[:0], top)
	for len(stack) > 0 {
		f := &stack[len(stack)-1]
		if f.i == len(f.x.items) {
			stack = stack[:len(stack)-1]
			continue
		}
		a, b := f.x.items[f.i], f.y.items[f.i]
		f.i++
		switch {
		case a == b:
		case a.typ.kind == kindTuple && b.typ.kind == kindTuple:
			ta, tb := asTuple(a), asTuple(b)
			if len(ta.items) != len(tb.items) {
				return false
			}
			stack = append(stack, equalFrame{x: ta, y: tb})
		case !equal(a, b):
			return false
		}
	}
	return true
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

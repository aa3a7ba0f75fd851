package runtime

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/nogil-lab/nogil/internal/invariants"
	"github.com/stretchr/testify/require"
)

// Repr, hashing and equality of structures nested a million deep, in every
// mode: each walks the object graph with an explicit stack, so the depth
// costs heap, never Go stack (whose overflow would kill the process), and
// time linear in the size.

// deepN is the nesting depth of the deep tests, scaled down under the race
// detector.
var deepN = invariants.Scale(300_000, 20)

// deepStackLimit is the Go stack the deep tests let a walk use (it is 1 GB
// by default): an iterative walk needs little, one that recursed deepN
// levels deep would need more and crash the test binary at once, as it
// would crash a program at ten million levels.
const deepStackLimit = 8 << 20

// withSmallStack runs fn with the Go stack limited to deepStackLimit.
func withSmallStack(fn func()) {
	old := debug.SetMaxStack(deepStackLimit)
	defer debug.SetMaxStack(old)
	fn()
}

// eachModeDeep is eachModeThread with automatic collection off: the
// collector is not under test, and its collections over a million live
// containers would take longer than the test.
func eachModeDeep(t *testing.T, fn func(t *testing.T, th *Thread)) {
	t.Helper()
	eachModeThread(t, func(t *testing.T, th *Thread) {
		th.Runtime().GC().Disable()
		fn(t, th)
	})
}

// deepChain returns a new reference to the outermost of n containers, each
// made by wrap around the one inside it, around inner (which it consumes).
func deepChain(th *Thread, n int, inner *Object, wrap func(th *Thread, inner *Object) *Object) *Object {
	cur := inner
	for i := 0; i < n; i++ {
		next := wrap(th, cur)
		th.DecRef(cur)
		cur = next
	}
	return cur
}

func wrapList(th *Thread, inner *Object) *Object  { return th.NewList(inner) }
func wrapTuple(th *Thread, inner *Object) *Object { return th.NewTuple(inner) }

func wrapDictValue(th *Thread, inner *Object) *Object {
	d := th.NewDict()
	if err := th.DictSet(d, th.NewInt(1), inner); err != nil { // a small int: immortal
		panic(err)
	}
	return d
}

// deepRepr is th.Repr(o) under the small stack.
func deepRepr(th *Thread, o *Object) string {
	var s string
	withSmallStack(func() { s = th.Repr(o) })
	return s
}

// requireSameString is require.Equal for strings of millions of bytes: on
// a mismatch it shows where they part rather than both whole.
func requireSameString(t *testing.T, want, got string) {
	t.Helper()
	if got == want {
		return
	}
	i := 0
	for i < len(want) && i < len(got) && want[i] == got[i] {
		i++
	}
	excerpt := func(s string) string { return s[max(i-20, 0):min(i+20, len(s))] }
	t.Fatalf("lengths %d (want) and %d (got), first difference at byte %d:\nwant ...%s...\ngot  ...%s...", len(want), len(got), i, excerpt(want), excerpt(got))
}

func TestDeepReprList(t *testing.T) {
	eachModeDeep(t, func(t *testing.T, th *Thread) {
		n := deepN
		l := deepChain(th, n-1, th.NewList(), wrapList)
		requireSameString(t, strings.Repeat("[", n)+strings.Repeat("]", n), deepRepr(th, l))
		require.Equal(t, 1, th.RefCount(l), "repr keeps no reference")
		th.DecRef(l)
		apiRequireLive(t, th, map[string]int{})
	})
}

func TestDeepReprTuple(t *testing.T) {
	eachModeDeep(t, func(t *testing.T, th *Thread) {
		n := deepN
		tu := deepChain(th, n, th.NewInt(1), wrapTuple)
		requireSameString(t, strings.Repeat("(", n)+"1"+strings.Repeat(",)", n), deepRepr(th, tu))
		th.DecRef(tu)
		apiRequireLive(t, th, map[string]int{})
	})
}

func TestDeepReprDict(t *testing.T) {
	eachModeDeep(t, func(t *testing.T, th *Thread) {
		n := deepN
		d := deepChain(th, n-1, th.NewDict(), wrapDictValue)
		requireSameString(t, strings.Repeat("{1: ", n-1)+"{}"+strings.Repeat("}", n-1), deepRepr(th, d))
		th.DecRef(d)
		apiRequireLive(t, th, map[string]int{})
	})
}

func TestDeepReprCycle(t *testing.T) {
	eachModeDeep(t, func(t *testing.T, th *Thread) {
		// outer = [[[...[outer]...]]], n lists in all.
		n := deepN
		outer := th.NewList()
		innermost := outer // borrowed: the chain holds it
		for i := 1; i < n; i++ {
			next := th.NewList()
			if err := th.ListAppend(innermost, next); err != nil {
				t.Fatal(err)
			}
			th.DecRef(next)
			innermost = next
		}
		require.NoError(t, th.ListAppend(innermost, outer))
		requireSameString(t, strings.Repeat("[", n)+"[...]"+strings.Repeat("]", n), deepRepr(th, outer))
		require.Equal(t, 2, th.RefCount(outer), "ours and the innermost list's")

		// Break the cycle so that reference counting frees the chain.
		p, err := th.ListPop(innermost, 0)
		require.NoError(t, err)
		th.DecRef(p)
		th.DecRef(outer)
		apiRequireLive(t, th, map[string]int{})
	})
}

// TestDeepReprSharedDeep puts the same list twice side by side at depths
// on both sides of reprScanDepth, where the walk stops scanning its path
// and looks containers up in a map: it is never a recursion, and a
// container met again on the path always is.
func TestDeepReprSharedDeep(t *testing.T) {
	eachModeThread(t, func(t *testing.T, th *Thread) {
		for _, depth := range []int{1, reprScanDepth - 1, reprScanDepth, reprScanDepth + 1, 3 * reprScanDepth} {
			leaf := th.NewList(th.NewInt(2))
			pair := th.NewList(leaf, leaf)
			th.DecRef(leaf)
			top := deepChain(th, depth, pair, wrapList)
			wantPair := "[[2], [2]]"
			require.Equal(t, strings.Repeat("[", depth)+wantPair+strings.Repeat("]", depth), th.Repr(top))

			// The leaf holding the top recurs there, in both places.
			require.NoError(t, th.ListAppend(leaf, top))
			wantPair = "[[2, [...]], [2, [...]]]"
			require.Equal(t, strings.Repeat("[", depth)+wantPair+strings.Repeat("]", depth), th.Repr(top))
			p, err := th.ListPop(leaf, -1)
			require.NoError(t, err)
			th.DecRef(p)
			th.DecRef(top)
		}
		apiRequireLive(t, th, map[string]int{})
	})
}

// TestDeepTupleKey uses a tuple nested deep as a dict key and finds it
// with an equal one built separately (a float at the bottom where the key
// has an int, 1.0 == 1), which hashes and compares them level by level;
// tuples that differ at the bottom, in length on the way down or in depth
// are not equal, and a missing key's repr is the KeyError.
func TestDeepTupleKey(t *testing.T) {
	eachModeDeep(t, func(t *testing.T, th *Thread) {
		n := deepN
		key := deepChain(th, n, th.NewInt(1), wrapTuple)
		same := deepChain(th, n, th.NewFloat(1), wrapTuple)
		other := deepChain(th, n, th.NewInt(2), wrapTuple)
		longer := deepChain(th, n-1, th.NewTuple(th.NewInt(1), th.NewInt(1)), wrapTuple)
		shallower := deepChain(th, n-1, th.NewInt(1), wrapTuple)
		d := th.NewDict()
		v := th.NewInt(1000)
		var got *Object
		var getErr, missErr error
		var eqOther, eqLonger, eqShallower bool
		withSmallStack(func() {
			require.NoError(t, th.DictSet(d, key, v))
			got, getErr = th.DictGet(d, same)
			_, missErr = th.DictGet(d, other)
			eqOther, eqLonger, eqShallower = equal(key, other), equal(key, longer), equal(key, shallower)
		})
		require.NoError(t, getErr)
		require.Same(t, v, got)
		th.DecRef(got)
		require.True(t, errors.Is(missErr, ErrKey), "%v", missErr)
		requireSameString(t, "KeyError: "+strings.Repeat("(", n)+"2"+strings.Repeat(",)", n), missErr.Error())
		require.False(t, eqOther)
		require.False(t, eqLonger)
		require.False(t, eqShallower)

		h, err := hashOf(key)
		require.NoError(t, err)
		require.Equal(t, deepTupleHash(mixInt(1), n), h, "the hash a recursion would give")
		hs, err := hashOf(same)
		require.NoError(t, err)
		require.Equal(t, h, hs)

		l, err := th.DictLen(d)
		require.NoError(t, err)
		require.Equal(t, 1, l)
		for _, o := range []*Object{d, key, same, other, longer, shallower, v} {
			th.DecRef(o)
		}
		apiRequireLive(t, th, map[string]int{})
	})
}

// deepTupleHash is the hash of a tuple nested n deep, one item per level,
// around an item of hash leaf, folded from the inside out. Its constants
// are written out: hashes must not change.
func deepTupleHash(leaf uint64, n int) uint64 {
	h := leaf
	for i := 0; i < n; i++ {
		s := uint64(0x27d4eb2f165667c5)
		s ^= h + 0x9e3779b97f4a7c15 + s<<6 + s>>2
		h = s ^ 1 // the length
	}
	return h
}

func TestDeepTupleKeyUnhashable(t *testing.T) {
	eachModeDeep(t, func(t *testing.T, th *Thread) {
		n := deepN
		k := deepChain(th, n, th.NewList(), wrapTuple)
		d := th.NewDict()
		v := th.NewInt(1000)
		var setErr, getErr, delErr error
		withSmallStack(func() {
			setErr = th.DictSet(d, k, v)
			_, getErr = th.DictGet(d, k)
			delErr = th.DictDel(d, k)
		})
		for _, err := range []error{setErr, getErr, delErr} {
			require.True(t, errors.Is(err, ErrType), "%v", err)
			require.EqualError(t, err, "TypeError: unhashable type: 'list'")
		}
		require.Equal(t, 1, th.RefCount(k), "failed operations keep no reference")
		require.Equal(t, 1, th.RefCount(v))
		for _, o := range []*Object{d, k, v} {
			th.DecRef(o)
		}
		apiRequireLive(t, th, map[string]int{})
	})
}

// ---------------------------------------------------------- against recursion

// reprRecursive is Repr as it was written before its walk became
// iterative: a recursion with a linear scan of the path. The walk must
// match it byte for byte.
func reprRecursive(th *Thread, b *strings.Builder, o *Object, inProgress []*Object) {
	switch o.typ.kind {
	case kindList, kindDict, kindTuple:
	default:
		b.WriteString(th.Repr(o))
		return
	}
	open, close, recur := "[", "]", "[...]"
	switch o.typ.kind {
	case kindDict:
		open, close, recur = "{", "}", "{...}"
	case kindTuple:
		open, close, recur = "(", ")", "(...)"
	}
	for _, p := range inProgress {
		if p == o {
			b.WriteString(recur)
			return
		}
	}
	inProgress = append(inProgress, o)
	items := th.snapshot(o, nil)
	b.WriteString(open)
	if o.typ.kind == kindDict {
		for i := 0; i < len(items); i += 2 {
			if i > 0 {
				b.WriteString(", ")
			}
			reprRecursive(th, b, items[i], inProgress)
			b.WriteString(": ")
			reprRecursive(th, b, items[i+1], inProgress)
		}
	} else {
		for i, it := range items {
			if i > 0 {
				b.WriteString(", ")
			}
			reprRecursive(th, b, it, inProgress)
		}
		if o.typ.kind == kindTuple && len(items) == 1 {
			b.WriteString(",")
		}
	}
	b.WriteString(close)
	for _, it := range items {
		th.decref(it)
	}
}

// hashRecursive is hashOf as it was written for tuples, a recursion.
func hashRecursive(o *Object) (uint64, error) {
	if o.typ.kind != kindTuple {
		return hashOf(o)
	}
	h := uint64(0x27d4eb2f165667c5)
	for _, it := range asTuple(o).items {
		ih, err := hashRecursive(it)
		if err != nil {
			return 0, err
		}
		h ^= ih + 0x9e3779b97f4a7c15 + h<<6 + h>>2
	}
	return h ^ uint64(len(asTuple(o).items)), nil
}

// reprNesting returns how deep the brackets of a repr nest (the graphs'
// strs hold none).
func reprNesting(s string) int {
	depth, deepest := 0, 0
	for _, c := range s {
		switch c {
		case '[', '{', '(':
			depth++
			deepest = max(deepest, depth)
		case ']', '}', ')':
			depth--
		}
	}
	return deepest
}

// equalRecursive is equal as it was written for tuples, a recursion.
func equalRecursive(a, b *Object) bool {
	if a == b || a.typ.kind != kindTuple || b.typ.kind != kindTuple {
		return equal(a, b)
	}
	x, y := asTuple(a).items, asTuple(b).items
	if len(x) != len(y) {
		return false
	}
	for i := range x {
		if !equalRecursive(x[i], y[i]) {
			return false
		}
	}
	return true
}

// reprGraph builds random graphs of containers for the comparisons: trees
// of lists, dicts and tuples, some of them deeper than reprScanDepth, with
// references back to containers on the path (recursions), to containers
// finished elsewhere (shared, recursions or not) and the same item twice.
type reprGraph struct {
	th         *Thread
	rng        *rand.Rand
	atoms      []*Object    // each with our reference
	keys       []*Object    // hashable atoms and tuples, each with our reference
	containers []*Object    // every container built, each with our reference
	path       []*Object    // lists and dicts being filled, outermost first
	budget     int          // containers still to build
	shares     int          // references to finished containers still allowed
	tupleLists [][2]*Object // a list and a tuple holding it, for closeTupleCycles
}

func newReprGraph(th *Thread, rng *rand.Rand, foo *Type) *reprGraph {
	g := &reprGraph{th: th, rng: rng}
	inst := th.NewInstance(foo)
	wr, err := th.NewWeakRef(inst, nil)
	if err != nil {
		panic(err)
	}
	rt := th.Runtime()
	g.atoms = []*Object{
		th.NewInt(1), th.NewInt(-7), th.NewInt(1000), th.NewFloat(1.5), th.NewFloat(1),
		th.NewStr("a"), th.NewStr("it's"), th.NewStr("x\ny"), rt.None(), rt.True(), rt.False(),
		inst, wr,
	}
	for _, a := range g.atoms[8:11] {
		th.IncRef(a) // None, True and False: one reference of ours like the others
	}
	for _, a := range g.atoms[:len(g.atoms)-1] { // not the weak reference: hashing it fixes its hash
		th.IncRef(a)
		g.keys = append(g.keys, a)
	}
	g.keys = append(g.keys, th.NewTuple(g.atoms[0], g.atoms[5]), th.NewTuple())
	return g
}

func (g *reprGraph) release() {
	for _, o := range g.atoms {
		g.th.DecRef(o)
	}
	for _, o := range g.keys {
		g.th.DecRef(o)
	}
	for _, o := range g.containers {
		g.th.DecRef(o)
	}
}

func (g *reprGraph) atom() *Object {
	a := g.atoms[g.rng.IntN(len(g.atoms))]
	g.th.IncRef(a)
	return a
}

// build returns a new reference to a random object at the given depth.
func (g *reprGraph) build(depth, maxDepth int) *Object {
	th, rng := g.th, g.rng
	switch r := rng.IntN(10); {
	case g.budget <= 0 || depth >= maxDepth || r == 0:
		return g.atom()
	case r == 1 && len(g.path) > 0:
		o := g.path[rng.IntN(len(g.path))] // a recursion
		th.IncRef(o)
		return o
	case r == 2 && g.shares > 0 && len(g.containers) > 0:
		g.shares--
		o := g.containers[rng.IntN(len(g.containers))] // shared, maybe a recursion
		th.IncRef(o)
		return o
	}
	g.budget--
	width := 1 // deep and narrow below a few levels, so that the size stays small
	if depth < 3 || rng.IntN(6) == 0 {
		width = rng.IntN(4)
	}
	switch rng.IntN(3) {
	case 0:
		l := th.NewList()
		g.fill(l, depth, maxDepth, width, func(it *Object) {
			if err := th.ListAppend(l, it); err != nil {
				panic(err)
			}
			if rng.IntN(8) == 0 {
				if err := th.ListAppend(l, it); err != nil { // the same item twice
					panic(err)
				}
			}
		})
		return l
	case 1:
		d := th.NewDict()
		g.fill(d, depth, maxDepth, width, func(it *Object) {
			if err := th.DictSet(d, g.keys[rng.IntN(len(g.keys))], it); err != nil {
				panic(err)
			}
		})
		return d
	}
	items := make([]*Object, width)
	for i := range items {
		items[i] = g.build(depth+1, maxDepth)
	}
	tu := th.NewTuple(items...)
	for _, it := range items {
		if it.typ.kind == kindList && rng.IntN(3) == 0 {
			g.tupleLists = append(g.tupleLists, [2]*Object{it, tu})
		}
		th.DecRef(it)
	}
	th.IncRef(tu)
	g.containers = append(g.containers, tu)
	return tu
}

// fill adds width random items to a list or dict o with add, o on the path.
func (g *reprGraph) fill(o *Object, depth, maxDepth, width int, add func(*Object)) {
	g.path = append(g.path, o)
	for i := 0; i < width; i++ {
		it := g.build(depth+1, maxDepth)
		add(it)
		g.th.DecRef(it)
	}
	g.path = g.path[:len(g.path)-1]
	g.th.IncRef(o)
	g.containers = append(g.containers, o)
}

// closeTupleCycles appends some tuples to lists they hold: t = ([t],).
func (g *reprGraph) closeTupleCycles() {
	for _, p := range g.tupleLists {
		if err := g.th.ListAppend(p[0], p[1]); err != nil {
			panic(err)
		}
	}
}

func TestReprMatchesRecursion(t *testing.T) {
	eachModeThread(t, func(t *testing.T, th *Thread) {
		foo, err := th.Runtime().NewType(TypeSpec{Name: "Foo"})
		require.NoError(t, err)
		rng := rand.New(rand.NewPCG(1, 2))
		rounds := invariants.Scale(300, 10)
		deep := 0
		recursions := map[string]int{}
		for round := 0; round < rounds; round++ {
			g := newReprGraph(th, rng, foo)
			g.budget = 10 + rng.IntN(150)
			g.shares = rng.IntN(4)
			root := g.build(0, 1+rng.IntN(3*reprScanDepth))
			g.closeTupleCycles()
			for _, o := range append([]*Object{root}, g.containers...) {
				var b strings.Builder
				reprRecursive(th, &b, o, nil)
				require.Equal(t, b.String(), th.Repr(o), "round %d", round)
				if reprNesting(b.String()) > reprScanDepth {
					deep++
				}
				for _, r := range []string{"[...]", "{...}", "(...)"} {
					recursions[r] += strings.Count(b.String(), r)
				}
				if o.typ.kind == kindTuple {
					h, err := hashOf(o)
					hr, errRec := hashRecursive(o)
					require.Equal(t, hr, h)
					require.Equal(t, fmt.Sprint(errRec), fmt.Sprint(err))
				}
			}
			th.DecRef(root)
			g.release()
			_, err := th.Collect(2)
			require.NoError(t, err)
			apiRequireLive(t, th, map[string]int{})
		}
		require.Greater(t, deep, rounds/10, "enough reprs deeper than the path scan")
		for r, n := range recursions {
			require.Greater(t, n, rounds/10, "enough recursions shown as %s", r)
		}
		t.Logf("%d reprs deeper than %d, recursions %v", deep, reprScanDepth, recursions)
	})
}

// TestTupleHashMatchesRecursion holds hashTuple and equalTuples to the
// recursion on hashable tuples of tuples, shallow and deep.
func TestTupleHashMatchesRecursion(t *testing.T) {
	eachModeThread(t, func(t *testing.T, th *Thread) {
		rng := rand.New(rand.NewPCG(3, 4))
		atoms := []*Object{th.NewInt(1), th.NewInt(1000), th.NewFloat(1), th.NewFloat(0.5), th.NewStr("s"), th.Runtime().None(), th.Runtime().True()}
		var build func(depth int) *Object
		build = func(depth int) *Object {
			if depth == 0 || rng.IntN(4) == 0 {
				a := atoms[rng.IntN(len(atoms))]
				th.IncRef(a)
				return a
			}
			items := make([]*Object, rng.IntN(4))
			for i := range items {
				items[i] = build(depth - 1)
			}
			tu := th.NewTuple(items...)
			for _, it := range items {
				th.DecRef(it)
			}
			return tu
		}
		var tuples []*Object
		for i := 0; i < invariants.Scale(200, 2); i++ {
			tu := build(1 + rng.IntN(2*tupleWalkDepth))
			if tu.typ.kind != kindTuple {
				th.DecRef(tu)
				continue
			}
			h, err := hashOf(tu)
			require.NoError(t, err)
			hr, err := hashRecursive(tu)
			require.NoError(t, err)
			require.Equal(t, hr, h, th.Repr(tu))
			tuples = append(tuples, tu)
		}
		equals := 0
		for _, a := range tuples {
			for _, b := range tuples {
				eq := equal(a, b)
				if eq != equalRecursive(a, b) {
					t.Fatalf("equal(%s, %s) is %v", th.Repr(a), th.Repr(b), eq)
				}
				if !eq {
					continue
				}
				equals++
				ha, _ := hashOf(a)
				hb, _ := hashOf(b)
				if ha != hb {
					t.Fatalf("%s == %s but their hashes differ", th.Repr(a), th.Repr(b))
				}
			}
		}
		require.Greater(t, equals, 2*len(tuples), "enough equal tuples that are not the same")
		for _, o := range tuples {
			th.DecRef(o)
		}
		for _, o := range atoms {
			th.DecRef(o)
		}
		apiRequireLive(t, th, map[string]int{})
	})
}

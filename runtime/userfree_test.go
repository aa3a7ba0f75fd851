package runtime

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// Frees from within the program's code that a free runs (runUserCode):
// at once, as CPython's, up to maxUserFreeDepth levels.

// TestUserCodeFreesAtOnceNestedChain: each object's finalizer drops the
// last reference to the next; CPython destroys the next one (running its
// finalizer) inside the call, so the finalizers nest. Past
// maxUserFreeDepth levels the frees wait on the work list (CPython's
// trashcan): the nesting stays bounded, every finalizer runs once and
// everything is freed.
func TestUserCodeFreesAtOnceNestedChain(t *testing.T) {
	const n = 3 * maxUserFreeDepth
	eachModeThread(t, func(t *testing.T, th *Thread) {
		var next map[*Object]*Object
		depth, maxDepth, runs := 0, 0, 0
		var order []int
		index := map[*Object]int{}
		typ, err := th.rt.NewType(TypeSpec{Name: "Link", Finalize: func(th *Thread, self *Object) {
			runs++
			order = append(order, index[self])
			depth++
			maxDepth = max(maxDepth, depth)
			if nx := next[self]; nx != nil {
				delete(next, self)
				th.DecRef(nx)
			}
			depth--
		}})
		require.NoError(t, err)
		links := make([]*Object, n)
		next = map[*Object]*Object{}
		for i := range links {
			links[i] = th.NewInstance(typ)
			index[links[i]] = i
		}
		for i := 0; i+1 < n; i++ {
			next[links[i]] = links[i+1] // the finalizer owns this reference
		}
		th.DecRef(links[0])
		require.Equal(t, n, runs, "every finalizer ran once")
		require.Equal(t, maxUserFreeDepth+1, maxDepth, "nested up to the limit, then deferred")
		for i := range order {
			require.Equal(t, i, order[i], "finalizers run in chain order")
		}
		apiRequireLive(t, th, map[string]int{})
	})
}

// TestUserCodeFreesAtOnceSeesDeath: inside a finalizer, right after the
// DecRef that drops another object's last reference, that object is dead:
// its finalizer has run and its weak references are cleared (CPython:
// Py_DECREF deallocates at once).
func TestUserCodeFreesAtOnceSeesDeath(t *testing.T) {
	eachModeThread(t, func(t *testing.T, th *Thread) {
		var victim, victimRef *Object
		victimDone := false
		victimType, err := th.rt.NewType(TypeSpec{Name: "Victim", Finalize: func(*Thread, *Object) { victimDone = true }})
		require.NoError(t, err)
		var sawDone bool
		var sawRef *Object
		killer, err := th.rt.NewType(TypeSpec{Name: "Killer", Finalize: func(th *Thread, _ *Object) {
			th.DecRef(victim)
			sawDone = victimDone
			var err error
			sawRef, err = th.WeakRefGet(victimRef)
			require.NoError(t, err)
		}})
		require.NoError(t, err)
		victim = th.NewInstance(victimType)
		victimRef, err = th.NewWeakRef(victim, nil)
		require.NoError(t, err)
		k := th.NewInstance(killer)
		holder := th.NewList(k) // k dies on the work list of holder's free
		th.DecRef(k)
		th.DecRef(holder)
		require.True(t, sawDone, "the victim's finalizer ran inside the killer's")
		require.Nil(t, sawRef, "the victim's weak reference was cleared inside the killer's finalizer")
		th.DecRef(victimRef)
		apiRequireLive(t, th, map[string]int{})
	})
}

// TestUserCodeMayCollect: a finalizer run from a reference-count death
// is program code: an automatic collection that comes due in it runs
// there (as gc can in CPython's __del__), while the free that ran the
// finalizer still has objects waiting on its work list, and everything
// ends freed.
func TestUserCodeMayCollect(t *testing.T) {
	eachModeThread(t, func(t *testing.T, th *Thread) {
		g := th.rt.GC()
		g.Enable()
		t0, t1, t2 := g.Threshold()
		defer func() { require.NoError(t, g.SetThreshold(t0, t1, t2)) }()
		require.NoError(t, g.SetThreshold(10, 10, 10))
		inFinalizer, collectedInside := false, 0
		remove := g.AddCallback(func(phase Phase, _ Info) {
			if phase == PhaseStart && inFinalizer {
				collectedInside++
			}
		})
		defer remove()
		typ, err := th.rt.NewType(TypeSpec{Name: "Churn", Finalize: func(th *Thread, _ *Object) {
			inFinalizer = true
			for range 50 { // cyclic garbage: enough to pass the threshold
				l := th.NewList()
				require.NoError(t, th.ListAppend(l, l))
				th.DecRef(l)
			}
			inFinalizer = false
		}})
		require.NoError(t, err)
		// The holder's free pushes its items on the work list; the first
		// one's finalizer runs while the others wait there.
		items := make([]*Object, 4)
		for i := range items {
			items[i] = th.NewInstance(typ)
		}
		holder := th.NewList(items...)
		for _, it := range items {
			th.DecRef(it)
		}
		th.DecRef(holder)
		require.Positive(t, collectedInside, "a collection ran inside a finalizer")
		_, err = th.Collect(2)
		require.NoError(t, err)
		apiRequireLive(t, th, map[string]int{})
	})
}

// TestUserCodePanicNested: a finalizer that panics inside another's nested
// free unwinds through both; the thread stays usable, and what the
// interrupted frees left is freed by the next free.
func TestUserCodePanicNested(t *testing.T) {
	eachModeThread(t, func(t *testing.T, th *Thread) {
		boom, err := th.rt.NewType(TypeSpec{Name: "Boom", Finalize: func(*Thread, *Object) { panic("inner finalizer failed") }})
		require.NoError(t, err)
		b := th.NewInstance(boom)
		outer, err := th.rt.NewType(TypeSpec{Name: "Outer", Finalize: func(th *Thread, _ *Object) {
			th.DecRef(b)
		}})
		require.NoError(t, err)
		o := th.NewInstance(outer)
		in1, in2 := th.NewList(), th.NewList()
		siblings := th.NewList(in1, in2) // wait on the work list
		th.DecRef(in1)
		th.DecRef(in2)
		holder := th.NewList(o, siblings)
		th.DecRef(o)
		th.DecRef(siblings)
		// The panic comes through the outer finalizer's DecRef of b.
		require.PanicsWithValue(t, "inner finalizer failed", func() { th.DecRef(holder) })
		require.Equal(t, notFreeing, th.freeState, "the thread is not left freeing")
		require.Zero(t, th.userFreeDepth)
		require.Empty(t, th.finalizers)
		// b and o each hold the reference their finalizer got.
		require.Equal(t, 1, th.RefCount(b))
		require.Equal(t, 1, th.RefCount(o))
		th.DecRef(b)
		th.DecRef(o)
		inner := th.NewList()
		l := th.NewList(inner)
		th.DecRef(inner)
		th.DecRef(l) // drains what was left
		apiRequireLive(t, th, map[string]int{})
	})
}

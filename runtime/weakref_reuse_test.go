package runtime

import (
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestWeakrefReuse: a weak reference asked for without a callback is the
// referent's existing one while that lives (CPython's test_ref_reuse);
// one with a callback is always new, and asking for one without a callback
// afterwards still finds the first.
func TestWeakrefReuse(t *testing.T) {
	eachModeThread(t, func(t *testing.T, th *Thread) {
		typ, err := th.rt.NewType(TypeSpec{Name: "Target"})
		require.NoError(t, err)
		o := th.NewInstance(typ)
		r1, err := th.NewWeakRef(o, nil)
		require.NoError(t, err)
		r2, err := th.NewWeakRef(o, nil)
		require.NoError(t, err)
		require.Same(t, r1, r2, "a second weak reference without a callback is the first one")
		require.Equal(t, 2, th.RefCount(r1), "each NewWeakRef returns a new reference")

		var calls atomic.Int32
		var calledWith *Object
		withCallback, err := th.NewWeakRef(o, func(_ *Thread, ref *Object) {
			calls.Add(1)
			calledWith = ref
		})
		require.NoError(t, err)
		require.NotSame(t, r1, withCallback, "a weak reference with a callback is always new")
		r3, err := th.NewWeakRef(o, nil)
		require.NoError(t, err)
		require.Same(t, r1, r3, "a callback's weak reference is not handed out for a plain one")

		// The plain one dies: the next is a new object, and it works.
		for _, r := range []*Object{r1, r2, r3} {
			th.DecRef(r)
		}
		r4, err := th.NewWeakRef(o, nil)
		require.NoError(t, err)
		got, err := th.WeakRefGet(r4)
		require.NoError(t, err)
		require.Same(t, o, got)
		th.DecRef(got)

		// Another referent has its own.
		other := th.NewInstance(typ)
		r5, err := th.NewWeakRef(other, nil)
		require.NoError(t, err)
		require.NotSame(t, r4, r5)

		th.DecRef(o)
		got, err = th.WeakRefGet(r4)
		require.NoError(t, err)
		require.Nil(t, got, "cleared when the referent died")
		require.Equal(t, int32(1), calls.Load(), "the callback ran once")
		require.Same(t, withCallback, calledWith)
		r6, err := th.NewWeakRef(other, nil)
		require.NoError(t, err)
		require.Same(t, r5, r6)
		for _, r := range []*Object{withCallback, r4, r5, r6, other} {
			th.DecRef(r)
		}
	})
}

// TestWeakrefReuseConcurrent: threads ask for a plain weak reference to one
// shared referent and drop it again, so that one thread's request often
// meets the weak reference dying on another: the try-incref must refuse a
// dying one (a new one is made instead), never hand it out. Every weak
// reference returned must lead to the referent, and nothing may leak.
func TestWeakrefReuseConcurrent(t *testing.T) {
	eachModeThread(t, func(t *testing.T, th *Thread) {
		typ, err := th.rt.NewType(TypeSpec{Name: "Target"})
		require.NoError(t, err)
		target := th.NewInstance(typ)
		before := ccStats(th).Live
		const rounds = 1000
		ccRun(th, 2, func(_ int, wt *Thread) {
			for i := 0; i < rounds; i++ {
				r, err := wt.NewWeakRef(target, nil)
				if !assert.NoError(t, err) {
					return
				}
				got, err := wt.WeakRefGet(r)
				if !assert.NoError(t, err) || !assert.Same(t, target, got) {
					return
				}
				wt.DecRef(got)
				wt.DecRef(r)
				if i%64 == 0 {
					wt.Checkpoint()
				}
			}
		})
		require.Equal(t, before, ccStats(th).Live, "every weak reference was freed")
		th.DecRef(target)
	})
}

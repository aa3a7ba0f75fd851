package runtime

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestWeakRefGetDuringFinalizer: while an object's finalizer runs on its
// dying thread, another thread's WeakRefGet must not hand out the dying
// object under biased counting (CPython's free-threaded build refuses the
// try-incref then). Afterwards the weak reference is dead.
func TestWeakRefGetDuringFinalizer(t *testing.T) {
	eachMode(t, func(t *testing.T, rt *Runtime) {
		inFinalizer := make(chan struct{})
		release := make(chan struct{})
		typ, err := rt.NewType(TypeSpec{Name: "Slow", Finalize: func(th *Thread, self *Object) {
			th.Detach()
			close(inFinalizer)
			<-release
			th.Attach()
		}})
		require.NoError(t, err)
		a := rt.NewThread()
		o := a.NewInstance(typ)
		wr, err := a.NewWeakRef(o, nil)
		require.NoError(t, err)
		a.Detach()
		b := rt.NewThread()
		b.Detach()
		done := make(chan struct{})
		go func() {
			a.Attach()
			a.DecRef(o) // runs the finalizer, which waits for release
			a.Detach()
			close(done)
		}()
		<-inFinalizer
		b.Attach()
		got, err := b.WeakRefGet(wr)
		require.NoError(t, err)
		if rt.Mode() == FreeThreaded && rt.Config().RefCounting == Biased {
			require.Nil(t, got, "a dying object must not be reachable through its weak reference")
		} else if got != nil {
			b.DecRef(got) // GIL and all-atomic counting allow it, as CPython's GIL build does
		}
		b.Detach()
		close(release)
		<-done
		b.Attach()
		if got == nil {
			after, err := b.WeakRefGet(wr)
			require.NoError(t, err)
			require.Nil(t, after)
		}
		b.DecRef(wr)
		b.Close()
		a.Attach()
		a.Close()
	})
}

// TestPanickingFinalizerLeavesThreadUsable: a Finalize that panics unwinds
// through DecRef, and the thread goes on freeing normally afterwards,
// including what the interrupted free had left to do.
func TestPanickingFinalizerLeavesThreadUsable(t *testing.T) {
	eachModeThread(t, func(t *testing.T, th *Thread) {
		boom, err := th.rt.NewType(TypeSpec{Name: "Boom", Finalize: func(*Thread, *Object) { panic("finalizer failed") }})
		require.NoError(t, err)
		o := th.NewInstance(boom)
		holder := th.NewList(o) // dies first; o's free panics during it
		th.DecRef(o)
		require.PanicsWithValue(t, "finalizer failed", func() { th.DecRef(holder) })
		// The finalizer ran (once); o holds the reference it got for it.
		require.Equal(t, 1, th.RefCount(o))
		th.DecRef(o) // finalized already: freed at once

		inner := th.NewList()
		l := th.NewList(inner)
		th.DecRef(inner)
		th.DecRef(l)
		apiRequireLive(t, th, map[string]int{})
	})
}

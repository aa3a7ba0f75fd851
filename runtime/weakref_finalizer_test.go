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

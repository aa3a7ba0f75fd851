package runtime

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestUniquelyReferencedSkipsLock: free-threaded with biased counting, an
// operation on an object only the calling thread references takes no
// lock. The test holds the object's lock itself: an operation that takes
// it waits (the lock word goes to contended), one that does not completes.
// Once another thread holds a reference, or a weak reference exists, or
// under atomic counting, the operation waits for the lock.
func TestUniquelyReferencedSkipsLock(t *testing.T) {
	// setAttrWith runs SetAttr on o with o's lock held by the test and
	// reports whether it had to wait for the lock.
	setAttrWith := func(t *testing.T, th *Thread, o *Object) (waited bool) {
		t.Helper()
		o.lock()
		done := make(chan error, 1)
		go func() { done <- th.SetAttr(o, "a", th.rt.None()) }()
		deadline := time.Now().Add(10 * time.Second)
		for {
			select {
			case err := <-done:
				require.NoError(t, err)
				o.mu.unlock()
				return false
			default:
			}
			if o.mu.state.Load() == mutexContended {
				o.mu.unlock()
				require.NoError(t, <-done)
				return true
			}
			require.True(t, time.Now().Before(deadline), "SetAttr neither finished nor waited for the lock")
			time.Sleep(100 * time.Microsecond)
		}
	}
	biased, atomic := allModes[1:2], allModes[2:3]
	eachModeWith(t, biased, []bool{false}, nil, withThread(func(t *testing.T, th *Thread) {
		typ, _ := th.rt.NewType(TypeSpec{Name: "Box"})
		fresh := th.NewInstance(typ)
		require.False(t, setAttrWith(t, th, fresh), "a fresh object only this thread references")

		other := th.rt.NewThread()
		other.IncRef(fresh) // another thread's reference
		require.True(t, setAttrWith(t, th, fresh), "another thread holds a reference")
		other.DecRef(fresh)
		other.Close()

		weak := th.NewInstance(typ)
		wr, err := th.NewWeakRef(weak, nil)
		require.NoError(t, err)
		require.True(t, setAttrWith(t, th, weak), "a weak reference can make one")

		th.DecRef(wr)
		th.DecRef(weak)
		th.DecRef(fresh)
	}))
	eachModeWith(t, atomic, []bool{false}, nil, withThread(func(t *testing.T, th *Thread) {
		typ, _ := th.rt.NewType(TypeSpec{Name: "Box"})
		o := th.NewInstance(typ)
		require.True(t, setAttrWith(t, th, o), "an atomic count cannot tell uniqueness")
		th.DecRef(o)
	}))
}

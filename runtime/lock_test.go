package runtime

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// An object's lock released when nobody holds it is a bug in this package:
// unlock panics with a message that names it, and the word stays unlocked.
// Released while held, with or without waiters, it ends unlocked.
func TestObjectMutexUnlock(t *testing.T) {
	eachModeThread(t, func(t *testing.T, th *Thread) {
		o := th.NewList()
		defer th.DecRef(o)
		require.PanicsWithValue(t, misuseMessage("unlock of an object that is not locked"), o.mu.unlock)
		require.Equal(t, mutexUnlocked, o.mu.state.Load())

		o.lock()
		o.mu.unlock()
		require.Equal(t, mutexUnlocked, o.mu.state.Load())

		o.lock()
		o.mu.state.Store(mutexContended) // as a waiter leaves it
		o.mu.unlock()
		require.Equal(t, mutexUnlocked, o.mu.state.Load())
		o.lock() // free again: taken with one CAS
		o.mu.unlock()
	})
}

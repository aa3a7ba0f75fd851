package cputime

import (
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestClocksAdvanceWithWork: spinning for a while moves both clocks
// forward, and the thread's by no more than the process's.
func TestClocksAdvanceWithWork(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	t0, p0 := Thread(), Process()
	deadline := time.Now().Add(20 * time.Millisecond)
	x := 0
	for time.Now().Before(deadline) {
		x++
	}
	dt, dp := Thread()-t0, Process()-p0
	require.Positive(t, x)
	if runtime.GOOS != "linux" {
		require.Zero(t, dt, "the thread's clock is read on Linux only")
		return
	}
	require.Positive(t, dt, "the thread's clock moved")
	require.Positive(t, dp, "the process's clock moved")
	require.LessOrEqual(t, dt, dp+time.Millisecond, "the thread used no more than the process (getrusage has coarser ticks)")
}

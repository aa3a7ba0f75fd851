package hoststeal

import (
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestParse(t *testing.T) {
	d, ok := parse([]byte("cpu  2160602 0 88301 1202737 2128 0 12660 32669 0 0\ncpu0 1 2 3 4 5 6 7 8 0 0\n"))
	require.True(t, ok)
	require.Equal(t, 326690*time.Millisecond, d)
	for _, bad := range []string{
		"", "cpu 1 2 3", "cpu0 1 2 3 4 5 6 7 8", "cpu 1 2 3 4 5 6 7 x", "cpu 1 2 3 4 5 6 7 -1",
	} {
		_, ok := parse([]byte(bad))
		require.False(t, ok, "%q", bad)
	}
}

func TestMeter(t *testing.T) {
	m := Start()
	d, ok := m.Stop()
	if runtime.GOOS != "linux" {
		require.False(t, ok)
		return
	}
	require.True(t, ok, "/proc/stat is readable on Linux")
	require.GreaterOrEqual(t, d, time.Duration(0))
	require.Less(t, d, time.Minute)
}

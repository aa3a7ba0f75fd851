package cacheline

import (
	"testing"
	"unsafe"

	"github.com/nogil-lab/nogil/internal/leaktest"
	"github.com/stretchr/testify/require"
)

func TestMain(m *testing.M) { leaktest.Main(m) }

func TestPadSize(t *testing.T) {
	require.Equal(t, uintptr(Size), unsafe.Sizeof(Pad{}))
	require.Zero(t, Size&(Size-1), "Size must be a power of two")
	// Two hot words separated by a Pad are at least a line apart.
	var s struct {
		a uint64
		_ Pad
		b uint64
	}
	require.GreaterOrEqual(t, unsafe.Offsetof(s.b)-unsafe.Offsetof(s.a), uintptr(Size))
}

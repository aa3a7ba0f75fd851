package runtime

import (
	"testing"
	"unsafe"

	"github.com/stretchr/testify/require"
)

// TestObjectSizes pins the object layouts: B10 asks for at most 64 bytes per
// live int and 96 per empty list, and the allocator adds a 2-byte free-list
// link per slot on top of these.
func TestObjectSizes(t *testing.T) {
	require.Equal(t, uintptr(40), unsafe.Sizeof(Object{}), "object header")
	require.Equal(t, uintptr(72), unsafe.Sizeof(container{}), "container header")
	require.Equal(t, uintptr(48), unsafe.Sizeof(intObject{}))
	require.Equal(t, uintptr(48), unsafe.Sizeof(floatObject{}))
	require.Equal(t, uintptr(96), unsafe.Sizeof(listObject{}))
	require.Equal(t, uintptr(96), unsafe.Sizeof(tupleObject{}))
	require.Equal(t, uintptr(128), unsafe.Sizeof(instanceObject{}), "instance: two cache lines")
	require.LessOrEqual(t, unsafe.Sizeof(intObject{})+2, uintptr(64))
}

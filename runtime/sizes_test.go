package runtime

import (
	"testing"
	"unsafe"

	"github.com/stretchr/testify/require"
)

// TestObjectSizes pins the object layouts: B10 asks for at most 64 bytes per
// live int and 96 per empty list. The allocator adds nothing per slot: a free
// slot's free-list link lives in its header's slot field.
func TestObjectSizes(t *testing.T) {
	require.Equal(t, uintptr(40), unsafe.Sizeof(Object{}), "object header")
	require.Equal(t, uintptr(72), unsafe.Sizeof(container{}), "container header")
	require.Equal(t, uintptr(48), unsafe.Sizeof(intObject{}))
	require.Equal(t, uintptr(48), unsafe.Sizeof(floatObject{}))
	require.Equal(t, uintptr(96), unsafe.Sizeof(listObject{}))
	require.Equal(t, uintptr(112), unsafe.Sizeof(tupleObject{})) // two items inline
	require.LessOrEqual(t, unsafe.Sizeof(intObject{}), uintptr(64))
	require.LessOrEqual(t, unsafe.Sizeof(listObject{}), uintptr(96))
	for _, off := range []uintptr{intSlotLink, floatSlotLink, strSlotLink, tupleSlotLink, listSlotLink, dictSlotLink, instanceSlotLink, weakrefSlotLink} {
		require.Equal(t, unsafe.Offsetof(Object{}.slot), off, "every object starts with its Object header")
	}
	require.Equal(t, uintptr(128), unsafe.Sizeof(instanceObject{}), "instance: two cache lines")
}

package thp

import (
	"errors"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/require"
)

func TestVMARange(t *testing.T) {
	lo, hi, ok := vmaRange("7f1683c2a000-7f1683e00000 rw-p 00000000 00:00 0 ")
	require.True(t, ok)
	require.Equal(t, uint64(0x7f1683c2a000), lo)
	require.Equal(t, uint64(0x7f1683e00000), hi)
	for _, bad := range []string{"THPeligible:    1", "VmFlags: rd wr mr", "", "zz-10 r", "20-10 r"} {
		_, _, ok := vmaRange(bad)
		require.False(t, ok, bad)
	}
}

var global [1 << 16]byte

func TestEligibleFindsTheMapping(t *testing.T) {
	_, huge, err := Eligible(uintptr(unsafe.Pointer(&global[100])))
	if errors.Is(err, ErrUnsupported) {
		t.Skip("the kernel does not report THPeligible")
	}
	require.NoError(t, err)
	require.GreaterOrEqual(t, huge, int64(0))
	_, _, err = Eligible(0x10) // never mapped
	require.Error(t, err)
	require.NotErrorIs(t, err, ErrUnsupported)
}

package runtime

import (
	"testing"
	"unicode"

	"github.com/stretchr/testify/require"
)

// TestDecimalValueTables guards decimalValue's reading of Go's Unicode
// tables: every range of category Nd is whole sets of ten contiguous
// digits, each starting at its zero, so the value is the distance from
// the range's start mod 10. A table that broke this (a stride, a range
// starting at a digit other than zero) would give wrong values silently;
// here it fails, with the first range at fault.
func TestDecimalValueTables(t *testing.T) {
	check := func(lo, hi, stride uint32) {
		require.Equal(t, uint32(1), stride, "Nd range %#x-%#x has stride %d", lo, hi, stride)
		require.Zero(t, (hi-lo+1)%10, "Nd range %#x-%#x is not whole sets of ten", lo, hi)
		for r := lo; r <= hi; r++ {
			v, ok := decimalValue(rune(r))
			require.True(t, ok, "%#x", r)
			require.Equal(t, int(r-lo)%10, v, "%#x", r)
		}
	}
	for _, g := range unicode.Nd.R16 {
		check(uint32(g.Lo), uint32(g.Hi), uint32(g.Stride))
	}
	for _, g := range unicode.Nd.R32 {
		check(g.Lo, g.Hi, g.Stride)
	}
	// Known digits of several scripts, and characters that are not
	// decimal digits.
	for r, want := range map[rune]int{'0': 0, '9': 9, 0x0660: 0, 0x0669: 9, 0x096F: 9, 0xFF10: 0, 0x1D7CE: 0, 0x1D7FF: 9} {
		v, ok := decimalValue(r)
		require.True(t, ok, "%#x", r)
		require.Equal(t, want, v, "%#x", r)
	}
	for _, r := range []rune{'a', 0x00B2, 0x2167, 0x3007, -1, unicode.MaxRune + 1} {
		_, ok := decimalValue(r)
		require.False(t, ok, "%#x", r)
	}
}

package invariants

import (
	"testing"

	"github.com/nogil-lab/nogil/internal/leaktest"
	"github.com/stretchr/testify/require"
)

func TestMain(m *testing.M) { leaktest.Main(m) }

func TestScale(t *testing.T) {
	if Race {
		require.Equal(t, 10, Scale(100, 10))
		require.Equal(t, 1, Scale(5, 10))
	} else {
		require.Equal(t, 100, Scale(100, 10))
		require.Equal(t, 5, Scale(5, 10))
	}
	require.PanicsWithValue(t, "invariants.Scale: divisor 0 is not positive", func() { Scale(1, 0) })
}

func TestAssert(t *testing.T) {
	require.NotPanics(t, func() { Assert(true, "fine") })
	if Enabled {
		require.PanicsWithValue(t, "nogil: invariant violated: broken", func() { Assert(false, "broken") })
	} else {
		require.NotPanics(t, func() { Assert(false, "broken") })
	}
	// Race implies Enabled.
	require.True(t, !Race || Enabled)
}

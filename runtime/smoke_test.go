package runtime

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestSmoke(t *testing.T) {
	eachModeThread(t, func(t *testing.T, th *Thread) {
		l := th.NewList()
		x := th.NewInt(1000)
		require.NoError(t, th.ListAppend(l, x))
		require.Equal(t, 2, th.RefCount(x))
		th.DecRef(x)
		require.Equal(t, "[1000]", th.Repr(l))
		d := th.NewDict()
		k := th.NewStr("a")
		require.NoError(t, th.DictSet(d, k, l))
		require.Equal(t, "{'a': [1000]}", th.Repr(d))
		th.DecRef(k)
		th.DecRef(l)
		th.DecRef(d)
		th.Checkpoint()
		st := th.Runtime().Stats()
		require.Equal(t, 0, st.Live, "%v", st.LiveByType)
		require.Equal(t, uint64(4), st.Allocated)
	})
}

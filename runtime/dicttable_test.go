package runtime

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestDictTableStorage grows a dict from the allocator's small table into
// Go's heap and shrinks it back by deletes and re-inserts, checking every
// key at each step and that every small table is given back.
func TestDictTableStorage(t *testing.T) {
	eachModeThread(t, func(t *testing.T, th *Thread) {
		keys := make([]*Object, 40)
		for i := range keys {
			keys[i] = th.NewInt(int64(1000 + i))
		}
		d := th.NewDict()
		present := map[int]bool{}
		check := func() {
			t.Helper()
			n, err := th.DictLen(d)
			require.NoError(t, err)
			require.Equal(t, len(present), n)
			for i, k := range keys {
				v, err := th.DictGet(d, k)
				if !present[i] {
					require.ErrorIs(t, err, ErrKey)
					continue
				}
				require.NoError(t, err)
				require.Same(t, keys[(i+1)%len(keys)], v)
				th.DecRef(v)
			}
		}
		set := func(i int) {
			require.NoError(t, th.DictSet(d, keys[i], keys[(i+1)%len(keys)]))
			present[i] = true
		}
		del := func(i int) {
			require.NoError(t, th.DictDel(d, keys[i]))
			delete(present, i)
		}
		for i := range keys { // through every size
			set(i)
			check()
		}
		for i := 0; i < len(keys)-2; i++ { // down to two
			del(i)
		}
		check()
		for round := 0; round < 20; round++ { // churn in the small table
			i := round % (len(keys) - 2)
			set(i)
			check()
			del(i)
		}
		th.DecRef(d)
		for _, k := range keys {
			require.Equal(t, 1, th.RefCount(k))
			th.DecRef(k)
		}
		requireNoSlotsInUse(t, th, "dict-table-8")
	})
}

package runtime

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestInstanceAttributeStorage sets attributes beyond the allocator's small
// array into Go's heap, deletes and re-adds them, checks every value at each
// step, and checks that every small array is given back.
func TestInstanceAttributeStorage(t *testing.T) {
	eachModeThread(t, func(t *testing.T, th *Thread) {
		typ, err := th.rt.NewType(TypeSpec{Name: "Bag"})
		require.NoError(t, err)
		vals := make([]*Object, 3*smallAttrs)
		names := make([]string, len(vals))
		for i := range vals {
			vals[i] = th.NewInt(int64(1000 + i))
			names[i] = fmt.Sprintf("a%d", i)
		}
		o := th.NewInstance(typ)
		present := map[int]bool{}
		check := func() {
			t.Helper()
			for i, name := range names {
				v, err := th.GetAttr(o, name)
				if !present[i] {
					require.ErrorIs(t, err, ErrAttribute)
					continue
				}
				require.NoError(t, err)
				require.Same(t, vals[i], v)
				th.DecRef(v)
			}
		}
		for i := range names {
			require.NoError(t, th.SetAttr(o, names[i], vals[i]))
			present[i] = true
			check()
		}
		for i := 0; i < len(names); i += 2 {
			require.NoError(t, th.DelAttr(o, names[i]))
			delete(present, i)
			check()
		}
		require.NoError(t, th.SetAttr(o, names[0], vals[0]))
		present[0] = true
		check()
		th.DecRef(o)

		// A small instance that dies in a cycle gives its array back too.
		c := th.NewInstance(typ)
		require.NoError(t, th.SetAttr(c, "self", c))
		th.DecRef(c)
		_, err = th.Collect(2)
		require.NoError(t, err)

		for _, v := range vals {
			require.Equal(t, 1, th.RefCount(v))
			th.DecRef(v)
		}
		requireNoSlotsInUse(t, th, "attrs-4")
	})
}

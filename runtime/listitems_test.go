package runtime

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestListItemArrays grows lists through every item-array class into Go's
// heap and back, by append, extend (also by itself) and pop, and checks
// the items and the allocator's slots at every step.
func TestListItemArrays(t *testing.T) {
	eachModeThread(t, func(t *testing.T, th *Thread) {
		ints := make([]*Object, 3*maxSmallItems)
		for i := range ints {
			ints[i] = th.NewInt(int64(1000 + i))
		}
		requireItems := func(l *Object, want []*Object) {
			t.Helper()
			n, err := th.ListLen(l)
			require.NoError(t, err)
			require.Equal(t, len(want), n)
			for i, w := range want {
				got, err := th.ListGet(l, i)
				require.NoError(t, err)
				require.Same(t, w, got, "item %d", i)
				th.DecRef(got)
			}
		}
		for n := 0; n <= len(ints)/2; n++ {
			l := th.NewList(ints[:n]...)
			requireItems(l, ints[:n])
			require.NoError(t, th.ListExtend(l, l))
			want := append(append([]*Object{}, ints[:n]...), ints[:n]...)
			requireItems(l, want)
			require.NoError(t, th.ListAppend(l, ints[n]))
			want = append(want, ints[n])
			requireItems(l, want)
			tup := th.NewTuple(ints[:n]...)
			require.NoError(t, th.ListExtend(l, tup))
			th.DecRef(tup)
			want = append(want, ints[:n]...)
			requireItems(l, want)
			for len(want) > 0 {
				it, err := th.ListPop(l, 0)
				require.NoError(t, err)
				require.Same(t, want[0], it)
				th.DecRef(it)
				want = want[1:]
			}
			requireItems(l, nil)
			th.DecRef(l)
		}
		for _, o := range ints {
			require.Equal(t, 1, th.RefCount(o), "every reference a list took was dropped")
			th.DecRef(o)
		}
		requireNoSlotsInUse(t, th, "list-items-4", "list-items-8", "list-items-16")
	})
}

func TestItemsCapacity(t *testing.T) {
	for n := 1; n <= 100; n++ {
		c := itemsCapacity(n)
		require.GreaterOrEqual(t, c, n)
		if n <= maxSmallItems {
			require.Contains(t, []int{4, 8, maxSmallItems}, c)
		} else {
			require.Greater(t, c, maxSmallItems, "a Go array's capacity must not look like a small class")
		}
	}
}

// requireNoSlotsInUse checks that every slot of the allocator classes named
// was given back.
func requireNoSlotsInUse(t *testing.T, th *Thread, classes ...string) {
	t.Helper()
	s := th.AllocatorStats()
	for _, name := range classes {
		if s.Classes != nil {
			require.Zero(t, s.Classes[name].SlotsInUse, "%s: every slot given back", name)
		} else {
			require.Zero(t, s.Pools[name].SlotsInUse, "%s: every slot given back", name)
		}
	}
}

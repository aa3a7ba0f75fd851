package runtime

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestListExtendIterables: ListExtend takes what list.extend iterates
// besides lists and tuples: a dict gives its keys in insertion order (each
// with a new reference), a str its characters (U+0100 and above as new
// strs, below it the interned ones, as CPython's cached latin-1
// characters); the others stay not iterable.
func TestListExtendIterables(t *testing.T) {
	eachModeThread(t, func(t *testing.T, th *Thread) {
		l := th.NewList()
		d := th.NewDict()
		keys := []*Object{th.NewStr("b"), th.NewInt(1000), th.NewStr("a")}
		for _, k := range keys {
			require.NoError(t, th.DictSet(d, k, th.rt.None()))
		}
		require.NoError(t, th.DictDel(d, keys[0]))
		require.NoError(t, th.DictSet(d, keys[0], th.rt.None())) // moves to the end
		require.NoError(t, th.ListExtend(l, d))
		require.Equal(t, "[1000, 'a', 'b']", th.Repr(l))
		for _, k := range keys {
			require.Equal(t, 3, th.RefCount(k), "ours, the dict's and the list's")
		}

		s := th.NewStr("xé€")
		require.NoError(t, th.ListExtend(l, s))
		require.Equal(t, "[1000, 'a', 'b', 'x', 'é', '€']", th.Repr(l))
		x, err := th.ListGet(l, 3)
		require.NoError(t, err)
		require.Same(t, th.Intern("x"), x, "a latin-1 character is the interned str")
		euro, err := th.ListGet(l, 5)
		require.NoError(t, err)
		require.Equal(t, 2, th.RefCount(euro), "the list's and ours")
		th.DecRef(euro)
		th.DecRef(x)

		empty := th.NewStr("")
		require.NoError(t, th.ListExtend(l, empty))
		n, err := th.ListLen(l)
		require.NoError(t, err)
		require.Equal(t, 6, n)

		for _, o := range append(keys, d, s, empty, l) {
			th.DecRef(o)
		}
		apiRequireLive(t, th, map[string]int{})
	})
}

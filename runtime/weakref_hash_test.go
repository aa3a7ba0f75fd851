package runtime

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestWeakrefHashEquality: a weak reference hashes and compares like its
// referent while that lives, keeps its hash afterwards, and cannot be
// hashed for the first time once the referent is gone (CPython's weakref).
func TestWeakrefHashEquality(t *testing.T) {
	eachModeThread(t, func(t *testing.T, th *Thread) {
		typ, err := th.rt.NewType(TypeSpec{Name: "Target"})
		require.NoError(t, err)
		a, b := th.NewInstance(typ), th.NewInstance(typ)
		// A callback makes each weak reference a new object (without one,
		// NewWeakRef hands out the referent's existing one again).
		noop := func(*Thread, *Object) {}
		wa1, err := th.NewWeakRef(a, nil)
		require.NoError(t, err)
		wa2, err := th.NewWeakRef(a, noop)
		require.NoError(t, err)
		require.NotSame(t, wa1, wa2)
		wb, err := th.NewWeakRef(b, nil)
		require.NoError(t, err)
		late, err := th.NewWeakRef(b, noop)
		require.NoError(t, err)

		d := th.NewDict()
		v := th.NewInt(1000)
		require.NoError(t, th.DictSet(d, wa1, v))
		// Two weak references to one live referent are the same key.
		got, err := th.DictGet(d, wa2)
		require.NoError(t, err)
		require.Same(t, v, got)
		th.DecRef(got)
		require.NoError(t, th.DictSet(d, wa2, v))
		n, err := th.DictLen(d)
		require.NoError(t, err)
		require.Equal(t, 1, n, "wa2 replaced wa1's value, no new key")
		// Another referent, another key.
		_, err = th.DictGet(d, wb)
		require.ErrorIs(t, err, ErrKey)
		require.NoError(t, th.DictSet(d, wb, v))

		// The referents die: the weak references already hashed keep
		// their hashes and are equal only to themselves.
		th.DecRef(a)
		th.DecRef(b)
		got, err = th.DictGet(d, wa1)
		require.NoError(t, err)
		require.Same(t, v, got)
		th.DecRef(got)
		_, err = th.DictGet(d, wa2)
		require.ErrorIs(t, err, ErrKey, "dead weak references compare by identity")
		got, err = th.DictGet(d, wb)
		require.NoError(t, err)
		th.DecRef(got)
		// Never hashed while its referent lived: unhashable now.
		_, err = th.DictGet(d, late)
		require.ErrorIs(t, err, ErrType)
		require.ErrorContains(t, err, "weak object has gone away")

		th.DecRef(d)
		for _, o := range []*Object{wa1, wa2, wb, late} {
			th.DecRef(o)
		}
		require.Equal(t, 1, th.RefCount(v))
		th.DecRef(v)
	})
}

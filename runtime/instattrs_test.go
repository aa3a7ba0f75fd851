package runtime

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// attrModel is what an instance's attributes should be: name -> value.
type attrModel map[string]*Object

// checkAttrs requires o to have exactly the attributes of want among names.
func checkAttrs(t *testing.T, th *Thread, o *Object, names []string, want attrModel) {
	t.Helper()
	for _, name := range names {
		v, err := th.GetAttr(o, name)
		w, ok := want[name]
		if !ok {
			require.ErrorIs(t, err, ErrAttribute, "attribute %s", name)
			require.ErrorIs(t, th.DelAttr(o, name), ErrAttribute, "attribute %s", name)
			continue
		}
		require.NoError(t, err, "attribute %s", name)
		require.Same(t, w, v, "attribute %s", name)
		th.DecRef(v)
	}
}

// TestInstanceAttributeStorage drives instances of one type through every
// place an attribute can live — inline, in the type's shared keys beyond
// the inline values, and under a name the full shared table has no room
// for — in different orders per instance, with deletes and re-adds,
// against a model, and checks that every value is released at the end,
// by reference counting and by the collector.
func TestInstanceAttributeStorage(t *testing.T) {
	eachModeThread(t, func(t *testing.T, th *Thread) {
		typ, err := th.rt.NewType(TypeSpec{Name: "Bag"})
		require.NoError(t, err)
		names := make([]string, maxSharedKeys+10)
		vals := make([]*Object, len(names))
		for i := range names {
			names[i] = fmt.Sprintf("a%d", i)
			vals[i] = th.NewInt(int64(1000 + i))
		}
		rng := rand.New(rand.NewPCG(1, 2))
		objs := []*Object{th.NewInstance(typ), th.NewInstance(typ), th.NewInstance(typ)}
		models := []attrModel{{}, {}, {}}
		for step := 0; step < 600; step++ {
			k := rng.IntN(len(objs))
			o, m := objs[k], models[k]
			i := rng.IntN(len(names))
			if k == 0 {
				i = min(i, len(names)-1-step%len(names)) // the first instance mostly counts down
			}
			name := names[i]
			if _, ok := m[name]; ok && rng.IntN(3) == 0 {
				require.NoError(t, th.DelAttr(o, name))
				delete(m, name)
			} else {
				require.NoError(t, th.SetAttr(o, name, vals[i]))
				m[name] = vals[i]
			}
			checkAttrs(t, th, o, names, m)
		}
		require.Equal(t, maxSharedKeys, len(typ.attrKeys.table.Load().names), "the shared table fills up")
		for k, o := range objs {
			checkAttrs(t, th, o, names, models[k])
		}
		th.DecRef(objs[0])
		// The others die in a cycle, through an attribute beyond the
		// inline ones and one kept by name.
		require.NoError(t, th.SetAttr(objs[1], names[len(names)-1], objs[2]))
		require.NoError(t, th.SetAttr(objs[2], names[inlineAttrs+1], objs[1]))
		th.DecRef(objs[1])
		th.DecRef(objs[2])
		n, err := th.Collect(2)
		require.NoError(t, err)
		require.Equal(t, 2, n)

		for _, v := range vals {
			require.Equal(t, 1, th.RefCount(v))
			th.DecRef(v)
		}
	})
}

// TestAttributeErrors: the messages of CPython's AttributeError, on an
// instance with and without attributes beyond the shared table.
func TestAttributeErrors(t *testing.T) {
	eachModeThread(t, func(t *testing.T, th *Thread) {
		typ, err := th.rt.NewType(TypeSpec{Name: "Point"})
		require.NoError(t, err)
		o := th.NewInstance(typ)
		_, err = th.GetAttr(o, "x")
		require.ErrorIs(t, err, ErrAttribute)
		require.EqualError(t, err, "AttributeError: 'Point' object has no attribute 'x'")
		require.NoError(t, th.SetAttr(o, "x", th.rt.None()))
		require.NoError(t, th.DelAttr(o, "x"))
		err = th.DelAttr(o, "x")
		require.EqualError(t, err, "AttributeError: 'Point' object has no attribute 'x'")
		th.DecRef(o)
	})
}

// TestConcurrentSharedKeys: threads give instances of one type attributes
// under names in different orders at once, so the type's shared table
// grows while other threads search it and then overflows into the
// instances' own names; every instance must read back exactly what its
// thread stored.
func TestConcurrentSharedKeys(t *testing.T) {
	eachModeThread(t, func(t *testing.T, th *Thread) {
		typ, err := th.rt.NewType(TypeSpec{Name: "Shared"})
		require.NoError(t, err)
		const workers, perWorker = 4, 20
		names := make([]string, 2*maxSharedKeys)
		for i := range names {
			names[i] = fmt.Sprintf("k%d", i)
		}
		ccRun(th, workers, func(w int, wt *Thread) {
			rng := rand.New(rand.NewPCG(uint64(w), 7))
			for range perWorker {
				o := wt.NewInstance(typ)
				order := rng.Perm(len(names))[:10]
				for _, i := range order {
					v := wt.NewInt(int64(1000*w + i))
					assert.NoError(t, wt.SetAttr(o, names[i], v))
					wt.DecRef(v)
				}
				for _, i := range order {
					v, err := wt.GetAttr(o, names[i])
					if assert.NoError(t, err) {
						got, _ := wt.Int(v)
						assert.Equal(t, int64(1000*w+i), got, "attribute %s", names[i])
						wt.DecRef(v)
					}
				}
				wt.DecRef(o)
			}
		})
		require.Equal(t, maxSharedKeys, len(typ.attrKeys.table.Load().names))
	})
}

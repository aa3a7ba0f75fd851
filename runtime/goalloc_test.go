package runtime

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestSteadyStateMakesNoGoAllocations checks that objects come from the
// runtime's allocator, not from Go's heap: once the allocator has pages,
// creating and dropping scalars and pairs allocates nothing from Go.
func TestSteadyStateMakesNoGoAllocations(t *testing.T) {
	eachModeWith(t, allModes, []bool{false}, nil, withThread(func(t *testing.T, th *Thread) {
		th.rt.GC().Disable() // a collection may allocate its work lists
		a, b := th.NewInt(1000), th.NewStr("x")
		typ, err := th.rt.NewType(TypeSpec{Name: "Point"})
		require.NoError(t, err)
		cases := map[string]func(){
			"int":         func() { th.DecRef(th.NewInt(123456)) },
			"float":       func() { th.DecRef(th.NewFloat(1.5)) },
			"pair":        func() { th.DecRef(th.NewTuple(a, b)) },
			"empty":       func() { th.DecRef(th.NewTuple()) },
			"list":        func() { th.DecRef(th.NewList()) },
			"list of two": func() { th.DecRef(th.NewList(a, b)) },
			"instance with two attributes": func() {
				o := th.NewInstance(typ)
				require.NoError(t, th.SetAttr(o, "a", a))
				require.NoError(t, th.SetAttr(o, "b", b))
				th.DecRef(o)
			},
			"dict of three": func() {
				d := th.NewDict()
				for _, k := range []*Object{a, b, th.rt.None()} {
					require.NoError(t, th.DictSet(d, k, a))
				}
				th.DecRef(d)
			},
			"grown list": func() {
				l := th.NewList()
				for range maxSmallItems {
					require.NoError(t, th.ListAppend(l, a))
				}
				th.DecRef(l)
			},
		}
		for name, fn := range cases {
			fn() // the first call may need a page
			require.Zero(t, testing.AllocsPerRun(200, fn), "%s: Go heap allocations per create+drop", name)
		}
		th.DecRef(a)
		th.DecRef(b)
	}))
}

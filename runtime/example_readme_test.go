package runtime_test

import (
	"fmt"

	"github.com/nogil-lab/nogil/runtime"
)

// The README's example, kept honest: it runs as a test in both modes.
func Example_readme() {
	for _, mode := range []runtime.Mode{runtime.FreeThreaded, runtime.GIL} {
		rt, _ := runtime.New(runtime.Config{Mode: mode})
		th := rt.NewThread()
		l := th.NewList()
		for i := int64(0); i < 3; i++ {
			v := th.NewInt(i * 1000)
			_ = th.ListAppend(l, v)
			th.DecRef(v)
		}
		l2 := th.NewList(l)
		_ = th.ListAppend(l, l2)
		fmt.Println(mode, th.Repr(l))
		th.DecRef(l2)
		th.DecRef(l)
		n, _ := th.Collect(2)
		fmt.Println("collected", n)
		th.Close()
		fmt.Println("close:", rt.Close())
	}
	// Output:
	// free-threaded [0, 1000, 2000, [[...]]]
	// collected 2
	// close: <nil>
	// gil [0, 1000, 2000, [[...]]]
	// collected 2
	// close: <nil>
}

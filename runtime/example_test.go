package runtime_test

import (
	"fmt"
	"sync"

	"github.com/nogil-lab/nogil/runtime"
)

// The same small program in both modes: two threads each build a list of
// ints at the same time and store it into a shared result list; the main
// thread waits for them (detached, so that it neither holds the GIL nor
// delays a stop-the-world while it waits), puts the result into a dict and
// prints it. Every thread owns its handle; every new reference is given
// back with DecRef, and Close finds nothing leaked.
func Example() {
	configs := []runtime.Config{
		{Mode: runtime.GIL},
		{Mode: runtime.FreeThreaded}, // biased reference counting
	}
	for _, cfg := range configs {
		rt, err := runtime.New(cfg)
		if err != nil {
			panic(err)
		}
		main := rt.NewThread() // attached: in GIL mode it holds the GIL
		results := main.NewList(rt.None(), rt.None())

		var wg sync.WaitGroup
		for w := 0; w < 2; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				th := rt.NewThread() // one Thread per goroutine
				defer th.Close()
				l := th.NewList()
				for i := 1; i <= 4; i++ {
					v := th.NewInt(int64((w + 1) * i * 1000))
					_ = th.ListAppend(l, v) // the list takes its own reference
					th.DecRef(v)
				}
				_ = th.ListSet(results, w, l)
				th.DecRef(l)
			}()
		}
		main.Detach() // never block while attached
		wg.Wait()
		main.Attach()

		d := main.NewDict()
		k := main.NewStr("results")
		_ = main.DictSet(d, k, results)
		main.DecRef(k)
		main.DecRef(results)
		fmt.Printf("%s: %s\n", rt.Mode(), main.Repr(d))

		main.Checkpoint() // publish this thread's counts
		fmt.Println("live objects:", rt.Stats().Live)
		main.DecRef(d)
		main.Checkpoint()
		fmt.Println("live after DecRef:", rt.Stats().Live)
		main.Close()
		fmt.Println("close:", rt.Close())
	}
	// Output:
	// gil: {'results': [[1000, 2000, 3000, 4000], [2000, 4000, 6000, 8000]]}
	// live objects: 13
	// live after DecRef: 0
	// close: <nil>
	// free-threaded: {'results': [[1000, 2000, 3000, 4000], [2000, 4000, 6000, 8000]]}
	// live objects: 13
	// live after DecRef: 0
	// close: <nil>
}

// A weak reference does not keep its target alive: WeakRefGet returns a
// new reference while the target lives and nil once it is dead, and the
// callback runs when it dies.
func ExampleThread_NewWeakRef() {
	rt, _ := runtime.New(runtime.Config{Mode: runtime.FreeThreaded})
	th := rt.NewThread()
	node, _ := rt.NewType(runtime.TypeSpec{Name: "Node"})

	target := th.NewInstance(node)
	ref, err := th.NewWeakRef(target, func(th *runtime.Thread, ref *runtime.Object) {
		fmt.Println("callback: the target died")
	})
	if err != nil {
		panic(err)
	}

	if o, _ := th.WeakRefGet(ref); o != nil {
		fmt.Println("alive:", o.Type().Name())
		th.DecRef(o) // WeakRefGet returned a new reference
	}
	th.DecRef(target) // the last strong reference
	o, _ := th.WeakRefGet(ref)
	fmt.Println("after the last DecRef:", o)

	_, err = th.NewWeakRef(th.NewInt(1), nil)
	fmt.Println(err)

	th.DecRef(ref)
	th.Close()
	fmt.Println("close:", rt.Close())
	// Output:
	// alive: Node
	// callback: the target died
	// after the last DecRef: <nil>
	// TypeError: cannot create weak reference to 'int' object
	// close: <nil>
}

// An instance with a legacy finalizer in a reference cycle is not freed
// by the collector: it ends up in GC().Garbage(), like CPython's
// gc.garbage. The program takes it back with ListPop, breaks the cycle,
// and reference counting frees it (running the legacy finalizer).
func ExampleGC_Garbage() {
	rt, _ := runtime.New(runtime.Config{Mode: runtime.GIL})
	th := rt.NewThread()
	res, _ := rt.NewType(runtime.TypeSpec{
		Name:      "Resource",
		LegacyDel: func(th *runtime.Thread, self *runtime.Object) { fmt.Println("__del__ ran") },
	})

	r := th.NewInstance(res)
	_ = th.SetAttr(r, "self", r) // a cycle through itself
	th.DecRef(r)                 // unreachable now, but the count is not zero

	n, _ := th.Collect(2)
	garbage := rt.GC().Garbage()
	size, _ := th.ListLen(garbage)
	fmt.Println("unreachable:", n, "gc.garbage:", size)

	// Clear gc.garbage; the popped reference is ours.
	for size > 0 {
		o, _ := th.ListPop(garbage, -1)
		fmt.Println("popped a", o.Type().Name())
		_ = th.DelAttr(o, "self") // break the cycle
		th.DecRef(o)              // the last reference: __del__ runs, o is freed
		size--
	}
	th.Close()
	fmt.Println("close:", rt.Close())
	// Output:
	// unreachable: 1 gc.garbage: 1
	// popped a Resource
	// __del__ ran
	// close: <nil>
}

package runtime

import "testing"

// BenchmarkThreadRestart: a thread starts, makes a few objects of the
// common kinds (which come from its heaps in free-threaded mode), drops
// them and exits: the cost the stress workload mixed pays on each restart.
func BenchmarkThreadRestart(b *testing.B) {
	benchModes(b, func(b *testing.B, rt *Runtime) {
		for b.Loop() {
			th := rt.NewThread()
			i := th.NewInt(1 << 40)
			f := th.NewFloat(1.5)
			l := th.NewList(i, f)
			d := th.NewDict()
			if err := th.DictSet(d, i, f); err != nil {
				b.Fatal(err)
			}
			th.DecRef(i)
			th.DecRef(f)
			th.DecRef(l)
			th.DecRef(d)
			th.Close()
		}
	})
}

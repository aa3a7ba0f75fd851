package stress

import (
	"fmt"

	"github.com/nogil-lab/nogil/internal/invariants"
	"github.com/nogil-lab/nogil/runtime"
)

// workload is a named workload: a setup that makes the shared state, a
// state that makes each worker's loop, and the loop's step (one op).
type workload struct {
	name, desc string
	// private: every op works on objects of its own thread only (the
	// thread-private set of target B4).
	private bool
	// contention: the workload shares objects between threads on purpose
	// (`nogil stress` runs these with mixed).
	contention bool
	// batch is the number of ops between two safe points (Checkpoint and
	// the stop check); about a microsecond or more of work.
	batch int
	// ownThreads: the workload's workers close their threads (Restart), so
	// a one-worker run never works on the setup thread, which outlives it.
	ownThreads bool
	setup      func(s *setupCtx) (state, error)
}

type setupCtx struct {
	th      *runtime.Thread // the setup thread, attached
	threads int
	seed    int64
	chk     *checker // for checks made outside a worker's step (finalizers)
}

// state is a workload's shared state during a run.
type state interface {
	// start runs on worker w's thread before the common start and returns
	// its loop.
	start(w *Worker) (loop, error)
	// finish runs on the setup thread once every worker has stopped and
	// closed its thread: it checks the workload's invariants and releases
	// the shared state.
	finish(f *final)
}

// loop is one worker's part of a workload.
type loop interface {
	// step runs one op. errStopped means the run ended while it blocked.
	step(w *Worker) error
	// stop runs on the worker's thread after its last op: it checks and
	// releases the worker's private state.
	stop(w *Worker) error
}

// abandoner is a loop that holds more than its worker's thread: after a
// failure, abandon releases what it can (the worker's thread is closed
// after it).
type abandoner interface {
	abandon(w *Worker)
}

// WorkloadInfo describes a workload.
type WorkloadInfo struct {
	Name        string
	Description string // what one op is
	Private     bool   // thread-private: only the thread's own objects
	Contention  bool   // shares objects between threads on purpose
}

var registry = []*workload{
	{name: "create-objects", private: true, batch: 4, setup: setupCreateObjects,
		desc: "instantiate a user type, set two attributes, drop it (ftscalingbench create_pyobject)"},
	{name: "create-dict", private: true, batch: 4, setup: setupCreateDict,
		desc: "build a 3-key dict of interned keys and drop it (ftscalingbench create_dict)"},
	{name: "alloc-churn", private: true, batch: 2, setup: setupAllocChurn,
		desc: "create and drop an int, a float, a tuple and a list"},
	{name: "binary-trees", private: true, batch: 1, setup: setupBinaryTrees,
		desc: "build, check and drop a complete binary tree of tuples, depth 10 (benchmarks game); one op = one tree"},
	{name: "shared-read", contention: true, batch: 16, setup: setupSharedRead(false),
		desc: "ListGet+DecRef of an item of a shared list of mortal ints owned by the setup thread (reference-count contention; a one-thread run is the owner's)"},
	{name: "shared-read-immortal", contention: true, batch: 16, setup: setupSharedRead(true),
		desc: "ListGet+DecRef of an item of a shared list of small ints and interned strs (immortal: no count traffic)"},
	{name: "producer-consumer", contention: true, batch: 1, setup: setupProducerConsumer,
		desc: "16 tuples made on one thread and released on another; threads form a ring of bounded channels (1 thread: alternates between two runtime threads)"},
	{name: "cycles", batch: 2, setup: setupCycles,
		desc: "make a 3-object reference cycle (two instances and a list) and drop it; automatic collection frees it"},
	{name: "list-contention", contention: true, batch: 8, setup: setupListContention,
		desc: "append to, read item 50 of and pop(0) from one shared list (ftscalingbench object_cfunction, shared)"},
	{name: "mixed", batch: 4, ownThreads: true, setup: setupMixed,
		desc: "a seeded random mix of every operation on private and shared objects, with explicit collections, weak references, finalizers, detaching, and threads that exit and restart"},
}

func lookup(name string) *workload {
	for _, w := range registry {
		if w.name == name {
			return w
		}
	}
	return nil
}

// Workloads returns the names of every workload, in table order.
func Workloads() []string {
	names := make([]string, len(registry))
	for i, w := range registry {
		names[i] = w.name
	}
	return names
}

// Describe returns the description of a workload.
func Describe(name string) (WorkloadInfo, bool) {
	w := lookup(name)
	if w == nil {
		return WorkloadInfo{}, false
	}
	return WorkloadInfo{Name: w.name, Description: w.desc, Private: w.private, Contention: w.contention}, true
}

// StressWorkloads returns the workloads `nogil stress` runs: mixed and the
// contention workloads.
func StressWorkloads() []string {
	names := []string{"mixed"}
	for _, w := range registry {
		if w.contention {
			names = append(names, w.name)
		}
	}
	return names
}

// noStop is a loop's stop with nothing to release.
type noStop struct{}

func (noStop) stop(*Worker) error { return nil }

// ---- create-objects ----

type createObjects struct{ typ *runtime.Type }

func setupCreateObjects(s *setupCtx) (state, error) {
	t, err := s.th.Runtime().NewType(runtime.TypeSpec{Name: "MyObject"})
	if err != nil {
		return nil, err
	}
	return &createObjects{typ: t}, nil
}

func (s *createObjects) start(*Worker) (loop, error) { return &createObjectsLoop{typ: s.typ}, nil }
func (s *createObjects) finish(*final)               {}

type createObjectsLoop struct {
	noStop
	typ *runtime.Type
	i   int64
}

func (l *createObjectsLoop) step(w *Worker) error {
	th := w.Th
	l.i++
	o := th.NewInstance(l.typ)
	a := th.NewInt(l.i & 0xff) // a small int: immortal, like CPython's
	if err := th.SetAttr(o, "a", a); err != nil {
		return err
	}
	if err := th.SetAttr(o, "b", th.Runtime().None()); err != nil {
		return err
	}
	if l.i&63 == 0 {
		v, err := th.GetAttr(o, "a")
		if err != nil {
			return err
		}
		if v != a {
			w.Violationf("create-objects: attribute a is %s, want %d", th.Repr(v), l.i&0xff)
		}
		th.DecRef(v)
	}
	th.DecRef(a)
	th.DecRef(o)
	return nil
}

// ---- create-dict ----

type createDict struct{ keys, vals [3]*runtime.Object }

func setupCreateDict(s *setupCtx) (state, error) {
	st := &createDict{}
	for i, k := range []string{"key", "value", "other"} {
		st.keys[i] = s.th.Intern(k)
		st.vals[i] = s.th.NewInt(int64(i + 1))
	}
	return st, nil
}

func (s *createDict) start(*Worker) (loop, error) { return &createDictLoop{s: s}, nil }
func (s *createDict) finish(*final)               {}

type createDictLoop struct {
	noStop
	s *createDict
	i int
}

func (l *createDictLoop) step(w *Worker) error {
	th := w.Th
	d := th.NewDict()
	for i := range l.s.keys {
		if err := th.DictSet(d, l.s.keys[i], l.s.vals[i]); err != nil {
			return err
		}
	}
	if l.i++; l.i&63 == 0 {
		if n, err := th.DictLen(d); err != nil || n != 3 {
			w.Violationf("create-dict: len %d (%v), want 3", n, err)
		}
		v, err := th.DictGet(d, l.s.keys[1])
		if err != nil {
			return err
		}
		if v != l.s.vals[1] {
			w.Violationf("create-dict: d['value'] is %s, want 2", th.Repr(v))
		}
		th.DecRef(v)
	}
	th.DecRef(d)
	return nil
}

// ---- alloc-churn ----

type allocChurn struct{}

func setupAllocChurn(*setupCtx) (state, error) { return allocChurn{}, nil }

func (allocChurn) start(*Worker) (loop, error) { return &allocChurnLoop{}, nil }
func (allocChurn) finish(*final)               {}

type allocChurnLoop struct {
	noStop
	i int64
}

func (l *allocChurnLoop) step(w *Worker) error {
	th := w.Th
	l.i++
	n := th.NewInt(1000 + l.i) // beyond the small ints: a real allocation
	f := th.NewFloat(float64(l.i) + 0.5)
	t := th.NewTuple(n, f)
	li := th.NewList(t, n)
	th.DecRef(n)
	th.DecRef(f)
	th.DecRef(t)
	if l.i&63 == 0 {
		if k, err := th.ListLen(li); err != nil || k != 2 {
			w.Violationf("alloc-churn: list len %d (%v), want 2", k, err)
		}
		it, err := th.ListGet(li, 1)
		if err != nil {
			return err
		}
		if v, err := th.Int(it); err != nil || v != 1000+l.i {
			w.Violationf("alloc-churn: item is %d (%v), want %d", v, err, 1000+l.i)
		}
		th.DecRef(it)
	}
	th.DecRef(li)
	return nil
}

// ---- binary-trees ----

// treeDepth is the depth of binary-trees' trees: 10, or 6 under the race
// detector (which slows allocation about tenfold).
func treeDepth() int {
	if invariants.Race {
		return 6
	}
	return 10
}

type binaryTrees struct{ depth int }

func setupBinaryTrees(*setupCtx) (state, error) { return &binaryTrees{depth: treeDepth()}, nil }

func (s *binaryTrees) finish(*final) {}

func (s *binaryTrees) start(w *Worker) (loop, error) {
	// Like the benchmarks-game program, keep a long-lived tree while the
	// short-lived ones churn. A tree of tuples with None leaves is born
	// untracked, as in CPython 3.14.1+ (gh-139951): this workload measures
	// allocation, reference counting and freeing, not the collector.
	l := &treeLoop{depth: s.depth}
	l.longLived = l.build(w.Th, s.depth)
	return l, nil
}

type treeLoop struct {
	depth     int
	longLived *runtime.Object
}

func (l *treeLoop) build(th *runtime.Thread, d int) *runtime.Object {
	if d == 0 {
		none := th.Runtime().None()
		return th.NewTuple(none, none)
	}
	left := l.build(th, d-1)
	right := l.build(th, d-1)
	t := th.NewTuple(left, right)
	th.DecRef(left)
	th.DecRef(right)
	return t
}

// count returns the number of nodes of a tree.
func (l *treeLoop) count(w *Worker, t *runtime.Object) (int, error) {
	th := w.Th
	if n, err := th.TupleLen(t); err != nil || n != 2 {
		w.Violationf("binary-trees: node has %d items (%v), want 2", n, err)
		return 1, nil
	}
	c := 1
	for i := range 2 {
		child, err := th.TupleGet(t, i)
		if err != nil {
			return 0, err
		}
		if child != th.Runtime().None() {
			k, err := l.count(w, child)
			if err != nil {
				return 0, err
			}
			c += k
		}
		th.DecRef(child)
	}
	return c, nil
}

func (l *treeLoop) check(w *Worker, t *runtime.Object) error {
	n, err := l.count(w, t)
	if err != nil {
		return err
	}
	if want := 1<<(l.depth+1) - 1; n != want {
		w.Violationf("binary-trees: tree has %d nodes, want %d", n, want)
	}
	return nil
}

func (l *treeLoop) step(w *Worker) error {
	t := l.build(w.Th, l.depth)
	err := l.check(w, t)
	w.Th.DecRef(t)
	return err
}

func (l *treeLoop) stop(w *Worker) error {
	err := l.check(w, l.longLived)
	w.Th.DecRef(l.longLived)
	return err
}

// ---- shared-read, shared-read-immortal ----

const sharedReadItems = 64

type sharedRead struct {
	immortal bool
	list     *runtime.Object
	// items are the list's items, borrowed (the list keeps them alive):
	// what each read must return.
	items [sharedReadItems]*runtime.Object
}

func setupSharedRead(immortal bool) func(s *setupCtx) (state, error) {
	return func(s *setupCtx) (state, error) {
		th := s.th
		st := &sharedRead{immortal: immortal}
		for i := range st.items {
			switch {
			case !immortal:
				st.items[i] = th.NewInt(int64(100_000 + i)) // mortal, owned by the setup thread
			case i%2 == 0:
				st.items[i] = th.NewInt(int64(i)) // small int: immortal
			default:
				st.items[i] = th.Intern(fmt.Sprintf("item%d", i)) // interned: immortal
			}
		}
		st.list = th.NewList(st.items[:]...)
		if !immortal {
			for _, it := range st.items {
				th.DecRef(it) // the list holds them now
			}
		}
		return st, nil
	}
}

func (s *sharedRead) start(w *Worker) (loop, error) {
	return &sharedReadLoop{s: s, i: w.ID * 7}, nil
}

func (s *sharedRead) finish(f *final) {
	th := f.th
	if n, err := th.ListLen(s.list); err != nil || n != sharedReadItems {
		f.violationf("shared-read: list len %d (%v), want %d", n, err, sharedReadItems)
	}
	if !s.immortal && !f.failed {
		for i, it := range s.items {
			// Every read gave its reference back: the list's is the only one.
			if rc := th.RefCount(it); rc != 1 {
				f.violationf("shared-read: item %d has %d references after the run, want 1", i, rc)
			}
		}
	}
	th.DecRef(s.list)
}

type sharedReadLoop struct {
	noStop
	s *sharedRead
	i int
}

func (l *sharedReadLoop) step(w *Worker) error {
	th := w.Th
	l.i++
	idx := l.i % sharedReadItems
	o, err := th.ListGet(l.s.list, idx)
	if err != nil {
		return err
	}
	if o != l.s.items[idx] {
		w.Violationf("shared-read: item %d is %s, want %s", idx, th.Repr(o), th.Repr(l.s.items[idx]))
	}
	th.DecRef(o)
	return nil
}

// ---- cycles ----

type cycles struct{ typ *runtime.Type }

func setupCycles(s *setupCtx) (state, error) {
	if !s.th.Runtime().GC().IsEnabled() {
		return nil, fmt.Errorf("automatic collection is off")
	}
	t, err := s.th.Runtime().NewType(runtime.TypeSpec{Name: "Node"})
	if err != nil {
		return nil, err
	}
	return &cycles{typ: t}, nil
}

func (s *cycles) start(*Worker) (loop, error) { return &cyclesLoop{typ: s.typ}, nil }

func (s *cycles) finish(f *final) {
	if f.failed {
		return
	}
	// Each op leaves 3 containers of cyclic garbage, freed only by the
	// collector; generation 0 is collected whenever the net count of new
	// containers passes threshold 0 (a thread gives its count to the
	// collector every 32 containers, so at most that much late per
	// thread). Allow a factor of 4 before calling the trigger broken.
	rt := f.th.Runtime()
	t0, _, _ := rt.GC().Threshold()
	if t0 <= 0 || !rt.GC().IsEnabled() {
		return
	}
	garbage := 3 * f.totalOps
	perCollection := uint64(t0 + 32*len(f.perOps))
	want := garbage / perCollection / 4
	if got := totalCollections(rt); uint64(got) < want {
		f.violationf("cycles: %d objects of cyclic garbage made on %d threads but only %d automatic collections ran (about %d expected): the collector fell behind",
			garbage, len(f.perOps), got, garbage/perCollection)
	}
}

type cyclesLoop struct {
	noStop
	typ *runtime.Type
}

func (l *cyclesLoop) step(w *Worker) error {
	th := w.Th
	a := th.NewInstance(l.typ)
	b := th.NewInstance(l.typ)
	li := th.NewList()
	if err := th.SetAttr(a, "next", b); err != nil {
		return err
	}
	if err := th.SetAttr(b, "next", li); err != nil {
		return err
	}
	if err := th.ListAppend(li, a); err != nil {
		return err
	}
	th.DecRef(a)
	th.DecRef(b)
	th.DecRef(li)
	return nil
}

// ---- list-contention ----

const listContentionPrefill = 100

type listContention struct {
	list       *runtime.Object
	prefillSum uint64
	loops      []*listContentionLoop
}

func setupListContention(s *setupCtx) (state, error) {
	th := s.th
	st := &listContention{list: th.NewList(), loops: make([]*listContentionLoop, s.threads)}
	for i := range listContentionPrefill {
		v := int64(1_000 + i)
		o := th.NewInt(v)
		if err := th.ListAppend(st.list, o); err != nil {
			return nil, err
		}
		th.DecRef(o)
		st.prefillSum += uint64(v)
	}
	return st, nil
}

func (s *listContention) start(w *Worker) (loop, error) {
	l := &listContentionLoop{s: s, base: int64(w.ID+1) << 40}
	s.loops[w.ID] = l
	return l, nil
}

func (s *listContention) finish(f *final) {
	th := f.th
	n, err := th.ListLen(s.list)
	if err != nil {
		f.violationf("list-contention: %v", err)
		return
	}
	if !f.failed && n != listContentionPrefill {
		f.violationf("list-contention: list has %d items, want %d", n, listContentionPrefill)
	}
	// Sums balance: what was put in minus what was taken out is what is
	// left (modulo 2^64).
	want := s.prefillSum
	for _, l := range s.loops {
		if l != nil {
			want += l.appended - l.popped
		}
	}
	var got uint64
	for i := range n {
		o, err := th.ListGet(s.list, i)
		if err != nil {
			f.violationf("list-contention: %v", err)
			break
		}
		v, err := th.Int(o)
		if err != nil {
			f.violationf("list-contention: item %d: %v", i, err)
		}
		got += uint64(v)
		th.DecRef(o)
	}
	if !f.failed && got != want {
		f.violationf("list-contention: items left sum to %d, want %d", got, want)
	}
	th.DecRef(s.list)
}

type listContentionLoop struct {
	noStop
	s                *listContention
	base             int64
	seq              int64
	appended, popped uint64 // sums of the values
}

func (l *listContentionLoop) step(w *Worker) error {
	th := w.Th
	l.seq++
	v := l.base + l.seq
	o := th.NewInt(v)
	if err := th.ListAppend(l.s.list, o); err != nil {
		return err
	}
	th.DecRef(o)
	l.appended += uint64(v)
	// The list never holds fewer than the prefill: every pop follows its
	// own thread's append.
	mid, err := th.ListGet(l.s.list, listContentionPrefill/2)
	if err != nil {
		w.Violationf("list-contention: read item %d: %v", listContentionPrefill/2, err)
	} else {
		th.DecRef(mid)
	}
	p, err := th.ListPop(l.s.list, 0)
	if err != nil {
		w.Violationf("list-contention: pop: %v", err)
		return nil
	}
	pv, err := th.Int(p)
	if err != nil {
		w.Violationf("list-contention: popped %s: %v", th.Repr(p), err)
	}
	l.popped += uint64(pv)
	th.DecRef(p) // often another thread's object: the shared/queued path
	return nil
}

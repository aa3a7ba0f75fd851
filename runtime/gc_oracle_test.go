package runtime

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"testing"

	"github.com/nogil-lab/nogil/internal/invariants"
	"github.com/stretchr/testify/require"
)

// The collector against a model (DESIGN.md §7): a random graph of lists,
// dicts and instances (some with a PEP 442 finalizer), random edges, some
// nodes kept as roots and the rest dropped. A plain Go model says what
// reference counting frees at once and what is reachable from the roots;
// after Collect(2) exactly the reachable nodes must be alive, each dead
// one finalized exactly once and its weak reference called back once, the
// collection's count exact, and the live nodes intact.
//
// Each node carries a private "tag" instance (an attribute, a list item or
// a dict value that nothing else references): it dies with its node, and
// a weak reference to it, held by the test, tells whether the node lives.
// The graph is decoded from bytes, so the same code is a fuzz target
// (FuzzCollectOracle) and a test over many random seeds (TestGCOracle).

const (
	gcoList = iota
	gcoDict
	gcoInstance
	gcoFinalizable
	gcoKinds
)

var gcoKindNames = [gcoKinds]string{"list", "dict", "Node", "FinNode"}

// gcoGraph is the model: node kinds, roots, edges (from, to) in order.
type gcoGraph struct {
	kind  []int
	root  []bool
	edges [][2]int
	// split: nodes before it are made, then collected with splitGen (if
	// >= 0), before the others, so that the graph spans generations and
	// old nodes point at young ones.
	split, splitGen int
	// youngFirst: after the drops, a Collect(0) runs before Collect(2).
	youngFirst bool
}

// gcoDecode turns arbitrary bytes into a graph (missing bytes read as 0).
func gcoDecode(data []byte) gcoGraph {
	pos := 0
	next := func() int {
		if pos >= len(data) {
			pos++
			return 0
		}
		b := data[pos]
		pos++
		return int(b)
	}
	var g gcoGraph
	n := 1 + next()%48
	flags := next()
	g.split = (flags >> 2) % (n + 1)
	g.splitGen = flags%4 - 1 // -1 (none), 0, 1, 2
	g.youngFirst = flags&0x80 != 0
	for i := 0; i < n; i++ {
		k := next()
		g.kind = append(g.kind, k%gcoKinds)
		g.root = append(g.root, (k>>2)%4 == 0)
	}
	for len(g.edges) < 4*n && pos+1 < len(data) {
		g.edges = append(g.edges, [2]int{next() % n, next() % n})
	}
	return g
}

// gcoRandomBytes returns the encoding of a random graph.
func gcoRandomBytes(r *rand.Rand) []byte {
	n := 1 + r.IntN(48)
	data := []byte{byte(n - 1), byte(r.IntN(256))}
	for i := 0; i < n; i++ {
		data = append(data, byte(r.IntN(256)))
	}
	m := r.IntN(3*n + 1)
	for i := 0; i < m; i++ {
		data = append(data, byte(r.IntN(n)), byte(r.IntN(n)))
	}
	return data
}

// refcountSurvivors is what reference counting leaves alive once the
// non-roots are dropped: the nodes whose count stays above zero.
func (g *gcoGraph) refcountSurvivors() []bool {
	n := len(g.kind)
	rc := make([]int, n)
	out := make([][]int, n)
	for _, e := range g.edges {
		rc[e[1]]++
		out[e[0]] = append(out[e[0]], e[1])
	}
	alive := make([]bool, n)
	var dead []int
	for i := range alive {
		alive[i] = true
		if g.root[i] {
			rc[i]++
		} else if rc[i] == 0 {
			dead = append(dead, i)
		}
	}
	for len(dead) > 0 {
		i := dead[len(dead)-1]
		dead = dead[:len(dead)-1]
		alive[i] = false
		for _, j := range out[i] {
			rc[j]--
			if rc[j] == 0 {
				dead = append(dead, j)
			}
		}
	}
	return alive
}

// reachable is what the roots reach.
func (g *gcoGraph) reachable() []bool {
	n := len(g.kind)
	out := make([][]int, n)
	for _, e := range g.edges {
		out[e[0]] = append(out[e[0]], e[1])
	}
	seen := make([]bool, n)
	var stack []int
	for i, r := range g.root {
		if r {
			seen[i] = true
			stack = append(stack, i)
		}
	}
	for len(stack) > 0 {
		i := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		for _, j := range out[i] {
			if !seen[j] {
				seen[j] = true
				stack = append(stack, j)
			}
		}
	}
	return seen
}

// gcoWorld is one runtime's oracle state: its types and what the
// finalizers and callbacks recorded for the current graph.
type gcoWorld struct {
	th          *Thread
	tagT, nodeT *Type
	finT        *Type
	tagDeaths   map[int]int // node id -> its tag's finalizer runs
	nodeDeaths  map[int]int // node id -> its own finalizer runs
	callbacks   map[int]int // node id -> its tag weak reference's callbacks
	failures    []string
	// others are more threads of the runtime (detached while unused): node
	// i is made by thread i%k, edge e set by thread e%k, the reference to
	// node i dropped by thread (i+1)%k, so that under biased counting most
	// drops are a non-owner's, queued to a detached owner. The checks and
	// collections run on th. mergeFirst: every thread passes a safe point
	// (merging its queue) before the checks after the drops; otherwise the
	// collection itself merges the queues.
	others     []*Thread
	mergeFirst bool
	cur        *Thread
}

// on makes thread k%(1+len(others)) the attached one and returns it (one
// goroutine drives them all, one attached at a time, so GIL mode works).
func (w *gcoWorld) on(k int) *Thread {
	next := w.th
	if n := 1 + len(w.others); k%n != 0 {
		next = w.others[k%n-1]
	}
	if w.cur == nil {
		w.cur = w.th
	}
	if next != w.cur {
		w.cur.Detach()
		next.Attach()
		w.cur = next
	}
	return next
}

// mergeAll makes the threads pass safe points until no merge queue holds
// anything (a merge may free objects whose references queue more
// merges), then returns to th.
func (w *gcoWorld) mergeAll() {
	for round := 0; ; round++ {
		pending := false
		for k := 0; k <= len(w.others); k++ {
			th := w.on(k)
			if th.queue != nil && th.queue.Pending() {
				pending = true
			}
			th.Checkpoint()
		}
		if !pending {
			break
		}
		if round > 1000 {
			panic("merge queues never drain")
		}
	}
	w.on(0)
}

func gcoNewWorld(th *Thread) *gcoWorld {
	w := &gcoWorld{th: th}
	id := func(th *Thread, self *Object) int {
		v, err := th.GetAttr(self, "id")
		if err != nil {
			w.failures = append(w.failures, fmt.Sprintf("finalizer: %v", err))
			return -1
		}
		n, err := th.Int(v)
		th.DecRef(v)
		if err != nil {
			w.failures = append(w.failures, fmt.Sprintf("finalizer: %v", err))
		}
		return int(n)
	}
	rt := th.Runtime()
	w.tagT = gcoMust(rt.NewType(TypeSpec{Name: "Tag", Finalize: func(th *Thread, self *Object) {
		w.tagDeaths[id(th, self)]++
	}}))
	w.nodeT = gcoMust(rt.NewType(TypeSpec{Name: "Node"}))
	w.finT = gcoMust(rt.NewType(TypeSpec{Name: "FinNode", Finalize: func(th *Thread, self *Object) {
		w.nodeDeaths[id(th, self)]++
	}}))
	return w
}

// run builds g, checks the model, and frees everything again. It returns
// an error describing the first disagreement.
func (w *gcoWorld) run(g gcoGraph) error {
	th := w.th
	rt := th.Runtime()
	w.tagDeaths = map[int]int{}
	w.nodeDeaths = map[int]int{}
	w.callbacks = map[int]int{}
	w.failures = nil
	n := len(g.kind)
	collect := func(gen int) int {
		k, err := th.Collect(gen)
		if err != nil {
			panic(err)
		}
		return k
	}
	collect(2)
	th.Checkpoint()
	base := rt.Stats().Live

	nodes := make([]*Object, n)
	tagWRs := make([]*Object, n)
	makeNode := func(i int) {
		th := w.on(i)
		var o *Object
		switch g.kind[i] {
		case gcoList:
			o = th.NewList()
		case gcoDict:
			o = th.NewDict()
		case gcoInstance:
			o = th.NewInstance(w.nodeT)
		default:
			o = th.NewInstance(w.finT)
		}
		idObj := th.NewInt(int64(i))
		tag := th.NewInstance(w.tagT)
		gcoNoErr(th.SetAttr(tag, "id", idObj))
		if g.kind[i] >= gcoInstance {
			gcoNoErr(th.SetAttr(o, "id", idObj))
		}
		th.DecRef(idObj)
		tagWRs[i] = gcoMust(th.NewWeakRef(tag, func(*Thread, *Object) { w.callbacks[i]++ }))
		switch g.kind[i] {
		case gcoList:
			gcoNoErr(th.ListAppend(o, tag))
		case gcoDict:
			// Keys are immortal (interned, small ints), so that the live
			// objects are exactly the nodes, their tags and the weakrefs.
			gcoNoErr(th.DictSet(o, th.Intern("tag"), tag))
		default:
			gcoNoErr(th.SetAttr(o, "tag", tag))
		}
		th.DecRef(tag)
		nodes[i] = o
	}
	for i := 0; i < g.split; i++ {
		makeNode(i)
	}
	w.on(0)
	if g.splitGen >= 0 {
		if k := collect(g.splitGen); k != 0 {
			return fmt.Errorf("collection of a graph without edges found %d objects", k)
		}
	}
	for i := g.split; i < n; i++ {
		makeNode(i)
	}
	for k, e := range g.edges {
		th := w.on(k)
		from, to := nodes[e[0]], nodes[e[1]]
		switch g.kind[e[0]] {
		case gcoList:
			gcoNoErr(th.ListAppend(from, to))
		case gcoDict:
			gcoNoErr(th.DictSet(from, th.NewInt(int64(k)), to)) // k < 4*48: a small int
		default:
			gcoNoErr(th.SetAttr(from, "e"+strconv.Itoa(k), to))
		}
	}
	w.on(0)
	alive := func(i int) bool {
		o, err := th.WeakRefGet(tagWRs[i])
		if err != nil {
			panic(err)
		}
		if o == nil {
			return false
		}
		th.DecRef(o)
		return true
	}
	// check compares the nodes' liveness with want, and that each dead node
	// was finalized and called back exactly once.
	check := func(stage string, want []bool) error {
		if len(w.failures) > 0 {
			return fmt.Errorf("%s: %v", stage, w.failures)
		}
		for i := 0; i < n; i++ {
			got := alive(i)
			if got != want[i] {
				return fmt.Errorf("%s: node %d (%s) alive=%v, want %v", stage, i, gcoKindNames[g.kind[i]], got, want[i])
			}
			dead := 0
			if !got {
				dead = 1
			}
			if w.tagDeaths[i] != dead || w.callbacks[i] != dead {
				return fmt.Errorf("%s: node %d: tag finalized %d times, called back %d times, want %d",
					stage, i, w.tagDeaths[i], w.callbacks[i], dead)
			}
			if g.kind[i] == gcoFinalizable && w.nodeDeaths[i] != dead {
				return fmt.Errorf("%s: node %d finalized %d times, want %d", stage, i, w.nodeDeaths[i], dead)
			}
		}
		return nil
	}
	// intact checks that a live node still holds its tag and its edges.
	intact := func(i int) error {
		o := nodes[i]
		var outs []int
		for _, e := range g.edges {
			if e[0] == i {
				outs = append(outs, e[1])
			}
		}
		switch g.kind[i] {
		case gcoList:
			l, _ := th.ListLen(o)
			if l != len(outs)+1 {
				return fmt.Errorf("list node %d has %d items, want %d", i, l, len(outs)+1)
			}
			for j, to := range outs {
				it := gcoMust(th.ListGet(o, j+1))
				th.DecRef(it)
				if it != nodes[to] {
					return fmt.Errorf("list node %d item %d is not node %d", i, j+1, to)
				}
			}
		case gcoDict:
			l, _ := th.DictLen(o)
			if l != len(outs)+1 {
				return fmt.Errorf("dict node %d has %d items, want %d", i, l, len(outs)+1)
			}
		default:
			for k, e := range g.edges {
				if e[0] != i {
					continue
				}
				v, err := th.GetAttr(o, "e"+strconv.Itoa(k))
				if err != nil {
					return fmt.Errorf("instance node %d lost attribute e%d: %v", i, k, err)
				}
				th.DecRef(v)
				if v != nodes[e[1]] {
					return fmt.Errorf("instance node %d attribute e%d is not node %d", i, k, e[1])
				}
			}
		}
		return nil
	}

	// Drop what is not a root: reference counting frees what no cycle
	// keeps.
	// Without mergeFirst, th drops every reference: the objects the other
	// threads own are queued to them, detached, and only the collection's
	// pause merges them (a thread merges its queue when it detaches).
	for i, o := range nodes {
		if !g.root[i] {
			if w.mergeFirst {
				w.on(i + 1).DecRef(o)
			} else {
				w.on(0).DecRef(o)
			}
		}
	}
	w.on(0)
	survivors := g.refcountSurvivors()
	reach := g.reachable()
	if len(w.others) > 0 && w.mergeFirst {
		w.mergeAll()
	}
	if len(w.others) == 0 || w.mergeFirst {
		if err := check("after the drops", survivors); err != nil {
			return err
		}
	}
	cyclic := 0
	for i := range survivors {
		if survivors[i] && !reach[i] {
			cyclic++
		}
	}
	th.Checkpoint()
	before := rt.Stats().Live
	found := 0
	if g.youngFirst {
		found = collect(0)
		for i := 0; i < n; i++ {
			if reach[i] && !alive(i) {
				return fmt.Errorf("Collect(0) freed node %d, reachable from a root", i)
			}
		}
	}
	k := collect(2)
	found += k
	if err := check("after Collect(2)", reach); err != nil {
		return err
	}
	// The collection finds the cyclic garbage (each node with its tag).
	// When it merges queued counts itself, the objects that die of it are
	// its garbage too, with what they alone reference: at most every
	// unreachable node. Automatic or generation-0 collections before it
	// may have found some already.
	lo, hi := 2*cyclic, 2*cyclic
	if len(w.others) > 0 && !w.mergeFirst {
		hi = 0
		for i := range reach {
			if !reach[i] {
				hi += 2
			}
		}
	}
	if g.youngFirst {
		lo = 0
	}
	if found < lo || found > hi {
		return fmt.Errorf("the collections found %d objects, want %d..%d (%d cyclic nodes and their tags)", found, lo, hi, cyclic)
	}
	th.Checkpoint()
	if got := before - rt.Stats().Live; !g.youngFirst && got != found {
		return fmt.Errorf("Collect(2) reported %d objects and freed %d", found, got)
	}
	for i := 0; i < n; i++ {
		if reach[i] {
			if err := intact(i); err != nil {
				return err
			}
		}
	}
	if k := collect(2); k != 0 {
		return fmt.Errorf("a second Collect(2) found %d objects", k)
	}

	// Drop the roots: everything dies, by reference count or collection.
	for i, o := range nodes {
		if g.root[i] {
			w.on(i + 1).DecRef(o)
		}
	}
	w.mergeAll()
	collect(2)
	none := make([]bool, n)
	if err := check("after dropping the roots", none); err != nil {
		return err
	}
	for _, wr := range tagWRs {
		th.DecRef(wr)
	}
	w.mergeAll()
	th.Checkpoint()
	if live := rt.Stats().Live; live != base {
		return fmt.Errorf("%d objects alive at the end, want %d", live, base)
	}
	return nil
}

// TestGCOracle runs the oracle over many random graphs in every mode, one
// runtime per mode and Debug setting, so that the runtime also lives
// through many collections.
func TestGCOracle(t *testing.T) {
	seeds := invariants.Scale(400, 2)
	eachModeThread(t, func(t *testing.T, th *Thread) {
		th.Runtime().GC().Disable()
		w := gcoNewWorld(th)
		for seed := 0; seed < seeds; seed++ {
			r := rand.New(rand.NewPCG(uint64(seed), 0x6763))
			data := gcoRandomBytes(r)
			if err := w.run(gcoDecode(data)); err != nil {
				t.Fatalf("seed %d (fuzz input %q): %v", seed, data, err)
			}
		}
	})
}

// TestGCOracleAutomatic is the oracle with automatic collection on and a
// tiny threshold 0: collections of every generation happen at arbitrary
// points while the graph is built and dropped; the outcome is the same.
func TestGCOracleAutomatic(t *testing.T) {
	seeds := invariants.Scale(100, 2)
	eachModeThread(t, func(t *testing.T, th *Thread) {
		require.NoError(t, th.Runtime().GC().SetThreshold(7, 3, 2))
		w := gcoNewWorld(th)
		for seed := 0; seed < seeds; seed++ {
			r := rand.New(rand.NewPCG(uint64(seed), 0x6175))
			data := gcoRandomBytes(r)
			g := gcoDecode(data)
			// Automatic collections may find garbage before Collect(2):
			// only the liveness is exact then, not the count.
			g.youngFirst = true
			if err := w.run(g); err != nil {
				t.Fatalf("seed %d (input %q): %v", seed, data, err)
			}
		}
	})
}

// TestGCOracleThreads is the oracle with the graph made, linked and dropped
// by three threads, so that under biased counting the objects have
// different owners and most drops are queued to a detached owner: with
// the queues merged at the threads' safe points first, and with the
// collection merging them in its pause.
func TestGCOracleThreads(t *testing.T) {
	seeds := invariants.Scale(200, 2)
	for _, mergeFirst := range []bool{true, false} {
		name := "merged-by-owners"
		if !mergeFirst {
			name = "merged-by-collection"
		}
		t.Run(name, func(t *testing.T) {
			eachModeThread(t, func(t *testing.T, th *Thread) {
				th.Runtime().GC().Disable()
				th.Detach()
				others := []*Thread{th.Runtime().NewThread()}
				others[0].Detach()
				others = append(others, th.Runtime().NewThread())
				others[1].Detach()
				th.Attach()
				w := gcoNewWorld(th)
				w.others, w.mergeFirst = others, mergeFirst
				for seed := 0; seed < seeds; seed++ {
					r := rand.New(rand.NewPCG(uint64(seed), 0x7468))
					data := gcoRandomBytes(r)
					if err := w.run(gcoDecode(data)); err != nil {
						t.Fatalf("seed %d (input %q): %v", seed, data, err)
					}
				}
				th.Detach()
				for _, o := range others {
					o.Close()
				}
				th.Attach()
			})
		})
	}
}

// A few hand-made graphs, to pin the decoder and the model.
func TestGCOracleModel(t *testing.T) {
	// 0 -> 1 -> 0 (cycle), 2 root -> 3, 3 -> 3, 4 alone.
	g := gcoGraph{
		kind:  []int{gcoList, gcoInstance, gcoDict, gcoFinalizable, gcoList},
		root:  []bool{false, false, true, false, false},
		edges: [][2]int{{0, 1}, {1, 0}, {2, 3}, {3, 3}},
	}
	require.Equal(t, []bool{true, true, true, true, false}, g.refcountSurvivors())
	require.Equal(t, []bool{false, false, true, true, false}, g.reachable())
	d := gcoDecode(nil)
	require.Len(t, d.kind, 1)
	require.Empty(t, d.edges)
}

// FuzzCollectOracle is the oracle as a fuzz target: go test -fuzz
// FuzzCollectOracle ./runtime/ (CI runs the seeds only). Each input runs
// in every mode, with Debug on and off.
func FuzzCollectOracle(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{0, 0, 0, 0, 0})                                  // a list, dropped
	f.Add([]byte{1, 0, 4, 0, 0, 1, 1, 0})                         // list <-> dict
	f.Add([]byte{3, 0x81, 2, 3, 0, 1, 0, 0, 1, 1, 2, 2, 3, 3, 0}) // self-loops, Collect(0) first
	f.Add([]byte{5, 0x16, 3, 3, 2, 1, 0, 4, 0, 1, 1, 2, 2, 0, 3, 4, 4, 5, 5, 3, 0, 5})
	f.Add([]byte{47, 0xfe, 1, 2, 3})
	for seed := uint64(0); seed < 8; seed++ {
		f.Add(gcoRandomBytes(rand.New(rand.NewPCG(seed, 0xf022))))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		g := gcoDecode(data)
		for _, mc := range allModes {
			for _, debug := range []bool{true, false} {
				cfg := mc.cfg
				cfg.Debug = debug
				cfg.GCDisabled = true
				rt, err := New(cfg)
				require.NoError(t, err)
				th := rt.NewThread()
				err = gcoNewWorld(th).run(g)
				th.Close()
				if err != nil {
					t.Fatalf("%s debug=%v: %v", mc.name, debug, err)
				}
				require.NoError(t, rt.Close(), "%s debug=%v", mc.name, debug)
			}
		}
	})
}

func gcoMust[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func gcoNoErr(err error) {
	if err != nil {
		panic(err)
	}
}

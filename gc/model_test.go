package gc

import (
	"math/rand/v2"
	"testing"

	"github.com/nogil-lab/nogil/internal/invariants"
)

// The model-based oracle: random programs build and mutate an object graph
// (containers, atoms, tuples, weak references with callbacks, PEP 442
// finalizers that resurrect or mutate, legacy finalizers), drop references
// and run collections of every generation, freezes and unfreezes. After
// every collection the fake's invariants hold (reference counts match the
// model, every tracked object is on exactly one list, no flag left set,
// nothing reachable was freed); after a full collection during which user
// code did not change the graph and with nothing frozen, the live objects
// are exactly those reachable from the roots and gc.garbage.

// source supplies the program's choices.
type source interface {
	intn(n int) int
	done() bool
}

type randSource struct{ r *rand.Rand }

func (s randSource) intn(n int) int { return s.r.IntN(n) }
func (s randSource) done() bool     { return false }

// byteSource reads choices from fuzz input; it ends when the input does.
type byteSource struct {
	data []byte
	pos  int
}

func (s *byteSource) intn(n int) int {
	if s.pos >= len(s.data) {
		return 0
	}
	v := int(s.data[s.pos])
	s.pos++
	return v % n
}

func (s *byteSource) done() bool { return s.pos >= len(s.data) }

type model struct {
	t   testing.TB
	g   *graph
	src source
	// collections and exact checks made, for the tests' own sanity checks.
	collections, exact int
}

// pick returns a live object chosen by the source among those ok accepts,
// or nil.
func (m *model) pick(ok func(*fobj) bool) *fobj {
	all := m.g.all
	if len(all) == 0 {
		return nil
	}
	start := m.src.intn(len(all))
	for i := range all {
		o := all[(start+i)%len(all)]
		if !o.freed && ok(o) {
			return o
		}
	}
	return nil
}

func isContainer(o *fobj) bool { return !o.atom && !o.tuple && !o.isWeak }
func anyObj(*fobj) bool        { return true }

func (m *model) isRoot(o *fobj) bool { return m.g.roots[o] > 0 }

// finalizer returns a PEP 442 finalizer of the given kind. Finalizers only
// touch what Python code could: the object itself, what it refers to, and
// the roots (globals).
func (m *model) finalizer(kind int) func(g *graph, o *fobj) {
	switch kind {
	case 0:
		return func(*graph, *fobj) {}
	case 1: // resurrect itself
		return func(g *graph, o *fobj) { g.addRoot(o) }
	case 2: // resurrect what it refers to
		return func(g *graph, o *fobj) {
			if len(o.refs) > 0 {
				g.addRoot(o.refs[m.src.intn(len(o.refs))])
			}
		}
	case 3: // drop a global
		return func(g *graph, o *fobj) {
			if r := m.pick(m.isRoot); r != nil {
				g.drop(r)
			}
		}
	case 4: // allocate, and hang the new object on itself
		return func(g *graph, o *fobj) {
			n := g.obj()
			g.link(o, n)
			g.drop(n)
		}
	default: // store itself into a global container
		return func(g *graph, o *fobj) {
			if r := m.pick(func(x *fobj) bool { return isContainer(x) && m.isRoot(x) }); r != nil {
				g.link(r, o)
			}
		}
	}
}

func (m *model) callback(kind int) func(g *graph, wr *fobj) {
	switch kind {
	case 0:
		return nil
	case 1:
		return func(*graph, *fobj) {}
	case 2: // drop the weakref's own root
		return func(g *graph, wr *fobj) {
			if m.isRoot(wr) {
				g.drop(wr)
			}
		}
	default: // drop a global
		return func(g *graph, wr *fobj) {
			if r := m.pick(m.isRoot); r != nil {
				g.drop(r)
			}
		}
	}
}

func (m *model) step() {
	g := m.g
	switch op := m.src.intn(14); op {
	case 0, 1: // a container
		o := g.obj()
		switch m.src.intn(10) {
		case 0, 1:
			o.fin = m.finalizer(m.src.intn(6))
		case 2:
			if m.src.intn(3) == 0 {
				o.legacy = true
			}
		}
	case 2:
		g.atom()
	case 3: // a tuple of existing objects
		items := make([]*fobj, m.src.intn(4))
		for i := range items {
			items[i] = m.pick(anyObj)
		}
		if len(items) > 0 && items[0] == nil {
			return
		}
		g.tuple(items...)
	case 4, 5, 6: // a new reference
		a, b := m.pick(isContainer), m.pick(anyObj)
		if a != nil && b != nil {
			g.link(a, b)
		}
	case 7: // a reference removed
		a := m.pick(func(o *fobj) bool { return isContainer(o) && len(o.refs) > 0 })
		if a != nil {
			g.unlink(a, m.src.intn(len(a.refs)))
		}
	case 8, 9: // a root dropped
		if r := m.pick(m.isRoot); r != nil {
			g.drop(r)
		}
	case 10: // a weak reference
		if target := m.pick(isContainer); target != nil {
			g.weakref(target, m.callback(m.src.intn(4)))
		}
	case 11, 12:
		m.collect(m.src.intn(NumGenerations))
	case 13:
		switch m.src.intn(4) {
		case 0:
			g.c.Freeze(g)
		case 1:
			g.c.Unfreeze(g)
		default:
			m.collect(2)
		}
	}
}

func (m *model) collect(gen int) {
	g := m.g
	g.mutated = false
	before := g.live
	coll, uncoll := g.collect(gen)
	m.collections++
	if coll < 0 || uncoll < 0 || (!g.mutated && coll > before) {
		m.t.Fatalf("Collect(%d) = %d, %d with %d objects alive", gen, coll, uncoll, before)
	}
	g.checkInvariants()
	if gen == 2 && !g.mutated && g.c.FreezeCount() == 0 {
		g.checkExact()
		m.exact++
	}
}

// finish unfreezes and collects until user code stops changing the graph
// (each finalizer runs once, so this ends), then checks exactness.
func (m *model) finish() {
	g := m.g
	g.c.Unfreeze(g)
	for range 20 {
		m.collect(2)
		if !g.mutated {
			return
		}
	}
	m.t.Fatalf("collections kept running user code that changed the graph")
}

func runModel(t testing.TB, md mode, src source, steps int) *model {
	g := newGraph(t, md, New([3]int{}))
	m := &model{t: t, g: g, src: src}
	for i := 0; i < steps && !src.done(); i++ {
		m.step()
	}
	m.finish()
	return m
}

func TestModelOracle(t *testing.T) {
	seeds := invariants.Scale(300, 3)
	for _, md := range modes {
		t.Run(md.name, func(t *testing.T) {
			collections, exact, discards := 0, 0, 0
			for seed := range seeds {
				src := randSource{rand.New(rand.NewPCG(uint64(seed), 0x9e3779b97f4a7c15))}
				m := runModel(t, md, src, 600)
				collections += m.collections
				exact += m.exact
				discards += m.g.discards
				if t.Failed() {
					t.Fatalf("seed %d", seed)
				}
			}
			// The oracle must have had something to check.
			if exact < seeds || collections < 10*seeds || discards == 0 {
				t.Fatalf("only %d collections, %d exact checks, %d objects discarded over %d seeds", collections, exact, discards, seeds)
			}
		})
	}
}

func FuzzCollect(f *testing.F) {
	f.Add([]byte{0})
	f.Add([]byte{1, 0, 0, 0, 0, 4, 0, 0, 8, 0, 11, 2})
	f.Add([]byte{0, 0, 1, 0, 1, 4, 1, 0, 4, 0, 1, 8, 0, 8, 1, 11, 0, 11, 2})
	f.Add([]byte{1, 0, 0, 1, 0, 4, 0, 0, 8, 0, 10, 0, 2, 11, 0, 13, 0, 11, 2, 13, 1})
	f.Add([]byte("\x01\x00\x00\x02\x03\x00\x00\x05\x00\x04\x00\x01\x09\x00\x0b\x02\x0d\x02"))
	r := rand.New(rand.NewPCG(1, 2))
	for range 8 {
		b := make([]byte, 200)
		for i := range b {
			b[i] = byte(r.UintN(256))
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 {
			return
		}
		md := modes[int(data[0])%len(modes)]
		runModel(t, md, &byteSource{data: data[1:]}, 2000)
	})
}

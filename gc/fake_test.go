package gc

import (
	"fmt"
	"slices"
	"testing"
)

// This file is a small object runtime for the tests: objects with a Header,
// a reference count and strong references, PEP 442 finalizers, legacy
// finalizers, weak references with callbacks, tuples that may be untracked,
// and atoms that are never tracked. It implements Env in two flavours:
//
//   - GIL-like: new objects go straight to generation 0; StopTheWorld and
//     StartTheWorld do nothing.
//   - threaded: new objects go to a "thread's" young list that GatherYoung
//     splices onto generation 0; the world's state is recorded, and every
//     Env call that runs user code while the world is stopped (or that
//     needs the world stopped and finds it running) is a test failure.
//     Frees unlink under the list's Mu, as the free-threaded runtime does,
//     so a collector that held a list lock while calling user code would
//     deadlock here.

const fobjMagic = 0x6f626a21

type fobj struct {
	Header // first: obj converts a *Header back
	rc     int64
	refs   []*fobj
	magic  uint32
	id     int32

	legacy bool // has a LegacyDel (tp_del)
	isWeak bool // a weak reference object
	tuple  bool // untrackable once it refers only to untracked objects
	atom   bool // never tracked
	freed  bool

	*fext // nil for the benchmarks' plain objects
}

// fext is the part of a fake object that plain objects do without, so that
// the benchmarks' objects are as small as the runtime's (96 bytes).
type fext struct {
	fin    func(g *graph, o *fobj) // PEP 442 finalizer
	weak   []*fobj                 // weak references to this object
	target *fobj                   // of a weak reference
	cb     func(g *graph, wr *fobj)

	noClear bool // Clear drops nothing (a type without tp_clear)

	finRuns    int
	legacyRuns int
	clears     int
}

func (o *fobj) hasFin() bool { return o.fext != nil && o.fin != nil }

type mode struct {
	name     string
	threaded bool
}

var modes = []mode{{"gil", false}, {"threaded", true}}

type graph struct {
	t        testing.TB
	c        *Collector
	threaded bool
	young    List // the one thread's young list (threaded)
	// destroying: objects a "thread" is destroying while they are still on
	// the young list (RefCount says -1); dying: what Dying received.
	destroying map[*fobj]bool
	dying      []*fobj

	stopped bool
	pauses  int

	all     []*fobj
	roots   map[*fobj]int
	garbage []*fobj // gc.garbage: holds a reference to each

	pending    []*fobj // objects whose count reached zero, to deallocate
	freeing    bool
	countDelta int // tracked allocations minus frees not yet flushed
	live       int

	// Calls, for the cost and behaviour tests.
	refCountCalls, traverseCalls, untracked, cbRuns, discards int
	// mutated is set when user code changes the graph during a collection.
	mutated bool
	// garbageAnswers records, for each weak reference with a callback met
	// by ClearWeakrefs, what isGarbage said of it.
	garbageAnswers map[*fobj]bool
	// hook, if set, runs at the start of every Env call with its name.
	hook func(name string)
}

func newGraph(t testing.TB, m mode, c *Collector) *graph {
	if c == nil {
		c = New([3]int{})
	}
	g := &graph{t: t, c: c, threaded: m.threaded, roots: map[*fobj]int{}}
	g.young.InitYoung()
	return g
}

// --- building the graph (what a program does) ---

func (g *graph) alloc(track bool) *fobj {
	o := &fobj{magic: fobjMagic, id: int32(len(g.all)), rc: 1, fext: &fext{}}
	g.all = append(g.all, o)
	g.live++
	if track {
		if g.threaded {
			g.young.PushBack(&o.Header)
		} else {
			g.c.Generation(0).PushBack(&o.Header)
		}
		g.countDelta++
	}
	g.roots[o]++
	if g.c.Collecting() {
		g.mutated = true
	}
	return o
}

// obj makes a tracked container held by one root reference.
func (g *graph) obj() *fobj { return g.alloc(true) }

// atom makes an untracked object (an int, a str) held by one root.
func (g *graph) atom() *fobj {
	o := g.alloc(false)
	o.atom = true
	return o
}

// tuple makes a tracked tuple of items, held by one root.
func (g *graph) tuple(items ...*fobj) *fobj {
	o := g.alloc(true)
	o.tuple = true
	for _, it := range items {
		g.link(o, it)
	}
	return o
}

// weakref makes a weak reference to target with an optional callback, held
// by one root.
func (g *graph) weakref(target *fobj, cb func(g *graph, wr *fobj)) *fobj {
	wr := g.alloc(true)
	wr.isWeak = true
	wr.target = target
	wr.cb = cb
	target.weak = append(target.weak, wr)
	return wr
}

// link stores a new reference to b in a.
func (g *graph) link(a, b *fobj) {
	g.alive(a)
	g.alive(b)
	a.refs = append(a.refs, b)
	b.rc++
	if g.c.Collecting() {
		g.mutated = true
	}
}

// unlink removes a's i-th reference.
func (g *graph) unlink(a *fobj, i int) {
	b := a.refs[i]
	a.refs = slices.Delete(a.refs, i, i+1)
	if g.c.Collecting() {
		g.mutated = true
	}
	g.decref(b)
}

func (g *graph) addRoot(o *fobj) {
	g.alive(o)
	o.rc++
	g.roots[o]++
}

func (g *graph) drop(o *fobj) {
	if g.roots[o] == 0 {
		g.t.Fatalf("drop of object %d that is not a root", o.id)
	}
	g.roots[o]--
	if g.roots[o] == 0 {
		delete(g.roots, o)
	}
	if g.c.Collecting() {
		g.mutated = true
	}
	g.decref(o)
}

func (g *graph) alive(o *fobj) {
	if o.freed {
		g.t.Fatalf("use of freed object %d", o.id)
	}
}

// checkpoint flushes the allocation counts, as a thread's safe point does.
func (g *graph) checkpoint() {
	if g.countDelta != 0 {
		g.c.AddCount(g.countDelta)
		g.countDelta = 0
	}
}

func (g *graph) collect(gen int) (int, int) {
	g.checkpoint()
	return g.c.Collect(g, gen)
}

// decref drops a reference; objects whose count reaches zero are
// deallocated by a loop, never by recursion (CPython's trashcan), so a long
// chain frees in constant stack depth.
func (g *graph) decref(o *fobj) {
	g.alive(o)
	o.rc--
	if o.rc > 0 {
		return
	}
	if o.rc < 0 {
		g.t.Fatalf("object %d: reference count below zero", o.id)
	}
	g.pending = append(g.pending, o)
	g.drain()
}

// drain deallocates the pending objects, unless a drain is running
// already (it will get to them).
func (g *graph) drain() {
	if g.freeing {
		return
	}
	g.freeing = true
	for len(g.pending) > 0 {
		p := g.pending[len(g.pending)-1]
		g.pending = g.pending[:len(g.pending)-1]
		g.dealloc(p)
	}
	g.freeing = false
}

func (g *graph) dealloc(o *fobj) {
	if o.freed || o.rc != 0 {
		return // resurrected after it was queued, or already freed
	}
	if o.hasFin() && !o.Finalized() {
		o.SetFinalized()
		o.rc = 1
		o.finRuns++
		o.fin(g, o)
		o.rc--
		if o.rc > 0 {
			return // resurrected
		}
	}
	if o.fext == nil {
		g.free(o)
		return
	}
	if o.legacy {
		o.legacyRuns++
	}
	weak := o.weak
	o.weak = nil
	for _, wr := range weak {
		wr.target = nil
		if wr.cb != nil && !wr.freed {
			cb := wr.cb
			wr.cb = nil
			wr.rc++
			g.cbRuns++
			cb(g, wr)
			g.decref(wr)
		}
	}
	if o.isWeak && o.target != nil {
		o.target.weak = removeOne(o.target.weak, o)
		o.target = nil
	}
	g.free(o)
}

// free untracks o and drops its references.
func (g *graph) free(o *fobj) {
	if o.IsTracked() {
		l := o.List()
		if g.threaded {
			l.Mu.Lock()
		}
		Unlink(&o.Header)
		if g.threaded {
			l.Mu.Unlock()
		}
		g.countDelta--
	}
	o.freed = true
	g.live--
	refs := o.refs
	o.refs = nil
	for _, r := range refs {
		g.decref(r)
	}
}

func removeOne(s []*fobj, x *fobj) []*fobj {
	if i := slices.Index(s, x); i >= 0 {
		return slices.Delete(s, i, i+1)
	}
	return s
}

// --- Env ---

func (g *graph) enter(name string, needStopped, runsUserCode bool) {
	if g.hook != nil {
		g.hook(name)
	}
	if !g.threaded {
		return
	}
	if runsUserCode && g.stopped {
		g.t.Errorf("%s (user code) called with the world stopped", name)
	}
	if needStopped && !g.stopped {
		g.t.Errorf("%s called with the world running", name)
	}
}

func (g *graph) StopTheWorld() {
	g.enter("StopTheWorld", false, false)
	if g.threaded {
		if g.stopped {
			g.t.Errorf("StopTheWorld with the world already stopped")
		}
		g.stopped = true
		g.pauses++
	}
}

func (g *graph) StartTheWorld() {
	g.enter("StartTheWorld", true, false)
	if g.threaded {
		g.stopped = false
	}
}

func (g *graph) GatherYoung(gen0 *List) {
	g.enter("GatherYoung", true, false)
	if gen0 != g.c.Generation(0) {
		g.t.Errorf("GatherYoung given a list that is not generation 0")
	}
	g.checkpoint()
	if g.threaded {
		gen0.Gather(&g.young)
	}
}

func (g *graph) RefCount(h *Header) int64 {
	g.enter("RefCount", true, false)
	g.refCountCalls++
	if g.destroying[obj(h)] {
		return -1
	}
	return obj(h).rc
}

func (g *graph) RefCounts(hs []*Header, rcs []int64) {
	g.enter("RefCounts", true, false)
	if len(rcs) != len(hs) {
		g.t.Errorf("RefCounts of %d objects into %d counts", len(hs), len(rcs))
	}
	g.refCountCalls += len(hs)
	for i, h := range hs {
		rc := obj(h).rc
		if g.destroying[obj(h)] {
			rc = -1
		}
		rcs[i] = rc
	}
}

func (g *graph) Dying(h *Header) {
	g.enter("Dying", true, false)
	o := obj(h)
	if h.IsTracked() || !g.destroying[o] {
		g.t.Errorf("Dying(%d) of an object that is tracked or not being destroyed", o.id)
	}
	g.dying = append(g.dying, o)
}

func (g *graph) Referents(hs []*Header, buf []*Header) []*Header {
	g.enter("Referents", true, false)
	g.traverseCalls += len(hs)
	for _, h := range hs {
		for _, r := range obj(h).refs {
			if r.IsTracked() {
				buf = append(buf, &r.Header)
			}
		}
	}
	return buf
}

func (g *graph) Subtract(hs []*Header, s *Subtraction) Traits {
	g.enter("Subtract", true, false)
	g.traverseCalls += len(hs)
	var t Traits
	for _, h := range hs {
		o := obj(h)
		if o.legacy {
			t |= TraitLegacy
		}
		if o.tuple {
			t |= TraitUntrackable
		}
		if o.fext != nil && o.noClear {
			t |= TraitUnclearable
		}
		open := false
		for _, r := range o.refs {
			if !s.Visit(&r.Header) {
				open = true
			}
		}
		if !open {
			s.Close(h)
		}
	}
	return t
}

func (g *graph) Untrackable(h *Header) bool {
	g.enter("Untrackable", true, false)
	o := obj(h)
	if !o.tuple {
		return false
	}
	for _, r := range o.refs {
		if r.IsTracked() {
			return false
		}
	}
	return true
}

func (g *graph) Untracked(h *Header) {
	g.enter("Untracked", true, false)
	if h.IsTracked() {
		g.t.Errorf("Untracked(%d) while still tracked", obj(h).id)
	}
	g.untracked++
}

func (g *graph) Hold(hs []*Header, isGarbage func(*Header) bool, toFinalize, cbs []*Header) ([]*Header, []*Header) {
	g.enter("Hold", true, false)
	for _, h := range hs {
		g.IncRef(h)
		if !h.Finalized() && g.HasFinalizer(h) {
			toFinalize = append(toFinalize, h)
		}
		cbs = g.ClearWeakrefs(h, isGarbage, cbs)
	}
	return toFinalize, cbs
}

func (g *graph) HasLegacyFinalizer(h *Header) bool {
	g.enter("HasLegacyFinalizer", false, false)
	return obj(h).legacy
}

func (g *graph) HasFinalizer(h *Header) bool {
	g.enter("HasFinalizer", false, false)
	return obj(h).hasFin()
}

func (g *graph) ClearWeakrefs(h *Header, isGarbage func(*Header) bool, cbs []*Header) []*Header {
	g.enter("ClearWeakrefs", true, false)
	o := obj(h)
	if o.fext == nil {
		return cbs
	}
	for _, wr := range o.weak {
		wr.target = nil
		if wr.cb != nil {
			garbage := isGarbage(&wr.Header)
			if g.garbageAnswers != nil {
				g.garbageAnswers[wr] = garbage
			}
			if !garbage {
				wr.rc++
				cbs = append(cbs, &wr.Header)
			}
		}
	}
	o.weak = nil
	if o.isWeak {
		if o.target != nil {
			o.target.weak = removeOne(o.target.weak, o)
			o.target = nil
		}
		o.cb = nil
	}
	return cbs
}

func (g *graph) RunWeakrefCallback(wr *Header) {
	g.enter("RunWeakrefCallback", false, true)
	o := obj(wr)
	cb := o.cb
	o.cb = nil
	if cb != nil {
		g.cbRuns++
		cb(g, o)
	}
}

func (g *graph) Finalize(h *Header) {
	g.enter("Finalize", false, true)
	o := obj(h)
	if !o.Finalized() {
		g.t.Errorf("Finalize(%d) before the finalized flag was set", o.id)
	}
	o.finRuns++
	o.fin(g, o)
}

func (g *graph) Clear(hs []*Header) {
	g.enter("Clear", false, true)
	for _, h := range hs {
		o := obj(h)
		if o.fext != nil {
			o.clears++
			if o.noClear {
				continue
			}
		}
		refs := o.refs
		o.refs = nil
		for _, r := range refs {
			g.decref(r)
		}
	}
}

// Free frees a held garbage object whatever its count, as the runtime
// does: what it still refers to is dropped uncounted (counted in
// discards), the count is set to zero and the object deallocated; its
// finalizer must have run (a collection frees with Free only when no
// finalizer is due), and the collector must have untracked it.
func (g *graph) Free(h *Header) {
	g.enter("Free", false, true)
	o := obj(h)
	g.alive(o)
	if o.rc < 1 {
		g.t.Errorf("Free(%d) of an object the collector does not hold (count %d)", o.id, o.rc)
	}
	if o.hasFin() && !o.Finalized() {
		g.t.Errorf("Free(%d) of an object whose finalizer has not run", o.id)
	}
	if h.IsTracked() {
		g.t.Errorf("Free(%d) of an object still on a list", o.id)
	}
	g.countDelta-- // a tracked object's free: the collector untracked it
	if len(o.refs) > 0 {
		// Dropped uncounted (tp_clear without the decrements): they all
		// lead to garbage freed this way.
		if o.fext != nil {
			if o.noClear {
				g.t.Errorf("Free(%d) of an object that Clear cannot empty", o.id)
			}
			o.clears++
		}
		g.discards++
		o.refs = nil
	}
	o.rc = 0
	g.pending = append(g.pending, o)
	g.drain()
}

func (g *graph) IncRef(h *Header) {
	g.enter("IncRef", false, false)
	o := obj(h)
	g.alive(o)
	o.rc++
}

func (g *graph) DecRef(h *Header) {
	g.enter("DecRef", false, true)
	g.decref(obj(h))
}

func (g *graph) AppendGarbage(h *Header) {
	g.enter("AppendGarbage", false, true)
	o := obj(h)
	o.rc++
	g.garbage = append(g.garbage, o)
}

// --- checks ---

// reachable marks, by id, the objects reachable from the roots and
// gc.garbage.
func (g *graph) reachable() []bool {
	seen := make([]bool, len(g.all))
	var stack []*fobj
	push := func(o *fobj) {
		if !seen[o.id] {
			seen[o.id] = true
			stack = append(stack, o)
		}
	}
	for o := range g.roots {
		push(o)
	}
	for _, o := range g.garbage {
		push(o)
	}
	for len(stack) > 0 {
		o := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		for _, r := range o.refs {
			push(r)
		}
	}
	return seen
}

// checkInvariants checks, between collections: reference counts equal the
// references the model holds; every live tracked object is on exactly one
// list (a generation, or the young list) and those lists hold nothing else;
// no collection flag is left set; reachable objects are alive.
func (g *graph) checkInvariants() {
	t := g.t
	t.Helper()
	if g.c.Collecting() {
		t.Fatalf("checkInvariants during a collection")
	}
	want := make([]int64, len(g.all))
	for o, n := range g.roots {
		want[o.id] += int64(n)
	}
	for _, o := range g.garbage {
		want[o.id]++
	}
	tracked, live := 0, 0
	for _, o := range g.all {
		if o.freed {
			if o.IsTracked() {
				t.Fatalf("freed object %d is still tracked", o.id)
			}
			continue
		}
		live++
		for _, r := range o.refs {
			if r.freed {
				t.Fatalf("live object %d refers to freed object %d", o.id, r.id)
			}
			want[r.id]++
		}
		if o.flags&(flagUnreachable|flagReachable|flagPending) != 0 || o.epoch() > g.c.epoch {
			t.Fatalf("object %d keeps collection flags %#x", o.id, o.flags)
		}
		if !o.IsTracked() && o.epoch() != 0 {
			t.Fatalf("untracked object %d keeps epoch %d", o.id, o.epoch())
		}
		if o.IsTracked() {
			tracked++
		} else if !o.atom && !o.tuple {
			t.Fatalf("live container %d is not tracked", o.id)
		}
	}
	for _, o := range g.all {
		if !o.freed && o.rc != want[o.id] {
			t.Fatalf("object %d: reference count %d, model says %d", o.id, o.rc, want[o.id])
		}
	}
	onLists := 0
	lists := []*List{&g.young}
	for gen := 0; gen <= Permanent; gen++ {
		lists = append(lists, g.c.Generation(gen))
	}
	for _, l := range lists {
		n := 0
		for h := l.Front(); h != nil; h = l.Next(h) {
			o := obj(h)
			if o.freed || h.List() != l {
				t.Fatalf("list %d holds object %d (freed %v, list %p)", l.Gen(), o.id, o.freed, h.List())
			}
			n++
		}
		if n != l.Len() {
			t.Fatalf("list %d: Len %d, walked %d", l.Gen(), l.Len(), n)
		}
		onLists += n
	}
	if onLists != tracked {
		t.Fatalf("%d objects on lists, %d tracked", onLists, tracked)
	}
	for id, r := range g.reachable() {
		if r && g.all[id].freed {
			t.Fatalf("reachable object %d was freed", id)
		}
	}
	if g.live != live {
		t.Fatalf("live count %d, want %d", g.live, live)
	}
}

// checkExact checks that the live objects are exactly the reachable ones.
func (g *graph) checkExact() {
	g.t.Helper()
	reach := g.reachable()
	for _, o := range g.all {
		if !o.freed && !reach[o.id] {
			g.t.Fatalf("object %d is alive but unreachable (%s)", o.id, g.describe(o))
		}
	}
}

func (g *graph) describe(o *fobj) string {
	ids := make([]int32, len(o.refs))
	for i, r := range o.refs {
		ids[i] = r.id
	}
	return fmt.Sprintf("rc=%d gen=%d refs=%v fin=%v legacy=%v weak=%v", o.rc, o.Generation(), ids, o.hasFin(), o.legacy, o.isWeak)
}

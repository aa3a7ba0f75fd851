package gc

import "sync"

// Generations.
const (
	NumGenerations = 3 // generations 0, 1 and 2
	Permanent      = 3 // the frozen objects (gc.freeze)
	Private        = -1
)

// List is a circular doubly linked list of Headers with a sentinel, like
// CPython's gc lists, that also counts its members so thresholds and sizes
// cost nothing to read.
//
// A list is either owned by one thread (a free-threaded thread's young list:
// only that thread, or the collector while the world is stopped, touches
// it; a collection's private lists: only the collecting thread), or shared
// (the generations; in free-threaded mode anyone who links or unlinks on it
// outside a stopped world holds Mu). In GIL mode the GIL protects every
// list and the runtime never takes Mu (the collector takes it where a
// free-threaded world may run: harmless under the GIL).
type List struct {
	head Header
	n    int
	gen  int
	// young marks a thread's young list (InitYoung): its members count as
	// generation 0's in a collection even before the collection's walk has
	// relabeled them (see Gather).
	young bool
	// Mu guards a shared list in free-threaded mode outside stopped worlds.
	Mu sync.Mutex
}

// Init empties l and sets the generation its members report.
func (l *List) Init(gen int) {
	if gen < Private || gen > Permanent {
		panic("gc: List.Init with an invalid generation")
	}
	l.head.next = &l.head
	l.head.prev = &l.head
	l.n = 0
	l.gen = gen
	l.young = false
}

// InitYoung empties l as a thread's young list: its members are generation
// 0's, and GatherYoung may move them onto generation 0 with Gather.
func (l *List) InitYoung() {
	l.Init(0)
	l.young = true
}

// Gather moves every member of the young list src to the end of l
// (generation 0) in constant time, without relabeling them: only
// Env.GatherYoung may call it, with the world stopped. Until the pause's
// walk of generation 0 (every collection and Freeze make one) has set each
// member's list to l, the members still name src, and nothing may link or
// unlink them.
func (l *List) Gather(src *List) {
	if !src.young {
		panic("gc: Gather of a list that is not a young list")
	}
	l.adopt(src)
}

// Gen returns the generation of the list.
func (l *List) Gen() int { return l.gen }

// Len returns the number of members.
func (l *List) Len() int { return l.n }

// Empty reports whether the list has no members.
func (l *List) Empty() bool { return l.n == 0 }

// Front returns the first member, or nil.
func (l *List) Front() *Header {
	if l.n == 0 {
		return nil
	}
	return l.head.next
}

// Next returns the member after h, or nil at the end.
func (l *List) Next(h *Header) *Header {
	if h.next == &l.head {
		return nil
	}
	return h.next
}

// PushBack appends an untracked h.
func (l *List) PushBack(h *Header) {
	if h.list != nil {
		panic("gc: PushBack of an object that is already tracked")
	}
	l.link(h)
}

func (l *List) link(h *Header) {
	last := l.head.prev
	h.prev = last
	h.next = &l.head
	last.next = h
	l.head.prev = h
	h.list = l
	l.n++
}

// Unlink removes h from the list it is on; h must be tracked. It clears
// h's scratch flags (its epoch): an untracked object carries no epoch that
// a later collection, after the epochs wrap around, could take for its own.
func Unlink(h *Header) {
	l := h.list
	if l == nil {
		panic("gc: Unlink of an object that is not tracked")
	}
	h.prev.next = h.next
	h.next.prev = h.prev
	h.prev, h.next, h.list = nil, nil, nil
	h.flags &^= scratchFlags
	l.n--
}

// MoveTo unlinks h from its list and appends it to dst.
func MoveTo(h *Header, dst *List) {
	Unlink(h)
	dst.link(h)
}

// Splice moves every member of src to the end of l, in order; O(len(src))
// because each member records its list.
func (l *List) Splice(src *List) {
	if src == l || src.n == 0 {
		return
	}
	for h := src.head.next; h != &src.head; h = h.next {
		h.list = l
	}
	l.adopt(src)
}

// reset empties l without touching its members: the caller relinks every
// one of them (the collection's partition, which has them all in a slice).
func (l *List) reset() {
	l.head.next = &l.head
	l.head.prev = &l.head
	l.n = 0
}

// adopt moves every member of src to the end of l, in order, in constant
// time: the caller has already set each member's list to l (it does so
// while walking the members through a slice, which is much cheaper than
// the pointer chase Splice makes). Between the relabeling and adopt, the
// members must not be unlinked.
func (l *List) adopt(src *List) {
	if src == l || src.n == 0 {
		return
	}
	first, last := src.head.next, src.head.prev
	tail := l.head.prev
	tail.next = first
	first.prev = tail
	last.next = &l.head
	l.head.prev = last
	l.n += src.n
	src.head.next = &src.head
	src.head.prev = &src.head
	src.n = 0
}

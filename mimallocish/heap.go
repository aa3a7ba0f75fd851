package mimallocish

import (
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/nogil-lab/nogil/internal/cacheline"
	"github.com/nogil-lab/nogil/internal/invariants"
)

// The thread_free word of a page: the head of the list of slots freed by
// other threads in the low 16 bits (noSlot when empty) and the page's
// delayed-free state above them (mimalloc's mi_thread_free_t with its
// mi_delayed_t bits).
const (
	tfHeadMask   = 0xFFFF
	tfStateShift = 16

	// stNormal: the page is in its owner's used queue (or retired); a
	// remote free only pushes.
	stNormal = 0
	// stFull: the page is in its owner's full queue (MI_USE_DELAYED_FREE);
	// the remote free that finds this state also tells the owner.
	stFull = 1
	// stNotifying: that free is putting the page on the owner's delayed
	// stack (MI_DELAYED_FREEING); nobody else may change the state.
	stNotifying = 2
	// stNotified: the page is on the owner's delayed stack; remote frees
	// only push (MI_NO_DELAYED_FREE until the owner looks).
	stNotified = 3
	// stAbandoned: the page has no owner (MI_NEVER_DELAYED_FREE); a free
	// takes Class.mu and frees straight into the page.
	stAbandoned = 4
)

func tfWord(head uint32, st uint32) uint32 { return st<<tfStateShift | head }

// where a page is, from its owner's point of view.
type where uint8

const (
	whereNone      where = iota // the sentinel
	whereUsed                   // owner's used queue (may have free slots)
	whereFull                   // owner's full queue (no free slot when it got there)
	whereRetired                // owner's retired list (all slots free)
	whereAbandoned              // Class.abandonedFree or abandonedFull
	whereReleased               // out of the directory; garbage for Go's GC
)

// orphan states, protected by Class.mu.
const (
	orphanNo        = iota // owned by a heap
	orphanAbandoned        // on an abandoned list
	orphanReleased         // was abandoned, emptied and released
)

const (
	defaultPageBytes = 64 << 10 // a page's slots fill about this much
	extendBytes      = 4 << 10  // a page's free list grows by about this much at a time
	maxRetired       = 2        // empty pages a heap keeps for reuse
	maxSpare         = 4        // empty pages a class keeps for the heaps of new threads
)

// page is mimalloc's mi_page_t: slotsPerPage slots of one class with three
// free lists, linked through the free slots themselves (link_unsafe.go).
type page[T any] struct {
	// The fields of Alloc's and Free's fast paths come first, in one
	// 64-byte span.

	// slots and link are immutable after creation; base (and id below)
	// while the page is in the directory: they are written under
	// Class.mu when a heap takes the page, fresh or from the spare list,
	// before the directory publishes it.
	slots []T
	link  uintptr // offset of the link field in a T (checkLink)
	base  SlotID  // id << SlotBits

	// owner is the heap that owns the page, nil while it is abandoned.
	// Atomic: stored by the creating heap, by adopters (under Class.mu)
	// and by the abandoning owner (under Class.mu); loaded by every Free
	// (a heap frees locally iff it finds itself here: only a heap stores
	// itself, so the answer cannot change under it) and by the single
	// remote freer that moves the page from stFull to stNotifying (the
	// transitions of tf keep the owner alive until then). On amd64 the
	// load is a plain MOV.
	owner atomic.Pointer[Heap[T]]

	// Owned by the owner heap's thread; protected by Class.mu while the
	// page is abandoned.
	free      uint16 // allocation list (mimalloc page->free)
	localFree uint16 // frees by the owner (page->local_free)
	capacity  uint32 // slots [0, capacity) have been put on a free list at least once
	used      int32  // slots handed out and not yet on free/localFree (includes thread_free)
	where     where

	// Immutable after creation, id as base above.
	dbg      []atomic.Uint32 // per-slot dbg* state; invariants.Enabled only
	class    *Class[T]       // back pointer
	id       uint32          // index in Class.dir
	reserved uint32          // len(slots)

	// Owned like free and used.
	prev     *page[T] // links in a heap queue or an abandoned list
	nextPage *page[T]
	// delayedNext links the owner's delayed stack; written by the notifying
	// freer before its push and by the owner after its swap.
	delayedNext *page[T]

	// Protected by Class.mu.
	orphan uint8

	_ cacheline.Pad
	// Atomic: head of the thread_free list and the delayed-free state.
	tf atomic.Uint32
	_  cacheline.Pad
}

func (pg *page[T]) hasSpace() bool {
	return pg.free != noSlot || pg.localFree != noSlot || pg.capacity < pg.reserved
}

// pageQueue is a doubly linked list of pages (mimalloc's mi_page_queue_t).
type pageQueue[T any] struct {
	head, tail *page[T]
	n          int
}

func (q *pageQueue[T]) pushFront(pg *page[T]) {
	pg.prev, pg.nextPage = nil, q.head
	if q.head != nil {
		q.head.prev = pg
	} else {
		q.tail = pg
	}
	q.head = pg
	q.n++
}

func (q *pageQueue[T]) pushBack(pg *page[T]) {
	pg.prev, pg.nextPage = q.tail, nil
	if q.tail != nil {
		q.tail.nextPage = pg
	} else {
		q.head = pg
	}
	q.tail = pg
	q.n++
}

func (q *pageQueue[T]) remove(pg *page[T]) {
	if pg.prev != nil {
		pg.prev.nextPage = pg.nextPage
	} else {
		q.head = pg.nextPage
	}
	if pg.nextPage != nil {
		pg.nextPage.prev = pg.prev
	} else {
		q.tail = pg.prev
	}
	pg.prev, pg.nextPage = nil, nil
	q.n--
}

func (q *pageQueue[T]) popFront() *page[T] {
	pg := q.head
	if pg != nil {
		q.remove(pg)
	}
	return pg
}

// heapCounters are a heap's cumulative statistics. Owned by the heap's
// thread; folded into Class.dead (under Class.mu) when the heap is abandoned.
type heapCounters struct {
	pagesCreated   int64
	pagesReused    int64
	pagesReleased  int64
	pagesRetired   int64
	pagesAbandoned int64
	pagesAdopted   int64
	remoteFreesIn  int64 // slots of this heap's pages freed by others, collected
	remoteFreesOut int64 // slots of others' pages freed by this heap's thread
}

func (c *heapCounters) add(o *heapCounters) {
	c.pagesCreated += o.pagesCreated
	c.pagesReused += o.pagesReused
	c.pagesReleased += o.pagesReleased
	c.pagesRetired += o.pagesRetired
	c.pagesAbandoned += o.pagesAbandoned
	c.pagesAdopted += o.pagesAdopted
	c.remoteFreesIn += o.remoteFreesIn
	c.remoteFreesOut += o.remoteFreesOut
}

// HeapStats describes a heap (Heap.Stats) or a whole class (Class.Stats).
type HeapStats struct {
	SlotsPerPage int
	SlotSize     int // bytes of one T

	Pages          int // live pages: a heap's own (used, full, retired); a class's all, abandoned included
	FullPages      int // pages in a full queue
	RetiredPages   int // empty pages kept for reuse
	AbandonedPages int // pages on the class's abandoned lists (always 0 for a heap)

	SlotsInUse    int   // handed out and not freed
	PendingFrees  int   // freed by other threads, still on thread_free lists
	BytesReserved int64 // Pages × SlotsPerPage × SlotSize (free lists live in the free slots)
	BytesInUse    int64 // SlotsInUse × SlotSize

	// RemoteFreesIn counts frees by other threads that reached their page's
	// owner: collected from thread_free lists, or (class only) made straight
	// into abandoned pages. RemoteFreesOut counts frees a thread made into a
	// page it did not own (class: Heap.Free plus Class.FreeRemote). Once every
	// list is collected, a class's two counts are equal.
	RemoteFreesIn  int64
	RemoteFreesOut int64

	PagesCreated   int64 // fresh pages (a Go allocation each)
	PagesReused    int64 // pages taken from the class's spare list instead
	PagesReleased  int64 // empty pages given up: to the spare list, or to Go's GC when it is full
	SparePages     int   // empty pages on the class's spare list (class only); not in Pages
	PagesRetired   int64 // times an empty page was kept for reuse
	PagesAbandoned int64 // pages put on the abandoned lists
	PagesAdopted   int64 // abandoned pages taken over by a heap

	HugePages       bool  // the class asks for huge pages (UseHugePages; class only)
	HugePageWindows int64 // 2 MiB windows of memory the class advised for huge pages (class only; hugepages.go)
}

// Class is one size class of the free-threaded allocator, shared by every
// heap of a runtime: the page directory, the abandoned pages, statistics.
type Class[T any] struct {
	name         string
	slotsPerPage int
	slotSize     int
	link         uintptr // offset of the link field in a T
	extendBy     uint32  // slots added to a page's free list at a time

	// empty is the sentinel allocation page of a heap with no usable page:
	// its free list is empty, so Alloc's fast path falls through.
	empty page[T]

	// dir maps page ids to pages. Written under mu; read without a lock by
	// whoever holds a slot of the page (see directory).
	dir directory[*page[T]]

	mu sync.Mutex
	// Protected by mu.
	ids           idAllocator
	abandonedFree pageQueue[T] // abandoned pages with a free slot
	abandonedFull pageQueue[T] // abandoned pages without
	spare         pageQueue[T] // released empty pages, out of the directory, for newPage
	heaps         map[*Heap[T]]struct{}
	dead          heapCounters // counters of abandoned heaps
	abandonedIn   int64        // frees straight into abandoned pages
	orphansFreed  int64        // abandoned pages released once emptied
	huge          hugePages    // large OS pages (hugepages.go); on is set before first use

	_ cacheline.Pad
	// Atomic.
	nAbandonedFree atomic.Int32 // abandonedFree.n, read without mu by Alloc's slow path
	freeRemote     atomic.Int64 // calls of FreeRemote
	_              cacheline.Pad
}

// NewClass returns a size class of T whose pages have slotsPerPage slots
// (1..MaxSlotsPerPage); 0 picks about 64 KiB per page.
//
// linkOffset is the byte offset in T of a uint16 or uint32 field (say
// unsafe.Offsetof(T{}.f)) that the allocator may use while a slot is free:
// the free lists are threaded through it (doc.go). The field must be the
// caller's to reuse: nothing may read it after Free and before the next
// Alloc of the slot, and Alloc hands it out zeroed like the rest of the
// slot. NewClass panics unless the offset names such a field.
func NewClass[T any](name string, slotsPerPage int, linkOffset uintptr) *Class[T] {
	if slotsPerPage == 0 {
		slotsPerPage = defaultSlots[T](defaultPageBytes)
	}
	checkSlots("page", name, slotsPerPage)
	checkLink[T](name, linkOffset)
	size := sizeOf[T]()
	ext := slotsPerPage
	if size > 0 {
		ext = max(4, extendBytes/size)
	}
	c := &Class[T]{
		name:         name,
		slotsPerPage: slotsPerPage,
		slotSize:     size,
		link:         linkOffset,
		extendBy:     uint32(min(ext, slotsPerPage)),
		heaps:        make(map[*Heap[T]]struct{}),
	}
	c.empty.free, c.empty.localFree = noSlot, noSlot
	c.empty.link = linkOffset
	c.empty.tf.Store(tfWord(noSlot, stNormal))
	return c
}

// Name returns the class's name.
func (c *Class[T]) Name() string { return c.name }

// UseHugePages makes the class ask the kernel to back its pages with
// transparent huge pages once it has more than a few (hugepages.go). Call
// it before the class's first page; it panics after.
func (c *Class[T]) UseHugePages() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ids.next != 0 {
		panic("mimallocish: UseHugePages on class " + c.name + " after its first page")
	}
	c.huge.on = true
}

// SlotsPerPage returns the number of slots of each page.
func (c *Class[T]) SlotsPerPage() int { return c.slotsPerPage }

// Heap is one thread's heap of one class (mimalloc's mi_heap_t restricted to
// one size class). Every method but those documented otherwise must be
// called by the heap's own thread.
type Heap[T any] struct {
	_ cacheline.Pad

	// Owned by the heap's thread.
	page    *page[T] // usedQ.head, or &class.empty (mimalloc pages_free_direct)
	class   *Class[T]
	usedQ   pageQueue[T]
	fullQ   pageQueue[T]
	retired pageQueue[T]
	dead    bool
	st      heapCounters

	_ cacheline.Pad
	// Atomic: pages that got a remote free while in fullQ, pushed by the
	// notifying freers, taken by the owner (mimalloc thread_delayed_free,
	// with pages instead of blocks).
	delayed atomic.Pointer[page[T]]
	_       cacheline.Pad
}

// NewHeap returns a new heap of the class, for one thread.
func (c *Class[T]) NewHeap() *Heap[T] {
	h := &Heap[T]{class: c}
	h.page = &c.empty
	c.mu.Lock()
	c.heaps[h] = struct{}{}
	c.mu.Unlock()
	return h
}

// Class returns the heap's class.
func (h *Heap[T]) Class() *Class[T] { return h.class }

func (h *Heap[T]) resetPage() {
	if h.usedQ.head != nil {
		h.page = h.usedQ.head
	} else {
		h.page = &h.class.empty
	}
}

// Alloc returns a zeroed slot and its id. Owner only.
//
// Fast path (AllocFast): pop the allocation page's free list (reading and
// clearing the slot's link); no lock, no atomic.
func (h *Heap[T]) Alloc() (*T, SlotID) {
	if s, id := h.AllocFast(); s != nil {
		return s, id
	}
	return h.allocSlow()
}

// AllocFast is Alloc's fast path, small enough to inline into the caller
// (TestAllocFastInlines in package runtime guards it): it pops the
// allocation page's free list. It returns nil, NoSlot when that list is
// empty; the caller then calls Alloc, which always can. Owner only.
func (h *Heap[T]) AllocFast() (*T, SlotID) {
	pg := h.page
	i := pg.free
	if i == noSlot {
		return nil, NoSlot
	}
	s := &pg.slots[i]
	pg.free = popLink(s, pg.link)
	pg.used++
	if invariants.Enabled {
		pg.dbgAlloc(i)
	}
	return s, pg.base | SlotID(i)
}

// allocSlow is mimalloc's mi_malloc_generic / mi_page_queue_find_free_ex.
func (h *Heap[T]) allocSlow() (*T, SlotID) {
	if h.dead {
		panic(fmt.Sprintf("mimallocish: Alloc on abandoned heap of class %q", h.class.name))
	}
	// 1. Full pages that other threads freed into.
	if h.delayed.Load() != nil {
		h.processDelayed()
	}
	// 2. The used queue: local_free, then thread_free, then unused capacity;
	//    pages with nothing move to the full queue.
	for pg := h.usedQ.head; pg != nil; pg = h.usedQ.head {
		if h.refill(pg) {
			h.page = pg
			return h.Alloc()
		}
		h.toFull(pg)
	}
	// 3. A retired page, an abandoned page, a fresh page.
	pg := h.retired.popFront()
	if pg == nil {
		pg = h.class.adopt(h)
	}
	if pg == nil {
		pg = h.class.newPage(h)
	}
	pg.where = whereUsed
	h.usedQ.pushFront(pg)
	h.page = pg
	if !h.refill(pg) {
		panic("mimallocish: internal error: new allocation page has no free slot")
	}
	return h.Alloc()
}

// refill makes pg.free non-empty if the page has any free slot.
func (h *Heap[T]) refill(pg *page[T]) bool {
	if pg.free != noSlot {
		return true
	}
	if pg.tf.Load()&tfHeadMask != noSlot {
		h.collect(pg)
	}
	if pg.localFree != noSlot {
		pg.free, pg.localFree = pg.localFree, noSlot
		return true
	}
	if pg.capacity < pg.reserved {
		h.class.extend(pg)
		return true
	}
	return false
}

// collect moves pg's thread_free list to its local_free list (one atomic
// read-modify-write that keeps the state bits).
func (h *Heap[T]) collect(pg *page[T]) {
	old := pg.tf.Or(tfHeadMask)
	if head := old & tfHeadMask; head != noSlot {
		h.st.remoteFreesIn += int64(h.class.integrate(pg, uint16(head)))
	}
}

// integrate prepends a list taken from thread_free to local_free and returns
// its length. Called by the owner, or under mu for an abandoned page.
func (c *Class[T]) integrate(pg *page[T], head uint16) int {
	n := 0
	tail := head
	for {
		n++
		if int32(n) > pg.used {
			panic(fmt.Sprintf("mimallocish: corrupted thread_free list of page %d in class %q (a slot freed twice by other threads?)", pg.id, c.name))
		}
		if uint32(tail) >= pg.capacity {
			panicNeverAllocated(c.name, pg.base|SlotID(tail))
		}
		nx := getLink(&pg.slots[tail], pg.link)
		if nx == noSlot {
			break
		}
		tail = nx
	}
	setLink(&pg.slots[tail], pg.link, pg.localFree)
	pg.localFree = head
	pg.used -= int32(n)
	return n
}

// extend puts the next batch of never-used slots on pg's (empty) free list
// (mimalloc mi_page_extend_free).
func (c *Class[T]) extend(pg *page[T]) {
	start := pg.capacity
	end := min(start+c.extendBy, pg.reserved)
	for i := start; i < end-1; i++ {
		setLink(&pg.slots[i], pg.link, uint16(i+1))
	}
	setLink(&pg.slots[end-1], pg.link, noSlot)
	pg.free = uint16(start)
	pg.capacity = end
}

// toFull moves pg, which has no free slot, to the full queue and asks the
// next remote freer to tell us (mimalloc mi_page_to_full with
// MI_USE_DELAYED_FREE). If frees arrived meanwhile it leaves pg alone.
func (h *Heap[T]) toFull(pg *page[T]) {
	for {
		old := pg.tf.Load()
		if old&tfHeadMask != noSlot {
			return // refill will find them
		}
		if old>>tfStateShift != stNormal {
			// stNotifying/stNotified: the page is (being) put on our
			// delayed stack; processing it will bring it back.
			break
		}
		if pg.tf.CompareAndSwap(old, tfWord(noSlot, stFull)) {
			break
		}
	}
	h.usedQ.remove(pg)
	pg.where = whereFull
	h.fullQ.pushBack(pg)
	h.resetPage()
}

// unfull moves pg from the full queue to the end of the used queue
// (mimalloc _mi_page_unfull).
func (h *Heap[T]) unfull(pg *page[T]) {
	h.fullQ.remove(pg)
	for {
		old := pg.tf.Load()
		if old>>tfStateShift != stFull {
			break // notifying/notified: the delayed stack will settle it
		}
		if pg.tf.CompareAndSwap(old, tfWord(old&tfHeadMask, stNormal)) {
			break
		}
	}
	pg.where = whereUsed
	h.usedQ.pushBack(pg)
	h.resetPage()
}

// retire handles a page of the used queue that became empty: keep it for
// reuse (up to maxRetired) or release it (mimalloc _mi_page_retire).
func (h *Heap[T]) retire(pg *page[T]) {
	h.usedQ.remove(pg)
	h.resetPage()
	if h.retired.n < maxRetired {
		pg.where = whereRetired
		h.retired.pushFront(pg)
		h.st.pagesRetired++
		return
	}
	h.release(pg)
}

// release gives up an empty page (already unlinked): releaseLocked.
func (h *Heap[T]) release(pg *page[T]) {
	c := h.class
	c.mu.Lock()
	c.releaseLocked(pg)
	c.mu.Unlock()
	h.st.pagesReleased++
}

// releaseLocked (mu held) takes an empty page, unlinked from every queue,
// out of the directory, and keeps it on the class's spare list for the next
// heap that needs a page, or drops it to Go's GC when the list is full
// (mimalloc keeps the empty segments of exited threads in a cache for the
// same reason). Without it every new thread's first allocation of each
// class made a zeroed 64 KiB page that Go's GC then scanned, and a page of
// an exited thread became garbage: a thread's start and exit cost about
// 150 us in free-threaded mode against 0.7 us in GIL mode, whose pools are
// global (BenchmarkThreadRestart in package runtime).
//
// A page that may still be on its owner's delayed stack is not kept: its
// owner can release it between a remote free's push into the full page and
// that freer's notification (6), and then skips it on the stack as
// released; reused, it would be found there as a live page of the old owner.
func (c *Class[T]) releaseLocked(pg *page[T]) {
	pg.where = whereReleased
	c.dir.set(pg.id, nil)
	c.ids.release(pg.id)
	if st := pg.tf.Load() >> tfStateShift; st == stNotifying || st == stNotified {
		return
	}
	if c.spare.n < maxSpare {
		c.spare.pushFront(pg)
	}
}

// processDelayed takes the delayed stack and settles every page on it
// (mimalloc _mi_heap_delayed_free_partial).
func (h *Heap[T]) processDelayed() {
	pg := h.delayed.Swap(nil)
	var again *page[T]
	for pg != nil {
		nx := pg.delayedNext
		pg.delayedNext = nil
		if pg.where != whereReleased && h.settle(pg) {
			pg.delayedNext = again
			again = pg
		}
		pg = nx
	}
	for again != nil {
		nx := again.delayedNext
		h.pushDelayed(again)
		again = nx
	}
}

// settle collects a page taken from the delayed stack, resets its state and
// moves it back to the used queue if it has room. It returns true if the
// notifying freer has not finished yet (the page must be looked at again).
func (h *Heap[T]) settle(pg *page[T]) (again bool) {
	for {
		old := pg.tf.Load()
		head := old & tfHeadMask
		switch st := old >> tfStateShift; st {
		case stNotifying:
			if head != noSlot {
				h.collect(pg)
			}
			again = true
		case stNotified:
			next := uint32(stNormal)
			if head == noSlot && pg.where == whereFull && !pg.hasSpace() {
				next = stFull // still full: re-arm the notification
			}
			if !pg.tf.CompareAndSwap(old, tfWord(noSlot, next)) {
				continue
			}
			if head != noSlot {
				h.st.remoteFreesIn += int64(h.class.integrate(pg, uint16(head)))
			}
		default:
			panic(fmt.Sprintf("mimallocish: internal error: page %d of class %q on a delayed stack in state %d", pg.id, h.class.name, st))
		}
		break
	}
	if pg.where == whereFull && pg.hasSpace() {
		h.unfull(pg)
	}
	if pg.used == 0 && pg.where == whereUsed && pg != h.page {
		h.retire(pg)
	}
	return again && pg.where != whereReleased
}

func (h *Heap[T]) pushDelayed(pg *page[T]) {
	for {
		head := h.delayed.Load()
		pg.delayedNext = head
		if h.delayed.CompareAndSwap(head, pg) {
			return
		}
	}
}

// lookup returns the page of id, or panics.
func (c *Class[T]) lookup(id SlotID) *page[T] {
	pg := c.pageOf(uint32(id) >> SlotBits)
	if pg == nil {
		panicUnknownSlot(c.name, id)
	}
	return pg
}

// pageOf returns the page with id pid, or nil. Small enough to inline.
func (c *Class[T]) pageOf(pid uint32) *page[T] {
	leaf := c.dir.top[pid>>leafBits]
	if leaf == nil {
		return nil
	}
	return leaf[pid&leafMask]
}

// Free frees the slot id. Must be called by h's own thread. If the slot's
// page belongs to h it goes on the page's local_free list (no lock, no
// atomic); otherwise it goes on that page's thread_free list (a lock-free
// push), or straight into the page if the page is abandoned.
//
// The allocation page is tried first: an object that dies soon after it
// was born, the commonest free, is found there with one compare instead
// of the directory's two dependent loads, and without the owner check
// (the allocation page is the heap's own, or the empty sentinel, whose
// zero capacity sends every id to the directory).
func (h *Heap[T]) Free(id SlotID) {
	pg := h.page
	// id's index in the allocation page; any id of another page gives an
	// index of MaxSlotsPerPage or more (wrapping around when below base),
	// so one compare with the capacity says whether the slot is there.
	idx := uint32(id - pg.base)
	if idx >= pg.capacity {
		idx = uint32(id) & slotMask
		if pg = h.class.pageOf(uint32(id) >> SlotBits); pg == nil {
			panicUnknownSlot(h.class.name, id)
		}
		if pg.owner.Load() != h {
			h.freeOther(pg, idx, id)
			return
		}
		if idx >= pg.capacity {
			panicNeverAllocated(h.class.name, id)
		}
	}
	if invariants.Enabled {
		pg.dbgFree(idx, id)
	}
	// A slot at the head of a list, or any slot of a page with nothing
	// handed out, is free already. Checked before the slot is touched: a
	// free slot holds its link.
	if uint16(idx) == pg.localFree || uint16(idx) == pg.free || pg.used <= 0 {
		panicDoubleFree(h.class.name, id)
	}
	s := &pg.slots[idx]
	var zero T
	*s = zero
	setLink(s, pg.link, pg.localFree)
	pg.localFree = uint16(idx)
	pg.used--
	if pg.where != whereUsed || (pg.used == 0 && pg != h.page) {
		h.freeLocalSlow(pg)
	}
}

func (h *Heap[T]) freeLocalSlow(pg *page[T]) {
	if pg.where == whereFull {
		h.unfull(pg)
	}
	if pg.used == 0 && pg.where == whereUsed && pg != h.page {
		h.retire(pg)
	}
}

func (h *Heap[T]) freeOther(pg *page[T], idx uint32, id SlotID) {
	if h.dead {
		panic(fmt.Sprintf("mimallocish: Free on abandoned heap of class %q (use Class.FreeRemote)", h.class.name))
	}
	h.class.freeMT(pg, idx, id)
	h.st.remoteFreesOut++
}

// FreeRemote frees the slot id on behalf of a thread that has no heap of
// this class (or whose heap was abandoned). Any thread may call it.
func (c *Class[T]) FreeRemote(id SlotID) {
	pg := c.lookup(id)
	c.freeMT(pg, uint32(id)&slotMask, id)
	c.freeRemote.Add(1)
}

// freeMT is a free by a thread that does not own pg (mimalloc
// _mi_free_block_mt): push on thread_free; the free that finds the page full
// tells the owner; a free into an abandoned page goes straight in under mu.
func (c *Class[T]) freeMT(pg *page[T], idx uint32, id SlotID) {
	if idx >= pg.reserved {
		panicNeverAllocated(c.name, id)
	}
	if invariants.Enabled {
		pg.dbgFree(idx, id)
	}
	s := &pg.slots[idx]
	zeroed := false
	for {
		old := pg.tf.Load()
		st := old >> tfStateShift
		if st == stAbandoned {
			if c.freeAbandoned(pg, idx, id) {
				return
			}
			continue // adopted meanwhile
		}
		if !zeroed {
			var zero T
			*s = zero
			zeroed = true
		}
		// The link is written before the CAS that publishes the slot;
		// the owner reads it after the atomic Or that takes the list.
		setLink(s, pg.link, uint16(old&tfHeadMask))
		nw := old&^tfHeadMask | idx
		if st == stFull {
			nw = tfWord(idx, stNotifying)
		}
		if pg.tf.CompareAndSwap(old, nw) {
			if st == stFull {
				c.notify(pg)
			}
			return
		}
	}
}

// notify puts pg on its owner's delayed stack. Only the freer that moved pg
// from stFull to stNotifying runs it; until it sets stNotified the owner
// cannot abandon pg, so pg.owner is stable.
func (c *Class[T]) notify(pg *page[T]) {
	pg.owner.Load().pushDelayed(pg)
	for {
		old := pg.tf.Load()
		if invariants.Enabled && old>>tfStateShift != stNotifying {
			panic(fmt.Sprintf("mimallocish: internal error: page %d of class %q left stNotifying (state %d)", pg.id, c.name, old>>tfStateShift))
		}
		if pg.tf.CompareAndSwap(old, tfWord(old&tfHeadMask, stNotified)) {
			return
		}
	}
}

// freeAbandoned frees straight into an abandoned page under mu and releases
// the page if that was its last slot. It returns false if the page was
// adopted meanwhile.
func (c *Class[T]) freeAbandoned(pg *page[T], idx uint32, id SlotID) bool {
	c.mu.Lock()
	switch pg.orphan {
	case orphanNo:
		c.mu.Unlock()
		return false
	case orphanReleased:
		c.mu.Unlock()
		panicDoubleFree(c.name, id)
	}
	if idx >= pg.capacity {
		c.mu.Unlock()
		panicNeverAllocated(c.name, id)
	}
	if pg.used <= 0 || uint16(idx) == pg.localFree || uint16(idx) == pg.free {
		c.mu.Unlock()
		panicDoubleFree(c.name, id)
	}
	wasFull := !pg.hasSpace()
	s := &pg.slots[idx]
	var zero T
	*s = zero
	setLink(s, pg.link, pg.localFree)
	pg.localFree = uint16(idx)
	pg.used--
	c.abandonedIn++
	switch {
	case pg.used == 0:
		if wasFull {
			c.abandonedFull.remove(pg)
		} else {
			c.abandonedFree.remove(pg)
			c.nAbandonedFree.Add(-1)
		}
		pg.orphan = orphanReleased
		c.releaseLocked(pg)
		c.orphansFreed++
	case wasFull:
		c.abandonedFull.remove(pg)
		c.abandonedFree.pushBack(pg)
		c.nAbandonedFree.Add(1)
	}
	c.mu.Unlock()
	return true
}

// adopt takes over an abandoned page with a free slot, or returns nil.
func (c *Class[T]) adopt(h *Heap[T]) *page[T] {
	if c.nAbandonedFree.Load() == 0 {
		return nil
	}
	c.mu.Lock()
	pg := c.abandonedFree.popFront()
	if pg == nil {
		c.mu.Unlock()
		return nil
	}
	c.nAbandonedFree.Add(-1)
	pg.orphan = orphanNo
	pg.owner.Store(h)
	pg.delayedNext = nil
	// No remote free pushes while the page is abandoned, so the list is
	// empty; freers waiting for mu will see orphanNo and retry the push.
	pg.tf.Store(tfWord(noSlot, stNormal))
	c.mu.Unlock()
	h.st.pagesAdopted++
	return pg
}

// newPage gives h a page of the spare list, else a fresh one.
func (c *Class[T]) newPage(h *Heap[T]) *page[T] {
	if pg := c.reuse(h); pg != nil {
		return pg
	}
	n := c.slotsPerPage
	pg := &page[T]{
		slots:     make([]T, n),
		link:      c.link,
		class:     c,
		reserved:  uint32(n),
		free:      noSlot,
		localFree: noSlot,
	}
	pg.owner.Store(h)
	if invariants.Enabled {
		pg.dbg = make([]atomic.Uint32, n)
	}
	pg.tf.Store(tfWord(noSlot, stNormal))
	c.register(pg)
	h.st.pagesCreated++
	return pg
}

func (c *Class[T]) register(pg *page[T]) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.huge.note(addressRange(pg.slots))
	c.enter(pg)
}

// enter (mu held) gives pg an id and puts it in the directory.
func (c *Class[T]) enter(pg *page[T]) {
	pg.id = c.ids.alloc("page", c.name)
	pg.base = SlotID(pg.id << SlotBits)
	c.dir.set(pg.id, pg)
}

// reuse takes a page off the spare list for h, or returns nil. The page
// comes as it was released: every slot free and zero but for the links of
// its lists, which stay as they were, as a retired page's do.
func (c *Class[T]) reuse(h *Heap[T]) *page[T] {
	c.mu.Lock()
	defer c.mu.Unlock()
	pg := c.spare.popFront()
	if pg == nil {
		return nil
	}
	pg.orphan = orphanNo
	pg.delayedNext = nil
	pg.owner.Store(h)
	pg.tf.Store(tfWord(noSlot, stNormal))
	c.enter(pg)
	h.st.pagesReused++
	return pg
}

// Abandon gives up the heap when its thread exits: pages with live slots go
// to the class's abandoned lists (frees of their slots keep working; other
// heaps adopt them), empty pages are released. The heap cannot be used
// afterwards. Owner only.
func (h *Heap[T]) Abandon() {
	c := h.class
	if h.dead {
		panic(fmt.Sprintf("mimallocish: heap of class %q abandoned twice", c.name))
	}
	h.dead = true
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, q := range []*pageQueue[T]{&h.usedQ, &h.fullQ, &h.retired} {
		for pg := q.popFront(); pg != nil; pg = q.popFront() {
			h.abandonPage(pg)
		}
	}
	h.page = &c.empty
	h.delayed.Store(nil)
	delete(c.heaps, h)
	c.dead.add(&h.st)
}

// Revive makes an abandoned heap a new, empty heap of its class for
// another thread, as NewHeap would but without a Go allocation (mimalloc
// reuses the thread data of exited threads the same way, its td_cache). The
// thread that abandoned the heap must be done with it, and the heap must
// reach its new thread through a happens-before edge (the runtime hands it
// over under its world mutex). It panics unless the heap was abandoned.
func (h *Heap[T]) Revive() {
	c := h.class
	if !h.dead {
		panic(fmt.Sprintf("mimallocish: Revive of a heap of class %q that is not abandoned", c.name))
	}
	// Abandon left the queues and the delayed stack empty and the page the
	// sentinel, and folded the counters into the class's.
	h.dead = false
	h.st = heapCounters{}
	c.mu.Lock()
	c.heaps[h] = struct{}{}
	c.mu.Unlock()
}

// abandonPage (mu held) is mimalloc's _mi_page_abandon with
// MI_NEVER_DELAYED_FREE: wait out a notifying freer, take the thread_free
// list, mark the page abandoned.
func (h *Heap[T]) abandonPage(pg *page[T]) {
	c := h.class
	var old uint32
	for {
		old = pg.tf.Load()
		if old>>tfStateShift == stNotifying {
			runtime.Gosched() // a freer is putting pg on our delayed stack
			continue
		}
		if pg.tf.CompareAndSwap(old, tfWord(noSlot, stAbandoned)) {
			break
		}
	}
	if head := old & tfHeadMask; head != noSlot {
		h.st.remoteFreesIn += int64(c.integrate(pg, uint16(head)))
	}
	pg.owner.Store(nil)
	pg.delayedNext = nil
	if pg.used == 0 {
		// Freers of a released abandoned page (double frees) find
		// orphanReleased and panic.
		pg.orphan = orphanReleased
		c.releaseLocked(pg)
		h.st.pagesReleased++
		return
	}
	pg.where = whereAbandoned
	pg.orphan = orphanAbandoned
	h.st.pagesAbandoned++
	if pg.hasSpace() {
		c.abandonedFree.pushBack(pg)
		c.nAbandonedFree.Add(1)
	} else {
		c.abandonedFull.pushBack(pg)
	}
}

// Collect collects every thread_free list of the heap's pages, moves full
// pages that got room back to the used queue, and releases every empty page
// (retired ones included) to Go's GC (mimalloc mi_heap_collect(force)).
// Owner only.
func (h *Heap[T]) Collect() {
	if h.dead {
		panic(fmt.Sprintf("mimallocish: Collect on abandoned heap of class %q", h.class.name))
	}
	if h.delayed.Load() != nil {
		h.processDelayed()
	}
	for pg := h.fullQ.head; pg != nil; {
		nx := pg.nextPage
		h.collect(pg)
		if pg.hasSpace() {
			h.unfull(pg)
		}
		pg = nx
	}
	for pg := h.usedQ.head; pg != nil; {
		nx := pg.nextPage
		h.collect(pg)
		if pg.used == 0 {
			h.usedQ.remove(pg)
			h.release(pg)
		}
		pg = nx
	}
	for pg := h.retired.popFront(); pg != nil; pg = h.retired.popFront() {
		h.release(pg)
	}
	h.resetPage()
}

func (pg *page[T]) dbgAlloc(i uint16) {
	if old := pg.dbg[i].Swap(dbgLive); old == dbgLive {
		panic(fmt.Sprintf("mimallocish: internal error: slot %#x of class %q handed out twice", uint32(pg.base|SlotID(i)), pg.class.name))
	}
}

func (pg *page[T]) dbgFree(i uint32, id SlotID) {
	if pg.dbg[i].CompareAndSwap(dbgLive, dbgFreed) {
		return
	}
	if pg.dbg[i].Load() == dbgNever {
		panicNeverAllocated(pg.class.name, id)
	}
	panicDoubleFree(pg.class.name, id)
}

// tfLen counts pg's pending thread_free list (owner, or a stopped world).
func (pg *page[T]) tfLen() int {
	n := 0
	for i := uint16(pg.tf.Load() & tfHeadMask); i != noSlot && n <= int(pg.reserved); i = getLink(&pg.slots[i], pg.link) {
		n++
	}
	return n
}

// freeMap sets bit i of the returned map for every free slot of pg: on one
// of the three lists, or beyond capacity (mimalloc mi_heap_area_visit_blocks).
func (pg *page[T]) freeMap(buf []uint64) []uint64 {
	words := (int(pg.reserved) + 63) / 64
	buf = append(buf[:0], make([]uint64, words)...)
	mark := func(head uint16, list string) {
		n := 0
		for i := head; i != noSlot; i = getLink(&pg.slots[i], pg.link) {
			if n++; n > int(pg.reserved) {
				panic(fmt.Sprintf("mimallocish: corrupted %s list of page %d in class %q", list, pg.id, pg.class.name))
			}
			buf[i>>6] |= 1 << (i & 63)
		}
	}
	mark(pg.free, "free")
	mark(pg.localFree, "local_free")
	mark(uint16(pg.tf.Load()&tfHeadMask), "thread_free")
	for i := pg.capacity; i < pg.reserved; i++ {
		buf[i>>6] |= 1 << (i & 63)
	}
	return buf
}

// Walk calls fn for every allocated slot of the class: every heap's pages
// and the abandoned ones. Only while the world is stopped: no Alloc, Free,
// FreeRemote, Abandon or Collect may run concurrently, and fn must not call
// them (CPython's gc_free_threading visits mimalloc heaps the same way).
func (c *Class[T]) Walk(fn func(*T, SlotID)) {
	c.mu.Lock()
	maxID := c.ids.next
	c.mu.Unlock()
	var fm []uint64
	for id := uint32(1); id <= maxID; id++ {
		pg := c.dir.get(id)
		if pg == nil {
			continue
		}
		fm = pg.freeMap(fm)
		for i := uint32(0); i < pg.capacity; i++ {
			if fm[i>>6]&(1<<(i&63)) == 0 {
				fn(&pg.slots[i], pg.base|SlotID(i))
			}
		}
	}
}

func (s *HeapStats) addPage(w where, used, pending int) {
	s.Pages++
	switch w {
	case whereFull:
		s.FullPages++
	case whereRetired:
		s.RetiredPages++
	case whereAbandoned:
		s.AbandonedPages++
	}
	s.SlotsInUse += used - pending
	s.PendingFrees += pending
}

func (c *Class[T]) finishStats(s *HeapStats, cum *heapCounters) {
	s.SlotsPerPage = c.slotsPerPage
	s.SlotSize = c.slotSize
	s.BytesReserved = int64(s.Pages) * int64(c.slotsPerPage) * int64(c.slotSize)
	s.BytesInUse = int64(s.SlotsInUse) * int64(c.slotSize)
	s.PagesCreated = cum.pagesCreated
	s.PagesReused = cum.pagesReused
	s.PagesReleased = cum.pagesReleased
	s.PagesRetired = cum.pagesRetired
	s.PagesAbandoned = cum.pagesAbandoned
	s.PagesAdopted = cum.pagesAdopted
	s.RemoteFreesIn = cum.remoteFreesIn
	s.RemoteFreesOut = cum.remoteFreesOut
}

// Stats describes the heap: its own pages and its thread's cumulative
// counters. Owner only.
func (h *Heap[T]) Stats() HeapStats {
	var s HeapStats
	for _, q := range []*pageQueue[T]{&h.usedQ, &h.fullQ, &h.retired} {
		for pg := q.head; pg != nil; pg = pg.nextPage {
			s.addPage(pg.where, int(pg.used), pg.tfLen())
		}
	}
	h.class.finishStats(&s, &h.st)
	return s
}

// Stats describes the whole class: every live page (abandoned included)
// and the counters of every heap, live or abandoned, plus FreeRemote's. It
// reads the heaps' owner-written fields, so call it only while they are
// quiescent: with the world stopped, or after their threads were joined.
func (c *Class[T]) Stats() HeapStats {
	c.mu.Lock()
	defer c.mu.Unlock()
	var s HeapStats
	for id := uint32(1); id <= c.ids.next; id++ {
		if pg := c.dir.get(id); pg != nil {
			s.addPage(pg.where, int(pg.used), pg.tfLen())
		}
	}
	cum := c.dead
	for h := range c.heaps {
		cum.add(&h.st)
	}
	cum.pagesReleased += c.orphansFreed
	cum.remoteFreesIn += c.abandonedIn
	cum.remoteFreesOut += c.freeRemote.Load()
	c.finishStats(&s, &cum)
	s.SparePages = c.spare.n
	s.HugePages, s.HugePageWindows = c.huge.on, c.huge.windows
	return s
}

// Package mimallocish holds the object allocators of the two modes:
// per-thread mimalloc-style heaps with sharded free lists for free-threaded
// mode (Class, Heap), and global pymalloc-style arenas and pools for GIL
// mode (Arenas, Pools).
//
// # Memory is Go-managed
//
// Nothing here allocates raw memory. A "block" is a slot in a typed page:
// a page (or pool) is a Go slice []T of fixed length, allocated with make,
// and an object is &page.slots[i]. The allocator decides which slot is
// handed out next and reuses slots that the runtime freed; it never returns
// memory to the operating system itself. When it no longer needs a page it
// drops every reference to it, and Go's garbage collector reclaims the
// slice like any other. Freed slots are zeroed at once, so a free slot never
// keeps other Go objects alive. Pointers inside objects are ordinary Go
// pointers, seen and traced by Go's GC; no uintptr copy of an address is kept
// anywhere. Package unsafe is used in two files: link_unsafe.go, only to
// reach the free-list link inside a free slot (below), and
// hugepages_unsafe.go, only to give the kernel a page's address range
// when asking for huge pages (hugepages.go: a hint about memory that Go
// owns, which changes none of it).
//
// Each size class is one Go type T (the runtime's intObject, listObject,
// ...), so a page only ever holds Ts: pages are type-stable. Variable-sized
// storage gets capacity classes the same way: the runtime's list item
// arrays of 4, 8 and 16 items, its smallest dict tables and its instances'
// first four attributes are each a T with the array first and a SlotID
// field after it (runtime/listitems.go, dicttable.go, instattrs.go).
//
// # Free lists through the slots
//
// Like mimalloc's and pymalloc's blocks, a free slot holds the link to the
// next free slot of its list, so free lists cost no memory besides the slots
// (a parallel link array would add 2 bytes per slot: a 96-byte list object
// would cost 98). mimalloc keeps the link in a free block's first word. A
// typed Go slot cannot: its words may be pointer words in T's layout, and
// Go's GC reads every pointer word of a slot array whether the slot is free
// or not. An integer written over a pointer word would be taken for a
// pointer (a crash, or memory kept alive or freed wrongly), and a pointer
// word cannot hold an index anyway. So the link lives in a field of T that
// holds no pointer: the caller names it by its byte offset when it makes the
// class (NewClass, NewPools, NewPoolsIn), and the constructor checks with
// reflect that the offset is the start of a uint16 or uint32 field (through
// embedded structs and arrays), never a pointer, padding or the middle of a
// field. The runtime passes the offset of its header's slot field
// (Object.slot): it writes that field right after Alloc and reads it only
// before Free, so the allocator owns it while the slot is free.
//
// The link is a 2-byte slot index stored complemented (^next), so that a
// zeroed field reads as noSlot, the end of a list: a freshly zeroed slot
// ends its list until a link is written, and Alloc clears the field it pops,
// so every slot it returns is all zero. The accessors (getLink, setLink,
// popLink) take the slot's own address plus the checked offset, so they
// stay inside the slot array (checkptr agrees) and never write a pointer
// word. A free slot's link is written by whoever holds the list it goes on:
// the owner (or, for an abandoned page, the holder of Class.mu) for free and
// local_free; for thread_free, the freeing thread writes the link before
// the compare-and-swap that publishes the slot, and the owner reads the
// chain only after the atomic read-modify-write that takes the list, so
// each link write happens before its read.
//
// The price, which mimalloc pays too: following a list now reads one slot's
// cache line per step, where a parallel array packed 32 links per line.
// Popping slots freed long ago (a batch of allocations reusing a batch of
// frees) waits on each slot's line in turn, and the owner's collection of
// a thread_free list (which walks it to count it, find its tail and catch
// a remote double free) reads lines the freeing thread has just written.
//
// # Slot ids
//
// Alloc returns the slot's address and its SlotID, which the runtime keeps
// in the object header (4 bytes) so that a free finds the page in O(1)
// without address arithmetic:
//
//	 31                 12 11          0
//	+---------------------+-------------+
//	|  page (or pool) id  |  slot index |
//	+---------------------+-------------+
//
// Limits: at most MaxSlotsPerPage = 4096 slots per page (a 64 KiB page of
// 16-byte objects) and MaxPages = 2^20-1 live pages per class (64 GiB of
// 64 KiB pages); ids of released pages are reused (LIFO, so the directory
// stays dense). Page id 0 is never used, so the zero SlotID names no slot.
//
// The id indexes the class's page directory, a two-level table (a fixed
// array of 1024 pointers to leaves of 1024 page pointers) whose entries never
// move. It is written under the class's lock (or the GIL) when a page is
// created or released and read without any lock: whoever frees a slot got
// the object, directly or not, from the thread that allocated it, after the
// page was entered, so the write happens before the read.
//
// # Free-threaded mode: heaps (mimalloc)
//
// A Class[T] is one size class of one runtime: the page directory, the
// abandoned pages, the statistics. Every thread that allocates objects of the
// class has its own Heap[T] (mimalloc's mi_heap_t reduced to one size class,
// or CPython's per-thread mimalloc heaps). A heap owns pages; a page has
// slotsPerPage slots (default: about 64 KiB) and three free lists, linked
// through the free slots themselves (above):
//
//   - free: the list Alloc pops. Owned by the heap's thread.
//   - local_free: slots freed by the owner. Owned by the heap's thread. Kept
//     apart from free so that the allocation list is drained before the
//     recently freed slots come back, and so that Alloc has a periodic slow
//     path where the other lists are collected (mimalloc's design).
//   - thread_free: slots freed by other threads: a lock-free stack whose head
//     lives in one atomic 32-bit word together with the page's delayed-free
//     state (below). Atomic. The owner takes the whole list with one atomic
//     read-modify-write.
//
// The heap keeps its pages in a used queue (pages that may have free slots;
// the first one is the allocation page), a full queue (pages that had none
// when last looked at) and a retired list (empty pages kept for reuse).
//
// Allocation (Heap.Alloc, owner only):
//
//  1. Fast path: pop the allocation page's free list. Plain loads and
//     stores, no lock, no atomic. A heap without a usable page points at a
//     sentinel page whose list is empty, so there is no nil check.
//  2. Slow path (mimalloc _mi_malloc_generic): first settle the pages on the
//     heap's delayed stack (full pages that got a remote free, below); then,
//     for the first page of the used queue: if its thread_free list is not
//     empty, move it to local_free (an atomic Or takes the list and keeps the
//     state bits; an atomic load checks first); take local_free as the new free
//     list; if there is none, extend the page into slots never used (about
//     4 KiB at a time, mimalloc mi_page_extend_free); if the page has nothing
//     at all, move it to the full queue and try the next page.
//  3. With the used queue exhausted: reuse a retired page, else adopt an
//     abandoned page with a free slot (under Class.mu), else take a page off
//     the class's spare list, else make a fresh page (Go allocation); the
//     last two get an id and a directory entry under Class.mu.
//
// Every returned slot is zero: slots start zero, are zeroed when freed, and
// Alloc clears the link field of the slot it pops.
//
// Free (Heap.Free by the heap's thread, Class.FreeRemote by any thread):
//
//  4. Look the page up in the directory. If the heap owns it (the page's
//     owner field names it: an atomic load, a plain MOV on amd64; only a
//     heap stores itself there, so the answer cannot change under it),
//     push the slot on local_free: plain stores, no lock, no atomic. If the
//     page was in the full queue it goes back to the end of the used queue
//     (mimalloc _mi_page_unfull); if it became empty and is not the
//     allocation page it is retired: kept (at most 2 per heap) or released
//     (mimalloc _mi_page_retire).
//  5. Otherwise (mimalloc _mi_free_block_mt) push the slot on the page's
//     thread_free with a compare-and-swap. This is the only atomic in the
//     allocator's steady state.
//  6. A page in the full queue must be found again when another thread frees
//     into it, or it would never be allocated from (mimalloc's
//     MI_USE_DELAYED_FREE / MI_DELAYED_FREEING protocol, with pages instead of
//     blocks on the delayed list). The state bits of the thread_free word:
//     normal → full (set by the owner with the move to the full queue) →
//     notifying (set by the one remote free whose push finds full) → notified
//     (set by that freer once it has pushed the page on the owner's delayed
//     stack, an atomic Treiber stack in the Heap) → normal or full again (set
//     by the owner when it takes the page off the stack, collects it and
//     moves it back to the used queue, or re-arms it if it is still full).
//     While a page is notifying or notified it is on (or being put on) the
//     delayed stack, so further frees only push. The notifying freer reads
//     the page's owner; the owner cannot abandon the page until the state
//     leaves notifying, so that owner is still alive.
//  7. abandoned is the fifth state: a free that finds it takes Class.mu and
//     frees straight into the ownerless page (mimalloc's reclaim-on-free,
//     simplified); the free of an abandoned page's last slot releases it.
//
// Thread exit (Heap.Abandon, mimalloc _mi_heap_collect_abandon):
//
//  8. Under Class.mu, every page of the heap gets the abandoned state (after
//     waiting out a notifying freer), its thread_free list is collected, and
//     it is released if empty, else put on the class's abandoned lists (with
//     and without free slots). Later frees of its slots keep working (7).
//     Adoption (3) makes the page an ordinary page of the adopting heap.
//  9. A released page leaves the directory and goes to the class's spare
//     list (at most 4 pages; mimalloc keeps the empty segments of exited
//     threads the same way), unless the list is full or the page may still
//     be on its owner's delayed stack (state notifying or notified: the
//     owner may release a page between a remote free into it and that
//     freer's notification); otherwise it is left to Go's GC. A new thread's
//     heap thus starts on an exited thread's pages instead of zeroed fresh
//     ones. Heap.Revive makes an abandoned heap a new heap of its class
//     again (the runtime keeps closed threads' heaps for new threads).
//
// Heap.Collect (mimalloc mi_heap_collect(force)) collects every list of a
// heap's pages and releases every empty page, retired ones included.
//
// Heap walking (Class.Walk, like CPython's gc_free_threading visiting the
// mimalloc heaps with mi_heap_visit_blocks): for every page in the
// directory, mark the slots on free, local_free and thread_free and those
// beyond the extended capacity; every other slot is allocated. Only with the
// world stopped: no Alloc, Free, FreeRemote, Abandon or Collect may run, and
// fn must not call them. Class.Stats reads the heaps' owner-written fields
// too, so it has the same rule (or: after the heaps' threads were joined).
// Heap.Stats is for the owner.
//
// Who writes what:
//
//   - Page.slots, link, reserved, class: immutable after creation; id and
//     base: while the page is in the directory (written under Class.mu
//     before it enters, fresh or from the spare list). A slot's contents
//     are written by whoever holds the slot: its allocator, then its
//     freer; a free slot's link by whoever holds its list (a remote freer
//     before its push publishes the slot).
//   - Page.free, local_free, capacity, used, queue links, where: owned by the
//     heap's thread; protected by Class.mu while the page is abandoned.
//   - Page.owner: atomic; stored by the creating heap, by adopters and by
//     the abandoning owner (both under Class.mu); loaded by every Free
//     (4) and by the notifying freer (6), for which the state word keeps
//     the owner alive.
//   - Page thread_free word: atomic.
//   - Heap queues, counters: owned by the heap's thread.
//   - Heap delayed stack: atomic (pushed by notifying freers, taken by the
//     owner).
//   - Class directory, id allocator, abandoned lists, spare list, heap set,
//     counters of dead heaps: protected by Class.mu (the directory is read
//     without it).
//
// Invariants:
//
//   - A slot is on at most one list: free, local_free, thread_free, or none
//     (handed out); a handed-out slot is on none, so no slot is handed out
//     twice.
//   - A page has exactly one owner heap (its owner field), or is abandoned
//     (owner nil), or is released; an owned page is in exactly one of its
//     owner's queues. A page on the spare list is released, empty, out of
//     the directory and on no delayed stack.
//   - used = capacity − len(free) − len(local_free): slots handed out, those
//     waiting on thread_free included.
//   - While a page is abandoned its thread_free list is empty (frees go
//     straight in under Class.mu).
//   - A page is on its owner's delayed stack iff its state is notifying or
//     notified (released pages aside, which the owner skips).
//   - With every heap collected: the remote frees made equal the remote
//     frees received (HeapStats.RemoteFreesOut == RemoteFreesIn).
//
// Page memory: a 48-byte object costs 48 bytes (its free-list link lives in
// the slot), plus the page header (about 400 bytes, padded so that the
// thread_free word has a cache line of its own) over 1365 slots: about 48.3
// bytes. Debug builds add 4 bytes per slot for the slot states. The Heap
// pads its owner state and its delayed stack to separate cache lines.
//
// # GIL mode: arenas and pools (pymalloc)
//
// An Arenas is pymalloc's arena space, shared by the Pools of every class of
// a runtime: arenas of N pools (default 64), carved lazily. A Pools[T] is one
// size class (pymalloc's usedpools[size] and the pools it owns); a pool has
// slotsPerPool slots (default: about 16 KiB, pymalloc's POOL_SIZE) with one
// free list (pymalloc's freeblock) and a bump pointer for slots never used
// (nextoffset). No locks anywhere: the GIL protects all of it. Every field is
// plain, so the race detector reports any two calls that the caller's
// exclusion does not order: it checks the GIL protocol.
//
//  1. Alloc: pop the free list of the first pool in usedpools; if the list
//     ran dry, carve the next never-used slot (pymalloc_pool_extend), or, if
//     there is none, unlink the pool: it is full.
//  2. No used pool: take a pool from the first usable arena (pymalloc
//     allocate_from_new_pool): its freepools, else the next never-used pool;
//     an arena that runs out of free pools leaves usable_arenas; no usable
//     arena: a new one.
//  3. Free: push on the pool's free list. A full pool goes back to the front
//     of usedpools (insert_to_usedpool); an empty pool is unlinked, loses its
//     id and goes to its arena's freepools (insert_to_freepool).
//  4. usable_arenas is sorted by number of free pools, fewest first, with
//     nfp2lasta[k] naming the last arena with k free pools so that an arena
//     moves to its new place in O(1) (CPython 3.8+). New pools therefore come
//     from the fullest arenas, and nearly empty arenas drain. An arena whose
//     pools are all empty is released unless it is the last usable arena
//     (CPython 3.9's rule against thrashing): at most one wholly free arena is
//     kept.
//
// Pool states: used (some slot free; in usedpools), full (unlinked), empty
// (on its arena's freepools, or gone with its released arena).
//
// Cross-class reuse (pymalloc: "empty pools can be given to any size
// class"): an empty pool is a slot of its arena that any class sharing the
// Arenas may take. The slot array cannot be re-typed in place: a []T was
// allocated with T's pointer layout, and reinterpreting its memory as a []U
// would hide U's pointers from Go's GC (and needs unsafe). So the class-free
// part of a pool (its arena, which class used it last) lives in the arena,
// and the typed part (the slots, with the free list in them) in a pool[T]
// that the empty pool keeps:
// if the same class takes the pool again it gets it back as it was, free list
// and all (pymalloc: "this pool last contained blocks of the same size class,
// so its header and free list are already initialized"); if another class
// takes it, the old array is dropped to Go's GC and a new one is made for the
// new type. The arena is then an accounting and placement unit, not one
// contiguous block of memory: each pool's array is its own Go allocation.
// Since re-making costs a Go allocation where pymalloc rewrites a header, a
// class that needs a pool takes one of its own from the arena's freepools
// when there is one, and the most recent empty pool only otherwise (step 2
// picks the arena as pymalloc does; only the pool within it differs).
// Without that, cycles in GIL mode re-made a pool every 120 ops as the
// instance and list classes passed their emptied pools back and forth:
// 22 MiB of Go allocation per 200,000 ops (a memory profile) and 34-44 Go
// collections in 500 ms; with the preference none, and cycles' GIL throughput went from
// 1.58-1.95M to 2.55-3.37M ops/s (three interleaved runs).
//
// One deviation from pymalloc: when a class's only pool empties, the class
// keeps it (used, with no slot handed out) instead of giving it back to its
// arena. Otherwise a class that allocates and frees one object at a time
// would take a pool and return it on every pair; pymalloc pays that cost,
// which here would more than triple the cost of an alloc+free pair (24 ns
// instead of 7 ns measured). The pool goes back to its arena when it
// empties while the class has another pool.
//
// # Large OS pages
//
// A class (Class.UseHugePages) or a set of pools (Pools.UseHugePages) that
// has grown past 16 pages or slot-array groups asks the kernel, with
// madvise(MADV_HUGEPAGE), to back the 2 MiB windows of memory its new
// pages lie in with transparent huge pages: mimalloc's large_os_pages
// option and CPython 3.15's advice on pymalloc's arenas. The collector's
// passes over a heap of a million objects follow references at random, and
// with 4 KiB pages nearly every one misses the TLB. hugepages.go has the
// steps; HugePagesPolicy tells what the kernel allows.
//
// # Reuse safety
//
// A slot is reused only after the runtime freed its object, and never handed
// out twice: it is on at most one free list. The runtime's lock-free readers
// revalidate what they read (a weak reference's target is cleared under a
// lock before the target's slot is freed), so type-stable pages suffice:
// a stale pointer can only ever see a T, never another type's memory, and no
// QSBR delay is needed for slot reuse (Go's GC already makes page memory
// safe for as long as any pointer to it exists).
//
// # Misuse
//
// Freeing a slot twice or a slot never handed out panics with
// "mimallocish: double free of slot 0x… in class …" or "mimallocish: free of
// never-allocated slot 0x… in class …". With invariants.Enabled (-race or
// nogil_debug) every slot has a state (never, live, freed), changed
// atomically, so every double free and every free of a never-allocated slot
// is caught at once, by any thread. Normal builds catch: a free of the slot
// at the head of its list (the common immediate double free); a free beyond
// the slots the page ever handed out; a free into a page (or pool) with no
// slot handed out; a free into a released abandoned page; and, when the owner
// collects a thread_free list, a list longer than the page's live count (a
// remote double free) or holding a never-used slot. A free whose page was
// released (and whose id is not reused yet) panics with "mimallocish: free of
// unknown slot …" in every build. A double free after the page's id was
// reused by a new page frees a slot of the new page: caught in debug builds
// only if that slot is not live. The freer's checks run before the slot is
// touched, so a misuse they catch leaves the free lists intact; an uncaught
// double free of a slot that is already on a list (normal builds) corrupts
// the lists, as in mimalloc and pymalloc. Alloc, Free or Collect on an
// abandoned heap, and abandoning it twice, panic.
//
// # Map
//
//	mimallocish          mimalloc / CPython
//	Class                a size class's share of mi_heap_t + the segment map + abandoned segments
//	Heap                 mi_heap_t (one per thread, tld->heap_backing); CPython's per-thread mimalloc heaps
//	page                 mi_page_t: free, local_free, xthread_free, capacity, reserved, used
//	Heap.page            heap->pages_free_direct
//	Heap.usedQ / fullQ   heap->pages[bin] / heap->pages[MI_BIN_FULL]
//	Heap.retired         pages kept by _mi_page_retire (retire_expire)
//	Heap.delayed         heap->thread_delayed_free (pages, not blocks)
//	stFull … stNotified  MI_USE_DELAYED_FREE, MI_DELAYED_FREEING, MI_NO_DELAYED_FREE
//	stAbandoned          MI_NEVER_DELAYED_FREE + abandoned segment
//	Heap.Abandon         mi_heap_collect_abandon / _mi_segment_thread_collect
//	Class.adopt          _mi_segment_try_reclaim_abandoned
//	Class.Walk           mi_heap_visit_blocks (gc_free_threading.c gc_visit_heaps)
//	Arenas / arena       usable_arenas, nfp2lasta, arena_object
//	UseHugePages         mi_option_large_os_pages; PYTHON_PYMALLOC_HUGEPAGES (3.15)
//	Pools / pool         usedpools[size], pool_header (freeblock, nextoffset, ref)
package mimallocish

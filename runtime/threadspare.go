package runtime

import "github.com/nogil-lab/nogil/biasedrc"

// maxSpares bounds the closed threads' allocator state a runtime keeps.
const maxSpares = 8

// threadSpare is what a closed free-threaded thread leaves for the next new
// one: its heaps, abandoned (their pages went to the classes: adopted by
// other heaps, or kept on the classes' spare lists when empty), its free
// lists, emptied, and its id.
//
// A thread that starts revives the heaps and lists instead of making
// twelve heaps and four free-list arrays (552 bytes a Heap, 2880 bytes of
// arrays: about 10 KiB that Go's GC then has to scan and collect);
// mimalloc keeps the thread data of exited threads for the same reason
// (its td_cache). Together with the classes' spare pages this took a
// thread's start and exit in free-threaded mode from about 150 us to a
// few us (BenchmarkThreadRestart).
//
// The id makes the new thread the owner, under biased counting, of the
// objects the closed thread owned (biasedrc.Registry.Register): their
// counts take the owner's plain path again instead of atomics and merges
// of an owner that is gone. CPython's thread ids are the addresses of the
// threads' thread-local storage, which the C library reuses for new
// threads, so a CPython thread that starts where one exited takes over
// its objects the same way. A runtime reuses only the ids of its own
// threads, so no object of another runtime can have one.
//
// The new thread does not take the closed one's references, though, nor
// know who uses its objects now: a list that the closed thread made and
// held the only reference to may be used by several threads through that
// one reference, handed over with Close. So a thread with a reused id
// never skips an object's lock on the strength of a count that says "one
// reference, mine" (needsLock: its lockID is neverUnique).
type threadSpare struct {
	heaps     heaps
	freeLists *freeLists
	id        biasedrc.ThreadID
	reused    bool // the id was a closed thread's
}

// keepSpare keeps a closed thread's allocator state, unless maxSpares are
// kept already. worldMu held: it orders the closed thread's last use of
// the state before the next thread's first.
func (rt *Runtime) keepSpare(s threadSpare) {
	if len(rt.spares) < maxSpares {
		rt.spares = append(rt.spares, s)
	}
}

// takeSpare returns the allocator state and id of a new free-threaded
// thread: the last closed thread's, revived, or new ones.
func (rt *Runtime) takeSpare() threadSpare {
	rt.worldMu.Lock()
	n := len(rt.spares)
	if n == 0 {
		rt.worldMu.Unlock()
		return threadSpare{heaps: rt.classes.newHeaps(), freeLists: newFreeLists(rt.freeListsOn()), id: newThreadID()}
	}
	s := rt.spares[n-1]
	rt.spares[n-1] = threadSpare{}
	rt.spares = rt.spares[:n-1]
	rt.worldMu.Unlock()
	s.heaps.revive()
	s.reused = true
	return s
}

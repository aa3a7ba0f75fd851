package runtime

// maxSpares bounds the closed threads' allocator state a runtime keeps.
const maxSpares = 8

// threadSpare is what a closed free-threaded thread leaves for the next new
// one: its heaps, abandoned (their pages went to the classes: adopted by
// other heaps, or kept on the classes' spare lists when empty), and its
// free lists, emptied. A thread that starts revives them instead of making
// twelve heaps and four free-list arrays (about 8 KiB that Go's GC then
// has to scan and collect); mimalloc keeps the thread data of exited
// threads for the same reason (its td_cache). Together with the classes'
// spare pages this took a thread's start and exit in free-threaded mode
// from about 150 us to a few us (BenchmarkThreadRestart).
type threadSpare struct {
	heaps     heaps
	freeLists *freeLists
}

// keepSpare keeps a closed thread's allocator state, unless maxSpares are
// kept already. worldMu held: it orders the closed thread's last use of
// the state before the next thread's first.
func (rt *Runtime) keepSpare(s threadSpare) {
	if len(rt.spares) < maxSpares {
		rt.spares = append(rt.spares, s)
	}
}

// takeSpare returns the allocator state of a new free-threaded thread: a
// closed thread's, revived, or new.
func (rt *Runtime) takeSpare() (heaps, *freeLists) {
	rt.worldMu.Lock()
	n := len(rt.spares)
	if n == 0 {
		rt.worldMu.Unlock()
		return rt.classes.newHeaps(), newFreeLists(rt.freeListsOn())
	}
	s := rt.spares[n-1]
	rt.spares[n-1] = threadSpare{}
	rt.spares = rt.spares[:n-1]
	rt.worldMu.Unlock()
	s.heaps.revive()
	return s.heaps, s.freeLists
}

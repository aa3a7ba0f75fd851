package runtime

import "github.com/nogil-lab/nogil/mimallocish"

// AllocatorStats describes the allocator of a runtime: per size class and in
// total. In free-threaded mode Classes is filled (one mimalloc-style class
// per object struct, per list item-array capacity, "list-items-N", and
// "dict-table-8" for the smallest dict tables; every thread's heap and the
// abandoned pages included); in GIL mode Pools and Arenas are.
type AllocatorStats struct {
	Classes map[string]mimallocish.HeapStats
	Pools   map[string]mimallocish.PoolStats
	Arenas  mimallocish.ArenaStats

	SlotsInUse    int   // slots handed out and not freed (quarantined ones in Debug mode and FreeListed included)
	FreeListed    int   // freed ints, floats, lists and dicts kept on free lists for reuse (freelist.go)
	BytesReserved int64 // memory held in pages or pools (free lists live in the free slots)
	BytesInUse    int64 // memory of the slots in use
	RemoteFrees   int64 // frees of another thread's slot (free-threaded)
	Abandoned     int64 // pages abandoned by closing threads (free-threaded)
	Adopted       int64 // abandoned pages taken over by other threads
	SparePages    int   // empty pages the classes keep for new threads' heaps (free-threaded; not in BytesReserved)
	// HugePageWindows counts the 2 MiB windows of memory the classes or
	// pools asked the kernel to back with transparent huge pages
	// (mimallocish/hugepages.go; none with Config.NoHugePages, or unless
	// the kernel's policy is "madvise": mimallocish.HugePagesPolicy).
	HugePageWindows int64
}

// AllocatorStats returns the allocator's statistics. In free-threaded mode
// it reads every thread's heap, so it briefly stops the world.
func (th *Thread) AllocatorStats() AllocatorStats {
	th.mustBeAttached()
	var s AllocatorStats
	rt := th.rt
	if rt.mode == GIL {
		p := rt.pools
		s.Pools = make(map[string]mimallocish.PoolStats)
		for _, c := range p.all() {
			s.Pools[c.Name()] = c.Stats()
		}
		s.Arenas = p.arenas.Stats()
		s.FreeListed = rt.freeLists.len()
		for _, ps := range s.Pools {
			s.SlotsInUse += ps.SlotsInUse
			s.BytesReserved += ps.BytesReserved
			s.BytesInUse += ps.BytesInUse
			s.HugePageWindows += ps.HugePageWindows
		}
		return s
	}
	restart := th.StopTheWorld()
	s.Classes = make(map[string]mimallocish.HeapStats)
	for _, c := range rt.classes.all() {
		s.Classes[c.Name()] = c.Stats()
	}
	rt.worldMu.Lock()
	for _, t := range rt.threads {
		s.FreeListed += t.freeLists.len()
	}
	rt.worldMu.Unlock()
	restart()
	for _, hs := range s.Classes {
		s.SlotsInUse += hs.SlotsInUse
		s.BytesReserved += hs.BytesReserved
		s.BytesInUse += hs.BytesInUse
		s.RemoteFrees += hs.RemoteFreesOut
		s.Abandoned += hs.PagesAbandoned
		s.Adopted += hs.PagesAdopted
		s.SparePages += hs.SparePages
		s.HugePageWindows += hs.HugePageWindows
	}
	return s
}

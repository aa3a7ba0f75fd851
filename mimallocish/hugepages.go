package mimallocish

import (
	"strings"
	"sync"
)

// Large OS pages (mimalloc's large_os_pages option, MIMALLOC_LARGE_OS_PAGES;
// CPython 3.15 advises pymalloc's arenas the same way, gh-144319). A heap
// of a million objects spread over 4 KiB pages misses the TLB on nearly
// every random reference it follows, and under a hypervisor each miss is a
// two-level page walk: the collector's passes over a large heap pay that on
// every object. Backed by 2 MiB transparent huge pages, the same heap
// needs 512 times fewer translations.
//
// The slot arrays are Go memory (doc.go), so nothing here maps memory: a
// class that uses huge pages asks the kernel, with madvise(MADV_HUGEPAGE),
// to back each 2 MiB-aligned window of Go's heap that one of its pages (or
// pool groups) lies in with a transparent huge page:
//
//  1. A class opts in before its first page (Class.UseHugePages,
//     Pools.UseHugePages). The runtime does unless Config.NoHugePages.
//  2. Its first hugePagesAfter pages (or groups) stay on 4 KiB pages, so
//     that a small heap costs no 2 MiB of memory per class.
//  3. From then on, every new page advises the windows it overlaps that
//     no class of the process has advised yet (advised, below): one system
//     call per 2 MiB of heap, when the window is first used, usually before
//     the kernel has backed it. A window Go's heap has not touched yet is
//     then faulted in as one huge page; one already partly backed waits for
//     the kernel's khugepaged to collapse it.
//  4. The kernel's policy decides: with "always" every window is huge
//     already and nothing is advised; with "never", or off Linux, nothing
//     can be (HugePagesPolicy).
//
// The advice is a hint about memory that Go's allocator owns; it changes no
// byte of it and Go's scavenger may still return parts of a window to the
// kernel (splitting its huge page). Windows are never un-advised: Go never
// unmaps its heap. The window set keeps window numbers (addresses divided
// by 2 MiB), not pointers.

const (
	hugePageBytes  = 2 << 20
	hugePagesAfter = 16
)

// advised is the process's set of advised windows. Protected by mu.
var advised struct {
	mu      sync.Mutex
	windows map[uintptr]struct{}
}

// hugePages is one class's use of large OS pages. on is set before the
// class is used; the rest is protected by the class's own lock (Class.mu,
// or the GIL for Pools).
type hugePages struct {
	on      bool
	created int   // pages or groups made so far
	windows int64 // windows this class advised first
}

// note records a new page or group of bytes bytes at address base and
// advises the windows it overlaps (step 3).
func (h *hugePages) note(base, bytes uintptr) {
	if !h.on {
		return
	}
	h.created++
	if h.created <= hugePagesAfter || HugePagesPolicy() != "madvise" {
		return
	}
	h.windows += adviseWindows(base, bytes)
}

// AdviseHugePages asks the kernel to back the 2 MiB windows that s lies in
// with transparent huge pages, where the policy is "madvise" (a large Go
// array that is walked at random, say; the benchmarks' yardsticks use it
// so that they measure the same kind of memory as the heap). It returns
// the number of windows it advised that no one had.
func AdviseHugePages[T any](s []T) int {
	if HugePagesPolicy() != "madvise" {
		return 0
	}
	return int(adviseWindows(addressRange(s)))
}

// adviseWindows advises the windows that [base, base+bytes) overlaps and
// no one has advised yet, and returns how many the kernel accepted.
func adviseWindows(base, bytes uintptr) (n int64) {
	if bytes == 0 {
		return 0
	}
	first, last := base/hugePageBytes, (base+bytes-1)/hugePageBytes
	advised.mu.Lock()
	defer advised.mu.Unlock()
	if advised.windows == nil {
		advised.windows = make(map[uintptr]struct{})
	}
	for w := first; w <= last; w++ {
		if _, done := advised.windows[w]; done {
			continue
		}
		advised.windows[w] = struct{}{}
		if adviseHuge(w*hugePageBytes, hugePageBytes) {
			n++
		}
	}
	return n
}

var policy struct {
	once sync.Once
	s    string
}

// HugePagesPolicy returns the kernel's transparent huge page policy as this
// process sees it: "always", "madvise" (the classes advise their windows),
// "never", or "unavailable" (no such kernel feature, or not Linux).
func HugePagesPolicy() string {
	policy.once.Do(func() { policy.s = readHugePagesPolicy() })
	return policy.s
}

// parseHugePagesPolicy returns the bracketed word of the kernel's
// policy file ("always [madvise] never"), or "unavailable".
func parseHugePagesPolicy(s string) string {
	i, j := strings.IndexByte(s, '['), strings.IndexByte(s, ']')
	if i < 0 || j < i {
		return "unavailable"
	}
	switch p := s[i+1 : j]; p {
	case "always", "madvise", "never":
		return p
	}
	return "unavailable"
}

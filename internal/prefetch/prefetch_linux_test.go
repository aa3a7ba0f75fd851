package prefetch

import (
	"syscall"
	"testing"
	"unsafe"
)

// Lines reads the words of its slice and nothing past them: slices that
// end where readable memory ends (a page followed by an inaccessible one)
// of every length up to 64, nil pointers among them, and an empty one
// that starts on the inaccessible page. A read past the end would crash
// the test.
func TestLinesStopsAtTheEnd(t *testing.T) {
	page := syscall.Getpagesize()
	mem, err := syscall.Mmap(-1, 0, 2*page, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		t.Skip("mmap:", err)
	}
	defer syscall.Munmap(mem)
	if err := syscall.Mprotect(mem[page:], syscall.PROT_NONE); err != nil {
		t.Skip("mprotect:", err)
	}
	nodes := make([]node, 64)
	const size = int(unsafe.Sizeof((*node)(nil)))
	for n := 0; n <= len(nodes); n++ {
		ps := unsafe.Slice((**node)(unsafe.Pointer(&mem[page-n*size])), n)
		for i := range ps {
			if i%5 != 3 {
				ps[i] = &nodes[i]
			}
		}
		Lines(ps)
		clear(ps)
	}
	Lines(unsafe.Slice((**node)(unsafe.Add(unsafe.Pointer(&mem[0]), page)), 0))
}

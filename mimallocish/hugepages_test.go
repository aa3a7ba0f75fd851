package mimallocish

import (
	"errors"
	"testing"
	"unsafe"

	"github.com/nogil-lab/nogil/internal/thp"
	"github.com/stretchr/testify/require"
)

func TestParseHugePagesPolicy(t *testing.T) {
	for in, want := range map[string]string{
		"always [madvise] never\n": "madvise",
		"[always] madvise never\n": "always",
		"always madvise [never]\n": "never",
		"always madvise never\n":   "unavailable",
		"[sometimes]":              "unavailable",
		"":                         "unavailable",
		"] [":                      "unavailable",
	} {
		require.Equal(t, want, parseHugePagesPolicy(in), "%q", in)
	}
}

// forgetAdvisedWindows empties the process's set of advised windows, so
// that a test's class counts the windows it advises even where an earlier
// test advised them (advising again is harmless).
func forgetAdvisedWindows() {
	advised.mu.Lock()
	advised.windows = nil
	advised.mu.Unlock()
}

// hugeObj is a slot of 1 KiB, so that a page of 512 slots is half a window.
type hugeObj struct {
	link uint16
	_    [1022]byte
}

func requireEligible(t *testing.T, p unsafe.Pointer) {
	t.Helper()
	ok, _, err := thp.Eligible(uintptr(p))
	if errors.Is(err, thp.ErrUnsupported) {
		t.Logf("the kernel does not report THPeligible: not checked")
		return
	}
	require.NoError(t, err)
	require.True(t, ok, "the mapping of %p is not eligible for huge pages", p)
}

func TestClassHugePages(t *testing.T) {
	forgetAdvisedWindows()
	madvise := HugePagesPolicy() == "madvise"
	on := NewClass[hugeObj]("huge-on", 512, 0)
	on.UseHugePages()
	off := NewClass[hugeObj]("huge-off", 512, 0)
	hon, hoff := on.NewHeap(), off.NewHeap()
	var last *hugeObj
	var ids, offIDs []SlotID
	for page := 0; page < hugePagesAfter+8; page++ {
		for i := 0; i < 512; i++ {
			p, id := hon.Alloc()
			last = p
			ids = append(ids, id)
			_, id = hoff.Alloc()
			offIDs = append(offIDs, id)
		}
		if page == hugePagesAfter-1 {
			require.Zero(t, on.Stats().HugePageWindows, "advised within the first %d pages", hugePagesAfter)
		}
	}
	require.Zero(t, off.Stats().HugePageWindows, "a class that did not opt in advised")
	require.True(t, on.Stats().HugePages)
	require.False(t, off.Stats().HugePages)
	if madvise {
		// 8 pages of half a window past the threshold: at least 4 windows
		// (the set was emptied, so every one is this class's to advise).
		require.GreaterOrEqual(t, on.Stats().HugePageWindows, int64(4))
		requireEligible(t, unsafe.Pointer(last))
	} else {
		require.Zero(t, on.Stats().HugePageWindows, "advised under the policy %q", HugePagesPolicy())
	}
	for _, id := range ids {
		hon.Free(id)
	}
	for _, id := range offIDs {
		hoff.Free(id)
	}
}

func TestPoolsHugePages(t *testing.T) {
	forgetAdvisedWindows()
	p := NewPools[hugeObj]("huge-pools", 64, 0)
	p.UseHugePages()
	var ids []SlotID
	var last *hugeObj
	// Each group of slot arrays is a little over 32 KiB: enough slots for
	// twice the threshold's groups span several windows.
	for i := 0; i < 64*(2*hugePagesAfter+64); i++ {
		o, id := p.Alloc()
		last = o
		ids = append(ids, id)
	}
	if HugePagesPolicy() == "madvise" {
		require.Positive(t, p.Stats().HugePageWindows)
		requireEligible(t, unsafe.Pointer(last))
	} else {
		require.Zero(t, p.Stats().HugePageWindows)
	}
	for _, id := range ids {
		p.Free(id)
	}
}

func TestAdviseHugePages(t *testing.T) {
	forgetAdvisedWindows()
	s := make([]int64, 3<<20/8) // 3 MiB: at least one whole window
	n := AdviseHugePages(s)
	if HugePagesPolicy() != "madvise" {
		require.Zero(t, n)
		return
	}
	require.GreaterOrEqual(t, n, 2)
	require.Zero(t, AdviseHugePages(s), "the same windows advised twice")
	requireEligible(t, unsafe.Pointer(&s[len(s)/2]))
	require.Zero(t, AdviseHugePages(s[:0]))
}

func TestUseHugePagesTooLate(t *testing.T) {
	c := NewClass[hugeObj]("late", 8, 0)
	h := c.NewHeap()
	_, id := h.Alloc()
	require.PanicsWithValue(t, "mimallocish: UseHugePages on class late after its first page", c.UseHugePages)
	h.Free(id)
	p := NewPools[hugeObj]("late-pools", 8, 0)
	_, id = p.Alloc()
	require.PanicsWithValue(t, "mimallocish: UseHugePages on pools late-pools after their first pool", p.UseHugePages)
	p.Free(id)
}

package runtime

import (
	"errors"
	"testing"
	"unsafe"

	"github.com/nogil-lab/nogil/internal/thp"
	"github.com/nogil-lab/nogil/mimallocish"
	"github.com/stretchr/testify/require"
)

// A heap that grows past a few pages per class is advised for huge pages
// (mimallocish/hugepages.go) unless Config.NoHugePages: the kernel then
// reports its objects' memory eligible, and the statistics count windows
// only when the runtime may advise.
func TestHugePages(t *testing.T) {
	for _, off := range []bool{false, true} {
		name := "default"
		if off {
			name = "NoHugePages"
		}
		t.Run(name, func(t *testing.T) {
			eachModeWith(t, allModes, []bool{false}, func(c *Config) { c.NoHugePages = off }, withThread(func(t *testing.T, th *Thread) {
				// Enough ints for 30 pages of the int class.
				objs := make([]*Object, 40_000)
				for i := range objs {
					objs[i] = th.NewInt(int64(1000 + i))
				}
				st := th.AllocatorStats()
				for name, cs := range st.Classes {
					require.Equal(t, !off, cs.HugePages, "class %s", name)
				}
				for name, ps := range st.Pools {
					require.Equal(t, !off, ps.HugePages, "pools %s", name)
				}
				require.Equal(t, 12, len(st.Classes)+len(st.Pools))
				windows := st.HugePageWindows
				if off || mimallocish.HugePagesPolicy() != "madvise" {
					require.Zero(t, windows)
				} else {
					ok, _, err := thp.Eligible(uintptr(unsafe.Pointer(objs[len(objs)-1])))
					if !errors.Is(err, thp.ErrUnsupported) {
						require.NoError(t, err)
						require.True(t, ok, "the last int's memory is not eligible for huge pages")
					}
				}
				for _, o := range objs {
					th.DecRef(o)
				}
			}))
		})
	}
}

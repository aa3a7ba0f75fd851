package runtime

import (
	"fmt"
	"strings"
	"time"

	"github.com/nogil-lab/nogil/gil"
)

// Mode selects which of CPython's two builds a runtime models.
type Mode uint8

const (
	// GIL is CPython's default build: one global interpreter lock, plain
	// reference counts, global pymalloc-style pools.
	GIL Mode = iota + 1
	// FreeThreaded is CPython's --disable-gil build (PEP 703): biased
	// reference counts, per-thread heaps, per-object locks.
	FreeThreaded
)

func (m Mode) String() string {
	switch m {
	case GIL:
		return "gil"
	case FreeThreaded:
		return "free-threaded"
	}
	return fmt.Sprintf("Mode(%d)", uint8(m))
}

// ParseMode accepts "gil" and "free-threaded" (also "ft", "nogil"), in any
// case.
func ParseMode(s string) (Mode, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "gil":
		return GIL, nil
	case "free-threaded", "freethreaded", "ft", "nogil":
		return FreeThreaded, nil
	}
	return 0, fmt.Errorf("%w: unknown mode %q (want gil, free-threaded, ft or nogil)", ErrValue, s)
}

// RefCounting selects how a free-threaded runtime counts references.
type RefCounting uint8

const (
	Biased RefCounting = iota // PEP 703 biased counting (the default)
	Atomic                    // every update atomic: the naive no-GIL baseline
)

func (r RefCounting) String() string {
	switch r {
	case Biased:
		return "biased"
	case Atomic:
		return "atomic"
	}
	return fmt.Sprintf("RefCounting(%d)", uint8(r))
}

// Config configures a runtime. The zero values of the optional fields pick
// CPython's defaults.
type Config struct {
	Mode           Mode          // required
	RefCounting    RefCounting   // FreeThreaded only
	SwitchInterval time.Duration // GIL only; 0 means 5ms
	GCThresholds   [3]int        // 0s mean {700, 10, 10}
	GCDisabled     bool          // start with automatic collection off
	Debug          bool          // poison freed objects; report leaks at Close
	// NoFreeLists sends every free to the allocator (freed ints and
	// floats are otherwise kept for reuse, up to 100 of each, and lists
	// and dicts, up to 80, as CPython does: freelist.go). Debug mode
	// implies it.
	NoFreeLists bool
	// NoLockFreeReads makes ListGet take the list's lock every time in
	// free-threaded mode with biased counting (otherwise a list that
	// another thread than its owner has read is read without it, as
	// CPython 3.14 does: listview.go). Builds with the race detector
	// always take the lock.
	NoLockFreeReads bool
	// NoHugePages keeps the object heap on the kernel's small pages
	// (otherwise, where the kernel's transparent huge page policy is
	// "madvise", each size class that has grown past a few pages asks for
	// 2 MiB pages, as mimalloc's large_os_pages option and CPython 3.15's
	// pymalloc arenas do: mimallocish/hugepages.go).
	NoHugePages bool
}

// DefaultGCThresholds are CPython's gc.get_threshold() defaults.
var DefaultGCThresholds = [3]int{700, 10, 10}

func (c Config) validate() (Config, error) {
	switch c.Mode {
	case GIL:
		if c.RefCounting != Biased {
			return c, fmt.Errorf("%w: RefCounting %v applies to free-threaded mode only", ErrValue, c.RefCounting)
		}
	case FreeThreaded:
		if c.RefCounting != Biased && c.RefCounting != Atomic {
			return c, fmt.Errorf("%w: unknown RefCounting %d", ErrValue, uint8(c.RefCounting))
		}
		if c.SwitchInterval != 0 {
			return c, fmt.Errorf("%w: SwitchInterval applies to GIL mode only", ErrValue)
		}
	default:
		return c, fmt.Errorf("%w: Config.Mode is required (GIL or FreeThreaded), got %d", ErrValue, uint8(c.Mode))
	}
	if c.SwitchInterval < 0 {
		return c, fmt.Errorf("%w: negative SwitchInterval %v", ErrValue, c.SwitchInterval)
	}
	// 0 means CPython's 5ms (API.md), filled in here like GCThresholds so
	// that Runtime.Config reports it ("defaults filled in"); gil.New would
	// pick the same for 0.
	if c.Mode == GIL && c.SwitchInterval == 0 {
		c.SwitchInterval = gil.DefaultInterval
	}
	if c.GCThresholds == [3]int{} {
		c.GCThresholds = DefaultGCThresholds
	}
	for i, t := range c.GCThresholds {
		if t < 0 {
			return c, fmt.Errorf("%w: negative GC threshold %d for generation %d", ErrValue, t, i)
		}
	}
	return c, nil
}

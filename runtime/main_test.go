package runtime

import (
	"testing"

	"github.com/nogil-lab/nogil/internal/leaktest"
	"github.com/stretchr/testify/require"
)

func TestMain(m *testing.M) { leaktest.Main(m) }

// modeCase is one of the three ways a runtime can count: every test runs in
// all of them.
type modeCase struct {
	name string
	cfg  Config
}

var allModes = []modeCase{
	{"gil", Config{Mode: GIL}},
	{"ft-biased", Config{Mode: FreeThreaded, RefCounting: Biased}},
	{"ft-atomic", Config{Mode: FreeThreaded, RefCounting: Atomic}},
}

// eachMode runs fn once per mode with a fresh runtime, and checks at the end
// that the runtime closes with nothing leaked. Each mode runs twice: with
// Debug (freed slots quarantined and poisoned, so misuse is always caught)
// and without (freed slots reused by the allocator).
func eachMode(t *testing.T, fn func(t *testing.T, rt *Runtime)) {
	t.Helper()
	eachModeDebug(t, []bool{true, false}, fn)
}

func eachModeDebug(t *testing.T, debug []bool, fn func(t *testing.T, rt *Runtime)) {
	t.Helper()
	eachModeWith(t, allModes, debug, nil, fn)
}

// eachModeWith runs fn for every mode of modes and Debug setting of debug,
// with the configuration changed by adjust (may be nil), and requires the
// runtime to close without leaks.
func eachModeWith(t *testing.T, modes []modeCase, debug []bool, adjust func(*Config), fn func(t *testing.T, rt *Runtime)) {
	t.Helper()
	for _, mc := range modes {
		for _, d := range debug {
			name := mc.name + "/reuse"
			if d {
				name = mc.name + "/debug"
			}
			t.Run(name, func(t *testing.T) {
				cfg := mc.cfg
				cfg.Debug = d
				if adjust != nil {
					adjust(&cfg)
				}
				rt, err := New(cfg)
				require.NoError(t, err)
				fn(t, rt)
				require.NoError(t, rt.Close(), "runtime must close without leaks")
			})
		}
	}
}

// withThread adapts fn to get one attached thread, closed at the end.
func withThread(fn func(t *testing.T, th *Thread)) func(t *testing.T, rt *Runtime) {
	return func(t *testing.T, rt *Runtime) {
		th := rt.NewThread()
		fn(t, th)
		th.Close()
	}
}

// eachModeThread is eachMode with one attached thread, closed at the end.
func eachModeThread(t *testing.T, fn func(t *testing.T, th *Thread)) {
	t.Helper()
	eachMode(t, withThread(fn))
}

// eachDebugModeThread runs fn in Debug mode only: for the misuse that only
// Debug promises to catch every time (a use after free).
func eachDebugModeThread(t *testing.T, fn func(t *testing.T, th *Thread)) {
	t.Helper()
	eachModeDebug(t, []bool{true}, withThread(fn))
}

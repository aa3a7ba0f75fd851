package runtime

import (
	"os/exec"
	"regexp"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestAllocFastInlines guards B3 (allocate + free a small object): the
// allocators' fast paths must inline into the constructors, and the small
// helpers of the allocation and free paths must inline. Pools.AllocFast
// sits at the compiler's budget (80) for the runtime's classes, so an
// innocent edit can push it out; this test says so instead of a benchmark
// drifting.
func TestAllocFastInlines(t *testing.T) {
	goTool, err := exec.LookPath("go")
	require.NoError(t, err, "the go command is needed to ask the compiler")
	cmd := exec.Command(goTool, "build", "-gcflags=-m", ".")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	for _, want := range []string{
		// The classes appear by their shapes: floatObject's and listObject's.
		`scalars\.go:\d+:\d+: inlining call to mimallocish\.\(\*Pools\[.*runtime\.v float64 \}\]\)\.AllocFast`,
		`scalars\.go:\d+:\d+: inlining call to mimallocish\.\(\*Heap\[.*runtime\.v float64 \}\]\)\.AllocFast`,
		`alloc\.go:\d+:\d+: inlining call to mimallocish\.\(\*Pools\[.*runtime\.container; .*runtime\.items \[\]\*.*Object \}\]\)\.AllocFast`,
		`alloc\.go:\d+:\d+: inlining call to mimallocish\.\(\*Heap\[.*runtime\.container; .*runtime\.items \[\]\*.*Object \}\]\)\.AllocFast`,
		`can inline \(\*Thread\)\.bornBuiltin( |$)`,
		`can inline \(\*Thread\)\.freeScalar( |$)`,
		`can inline \(\*threadCounters\)\.countBuiltinAlloc( |$)`,
		`can inline \(\*threadCounters\)\.countBuiltinFree( |$)`,
	} {
		require.True(t, regexp.MustCompile(`(?m)`+want).Match(out),
			"%s: no longer inlines (go build -gcflags=-m=2 ./runtime/ says why)", want)
	}
}

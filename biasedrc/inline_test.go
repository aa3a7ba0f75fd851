package biasedrc

import (
	"os/exec"
	"regexp"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestHotPathInlines guards B1: the owner's increment and decrement (and
// the plain and atomic pairs they are compared with) must inline into their
// callers. DecBiased sits exactly at the compiler's budget, so an innocent
// edit can push it out; this test says so instead of a benchmark drifting.
func TestHotPathInlines(t *testing.T) {
	goTool, err := exec.LookPath("go")
	require.NoError(t, err, "the go command is needed to ask the compiler")
	cmd := exec.Command(goTool, "build", "-gcflags=-m", ".")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	for _, fn := range []string{
		"(*Count).IncBiased",
		"(*Count).DecBiased",
		"(*Count).IncPlain",
		"(*Count).DecPlain",
		"(*Count).IncAtomic",
		"(*Count).DecAtomic",
		"(*Count).IsImmortal",
		// Into decBiasedSlow: the owner's free of an object nobody else
		// counted then costs DecBiased's one call (B3).
		"(*Count).mergeZeroLocal",
	} {
		re := regexp.MustCompile(`(?m)can inline ` + regexp.QuoteMeta(fn) + `( |$)`)
		require.True(t, re.Match(out),
			"%s no longer inlines (go build -gcflags=-m=2 ./biasedrc/ says why)", fn)
	}
}

// Package inlinecheck lets a test ask the compiler which functions of the
// package under test inline: hot paths that sit at the inliner's budget
// (80) are guarded by a test instead of by a benchmark drifting.
package inlinecheck

import (
	"os/exec"
	"regexp"
	"testing"
)

// Require builds the package in the current directory with -gcflags=-m and
// fails t for every pattern (a regular expression, matched per line) that
// the compiler's report does not contain.
func Require(t testing.TB, patterns ...string) {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is needed to ask the compiler: %v", err)
	}
	out, err := exec.Command(goTool, "build", "-gcflags=-m", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build -gcflags=-m: %v\n%s", err, out)
	}
	for _, p := range patterns {
		if !regexp.MustCompile(`(?m)` + p).Match(out) {
			t.Errorf("%s: not in the compiler's inlining report (go build -gcflags=-m=2 says why)", p)
		}
	}
}

// CanInline returns the pattern of the report line saying that fn (as the
// compiler names it, e.g. "(*Count).DecBiased") can be inlined.
func CanInline(fn string) string {
	return `can inline ` + regexp.QuoteMeta(fn) + `( |$)`
}

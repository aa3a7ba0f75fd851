package biasedrc

import (
	"testing"

	"github.com/nogil-lab/nogil/internal/inlinecheck"
)

// TestHotPathInlines guards B1: the owner's increment and decrement (and
// the plain and atomic pairs they are compared with) must inline into their
// callers. DecBiased sits exactly at the compiler's budget, so an innocent
// edit can push it out; this test says so instead of a benchmark drifting.
func TestHotPathInlines(t *testing.T) {
	inlinecheck.Require(t,
		inlinecheck.CanInline("(*Count).IncBiased"),
		// Into the runtime's incref, which must inline too.
		inlinecheck.CanInline("(*Count).Inc"),
		inlinecheck.CanInline("(*Count).DecBiased"),
		inlinecheck.CanInline("(*Count).IncPlain"),
		inlinecheck.CanInline("(*Count).DecPlain"),
		inlinecheck.CanInline("(*Count).IncAtomic"),
		inlinecheck.CanInline("(*Count).DecAtomic"),
		inlinecheck.CanInline("(*Count).IsImmortal"),
		// Into the runtime's DecRef and dropRef: a non-owner's drop of an
		// owned word (B2), an immortal's and the owner's last reference to
		// an unshared object then cost no call at all, and the rest one.
		// DecBiasedNoCall sits one node under the budget.
		inlinecheck.CanInline("(*Count).DecBiasedNoCall"),
		inlinecheck.CanInline("DecRest.Done"),
		inlinecheck.CanInline("DecRest.Started"),
		inlinecheck.CanInline("(*Count).DecBiasedFinish"),
		inlinecheck.CanInline("(*Count).DecBiasedSlow"),
		// Into decBiasedSlow: its non-owner drop costs DecBiased's one call.
		inlinecheck.CanInline("sharedAlive"),
		// Into decBiasedSlow: the owner's free of an object nobody else
		// counted then costs DecBiased's one call (B3).
		inlinecheck.CanInline("(*Count).mergeZeroLocal"),
		// Into the runtime's RefCounts: the collection of a live heap
		// reads every count of its set with it (B11).
		inlinecheck.CanInline("(*Count).Value"),
	)
}

package runtime

import (
	"testing"

	"github.com/nogil-lab/nogil/internal/inlinecheck"
)

// TestAllocFastInlines guards B3 (allocate + free a small object): the
// allocators' fast paths must inline into the constructors, and the small
// helpers of the allocation and free paths must inline. Pools.AllocFast
// sits at the compiler's budget (80) for the runtime's classes, so an
// innocent edit can push it out; this test says so instead of a benchmark
// drifting.
func TestAllocFastInlines(t *testing.T) {
	inlinecheck.Require(t,
		// The classes appear by their shapes: floatObject's and listObject's.
		`scalars\.go:\d+:\d+: inlining call to mimallocish\.\(\*Pools\[.*runtime\.v float64 \}\]\)\.AllocFast`,
		`scalars\.go:\d+:\d+: inlining call to mimallocish\.\(\*Heap\[.*runtime\.v float64 \}\]\)\.AllocFast`,
		`alloc\.go:\d+:\d+: inlining call to mimallocish\.\(\*Pools\[.*runtime\.container; .*runtime\.items \[\]\*.*Object \}\]\)\.AllocFast`,
		`alloc\.go:\d+:\d+: inlining call to mimallocish\.\(\*Heap\[.*runtime\.container; .*runtime\.items \[\]\*.*Object \}\]\)\.AllocFast`,
		inlinecheck.CanInline("(*Thread).bornBuiltin"),
		inlinecheck.CanInline("(*Thread).freeScalar"),
		// The free lists' push (into DecRef and freeSlot) and pop (into
		// NewInt and NewFloat).
		inlinecheck.CanInline("(*freeLists).keep"),
		inlinecheck.CanInline("(*freeLists).push"),
		inlinecheck.CanInline("(*freeList).pop"),
		inlinecheck.CanInline("(*threadCounters).countBuiltinAlloc"),
		inlinecheck.CanInline("(*threadCounters).countBuiltinFree"),
	)
}

// TestIncrefInlines: the runtime's internal increment (every container
// store takes one) inlines, with the count's Inc inside it: no call in any
// mode.
func TestIncrefInlines(t *testing.T) {
	inlinecheck.Require(t,
		inlinecheck.CanInline("(*Thread).incref"),
		`refcount\.go:\d+:\d+: inlining call to biasedrc\.\(\*Count\)\.Inc`,
	)
}

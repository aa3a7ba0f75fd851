// Package prefetch asks the processor to start loading memory that is
// about to be used, without waiting for it: the collector's traversal of
// a big heap waits mostly on the cache misses of the objects its objects
// refer to, and Go has no prefetch intrinsic outside its own runtime.
//
// On amd64 Lines issues one PREFETCHT0 per pointer, in an assembly loop
// called once per slice, so that the call is paid once per batch rather
// than once per pointer. A prefetch never faults: a nil pointer costs
// nothing but the hint. On other architectures Lines loads a byte from
// each non-nil pointer instead (plain loads in a loop that does nothing
// else, so that their misses overlap: the portable approximation); there
// too nil pointers are allowed.
package prefetch

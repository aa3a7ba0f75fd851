package runtime

import (
	"errors"
	"fmt"
	"sort"
	"strings"
)

// The exceptions a Python program could catch. Errors returned by the API
// wrap exactly one of them, with a message like Python's.
var (
	ErrIndex     = errors.New("IndexError")
	ErrKey       = errors.New("KeyError")
	ErrType      = errors.New("TypeError")
	ErrAttribute = errors.New("AttributeError")
	ErrValue     = errors.New("ValueError")
)

func errorf(kind error, format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{kind}, args...)...)
}

// LeakError is returned by Runtime.Close when objects are still alive after
// the final collection.
type LeakError struct {
	Live   int            // objects still alive
	ByType map[string]int // Live split by type name
}

func (e *LeakError) Error() string {
	names := make([]string, 0, len(e.ByType))
	for n := range e.ByType {
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	fmt.Fprintf(&b, "nogil: %d objects still alive at Close:", e.Live)
	for i, n := range names {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, " %s=%d", n, e.ByType[n])
	}
	return b.String()
}

// misuse panics with a message that names the misuse. Misuse is a bug in
// the caller, never an error a program handles.
func misuse(format string, args ...any) {
	panic(misuseMessage(format, args...))
}

// misuseMessage is misuse's message, for the inlined entry checks, which
// panic themselves with it: a panic in the caller tells the compiler that
// the check's failure does not return, so that the caller need not save
// its arguments at its entry for a call that might (NewFloat's two saves
// went off its free-list path: B3's loop, gil, 134.0 -> 131.3 instructions,
// callgrind; DecRef kept its saves until its rare ends became a call with
// nothing after it, decRefEnd).
func misuseMessage(format string, args ...any) string {
	return fmt.Sprintf("nogil: "+format, args...)
}

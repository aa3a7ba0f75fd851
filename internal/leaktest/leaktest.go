// Package leaktest is the TestMain shared by every nogil package: it runs the
// tests and then fails the binary if any goroutine is left running, which is
// how the promise "Runtime.Close stops every goroutine the library started"
// is checked.
package leaktest

import (
	"testing"

	"go.uber.org/goleak"
)

// Main runs the package's tests under goleak.VerifyTestMain.
func Main(m *testing.M) {
	goleak.VerifyTestMain(m)
}

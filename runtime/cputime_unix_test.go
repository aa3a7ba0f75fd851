//go:build unix

package runtime

import (
	"syscall"
	"time"
)

// processCPU returns the CPU time, user and system, that every thread of
// the process has used (getrusage RUSAGE_SELF).
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

package cputime

import (
	"syscall"
	"time"
	"unsafe"
)

// thread is clock_gettime(CLOCK_THREAD_CPUTIME_ID).
func thread() time.Duration {
	const clockThreadCPUTimeID = 3
	var ts syscall.Timespec
	_, _, errno := syscall.Syscall(syscall.SYS_CLOCK_GETTIME, clockThreadCPUTimeID, uintptr(unsafe.Pointer(&ts)), 0)
	if errno != 0 {
		return 0
	}
	return time.Duration(ts.Nano())
}

package mimallocish

import (
	"os"
	"syscall"
)

// readHugePagesPolicy reads the bracketed word of
// /sys/kernel/mm/transparent_hugepage/enabled ("always [madvise] never").
func readHugePagesPolicy() string {
	b, err := os.ReadFile("/sys/kernel/mm/transparent_hugepage/enabled")
	if err != nil {
		return "unavailable"
	}
	return parseHugePagesPolicy(string(b))
}

// adviseHuge asks the kernel to back [addr, addr+n) with transparent huge
// pages, and reports whether it accepted.
func adviseHuge(addr, n uintptr) bool {
	_, _, errno := syscall.Syscall(syscall.SYS_MADVISE, addr, n, syscall.MADV_HUGEPAGE)
	return errno == 0
}

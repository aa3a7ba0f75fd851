// Package thp tells the tests whether the kernel would back an address of
// this process with a transparent huge page (the THPeligible field of
// /proc/self/smaps), so that they can check what mimallocish's huge-page
// advice did rather than trust the system call's answer alone.
package thp

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// ErrUnsupported: the kernel does not say (not Linux, or no THPeligible
// field).
var ErrUnsupported = errors.New("thp: /proc/self/smaps has no THPeligible field")

// Eligible reports whether the mapping that contains addr is eligible for
// transparent huge pages, and how many bytes of it are backed by them.
func Eligible(addr uintptr) (eligible bool, hugeBytes int64, err error) {
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		return false, 0, ErrUnsupported
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	in, found, seen := false, false, false
	for sc.Scan() {
		line := sc.Text()
		if lo, hi, ok := vmaRange(line); ok {
			if found {
				break // past the mapping's fields
			}
			in = lo <= uint64(addr) && uint64(addr) < hi
			found = in
			continue
		}
		if !in {
			continue
		}
		key, val, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		fs := strings.Fields(val)
		if len(fs) == 0 {
			continue
		}
		switch key {
		case "THPeligible":
			seen = true
			eligible = fs[0] == "1"
		case "AnonHugePages":
			kb, _ := strconv.ParseInt(fs[0], 10, 64)
			hugeBytes = kb << 10
		}
	}
	if err := sc.Err(); err != nil {
		return false, 0, err
	}
	if !found {
		return false, 0, fmt.Errorf("thp: no mapping contains %#x", addr)
	}
	if !seen {
		return false, 0, ErrUnsupported
	}
	return eligible, hugeBytes, nil
}

// vmaRange parses a mapping's first line ("7f12-7f34 rw-p ...").
func vmaRange(line string) (lo, hi uint64, ok bool) {
	first, _, _ := strings.Cut(line, " ")
	a, b, ok := strings.Cut(first, "-")
	if !ok {
		return 0, 0, false
	}
	lo, err1 := strconv.ParseUint(a, 16, 64)
	hi, err2 := strconv.ParseUint(b, 16, 64)
	return lo, hi, err1 == nil && err2 == nil && lo < hi
}

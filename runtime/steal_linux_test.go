//go:build linux

package runtime

import (
	"bytes"
	"os"
	"strconv"
	"time"
)

// hostSteal returns the CPU time the hypervisor has taken from this
// virtual machine's CPUs since boot (the steal column of /proc/stat's cpu
// line), and whether it could be read. On a shared machine a time-critical
// benchmark reports how much of it was stolen while it ran: the
// machine's own stalls, not the code's, are what a tail latency shows
// then (a goroutine that does nothing but read the clock sees gaps of
// several milliseconds when steal is high).
func hostSteal() (time.Duration, bool) {
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, false
	}
	line, _, _ := bytes.Cut(data, []byte("\n"))
	fields := bytes.Fields(line)
	// cpu user nice system idle iowait irq softirq steal ...
	if len(fields) < 9 || string(fields[0]) != "cpu" {
		return 0, false
	}
	ticks, err := strconv.ParseInt(string(fields[8]), 10, 64)
	if err != nil {
		return 0, false
	}
	const userHZ = 100 // USER_HZ, fixed at 100 on Linux
	return time.Duration(ticks) * time.Second / userHZ, true
}

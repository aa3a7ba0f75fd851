// Package hoststeal reads how much CPU time the hypervisor has taken from
// this virtual machine: the steal column of /proc/stat on Linux.
//
// The project's machines are virtual and shared. When the host is busy it
// deschedules the machine's virtual CPUs, and a goroutine that does
// nothing but read the clock then sees gaps of several milliseconds. Any
// tail latency measured meanwhile is the machine's, not the code's; so
// the benchmarks and `nogil compare` report the steal time of each run
// beside its figures.
package hoststeal

import (
	"bytes"
	"os"
	"strconv"
	"time"
)

// Total returns the CPU time stolen from all of the machine's CPUs since
// boot, and whether it could be read (false off Linux, or without /proc).
func Total() (time.Duration, bool) {
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, false
	}
	return parse(data)
}

// userHZ is the unit of /proc/stat: USER_HZ, which is 100 on the
// architectures Go runs Linux on.
const userHZ = 100

// parse reads the steal column of /proc/stat's first line:
// cpu user nice system idle iowait irq softirq steal ...
func parse(data []byte) (time.Duration, bool) {
	line, _, _ := bytes.Cut(data, []byte("\n"))
	fields := bytes.Fields(line)
	if len(fields) < 9 || string(fields[0]) != "cpu" {
		return 0, false
	}
	ticks, err := strconv.ParseInt(string(fields[8]), 10, 64)
	if err != nil || ticks < 0 {
		return 0, false
	}
	return time.Duration(ticks) * time.Second / userHZ, true
}

// Meter measures the steal over an interval.
type Meter struct {
	start time.Duration
	ok    bool
}

// Start begins an interval.
func Start() Meter {
	t, ok := Total()
	return Meter{start: t, ok: ok}
}

// Stop returns the steal since Start, and whether it is known.
func (m Meter) Stop() (time.Duration, bool) {
	t, ok := Total()
	if !m.ok || !ok || t < m.start {
		return 0, false
	}
	return t - m.start, true
}

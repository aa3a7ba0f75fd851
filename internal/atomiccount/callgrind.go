package main

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// selfCosts reads a callgrind profile written with --dump-instr=yes and
// --compress-pos=no and calls add with each self-cost line's instruction
// address and count. With "positions: instr line" a cost line is
// "0xaddr line count"; with "positions: instr" it is "0xaddr count". The
// line after a "calls=" line is the call's inclusive cost, not the
// caller's own, and is skipped.
func selfCosts(r io.Reader, add func(addr, count uint64)) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	countField := -1
	skipNext := false
	for sc.Scan() {
		line := sc.Text()
		if rest, ok := strings.CutPrefix(line, "positions:"); ok {
			switch strings.Join(strings.Fields(rest), " ") {
			case "instr line":
				countField = 2
			case "instr":
				countField = 1
			default:
				return fmt.Errorf("callgrind: positions %q: profile the binary with --dump-instr=yes", strings.TrimSpace(rest))
			}
			continue
		}
		if strings.HasPrefix(line, "calls=") {
			skipNext = true
			continue
		}
		if !strings.HasPrefix(line, "0x") {
			continue
		}
		if skipNext {
			skipNext = false
			continue
		}
		if countField < 0 {
			return fmt.Errorf("callgrind: cost line before a positions: line: profile the binary with --dump-instr=yes")
		}
		f := strings.Fields(line)
		if len(f) <= countField {
			return fmt.Errorf("callgrind: short cost line %q: write the profile with --compress-pos=no", line)
		}
		addr, err := strconv.ParseUint(f[0][2:], 16, 64)
		if err != nil {
			return fmt.Errorf("callgrind: bad address in %q: %v", line, err)
		}
		n, err := strconv.ParseUint(f[countField], 10, 64)
		if err != nil {
			return fmt.Errorf("callgrind: bad count in %q (relative positions? write the profile with --compress-pos=no)", line)
		}
		add(addr, n)
	}
	if err := sc.Err(); err != nil {
		return err
	}
	if countField < 0 {
		return fmt.Errorf("callgrind: no positions: line: not a callgrind profile")
	}
	return nil
}

package main

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// site is an atomic instruction of the binary.
type site struct {
	fn   string // the function it belongs to
	inst string // its mnemonic, with the LOCK prefix
}

// atomicSites reads `go tool objdump` output and returns the atomic
// instructions by address. Lines are "TEXT fn(SB) file" headers followed by
// tab-separated "file:line  0xaddr  bytes  instruction" lines.
func atomicSites(r io.Reader) (map[uint64]site, error) {
	sites := map[uint64]site{}
	fn := ""
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if rest, ok := strings.CutPrefix(line, "TEXT "); ok {
			fn, _, _ = strings.Cut(rest, " ")
			continue
		}
		var fields []string
		for _, f := range strings.Split(line, "\t") {
			if f = strings.TrimSpace(f); f != "" {
				fields = append(fields, f)
			}
		}
		if len(fields) < 4 || !strings.HasPrefix(fields[1], "0x") {
			continue
		}
		inst, ok := atomicMnemonic(fields[3])
		if !ok {
			continue
		}
		addr, err := strconv.ParseUint(fields[1][2:], 16, 64)
		if err != nil {
			return nil, fmt.Errorf("objdump: bad address %q: %v", fields[1], err)
		}
		sites[addr] = site{fn: fn, inst: inst}
	}
	return sites, sc.Err()
}

// atomicMnemonic reports whether the instruction text (Go assembler syntax)
// is atomic, and its mnemonic: LOCK-prefixed, or XCHG with a memory
// operand (a parenthesized address).
func atomicMnemonic(text string) (string, bool) {
	words := strings.Fields(text)
	if len(words) == 0 {
		return "", false
	}
	switch {
	case words[0] == "LOCK" && len(words) > 1:
		return "LOCK " + words[1], true
	case strings.HasPrefix(words[0], "XCHG") && strings.Contains(text, "("):
		return words[0], true
	}
	return "", false
}

package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sort"
)

func main() {
	ops := flag.Float64("ops", 0, "divide the counts by this many ops (0: print totals)")
	top := flag.Int("top", 20, "how many instruction sites to list")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: atomiccount [-ops N] [-top N] BINARY CALLGRIND.OUT\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() != 2 || *ops < 0 || *top < 0 {
		flag.Usage()
		os.Exit(2)
	}
	if err := run(os.Stdout, flag.Arg(0), flag.Arg(1), *ops, *top); err != nil {
		fmt.Fprintln(os.Stderr, "atomiccount:", err)
		os.Exit(1)
	}
}

func run(w io.Writer, binary, profile string, ops float64, top int) error {
	var dis bytes.Buffer
	cmd := exec.Command("go", "tool", "objdump", binary)
	cmd.Stdout = &dis
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go tool objdump %s: %v", binary, err)
	}
	sites, err := atomicSites(&dis)
	if err != nil {
		return err
	}
	f, err := os.Open(profile)
	if err != nil {
		return err
	}
	defer f.Close()
	counts, err := count(sites, f)
	if err != nil {
		return err
	}
	report(w, counts, ops, top)
	return nil
}

// count adds up the profile's executions of each atomic site.
func count(sites map[uint64]site, profile io.Reader) (map[site]uint64, error) {
	counts := map[site]uint64{}
	err := selfCosts(profile, func(addr, n uint64) {
		if s, ok := sites[addr]; ok {
			counts[s] += n
		}
	})
	return counts, err
}

func report(w io.Writer, counts map[site]uint64, ops float64, top int) {
	type row struct {
		s site
		n uint64
	}
	var rows []row
	var total uint64
	for s, n := range counts {
		rows = append(rows, row{s, n})
		total += n
	}
	sort.Slice(rows, func(i, j int) bool {
		if rows[i].n != rows[j].n {
			return rows[i].n > rows[j].n
		}
		return rows[i].s.fn+rows[i].s.inst < rows[j].s.fn+rows[j].s.inst
	})
	per := func(n uint64) string {
		if ops > 0 {
			return fmt.Sprintf("%10.3f", float64(n)/ops)
		}
		return fmt.Sprintf("%10d", n)
	}
	unit := "executed"
	if ops > 0 {
		unit = "per op"
	}
	fmt.Fprintf(w, "%s atomic instructions %s\n", per(total), unit)
	for i, r := range rows {
		if i == top {
			break
		}
		fmt.Fprintf(w, "%s  %-14s %s\n", per(r.n), r.s.inst, r.s.fn)
	}
}

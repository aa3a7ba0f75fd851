package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

const objdump = "TEXT main.f(SB) /src/f.go\n" +
	"  f.go:3\t\t0x401000\t\t4889e5\t\tMOVQ SP, BP\t\t\n" +
	"  f.go:4\t\t0x401003\t\tf0480fc111\t\tLOCK XADDQ DX, 0(CX)\t\t\n" +
	"  f.go:5\t\t0x401008\t\t4887\t\tXCHGQ AX, 0(BX)\t\t\n" +
	"  f.go:6\t\t0x40100c\t\t4887c3\t\tXCHGQ AX, BX\t\t\n" +
	"TEXT main.g(SB) /src/g.go\n" +
	"  g.go:9\t\t0x402000\t\tf00fb111\t\tLOCK CMPXCHGL DX, 0(CX)\t\t\n"

func TestAtomicSites(t *testing.T) {
	sites, err := atomicSites(strings.NewReader(objdump))
	require.NoError(t, err)
	require.Equal(t, map[uint64]site{
		0x401003: {"main.f(SB)", "LOCK XADDQ"},
		0x401008: {"main.f(SB)", "XCHGQ"}, // a register exchange is not atomic
		0x402000: {"main.g(SB)", "LOCK CMPXCHGL"},
	}, sites)
}

func TestCountSkipsInclusiveCallCosts(t *testing.T) {
	sites, err := atomicSites(strings.NewReader(objdump))
	require.NoError(t, err)
	profile := "events: Ir\npositions: instr line\nfn=main.f\n" +
		"0x401000 3 10\n0x401003 4 10\n0x401008 5 7\n" +
		"calls=1 0x402000 9\n0x401003 4 999\n" + // inclusive cost of the call at the same address
		"fn=main.g\n0x402000 9 7\n0x402000 9 1\n"
	counts, err := count(sites, strings.NewReader(profile))
	require.NoError(t, err)
	require.Equal(t, map[site]uint64{
		{"main.f(SB)", "LOCK XADDQ"}:    10,
		{"main.f(SB)", "XCHGQ"}:         7,
		{"main.g(SB)", "LOCK CMPXCHGL"}: 8,
	}, counts)

	var out bytes.Buffer
	report(&out, counts, 2, 2)
	require.Equal(t, "    12.500 atomic instructions per op\n"+
		"     5.000  LOCK XADDQ     main.f(SB)\n"+
		"     4.000  LOCK CMPXCHGL  main.g(SB)\n", out.String())
}

func TestBadProfiles(t *testing.T) {
	for name, tc := range map[string]struct{ profile, want string }{
		"not callgrind":    {"hello\n", "no positions: line"},
		"no instr":         {"positions: line\n0x1 2\n", "--dump-instr=yes"},
		"compressed":       {"positions: instr line\n0x401000 3\n", "--compress-pos=no"},
		"relative":         {"positions: instr line\n0x401000 +3 x\n", "--compress-pos=no"},
		"cost before head": {"0x401000 3 1\n", "before a positions"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := count(nil, strings.NewReader(tc.profile))
			require.ErrorContains(t, err, tc.want)
		})
	}
}

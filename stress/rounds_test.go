package stress

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/require"
)

// A comparison built by hand: two workloads (one thread-private, one not),
// GIL and free-threaded mode, three rounds.
func handComparison() *Comparison {
	row := func(w, m string, n int, runs ...float64) Row {
		return Row{Workload: w, Mode: m, Threads: n, Runs: len(runs), OpsPerSecRuns: runs, OpsPerSec: runs[1]}
	}
	return &Comparison{
		Workloads: []string{"create-dict", "shared-read"},
		Modes:     []string{"gil", "ft"},
		Threads:   []int{1, 2},
		Rows: []Row{
			row("create-dict", "gil", 1, 100, 100, 200),
			row("create-dict", "ft", 1, 100, 50, 200),
			row("create-dict", "gil", 2, 100, 100, 200),
			row("create-dict", "ft", 2, 200, 100, 200),
			row("shared-read", "gil", 1, 100, 100, 100),
			row("shared-read", "ft", 1, 25, 200, 100),
			row("shared-read", "gil", 2, 100, 100, 100),
			row("shared-read", "ft", 2, 100, 100, 100),
		},
	}
}

func TestVsGILByRound(t *testing.T) {
	c := handComparison()
	// Round 0: sqrt(1 * 0.25); round 1: sqrt(0.5 * 2); round 2: sqrt(1 * 1).
	require.InDeltaSlice(t, []float64{0.5, 1, 1}, c.VsGILByRound("ft"), 1e-12)
	require.InDeltaSlice(t, []float64{1, 1, 1}, c.VsGILByRound("gil"), 1e-12)
	require.Nil(t, c.VsGILByRound("ft-atomic"), "no such cells")
}

func TestSpeedupByRound(t *testing.T) {
	c := handComparison()
	// Only create-dict is thread-private: 200/100, 100/50, 200/200.
	require.InDeltaSlice(t, []float64{2, 2, 1}, c.SpeedupByRound("ft", 2), 1e-12)
	require.InDeltaSlice(t, []float64{1, 1, 1}, c.SpeedupByRound("gil", 2), 1e-12)
	require.Nil(t, c.SpeedupByRound("ft", 4))
}

func TestByRoundNeedsRounds(t *testing.T) {
	c := handComparison()
	// A failed cell drops out; a cell with fewer runs (a comparison
	// cancelled midway) limits the rounds to those every cell completed.
	c.Rows[5].Error = "boom"
	require.InDeltaSlice(t, []float64{1, 0.5, 1}, c.VsGILByRound("ft"), 1e-12)
	c.Rows[1].OpsPerSecRuns = c.Rows[1].OpsPerSecRuns[:2]
	require.InDeltaSlice(t, []float64{1, 0.5}, c.VsGILByRound("ft"), 1e-12)
	c.Rows[1].OpsPerSecRuns = c.Rows[1].OpsPerSecRuns[:1]
	require.Nil(t, c.VsGILByRound("ft"), "one round is no spread")
	// A run without throughput gives no mean.
	c = handComparison()
	c.Rows[0].OpsPerSecRuns[2] = 0
	require.Nil(t, c.VsGILByRound("ft"))
}

func TestSummaryShowsRounds(t *testing.T) {
	c := handComparison()
	c.fillRatios()
	var buf bytes.Buffer
	require.NoError(t, c.WriteTable(&buf))
	// The headline figures are the median runs' (OpsPerSec: round 1's
	// here), the ranges the rounds'.
	require.Contains(t, buf.String(), "(B5): 1.00x (3 rounds: 0.50x-1.00x)\n")
	require.Contains(t, buf.String(), "gil 1.00x (3 rounds: 1.00x-1.00x), ft 2.00x (3 rounds: 1.00x-2.00x)\n")
}

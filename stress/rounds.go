package stress

import (
	"fmt"
	"slices"
)

// A comparison's runs go round-robin: round r holds the r-th run of every
// cell of a workload, run one after another. The summary's geometric means
// (B4, B5) are taken over the cells' median runs; the per-round figures
// below take the same means over the runs of one round instead, whose
// cells ran seconds apart at most. Their spread is what the machine's
// noise does to one round: a target whose rounds all clear it is met
// whichever run a median picks, one whose rounds straddle it is not
// settled by a single comparison.

// VsGILByRound returns, for each round, the geometric mean over workloads
// of mode's 1-thread throughput over GIL mode's in that round (B5 per
// round). It is nil when the comparison has fewer than two rounds or no
// cell of mode and GIL mode to pair.
func (c *Comparison) VsGILByRound(mode string) []float64 {
	var pairs [][2]*Row
	for _, w := range c.Workloads {
		if num, den := c.row(w, mode, 1), c.row(w, ModeGIL, 1); num != nil && den != nil {
			pairs = append(pairs, [2]*Row{num, den})
		}
	}
	return geomeanByRound(pairs)
}

// SpeedupByRound returns, for each round, the geometric mean over the
// thread-private workloads of mode's throughput at threads over its
// throughput at one thread in that round (B4 per round); nil as
// VsGILByRound.
func (c *Comparison) SpeedupByRound(mode string, threads int) []float64 {
	var pairs [][2]*Row
	for _, w := range c.Workloads {
		if info, ok := Describe(w); !ok || !info.Private {
			continue
		}
		if num, den := c.row(w, mode, threads), c.row(w, mode, 1); num != nil && den != nil {
			pairs = append(pairs, [2]*Row{num, den})
		}
	}
	return geomeanByRound(pairs)
}

// geomeanByRound returns, for each round that every pair completed, the
// geometric mean of the pairs' throughput ratios in that round.
func geomeanByRound(pairs [][2]*Row) []float64 {
	if len(pairs) == 0 {
		return nil
	}
	rounds := -1
	for _, p := range pairs {
		for _, r := range p {
			if rounds < 0 || len(r.OpsPerSecRuns) < rounds {
				rounds = len(r.OpsPerSecRuns)
			}
		}
	}
	if rounds < 2 {
		return nil
	}
	means := make([]float64, rounds)
	ratios := make([]float64, len(pairs))
	for round := range rounds {
		for i, p := range pairs {
			num, den := p[0].OpsPerSecRuns[round], p[1].OpsPerSecRuns[round]
			ratios[i] = 0
			if num > 0 && den > 0 {
				ratios[i] = num / den
			}
		}
		if slices.Contains(ratios, 0) {
			return nil // a run without throughput: no mean for its round
		}
		means[round] = geomean(ratios)
	}
	return means
}

// roundSpread formats the range of per-round figures for the summary, ""
// when there are none.
func roundSpread(vs []float64) string {
	if len(vs) == 0 {
		return ""
	}
	return fmt.Sprintf(" (%d rounds: %s-%s)", len(vs), ratio(slices.Min(vs)), ratio(slices.Max(vs)))
}

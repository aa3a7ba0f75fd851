package stress

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/nogil-lab/nogil/internal/invariants"
)

// testOps is the number of ops per thread each workload runs in tests:
// enough to cross collection thresholds, restart threads (mixed) and fill
// channels (producer-consumer), scaled down under the race detector.
func testOps(workload string) int {
	switch workload {
	case "binary-trees":
		return invariants.Scale(200, 10)
	case "producer-consumer":
		return invariants.Scale(5000, 10)
	case "mixed":
		return invariants.Scale(50000, 5)
	}
	return invariants.Scale(40000, 10)
}

// testStall is the tests' Config.StallTimeout: a wedged run fails within
// it instead of holding the suite for the default 30s.
const testStall = 10 * time.Second

func requireClean(t *testing.T, res *Result) {
	t.Helper()
	require.NoError(t, res.Err)
	require.Zero(t, res.Leaked, "leaked objects by type: %v", res.LeakedByType)
	require.Zero(t, res.Violations, "violations: %v", res.ViolationSamples)
	require.True(t, res.OK())
}

// TestWorkloads runs every workload in every mode on one thread (the
// setup thread, and a thread of its own: FreshThread) and on three (more
// threads than this machine's cores), and requires a clean run: no error,
// nothing leaked, no violated invariant.
func TestWorkloads(t *testing.T) {
	for _, name := range Workloads() {
		for _, mode := range ModeNames {
			for _, run := range []struct {
				threads int
				fresh   bool
			}{{1, false}, {1, true}, {3, false}} {
				threads := run.threads
				t.Run(fmt.Sprintf("%s/%s/%d/fresh=%v", name, mode, threads, run.fresh), func(t *testing.T) {
					m, rc, err := ParseMode(mode)
					require.NoError(t, err)
					cfg := Config{Workload: name, Mode: m, RefCounting: rc, Threads: threads, Ops: testOps(name), Seed: 42,
						FreshThread: run.fresh, StallTimeout: testStall}
					res, err := Run(context.Background(), cfg)
					require.NoError(t, err)
					requireClean(t, res)
					require.Equal(t, uint64(threads*cfg.Ops), res.Ops)
					require.Len(t, res.PerThreadOps, threads)
					for _, n := range res.PerThreadOps {
						require.Equal(t, uint64(cfg.Ops), n)
					}
					require.Equal(t, mode, res.Mode)
					require.Positive(t, res.OpsPerSec)
					require.Positive(t, res.Allocated+uint64(boolInt(name == "shared-read-immortal" || name == "shared-read")))
					if name == "mixed" && threads > 1 {
						require.Positive(t, res.Restarts, "mixed restarts threads")
					}
					if name == "cycles" {
						require.Positive(t, res.GCCollections)
					}
				})
			}
		}
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

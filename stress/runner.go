package stress

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	goruntime "runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/nogil-lab/nogil/internal/cputime"
	"github.com/nogil-lab/nogil/internal/hoststeal"
	"github.com/nogil-lab/nogil/runtime"
)

// Run runs one workload in one mode on cfg.Threads runtime threads and
// returns what it measured and checked. A bad configuration gives an error;
// a failure of the run itself (a worker's error or panic, a leak, a
// violation) is reported in the Result (see Result.OK). Cancelling ctx stops
// the workers early.
// measureSteal starts measuring the CPU time the host takes from the
// machine and returns the function that reads it (a variable for the
// tests, which cannot make a host steal).
var measureSteal = func() (since func() (time.Duration, bool)) { return hoststeal.Start().Stop }

func Run(ctx context.Context, cfg Config) (*Result, error) {
	wl, err := cfg.validate()
	if err != nil {
		return nil, err
	}
	return runWorkload(ctx, cfg, wl), nil
}

// run is the state shared by a run's workers and its monitor.
type run struct {
	cfg Config
	wl  *workload
	rt  *runtime.Runtime
	st  state
	chk checker

	stop     atomic.Bool
	stopCh   chan struct{}
	haltOnce sync.Once
	startCh  chan struct{}
	readyCh  chan struct{}

	counts   []paddedCounter
	perOps   []uint64        // written by each worker when it stops
	ends     []time.Time     // likewise
	cpuEnds  []time.Duration // likewise: the process's CPU time then
	restarts atomic.Int64
	finished atomic.Int64 // workers whose loop is over
	unclosed atomic.Int64 // failed workers whose thread could not be released
	// setupTh made the workload's state; a one-worker run works on it
	// (see Config.FreshThread), handed over detached.
	setupTh *runtime.Thread
	// onSetup: the one worker works on setupTh (Result.OnSetupThread).
	onSetup bool

	errMu sync.Mutex
	errs  []error
}

// halt ends the run: workers stop at their next safe point, blocked steps
// wake up.
func (r *run) halt() {
	r.haltOnce.Do(func() {
		r.stop.Store(true)
		close(r.stopCh)
	})
}

func (r *run) fail(err error) {
	r.errMu.Lock()
	r.errs = append(r.errs, err)
	r.errMu.Unlock()
	r.halt()
}

// pauseRecorder times collections through the collector's callbacks.
// Collections never overlap (the collector runs one at a time), but the
// callbacks run on whichever thread collects, hence the mutex.
type pauseRecorder struct {
	mu     sync.Mutex
	start  time.Time
	pauses []time.Duration
}

func (p *pauseRecorder) callback(phase runtime.Phase, _ runtime.Info) {
	now := time.Now()
	p.mu.Lock()
	defer p.mu.Unlock()
	switch phase {
	case runtime.PhaseStart:
		p.start = now
	case runtime.PhaseStop:
		if !p.start.IsZero() {
			p.pauses = append(p.pauses, now.Sub(p.start))
			p.start = time.Time{}
		}
	}
}

func (p *pauseRecorder) mark() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.pauses)
}

func (p *pauseRecorder) since(i int) []time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.pauses[i:])
}

// percentile returns the nearest-rank percentile q (0..100) of sorted d.
func percentile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(q/100*float64(len(sorted))+0.999999999) - 1
	rank = max(0, min(rank, len(sorted)-1))
	return sorted[rank]
}

func totalCollections(rt *runtime.Runtime) int {
	n := 0
	for _, g := range rt.GC().Stats() {
		n += g.Collections
	}
	return n
}

// runWorkload is Run after validation (tests call it with workloads of
// their own).
func runWorkload(ctx context.Context, cfg Config, wl *workload) *Result {
	n := cfg.Threads
	res := &Result{
		Workload: wl.name,
		Mode:     ModeName(cfg.Mode, cfg.RefCounting),
		Threads:  n,
		Seed:     cfg.Seed,
	}
	rcfg := runtime.Config{Mode: cfg.Mode, RefCounting: cfg.RefCounting, Debug: cfg.Debug}
	cfg.Mechanisms.apply(&rcfg)
	rt, err := runtime.New(rcfg)
	if err != nil {
		res.Err = err
		return res
	}
	r := &run{
		cfg: cfg, wl: wl, rt: rt,
		stopCh:  make(chan struct{}),
		startCh: make(chan struct{}),
		readyCh: make(chan struct{}, n),
		counts:  make([]paddedCounter, n),
		perOps:  make([]uint64, n),
		ends:    make([]time.Time, n),
		cpuEnds: make([]time.Duration, n),
	}
	var pauses pauseRecorder
	removeCB := rt.GC().AddCallback(pauses.callback)
	base := rt.Stats()

	// Setup, on a thread that stays open (detached) while the workers run,
	// like a main thread waiting for its workers.
	setupTh := rt.NewThread()
	err = protect(-1, func() error {
		var err error
		r.st, err = wl.setup(&setupCtx{th: setupTh, threads: n, seed: cfg.Seed, chk: &r.chk})
		return err
	})
	if err != nil {
		res.Err = fmt.Errorf("stress: %s setup: %w", wl.name, err)
		setupTh.Close()
		removeCB()
		_ = rt.Close() // may report the setup's objects as leaked; the error says why
		return res
	}
	setupTh.Checkpoint()
	setupTh.Detach()
	r.setupTh = setupTh
	r.onSetup = n == 1 && !cfg.FreshThread && !wl.ownThreads
	res.OnSetupThread = r.onSetup

	g, gctx := errgroup.WithContext(ctx)
	for i := range n {
		w := &Worker{
			ID: i, Threads: n, r: r,
			Rand: rand.New(rand.NewPCG(uint64(cfg.Seed), uint64(i)*0x9e3779b97f4a7c15+1)),
		}
		g.Go(func() error { return r.work(w) })
	}
	stallAfter := cfg.StallTimeout
	if stallAfter <= 0 {
		stallAfter = DefaultStallTimeout
	}
	// wedged gives up on a run that stopped making progress: its goroutines
	// stay blocked, the runtime is left as it is (it cannot be closed) and
	// the result says why, with every goroutine's stack. Nothing here may
	// call the runtime: a panic inside it may have left its locks held.
	wedged := func(what string) *Result {
		r.halt()
		buf := make([]byte, 1<<20)
		buf = buf[:goruntime.Stack(buf, true)]
		r.fail(fmt.Errorf("stress: %s %s %d threads: %s (deadlock?); goroutines:\n%s",
			wl.name, res.Mode, n, what, buf))
		res.Violations, res.ViolationSamples = r.chk.result()
		r.errMu.Lock()
		res.Err = errors.Join(r.errs...)
		r.errMu.Unlock()
		return res
	}

	// Release the workers together once all are ready (or one failed).
	readyBy := time.NewTimer(stallAfter)
	for range n {
		select {
		case <-r.readyCh:
		case <-r.stopCh:
		case <-gctx.Done():
		case <-readyBy.C:
			return wedged(fmt.Sprintf("the workers were not ready within %v", stallAfter))
		}
	}
	readyBy.Stop()
	base2 := rt.Stats()
	gilBase := rt.GILStats()
	worldBase := rt.WorldStats()
	gcBase := totalCollections(rt)
	pauseBase := pauses.mark()
	stealSince := measureSteal()
	cpu0 := cputime.Process()
	t0 := time.Now()
	close(r.startCh)
	var timer *time.Timer
	if cfg.Ops == 0 {
		timer = time.AfterFunc(cfg.Duration, r.halt)
	}

	// The watchdog sees a run that makes no progress for stallAfter (it
	// reads only the workers' own counters), and stops the workers if ctx
	// is cancelled.
	monDone := make(chan struct{})
	watchExited := make(chan struct{})
	stalled := make(chan struct{})
	go func() {
		defer close(watchExited)
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		var lastMoves uint64
		lastMove := time.Now()
		for {
			select {
			case <-monDone:
				return
			case <-gctx.Done():
				r.halt()
				<-monDone
				return
			case now := <-tick.C:
				moves := uint64(r.finished.Load()) + uint64(r.restarts.Load())
				for i := range r.counts {
					moves += r.counts[i].v.Load()
				}
				if moves != lastMoves {
					lastMoves, lastMove = moves, now
				} else if now.Sub(lastMove) > stallAfter {
					close(stalled)
					<-monDone
					return
				}
			}
		}
	}()
	// The sampler samples the live count for PeakLive and Progress. It
	// calls the runtime, so it may block with it: nobody waits for it
	// without a timeout.
	samplerExited := make(chan struct{})
	var peak int // written by the sampler; read once it exited
	go func() {
		defer close(samplerExited)
		every := cfg.ProgressEvery
		if every <= 0 {
			every = 200 * time.Millisecond
		}
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		lastProgress := time.Now()
		peak = base2.Live
		for {
			select {
			case <-monDone:
				return
			case now := <-tick.C:
				st := rt.Stats()
				peak = max(peak, st.Live)
				if cfg.Progress != nil && now.Sub(lastProgress) >= every {
					lastProgress = now
					var ops uint64
					for i := range r.counts {
						ops += r.counts[i].v.Load()
					}
					p := Progress{
						Workload: wl.name, Mode: res.Mode, Threads: n,
						Elapsed: now.Sub(t0), Ops: ops, Live: st.Live,
						Collections: totalCollections(rt) - gcBase,
						Merges:      st.QueuedMerges - base2.QueuedMerges,
						Restarts:    int(r.restarts.Load()),
					}
					select {
					case <-monDone: // the run is over: no more progress reports
						return
					default:
						cfg.Progress(p)
					}
				}
			}
		}
	}()

	waited := make(chan struct{})
	go func() {
		_ = g.Wait() // every error is in r.errs
		close(waited)
	}()
	select {
	case <-waited:
	case <-stalled:
		close(monDone)
		<-watchExited
		res.Elapsed = time.Since(t0)
		return wedged(fmt.Sprintf("the workers made no progress for %v", stallAfter))
	}
	if timer != nil {
		timer.Stop()
	}
	close(monDone)
	<-watchExited
	samplerDone := false
	select {
	case <-samplerExited:
		samplerDone = true
	case <-time.After(stallAfter):
	}

	// Measurements of the run: every worker has stopped and let go of its
	// thread (closed it, or detached the setup thread), so they are exact.
	end, cpuEnd := t0, cpu0
	for i := range n {
		res.Ops += r.perOps[i]
		if r.ends[i].After(end) {
			end = r.ends[i]
		}
		cpuEnd = max(cpuEnd, r.cpuEnds[i])
	}
	if end.Equal(t0) {
		end = time.Now()
	}
	res.HostSteal, res.HostStealKnown = stealSince()
	res.PerThreadOps = r.perOps
	res.Elapsed = end.Sub(t0)
	if s := res.Elapsed.Seconds(); s > 0 {
		res.OpsPerSec = float64(res.Ops) / s
	}
	if cpu0 > 0 && cpuEnd > cpu0 {
		res.CPUTime = cpuEnd - cpu0
		res.OpsPerCPUSec = float64(res.Ops) / res.CPUTime.Seconds()
	}
	res.Restarts = int(r.restarts.Load())
	ps := pauses.since(pauseBase)
	slices.Sort(ps)
	res.GCPauseP50 = percentile(ps, 50)
	res.GCPauseP99 = percentile(ps, 99)
	res.GCPauseMax = percentile(ps, 100)
	if !samplerDone {
		return wedged(fmt.Sprintf("the runtime's statistics did not answer within %v", stallAfter))
	}
	if r.unclosed.Load() > 0 {
		// A failed worker's thread is still attached (maybe holding the
		// GIL or a runtime lock): the teardown would block on it.
		return wedged("no final check or leak count: a failed worker's thread is still attached")
	}

	// Counters, the final check and the teardown run on a helper goroutine
	// under the stall timeout: a runtime left wedged by a failure must not
	// hang the caller.
	r.errMu.Lock()
	failed := len(r.errs) > 0
	r.errMu.Unlock()
	type after struct {
		st          runtime.Stats
		gs          runtime.GILStats
		ws          runtime.WorldStats
		as          runtime.AllocatorStats
		collections int
		leaked      int
		byType      map[string]int
	}
	torn := make(chan after, 1)
	go func() {
		var a after
		defer func() { torn <- a }()
		a.st = rt.Stats()
		a.gs = rt.GILStats()
		a.ws = rt.WorldStats()
		a.collections = totalCollections(rt)
		if err := protect(-1, func() error { setupTh.Attach(); return nil }); err != nil {
			r.fail(fmt.Errorf("stress: teardown: %w", err))
			return
		}
		if err := protect(-1, func() error { a.as = setupTh.AllocatorStats(); return nil }); err != nil {
			r.fail(fmt.Errorf("stress: allocator statistics: %w", err))
		}
		fin := &final{th: setupTh, chk: &r.chk, totalOps: res.Ops, perOps: r.perOps, failed: failed}
		if err := protect(-1, func() error { r.st.finish(fin); return nil }); err != nil {
			r.fail(fmt.Errorf("stress: %s final check: %w", wl.name, err))
		}
		if err := protect(-1, func() error { _, err := setupTh.Collect(2); return err }); err != nil {
			r.fail(fmt.Errorf("stress: final collection: %w", err))
		}
		if err := protect(-1, func() error { setupTh.Close(); return nil }); err != nil {
			r.fail(fmt.Errorf("stress: teardown: %w", err))
		}
		removeCB()
		st := rt.Stats()
		a.leaked = st.Live - base.Live
		a.byType = diffByType(st.LiveByType, base.LiveByType)
		var err error
		if perr := protect(-1, func() error { err = rt.Close(); return nil }); perr != nil {
			err = perr
		}
		if err != nil {
			var le *runtime.LeakError
			if errors.As(err, &le) {
				if le.Live-base.Live > a.leaked {
					a.leaked = le.Live - base.Live
					a.byType = diffByType(le.ByType, base.LiveByType)
				}
			} else {
				r.fail(fmt.Errorf("stress: runtime Close: %w", err))
			}
		}
	}()
	var a after
	select {
	case a = <-torn:
	case <-time.After(stallAfter):
		return wedged(fmt.Sprintf("the final check and teardown did not finish within %v", stallAfter))
	}
	res.Allocated = a.st.Allocated - base2.Allocated
	res.Freed = a.st.Freed - base2.Freed
	res.QueuedMerges = a.st.QueuedMerges - base2.QueuedMerges
	res.LockContended = a.st.LockContended - base2.LockContended
	res.LockParked = a.st.LockParked - base2.LockParked
	res.ListReadsLockFree = a.st.ListReadsLockFree - base2.ListReadsLockFree
	res.ListReadsFellBack = a.st.ListReadsFellBack - base2.ListReadsFellBack
	res.PeakLive = max(peak, a.st.Live) - base.Live
	res.GILSwitches = a.gs.Switches - gilBase.Switches
	res.ForcedSwitches = a.gs.ForcedSwitches - gilBase.ForcedSwitches
	res.DropRequests = a.gs.DropRequests - gilBase.DropRequests
	res.GILWait = a.gs.TotalWait - gilBase.TotalWait
	res.WorldStops = a.ws.Stops - worldBase.Stops
	res.Parks = a.ws.Parks - worldBase.Parks
	res.Parked = a.ws.Parked - worldBase.Parked
	res.MaxPark = a.ws.MaxPark
	res.GCCollections = a.collections - gcBase
	res.HeapBytesReserved = a.as.BytesReserved
	res.HeapBytesInUse = a.as.BytesInUse
	res.RemoteFrees = a.as.RemoteFrees
	res.FreeListed = a.as.FreeListed
	res.HugePages = !cfg.NoHugePages
	res.AbandonedPages = a.as.Abandoned
	res.AdoptedPages = a.as.Adopted
	res.Leaked, res.LeakedByType = a.leaked, a.byType
	res.Violations, res.ViolationSamples = r.chk.result()
	r.errMu.Lock()
	res.Err = errors.Join(r.errs...)
	r.errMu.Unlock()
	return res
}

func diffByType(after, before map[string]int) map[string]int {
	var d map[string]int
	for k, v := range after {
		if v -= before[k]; v != 0 {
			if d == nil {
				d = make(map[string]int)
			}
			d[k] = v
		}
	}
	for k, v := range before {
		if _, ok := after[k]; !ok && v != 0 {
			if d == nil {
				d = make(map[string]int)
			}
			d[k] = -v
		}
	}
	return d
}

// work is one worker's goroutine.
func (r *run) work(w *Worker) (err error) {
	var lp loop
	defer func() {
		if p := recover(); p != nil {
			err = &PanicError{Worker: w.ID, Value: p, Stack: stack()}
		}
		if err != nil {
			r.fail(err)
			if a, ok := lp.(abandoner); ok {
				_ = protect(w.ID, func() error { a.abandon(w); return nil })
			}
			w.closeThread()
		}
	}()
	ready := false
	defer func() {
		if !ready {
			r.readyCh <- struct{}{} // never leave the starter waiting
		}
	}()

	if r.onSetup {
		w.Th = r.setupTh
		w.Th.Attach()
	} else {
		w.Th = r.rt.NewThread()
	}
	lp, err = r.st.start(w)
	if err != nil {
		return fmt.Errorf("stress: worker %d start: %w", w.ID, err)
	}
	w.Th.Detach()
	ready = true
	r.readyCh <- struct{}{}
	select {
	case <-r.startCh:
	case <-r.stopCh:
	}
	w.Th.Attach()

	batch := max(r.wl.batch, 1)
	target := uint64(r.cfg.Ops)
	var ops uint64
	counter := &r.counts[w.ID].v
loop:
	for !r.stop.Load() {
		b := uint64(batch)
		if target > 0 {
			if ops >= target {
				break
			}
			b = min(b, target-ops)
		}
		for range b {
			if err := lp.step(w); err != nil {
				if errors.Is(err, errStopped) {
					break loop
				}
				return fmt.Errorf("stress: worker %d op %d: %w", w.ID, ops, err)
			}
			ops++
		}
		w.Th.Checkpoint()
		counter.Store(ops)
	}
	r.ends[w.ID] = time.Now()
	r.cpuEnds[w.ID] = cputime.Process()
	r.perOps[w.ID] = ops
	counter.Store(ops)
	r.finished.Add(1)
	if err := lp.stop(w); err != nil {
		return fmt.Errorf("stress: worker %d stop: %w", w.ID, err)
	}
	if w.onSetup() {
		w.Th.Detach() // the final check attaches it again
	} else {
		w.Th.Close() // if it panics, the failure path tries once more
	}
	w.Th = nil
	return nil
}

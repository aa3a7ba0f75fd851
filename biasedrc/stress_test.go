package biasedrc

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/nogil-lab/nogil/internal/invariants"
	"github.com/stretchr/testify/require"
)

// The random-interleaving test. Goroutines act as registered threads (own
// ThreadID, own merge queue, polling Pending and draining); they create
// objects, copy and drop references, pass them to each other through
// channels, take references through TryInc on any object ever created
// (dead ones included), and exit at different rounds while others still
// hold references to their objects. An atomic oracle per object counts the
// references the threads hold.
//
// At the end of every round all threads stop (a barrier: the happens-before
// edge that lets the checker read the owners' plain local parts, as a
// stop-the-world would); the checker drains every live queue and then
// requires, for every object, Value == oracle, deaths == 1 exactly when the
// oracle is 0 (and 0 otherwise), and local >= 1 while owned. The dead
// callback requires that the oracle is 0 and that it is the first death.

type stressWorld struct {
	t   *testing.T
	s   Strategy
	reg *Registry[*obj]
	gil sync.Mutex // Plain: the GIL every operation holds

	mu     sync.Mutex
	objs   []*obj // every object ever created
	nextID atomic.Int64

	threads []*stressThread

	// How often each path ran, to show that the run exercised it.
	mustQueue, drained, tryOK, tryRefused atomic.Int64
}

type stressThread struct {
	w    *stressWorld
	id   ThreadID
	q    *Queue[*obj] // Biased only
	rng  *rand.Rand
	held []*obj // the references this thread holds, one entry each

	inboxMu sync.Mutex
	closed  bool
	inbox   chan *obj

	exitRound int
}

func (w *stressWorld) dead(o *obj) {
	if n := o.deaths.Add(1); n != 1 {
		w.t.Errorf("%v: object %d reported dead %d times", w.s, o.id, n)
	}
	if n := o.truth.Load(); n != 0 {
		w.t.Errorf("%v: object %d reported dead while the threads hold %d references", w.s, o.id, n)
	}
}

func (th *stressThread) inc(o *obj) {
	o.truth.Add(1)
	switch th.w.s {
	case Plain:
		o.rc.IncPlain()
	case Atomic:
		o.rc.IncAtomic()
	case Biased:
		o.rc.IncBiased(th.id)
	}
}

func (th *stressThread) dec(o *obj) {
	w := th.w
	o.truth.Add(-1)
	var out Outcome
	switch w.s {
	case Plain:
		out = o.rc.DecPlain()
	case Atomic:
		out = o.rc.DecAtomic()
	case Biased:
		// Half the drops the runtime's way (DecBiasedNoCall, then the
		// call its rest asks for), half DecBiased's.
		if th.rng.IntN(2) == 0 {
			out = decNoCall(&o.rc, th.id)
		} else {
			out = o.rc.DecBiased(th.id)
		}
		if out == MustQueue {
			w.mustQueue.Add(1)
			out = w.reg.Enqueue(o.rc.Owner(), o)
		}
	}
	switch out {
	case Alive:
	case Dead:
		w.dead(o)
	default:
		w.t.Errorf("%v: thread %d dropping object %d: %v", w.s, th.id, o.id, out)
	}
}

func (th *stressThread) tryInc(o *obj) bool {
	switch th.w.s {
	case Atomic:
		return o.rc.TryIncAtomic()
	case Biased:
		return o.rc.TryIncBiased(th.id)
	}
	return false
}

// trySend hands a reference to th; false when th has exited or its inbox is full.
func (th *stressThread) trySend(o *obj) bool {
	th.inboxMu.Lock()
	defer th.inboxMu.Unlock()
	if th.closed {
		return false
	}
	select {
	case th.inbox <- o:
		return true
	default:
		return false
	}
}

func (th *stressThread) take(i int) *obj {
	o := th.held[i]
	last := len(th.held) - 1
	th.held[i] = th.held[last]
	th.held[last] = nil
	th.held = th.held[:last]
	return o
}

func (th *stressThread) op() {
	w := th.w
	if w.s == Plain {
		w.gil.Lock()
		defer w.gil.Unlock()
	}
	r := th.rng.IntN(100)
	if len(th.held) == 0 || (len(th.held) > 64 && r < 40) {
		r = 0 // create when empty; shrink when large
		if len(th.held) > 64 {
			r = 30
		}
	}
	switch {
	case r < 6: // create
		o := &obj{id: int(w.nextID.Add(1))}
		o.rc.Init(w.s, th.id)
		o.truth.Store(1)
		th.held = append(th.held, o)
		w.mu.Lock()
		w.objs = append(w.objs, o)
		w.mu.Unlock()
	case r < 26: // copy a reference
		o := th.held[th.rng.IntN(len(th.held))]
		th.inc(o)
		th.held = append(th.held, o)
	case r < 50: // drop a reference
		th.dec(th.take(th.rng.IntN(len(th.held))))
	case r < 65: // pass a reference to another thread
		i := th.rng.IntN(len(th.held))
		peer := w.threads[th.rng.IntN(len(w.threads))]
		if peer != th && peer.trySend(th.held[i]) {
			th.take(i)
		}
	case r < 75: // receive references
		th.receive(4)
	case r < 85: // try-incref any object ever created, dead or alive
		if w.s == Plain {
			return
		}
		w.mu.Lock()
		o := w.objs[th.rng.IntN(len(w.objs))]
		w.mu.Unlock()
		if !th.tryInc(o) {
			w.tryRefused.Add(1)
		} else {
			w.tryOK.Add(1)
			o.truth.Add(1)
			if o.deaths.Load() != 0 {
				w.t.Errorf("%v: TryInc took a reference to dead object %d", w.s, o.id)
			}
			th.held = append(th.held, o)
		}
	case r < 90: // a weak reference may now point at it
		if w.s != Plain {
			th.held[th.rng.IntN(len(th.held))].rc.MarkMaybeWeakref()
		}
	default: // safe point
		th.poll()
	}
}

func (th *stressThread) receive(max int) {
	for range max {
		select {
		case o := <-th.inbox:
			th.held = append(th.held, o)
		default:
			return
		}
	}
}

func (th *stressThread) poll() {
	if th.q != nil && th.q.Pending() {
		th.w.drained.Add(int64(th.q.Drain(th.w.dead)))
	}
}

// exit closes the inbox, gives every reference it holds to a thread that
// has not exited (or drops it), and deregisters.
func (th *stressThread) exit() {
	w := th.w
	th.inboxMu.Lock()
	th.closed = true
	th.inboxMu.Unlock()
	th.receive(cap(th.inbox))
	if w.s == Plain {
		w.gil.Lock()
	}
	for len(th.held) > 0 {
		o := th.take(len(th.held) - 1)
		peer := w.threads[th.rng.IntN(len(w.threads))]
		if peer == th || !peer.trySend(o) {
			th.dec(o)
		}
	}
	if w.s == Plain {
		w.gil.Unlock()
	}
	if th.q != nil {
		w.drained.Add(int64(w.reg.Deregister(th.q, nil, w.dead)))
	}
}

// check runs with every thread stopped.
func (w *stressWorld) check(round int, final bool) {
	t := w.t
	for _, th := range w.threads {
		if th.exitRound > round && th.q != nil {
			w.drained.Add(int64(th.q.Drain(w.dead))) // the checker has stopped the world
		}
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	alive := 0
	for _, o := range w.objs {
		truth := o.truth.Load()
		require.GreaterOrEqual(t, truth, int64(0), "object %d", o.id)
		require.Equal(t, truth, o.rc.Value(w.s), "%v round %d: object %d", w.s, round, o.id)
		if truth == 0 {
			require.Equal(t, int32(1), o.deaths.Load(), "%v round %d: object %d", w.s, round, o.id)
		} else {
			alive++
			require.Zero(t, o.deaths.Load(), "%v round %d: object %d", w.s, round, o.id)
			if w.s == Biased && o.rc.Owner() != Unowned {
				require.GreaterOrEqual(t, o.rc.LocalUnsynchronized(), uint32(1), "object %d", o.id)
			}
		}
	}
	if final {
		require.Zero(t, alive, "%v: objects alive after every thread exited", w.s)
	}
}

func runStress(t *testing.T, s Strategy, seed uint64) {
	const threads, rounds = 6, 5
	ops := invariants.Scale(20000, 8)
	w := &stressWorld{t: t, s: s}
	if s == Biased {
		w.reg = NewRegistry(countOf)
	}
	rng := rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))
	for i := range threads {
		th := &stressThread{
			w:     w,
			id:    ThreadID(i + 1),
			rng:   rand.New(rand.NewPCG(seed, uint64(i))),
			inbox: make(chan *obj, 64),
			// Two threads leave early, one in the middle, the rest at the end.
			exitRound: []int{1, 2, rounds / 2, rounds, rounds, rounds}[i],
		}
		if s == Biased {
			th.q = w.reg.Register(th.id)
		}
		w.threads = append(w.threads, th)
	}
	rng.Shuffle(len(w.threads), func(i, j int) {
		w.threads[i].exitRound, w.threads[j].exitRound = w.threads[j].exitRound, w.threads[i].exitRound
	})
	arrive := make([]sync.WaitGroup, rounds)
	release := make([]chan struct{}, rounds)
	for r := range rounds {
		release[r] = make(chan struct{})
		for _, th := range w.threads {
			if th.exitRound >= r {
				arrive[r].Add(1)
			}
		}
	}
	var all sync.WaitGroup
	for _, th := range w.threads {
		all.Go(func() {
			for r := range rounds {
				if r == th.exitRound {
					th.exit()
					arrive[r].Done()
					return
				}
				for range ops {
					th.op()
				}
				arrive[r].Done()
				<-release[r]
			}
			th.exit()
		})
	}
	for r := range rounds {
		arrive[r].Wait()
		if !t.Failed() {
			w.check(r, false)
		}
		close(release[r])
	}
	all.Wait()
	w.check(rounds, true)
	require.Greater(t, len(w.objs), threads)
	direct := w.mustQueue.Load() - w.drained.Load()
	t.Logf("%d objects; must-queue %d, drained %d, merged directly %d; try-inc %d taken, %d refused",
		len(w.objs), w.mustQueue.Load(), w.drained.Load(), direct, w.tryOK.Load(), w.tryRefused.Load())
	if s != Plain {
		require.Positive(t, w.tryOK.Load())
		require.Positive(t, w.tryRefused.Load())
	}
	if s == Biased {
		require.Positive(t, w.drained.Load())
		require.Positive(t, direct, "no reference was merged directly after its owner exited")
	}
}

func TestStressOracle(t *testing.T) {
	for _, s := range []Strategy{Plain, Atomic, Biased} {
		for seed := range uint64(3) {
			t.Run(fmt.Sprintf("strategy=%v/seed=%d", s, seed), func(t *testing.T) {
				runStress(t, s, seed)
			})
		}
	}
}

package runtime

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/nogil-lab/nogil/biasedrc"
	"github.com/nogil-lab/nogil/gc"
	"github.com/nogil-lab/nogil/gil"
	"github.com/nogil-lab/nogil/internal/cacheline"
)

// Runtime is one object world: a mode, its types and immortal objects, its
// threads, its collector.
type Runtime struct {
	cfg      Config
	mode     Mode
	strategy biasedrc.Strategy
	// gil is the global interpreter lock (GIL mode only).
	gil *gil.GIL
	// brc holds the merge queues of biased counting (free-threaded, Biased).
	brc       *biasedrc.Registry[*Object]
	collector *gc.Collector
	gcAPI     GC
	// dyingList holds young objects a pause found with no references: they
	// are being destroyed by a thread other than their young list's owner
	// and are kept out of every collection. A shared list: Mu.
	dyingList gc.List

	// The allocator: size classes with per-thread heaps (free-threaded)
	// or pymalloc pools (GIL; protected by the GIL).
	classes *classes
	pools   *pools
	// freeLists are GIL mode's free lists (freelist.go). Protected by the
	// GIL; nil in free-threaded mode, where each thread has its own.
	freeLists *freeLists

	// gcDone is broadcast, under gcDoneMu, after every collection, for the
	// threads that wait for one to end (Thread.mustAssist).
	gcDoneMu sync.Mutex
	gcDone   sync.Cond

	t builtins
	// typesMu protects types (NewType may run on any thread).
	typesMu sync.Mutex
	types   []*Type

	// Immortal objects. Written by New, read-only afterwards.
	none, trueObj, falseObj *Object
	smallInts               [smallIntMax - smallIntMin + 1]*Object
	garbage                 *Object

	// internMu protects interned.
	internMu sync.Mutex
	interned map[string]*Object

	// worldMu protects threads, the thread states' slow paths and
	// retired; worldCond is signalled whenever a thread detaches, parks
	// or leaves while a stop is requested, and when the world restarts.
	worldMu   sync.Mutex
	worldCond sync.Cond
	threads   []*Thread
	retired   counters     // statistics of closed threads
	orphans   []*youngList // young lists of closed threads, until the next pause
	// spares are allocator state of closed free-threaded threads, kept
	// for the next new ones (threadspare.go).
	spares []threadSpare
	_      cacheline.Pad
	// stopRequested is set while a thread stops the world. Atomic: every
	// attached thread polls it at its safe points.
	stopRequested atomic.Bool
	_             cacheline.Pad
	// world counts stop-the-worlds and the parks they cost (WorldStats).
	// Atomic: written by stoppers and parked threads, rarely.
	world worldCounters
	// locksContended and locksParked count per-object lock acquisitions
	// that found the lock held, and those that blocked (Stats). Atomic;
	// written on the lock's slow path only.
	locksContended, locksParked atomic.Uint64
	_                           cacheline.Pad

	// weakStripes protect the weak-reference lists of objects, striped by
	// the referent's address (CPython's WEAKREF_LIST_LOCK). Free-threaded
	// mode only.
	weakStripes [weakStripeCount]paddedMutex

	closed atomic.Bool
}

type paddedMutex struct {
	sync.Mutex
	_ [cacheline.Size - 8]byte
}

const weakStripeCount = 64

var nextThreadID atomic.Uint64

// newThreadID returns an id no thread of any runtime has had.
func newThreadID() biasedrc.ThreadID { return biasedrc.ThreadID(nextThreadID.Add(1)) }

// New creates a runtime. An invalid configuration gives an error wrapping
// ErrValue.
func New(cfg Config) (*Runtime, error) {
	cfg, err := cfg.validate()
	if err != nil {
		return nil, err
	}
	rt := &Runtime{cfg: cfg, mode: cfg.Mode, interned: make(map[string]*Object)}
	rt.worldCond.L = &rt.worldMu
	rt.gcDone.L = &rt.gcDoneMu
	switch {
	case cfg.Mode == GIL:
		rt.strategy = biasedrc.Plain
		rt.gil = gil.New(cfg.SwitchInterval)
	case cfg.RefCounting == Atomic:
		rt.strategy = biasedrc.Atomic
	default:
		rt.strategy = biasedrc.Biased
		rt.brc = biasedrc.NewRegistry(func(o *Object) *biasedrc.Count { return &o.rc })
	}
	rt.collector = gc.New(cfg.GCThresholds)
	if cfg.GCDisabled {
		rt.collector.Disable()
	}
	rt.gcAPI.rt = rt
	rt.dyingList.Init(0)
	rt.initAllocator()
	if rt.mode == GIL {
		rt.freeLists = newFreeLists(rt.freeListsOn())
	}
	rt.initBuiltins()
	rt.initImmortals()
	return rt, nil
}

func (rt *Runtime) initImmortals() {
	rt.none = &Object{typ: rt.t.none}
	rt.none.rc.InitImmortal()
	rt.trueObj = rt.newImmortalInt(rt.t.boolean, 1)
	rt.falseObj = rt.newImmortalInt(rt.t.boolean, 0)
	for i := range rt.smallInts {
		rt.smallInts[i] = rt.newImmortalInt(rt.t.integer, int64(i)+smallIntMin)
	}
	g := &listObject{}
	g.typ = rt.t.list
	g.rc.InitImmortal()
	rt.garbage = &g.Object
}

func (rt *Runtime) newImmortalInt(t *Type, v int64) *Object {
	o := &intObject{v: v}
	o.typ = t
	o.rc.InitImmortal()
	return &o.Object
}

// Mode returns the runtime's mode.
func (rt *Runtime) Mode() Mode { return rt.mode }

// Config returns the configuration the runtime was created with, defaults
// filled in.
func (rt *Runtime) Config() Config { return rt.cfg }

// None, True and False are immortal: their counts are never written.
func (rt *Runtime) None() *Object  { return rt.none }
func (rt *Runtime) True() *Object  { return rt.trueObj }
func (rt *Runtime) False() *Object { return rt.falseObj }

// Bool returns True or False.
func (rt *Runtime) Bool(b bool) *Object {
	if b {
		return rt.trueObj
	}
	return rt.falseObj
}

func (rt *Runtime) checkOpen() {
	if rt.closed.Load() {
		misuse("use of a closed runtime")
	}
}

// ErrThreadsOpen is wrapped by the error Close returns when threads are
// still open.
var ErrThreadsOpen = errors.New("threads still open")

// Close shuts the runtime down. Every thread must have been closed: if one
// is still open Close returns an error wrapping ErrThreadsOpen at once and
// the runtime stays usable. Otherwise it runs a full collection (which,
// as CPython's at shutdown, calls no gc callbacks) and returns a
// *LeakError if objects are still alive. Close starts no
// goroutine and leaves none behind; a second Close returns an error.
func (rt *Runtime) Close() error {
	rt.worldMu.Lock()
	open := len(rt.threads)
	rt.worldMu.Unlock()
	if open > 0 {
		return fmt.Errorf("nogil: Close with %d thread(s) still open: %w", open, ErrThreadsOpen)
	}
	if rt.closed.Load() {
		return errors.New("nogil: Close of a runtime that is already closed")
	}
	// The shutdown collection calls no gc callbacks (CPython's
	// _Py_GC_REASON_SHUTDOWN).
	th := rt.NewThread()
	th.collectFor(gc.NumGenerations-1, true)
	th.Close()
	if !rt.closed.CompareAndSwap(false, true) {
		return errors.New("nogil: Close of a runtime that is already closed")
	}
	st := rt.Stats()
	if st.Live != 0 {
		return &LeakError{Live: st.Live, ByType: st.LiveByType}
	}
	return nil
}

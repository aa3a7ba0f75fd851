package runtime

import (
	"math"
	"sync"
	"sync/atomic"

	"github.com/nogil-lab/nogil/biasedrc"
	"github.com/nogil-lab/nogil/internal/cacheline"
)

// objectMutex is the per-object lock of free-threaded mode (CPython's
// PyMutex in ob_mutex): one word in the object, 0 unlocked, 1 locked,
// 2 locked with waiters. An uncontended lock and unlock are one CAS each;
// waiters park on a condition variable in a table hashed by the lock's
// address (CPython's parking lot), so the object carries no queue.
//
// Critical sections in this package are short and flat: they never call
// user code, never reach a safe point and never take a second lock except
// through lockTwo, which takes both in address order. So no lock is held
// while a thread detaches or parks for a stopped world, and no lock order
// can deadlock (CPython needs to suspend critical sections on detach for
// the general case; nogil rules it out by construction).
type objectMutex struct {
	state atomic.Uint32
}

const (
	mutexUnlocked uint32 = iota
	mutexLocked
	mutexContended
)

type parkingBucket struct {
	mu   sync.Mutex
	cond sync.Cond
	_    [cacheline.Size - 16]byte
}

const parkingBuckets = 64

var parkingLot = func() *[parkingBuckets]parkingBucket {
	var lot [parkingBuckets]parkingBucket
	for i := range lot {
		lot[i].cond.L = &lot[i].mu
	}
	return &lot
}()

func (m *objectMutex) bucket() *parkingBucket {
	return &parkingLot[mutexHash(m)%parkingBuckets]
}

// lock takes o's lock: one CAS when it is free.
func (o *Object) lock() {
	if o.mu.state.CompareAndSwap(mutexUnlocked, mutexLocked) {
		return
	}
	o.lockSlow()
}

// lockSlow waits for o's lock, then counts the contention in the
// runtime's statistics (Stats: LockContended, LockParked): atomics, but
// only on this path, which has just waited anyway.
func (o *Object) lockSlow() {
	parked := o.mu.wait()
	rt := o.typ.rt
	rt.locksContended.Add(1)
	if parked {
		rt.locksParked.Add(1)
	}
}

// wait takes a lock that was held when lock looked, and reports whether
// it had to block rather than win it while spinning.
func (m *objectMutex) wait() (parked bool) {
	// Spin briefly: critical sections are a few dozen instructions.
	for i := 0; i < 64; i++ {
		if m.state.Load() == mutexUnlocked && m.state.CompareAndSwap(mutexUnlocked, mutexLocked) {
			return false
		}
	}
	b := m.bucket()
	b.mu.Lock()
	for {
		// Mark the lock contended; if it was free, we own it (contended,
		// which costs the next unlock a wake-up it may not need).
		if m.state.Swap(mutexContended) == mutexUnlocked {
			b.mu.Unlock()
			return parked
		}
		parked = true
		b.cond.Wait()
	}
}

// unlock releases the lock: one CAS when nobody waits (CPython's
// PyMutex_Unlock makes the same one). That path inlines into the callers:
// a call to it cost 14 instructions per unlock, two per list-contention op.
func (m *objectMutex) unlock() {
	if !m.state.CompareAndSwap(mutexLocked, mutexUnlocked) {
		m.unlockSlow()
	}
}

// unlockSlow releases a lock that has waiters and wakes them, or panics on
// a lock that is not held. Only the holder writes the state while it is
// locked (waiters only turn locked into contended), so the swap sees
// contended or, on misuse, unlocked.
func (m *objectMutex) unlockSlow() {
	if m.state.Swap(mutexUnlocked) != mutexContended {
		misuse("unlock of an object that is not locked")
	}
	b := m.bucket()
	b.mu.Lock()
	b.cond.Broadcast()
	b.mu.Unlock()
}

// lockObject locks o in free-threaded mode; in GIL mode the GIL already
// makes the operation atomic. Like needsLock, the mode test inlines and
// GIL mode makes no call.
func (th *Thread) lockObject(o *Object) {
	if th.rt.mode == FreeThreaded {
		lockFT(o)
	}
}

// lockFT is o.lock out of line, so that lockObject fits the inlining
// budget.
//
//go:noinline
func lockFT(o *Object) { o.lock() }

func (th *Thread) unlockObject(o *Object) {
	if th.rt.mode == FreeThreaded {
		unlockFT(o)
	}
}

// unlockFT is o's unlock out of line, for unlockObject's budget as
// lockFT is for lockObject's.
//
//go:noinline
func unlockFT(o *Object) { o.mu.unlock() }

// needsLock reports whether th must take o's lock for an operation on o
// alone; the caller then locks (o.lock) and unlocks with unlockShared. It
// answers no in GIL mode, which never locks an object, and when the
// calling thread holds the only reference to o, which under biased
// counting it can tell from o's count (biasedrc.Count.UniqueTo; CPython's
// free-threaded build skips critical sections the same way,
// _PyObject_IsUniquelyReferenced): then no other thread can reach o or
// make a reference to it until this thread publishes one, which the
// operation does not do. A fresh object being filled in — an instance's
// first attributes, a new dict's first keys — costs no atomic
// read-modify-write then. An atomic count has no owner (its owner word is
// biasedrc's Unowned, which no thread's id is), so ft-atomic always locks.
//
// It inlines, with no call; the caller locks, as
//
//	locked := false
//	if th.needsLock(o) {
//		o.lock()
//		locked = true
//	}
//
// (in that shape GIL mode's path is one test, as before). The lockShared
// it replaces decided and locked, which the inlining budget allowed only
// as a call to an out-of-line part: 17 instructions per unlocked answer.
// Callgrind, ft instructions per op: list-contention (three list
// operations) 909 -> 880, create-dict 2,052 -> 2,012, create-objects
// 1,187 -> 1,169, shared-read 231 -> 221; GIL mode's unchanged.
func (th *Thread) needsLock(o *Object) bool {
	return th.rt.mode == FreeThreaded && !o.rc.UniqueTo(th.lockID)
}

// neverUnique is a lockID that no object's owner word holds (thread ids
// count up from 1; Unowned and the immortal owner are the two ends), so
// that a thread with it locks every object it operates on.
const neverUnique = biasedrc.ThreadID(math.MaxUint64 - 1)

func (th *Thread) unlockShared(o *Object, locked bool) {
	if locked {
		o.mu.unlock()
	}
}

// lockTwo locks two objects in address order (CPython's
// Py_BEGIN_CRITICAL_SECTION2), once if they are the same.
func (th *Thread) lockTwo(a, b *Object) {
	if th.rt.mode == FreeThreaded {
		lockTwoFT(a, b)
	}
}

// lockTwoFT is lockTwo in free-threaded mode.
func lockTwoFT(a, b *Object) {
	if a == b {
		a.lock()
		return
	}
	if addressOf(a) > addressOf(b) {
		a, b = b, a
	}
	a.lock()
	b.lock()
}

func (th *Thread) unlockTwo(a, b *Object) {
	if th.rt.mode == FreeThreaded {
		unlockTwoFT(a, b)
	}
}

// unlockTwoFT is unlockTwo in free-threaded mode.
func unlockTwoFT(a, b *Object) {
	a.mu.unlock()
	if a != b {
		b.mu.unlock()
	}
}

package runtime

import (
	"sync"
	"sync/atomic"

	"github.com/nogil-lab/nogil/internal/cacheline"
)

// objectMutex is the per-object lock of free-threaded mode (CPython's
// PyMutex in ob_mutex): one word in the object, 0 unlocked, 1 locked,
// 2 locked with waiters. An uncontended lock and unlock are one CAS and one
// swap; waiters park on a condition variable in a table hashed by the
// lock's address (CPython's parking lot), so the object carries no queue.
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

// tryLock takes the lock if it is free: the uncontended path, one CAS.
func (m *objectMutex) tryLock() bool {
	return m.state.CompareAndSwap(mutexUnlocked, mutexLocked)
}

// lockSlow takes a lock that was held when tryLock looked, and reports
// whether it had to block (rather than win it while spinning).
func (m *objectMutex) lockSlow() (parked bool) {
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

// lock takes m for th, counting contention in th's statistics (Stats:
// LockContended, LockParked) on the slow path only.
func (th *Thread) lock(m *objectMutex) {
	if !m.tryLock() {
		th.stats.countLockContended(m.lockSlow())
	}
}

func (m *objectMutex) unlock() {
	switch m.state.Swap(mutexUnlocked) {
	case mutexLocked:
		return
	case mutexContended:
		b := m.bucket()
		b.mu.Lock()
		b.cond.Broadcast()
		b.mu.Unlock()
	default:
		misuse("unlock of an object that is not locked")
	}
}

// lockObject locks o in free-threaded mode; in GIL mode the GIL already
// makes the operation atomic.
func (th *Thread) lockObject(o *Object) {
	if th.rt.mode == FreeThreaded {
		th.lock(&o.mu)
	}
}

func (th *Thread) unlockObject(o *Object) {
	if th.rt.mode == FreeThreaded {
		o.mu.unlock()
	}
}

// lockTwo locks two objects in address order (CPython's
// Py_BEGIN_CRITICAL_SECTION2), once if they are the same.
func (th *Thread) lockTwo(a, b *Object) {
	if th.rt.mode != FreeThreaded {
		return
	}
	if a == b {
		th.lock(&a.mu)
		return
	}
	if addressOf(a) > addressOf(b) {
		a, b = b, a
	}
	th.lock(&a.mu)
	th.lock(&b.mu)
}

func (th *Thread) unlockTwo(a, b *Object) {
	if th.rt.mode != FreeThreaded {
		return
	}
	a.mu.unlock()
	if a != b {
		b.mu.unlock()
	}
}

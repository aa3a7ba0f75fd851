package biasedrc

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
)

// FuzzOps runs operation sequences on a few objects by a few simulated
// threads, one operation at a time, against a model that knows only who
// holds which references and which merge queue holds which entries. Each
// pair of bytes is one operation: the first picks the kind, the second the
// thread, the object and (for a hand-over) the receiving thread.
func FuzzOps(f *testing.F) {
	for _, seed := range [][]byte{
		{},
		{0, 0, 1, 0},                   // inc, dec by the owner
		{0, 0, 2, 9, 1, 1, 5, 0},       // inc, give to B, B drops (queued), A drains
		{0, 0, 2, 9, 6, 0, 1, 1},       // inc, give to B, A exits, B drops (merged directly)
		{4, 0, 3, 1, 1, 0, 1, 1, 3, 2}, // weak, try-inc by B, owner drops, B drops, try-inc refused
		{0, 0, 0, 0, 2, 9, 2, 18, 1, 1, 1, 2, 5, 0, 1, 0, 7, 0}, // a queued word going negative
		{3, 1, 8, 0, 1, 0, 7, 0, 3, 1},                          // try-inc refused, explicit merge, death, reuse, refused
		{0, 3, 2, 12, 0, 6, 2, 15, 6, 0, 1, 4, 1, 7, 5, 3},      // mixed
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 2000 {
			data = data[:2000]
		}
		m := newFuzzModel(t)
		for i := 0; i+1 < len(data); i += 2 {
			m.step(i/2, data[i], data[i+1])
			m.check(i / 2)
		}
		m.finish()
	})
}

const (
	fuzzThreads = 3 // ids 1..3
	fuzzObjs    = 3
)

// fuzzAt names the operation being checked; require formats it only when
// an assertion fails.
type fuzzAt struct {
	op   int
	kind byte
	th   ThreadID
	slot int
}

func (a fuzzAt) String() string {
	return fmt.Sprintf("op %d: kind %d by thread %d on slot %d", a.op, a.kind, a.th, a.slot)
}

type fuzzAfter struct{ op, slot int }

func (a fuzzAfter) String() string { return fmt.Sprintf("after op %d, slot %d", a.op, a.slot) }

type fuzzSlot struct {
	o      *obj
	dead   bool
	queued int // merge-queue entries holding a reference
	state  State
}

type fuzzModel struct {
	t      *testing.T
	reg    *Registry[*obj]
	queues [fuzzThreads + 1]*Queue[*obj]
	live   [fuzzThreads + 1]bool
	qmodel [fuzzThreads + 1][]int // slot of each queued entry
	holds  [fuzzThreads + 1][fuzzObjs]int
	slots  [fuzzObjs]fuzzSlot
	nextID int
	died   []*obj // Dead reports of the current operation
	at     fuzzAt
}

func newFuzzModel(t *testing.T) *fuzzModel {
	m := &fuzzModel{t: t, reg: NewRegistry(countOf)}
	for id := ThreadID(1); id <= fuzzThreads; id++ {
		m.queues[id] = m.reg.Register(id)
		m.live[id] = true
	}
	for s := range m.slots {
		m.create(s, ThreadID(s%fuzzThreads+1))
	}
	return m
}

func (m *fuzzModel) create(s int, owner ThreadID) {
	m.nextID++
	o := &obj{id: m.nextID}
	o.rc.Init(Biased, owner)
	m.slots[s] = fuzzSlot{o: o}
	m.holds[owner][s] = 1
}

func (m *fuzzModel) total(s int) int {
	n := m.slots[s].queued
	for th := range m.holds {
		n += m.holds[th][s]
	}
	return n
}

func (m *fuzzModel) dead(o *obj) { m.died = append(m.died, o) }

// settle checks the Dead reports of one operation against the model:
// exactly the slots whose count reached zero, each once.
func (m *fuzzModel) settle() {
	msg := m.at
	t := m.t
	for s := range m.slots {
		sl := &m.slots[s]
		if sl.dead || m.total(s) != 0 {
			continue
		}
		sl.dead = true
		n := 0
		for _, o := range m.died {
			if o == sl.o {
				n++
			}
		}
		require.Equal(t, 1, n, "%s: object in slot %d must be reported dead once", msg, s)
	}
	for _, o := range m.died {
		found := false
		for s := range m.slots {
			found = found || (m.slots[s].o == o && m.slots[s].dead)
		}
		require.True(t, found, "%s: object %d reported dead while referenced", msg, o.id)
		require.Equal(t, int32(0), o.deaths.Swap(1), "%s: object %d reported dead twice", msg, o.id)
	}
	m.died = m.died[:0]
}

func (m *fuzzModel) drop(th ThreadID, s int) {
	msg := m.at
	t := m.t
	sl := &m.slots[s]
	m.holds[th][s]--
	out := sl.o.rc.DecBiased(th)
	switch out {
	case Dead:
		m.dead(sl.o)
	case Alive:
	case MustQueue:
		owner := sl.o.rc.Owner()
		pushed := owner != Unowned && m.live[owner]
		got := m.reg.Enqueue(owner, sl.o)
		if pushed {
			require.Equal(t, Alive, got, msg)
			sl.queued++
			m.qmodel[owner] = append(m.qmodel[owner], s)
		} else if got == Dead {
			m.dead(sl.o)
		}
	default:
		require.Failf(t, "unexpected outcome", "%s: %v", msg, out)
	}
}

func (m *fuzzModel) drain(th ThreadID, n int) {
	msg := m.at
	require.Equal(m.t, len(m.qmodel[th]), n, "%s: entries drained", msg)
	for _, s := range m.qmodel[th] {
		m.slots[s].queued--
	}
	m.qmodel[th] = m.qmodel[th][:0]
}

func (m *fuzzModel) step(i int, kind, arg byte) {
	t := m.t
	th := ThreadID(arg%fuzzThreads + 1)
	s := int(arg/fuzzThreads) % fuzzObjs
	peer := ThreadID(arg/(fuzzThreads*fuzzObjs)%fuzzThreads + 1)
	if !m.live[th] {
		return
	}
	sl := &m.slots[s]
	held := m.holds[th][s] > 0
	m.at = fuzzAt{op: i, kind: kind % 9, th: th, slot: s}
	msg := m.at
	switch kind % 9 {
	case 0: // copy a reference
		if held {
			sl.o.rc.IncBiased(th)
			m.holds[th][s]++
		}
	case 1: // drop a reference
		if held {
			m.drop(th, s)
		}
	case 2: // hand a reference to another live thread
		if held && peer != th && m.live[peer] {
			m.holds[th][s]--
			m.holds[peer][s]++
		}
	case 3: // try-incref, held or not, dead or alive
		before := sl.o.rc.shared.Load()
		owned := sl.o.rc.Owner() == th
		ok := sl.o.rc.TryIncBiased(th)
		switch {
		case sl.dead:
			require.False(t, ok, "%s: try-inc took a dead object", msg)
		case owned:
			require.True(t, ok, "%s: the owner's try-inc", msg)
		default:
			require.Equal(t, before != 0 && before != int64(StateMerged), ok, "%s: shared word %#x", msg, before)
		}
		if ok {
			m.holds[th][s]++
		}
	case 4: // a weak reference may point at it
		if held {
			sl.o.rc.MarkMaybeWeakref()
		}
	case 5: // safe point: drain
		m.drain(th, m.queues[th].Drain(m.dead))
	case 6: // exit: hand every reference to the next live thread, deregister
		heir := ThreadID(0)
		for d := ThreadID(1); d < fuzzThreads; d++ {
			if c := (th-1+d)%fuzzThreads + 1; m.live[c] {
				heir = c
				break
			}
		}
		if heir == 0 {
			return // the last live thread stays
		}
		for x := range m.slots {
			m.holds[heir][x] += m.holds[th][x]
			m.holds[th][x] = 0
		}
		m.live[th] = false
		m.drain(th, m.reg.Deregister(m.queues[th], nil, m.dead))
		require.False(t, m.reg.Registered(th), msg)
	case 7: // reuse a dead slot
		if sl.dead {
			m.create(s, th)
		}
	case 8: // explicit merge (sequential: the world is stopped)
		if held {
			n, out := sl.o.rc.Merge(0)
			require.Equal(t, int64(m.total(s)), n, msg)
			require.Equal(t, Alive, out, msg)
		}
	}
	m.settle()
}

func (m *fuzzModel) check(i int) {
	t := m.t
	for s := range m.slots {
		sl := &m.slots[s]
		c := &sl.o.rc
		msg := fuzzAfter{op: i, slot: s}
		st := c.SharedState()
		require.GreaterOrEqual(t, st, sl.state, "%s: state went down", msg)
		sl.state = st
		if sl.dead {
			require.Zero(t, c.Value(Biased), msg)
			continue
		}
		require.Equal(t, int64(m.total(s)), c.Value(Biased), msg)
		if owner := c.Owner(); owner != Unowned {
			require.GreaterOrEqual(t, c.LocalUnsynchronized(), uint32(1), "%s: owned with local 0", msg)
		} else {
			require.Equal(t, StateMerged, st, "%s: unowned but not merged", msg)
			require.Zero(t, c.LocalUnsynchronized(), msg)
		}
	}
	for th := ThreadID(1); th <= fuzzThreads; th++ {
		if m.live[th] {
			require.Equal(t, len(m.qmodel[th]), m.queues[th].Len(), "after op %d: queue of thread %d", i, th)
		}
	}
}

// finish drops every reference still held, drains, and requires that every
// object died.
func (m *fuzzModel) finish() {
	for th := ThreadID(1); th <= fuzzThreads; th++ {
		for s := range m.slots {
			for m.holds[th][s] > 0 {
				m.at = fuzzAt{op: -1, th: th, slot: s}
				m.drop(th, s)
				m.settle()
			}
		}
	}
	for th := ThreadID(1); th <= fuzzThreads; th++ {
		if m.live[th] {
			m.at = fuzzAt{op: -1, kind: 6, th: th}
			m.drain(th, m.reg.Deregister(m.queues[th], nil, m.dead))
			m.settle()
		}
	}
	for s := range m.slots {
		require.True(m.t, m.slots[s].dead, "slot %d still alive at the end", s)
		require.Equal(m.t, int32(1), m.slots[s].o.deaths.Load())
	}
}

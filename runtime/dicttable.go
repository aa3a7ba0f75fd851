package runtime

import "github.com/nogil-lab/nogil/mimallocish"

// dictTable is an insertion-ordered hash table (CPython's compact dict):
// entries in insertion order, and an open-addressing index of entry
// positions. A deleted entry keeps its place with a nil key until the next
// resize compacts the entries.
//
// A table with the smallest index (up to smallEntries keys, the commonest
// dicts) keeps both in one allocator slot, smallTable, as CPython keeps a
// PyDictKeysObject's index and entries in one block: such a dict costs no
// allocation from Go's heap. Larger tables come from Go's heap.
// Invariant: cap(entries) is 0, smallEntries (a smallTable slot: the
// struct begins at the entries' first element) or larger (Go's heap).
type dictTable struct {
	entries []dictEntry
	index   []int32 // slotEmpty, slotDeleted, or a position in entries
	used    int     // live entries
}

type dictEntry struct {
	hash       uint64
	key, value *Object
}

const (
	slotEmpty    = -1
	slotDeleted  = -2
	minIndex     = 8
	smallEntries = minIndex * 2 / 3
)

// smallTable is the storage of a table with the smallest index.
type smallTable struct {
	entries [smallEntries]dictEntry // first: see dictTable
	index   [minIndex]int32
	slot    mimallocish.SlotID
}

func (th *Thread) newSmallTable() ([]dictEntry, []int32) {
	var st *smallTable
	var id mimallocish.SlotID
	if p := th.pools; p != nil {
		st, id = p.smallTables.Alloc()
	} else {
		st, id = th.heaps.smallTables.Alloc()
	}
	st.slot = id
	return st.entries[:0], st.index[:]
}

// freeTable gives t's storage back and empties t. Its keys and values must
// have been dropped or moved.
func (th *Thread) freeTable(t *dictTable) {
	if cap(t.entries) == smallEntries {
		id := smallTableOf(t.entries).slot
		if p := th.pools; p != nil {
			p.smallTables.Free(id)
		} else {
			th.heaps.smallTables.Free(id)
		}
	}
	*t = dictTable{}
}

func (t *dictTable) len() int { return t.used }

// lookup returns the index slot and entry position of key, or the first
// free slot and -1.
func (t *dictTable) lookup(key *Object, hash uint64) (slot int, pos int) {
	if len(t.index) == 0 {
		return -1, -1
	}
	mask := uint64(len(t.index) - 1)
	i := hash & mask
	free := -1
	perturb := hash
	for {
		switch p := t.index[i]; p {
		case slotEmpty:
			if free < 0 {
				free = int(i)
			}
			return free, -1
		case slotDeleted:
			if free < 0 {
				free = int(i)
			}
		default:
			e := &t.entries[p]
			if e.hash == hash && (e.key == key || equal(e.key, key)) {
				return int(i), int(p)
			}
		}
		perturb >>= 5
		i = (i*5 + 1 + perturb) & mask
	}
}

// get returns the value of key, or nil.
func (t *dictTable) get(key *Object, hash uint64) *Object {
	if _, pos := t.lookup(key, hash); pos >= 0 {
		return t.entries[pos].value
	}
	return nil
}

// set stores value under key. It returns the previous value (nil if the key
// is new) and whether the table kept key (a new key: the caller's key
// reference now belongs to the table).
// th's allocator provides the storage of a smallest table.
func (t *dictTable) set(th *Thread, key *Object, hash uint64, value *Object) (old *Object, keptKey bool) {
	if len(t.entries)+1 > len(t.index)*2/3 {
		t.resize(th)
	}
	slot, pos := t.lookup(key, hash)
	if pos >= 0 {
		old = t.entries[pos].value
		t.entries[pos].value = value
		return old, false
	}
	t.index[slot] = int32(len(t.entries))
	t.entries = append(t.entries, dictEntry{hash: hash, key: key, value: value})
	t.used++
	return nil, true
}

// del removes key and returns its key and value (nil if missing).
func (t *dictTable) del(key *Object, hash uint64) (k, v *Object) {
	slot, pos := t.lookup(key, hash)
	if pos < 0 {
		return nil, nil
	}
	e := &t.entries[pos]
	k, v = e.key, e.value
	*e = dictEntry{}
	t.index[slot] = slotDeleted
	t.used--
	return k, v
}

// resize rebuilds the index for the live entries, compacting them.
func (t *dictTable) resize(th *Thread) {
	n := minIndex
	for n*2/3 < t.used*2+1 {
		n *= 2
	}
	var live []dictEntry
	var index []int32
	if n == minIndex {
		live, index = th.newSmallTable()
	} else {
		live, index = make([]dictEntry, 0, n*2/3), make([]int32, n)
	}
	for _, e := range t.entries {
		if e.key != nil {
			live = append(live, e)
		}
	}
	used := t.used
	th.freeTable(t)
	t.entries, t.index, t.used = live, index, used
	for i := range t.index {
		t.index[i] = slotEmpty
	}
	mask := uint64(n - 1)
	for p, e := range live {
		i := e.hash & mask
		perturb := e.hash
		for t.index[i] != slotEmpty {
			perturb >>= 5
			i = (i*5 + 1 + perturb) & mask
		}
		t.index[i] = int32(p)
	}
}

// each calls fn for every live entry in insertion order.
func (t *dictTable) each(fn func(k, v *Object)) {
	for _, e := range t.entries {
		if e.key != nil {
			fn(e.key, e.value)
		}
	}
}

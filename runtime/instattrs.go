package runtime

import (
	"sync"
	"sync/atomic"

	"github.com/nogil-lab/nogil/gc"
)

// An instance's attributes: names shared by the type, values in the
// instance (CPython's split-keys dictionaries, PEP 412, and the inline
// values of 3.11+).
//
//  1. Each instance type keeps one append-only table of attribute names,
//     its shared keys. The first time any instance of the type gets an
//     attribute, its name takes the next index; indexes never change.
//  2. An instance keeps the value of shared key i in values[i] when i <
//     inlineAttrs, otherwise in more.values[i-inlineAttrs]; nil is "no
//     such attribute" (never set, or deleted).
//  3. A type's table stops growing at maxSharedKeys names (CPython's
//     SHARED_KEYS_MAX_SIZE); a name that finds it full is kept by each
//     instance with its value, in more.named.
//
// Why: the values sit in the instance's own slot, in the cache lines the
// collector already reads to reach the instance, so traversing or clearing
// an instance with a few attributes costs no miss beyond the instance
// (before, an attribute array in a slot of its own was one more miss per
// instance per pass: B6, B11), creating one allocates nothing beside it,
// and the 128-byte instance has no padding left to waste.
//
// Invariants: a type's table is never modified after it is published (a
// new name publishes a copy), so a thread that loaded one can search it
// without a lock; an instance's values, more and named are protected by
// its lock in free-threaded mode, by the GIL otherwise, like a list's
// items.

const (
	// inlineAttrs values fit in the instance's 128-byte slot.
	inlineAttrs = 5
	// maxSharedKeys bounds a type's table: CPython's SHARED_KEYS_MAX_SIZE.
	maxSharedKeys = 30
	// linearKeys is the longest table searched by comparing every name;
	// longer ones carry an index.
	linearKeys = 8
)

// sharedKeys is an instance type's table of attribute names.
type sharedKeys struct {
	// mu serializes the addition of names. Lock order: after an
	// instance's lock is never needed (names are added before it is
	// taken).
	mu sync.Mutex
	// table is the current snapshot. Atomic; a published attrKeys is
	// immutable.
	table atomic.Pointer[attrKeys]
	// inline is how many of an instance's inline slots any instance of
	// the type can have used: min(len(names), inlineAttrs). The collector
	// traverses only those (CPython's _PyObject_VisitInstanceAttributes
	// visits the shared keys' dk_nentries values the same way): for a type
	// with two attributes that is two slots of five. Atomic; stored
	// before the table that grew it, and a value is stored in a slot only
	// after its index was handed out, so whoever sees a slot's value (the
	// collector, in a stopped world or under the GIL) sees the count that
	// covers it.
	inline atomic.Int32
}

type attrKeys struct {
	names []string
	index map[string]int // nil while len(names) <= linearKeys
}

func (k *attrKeys) find(name string) int {
	if k == nil {
		return -1
	}
	if k.index != nil {
		if i, ok := k.index[name]; ok {
			return i
		}
		return -1
	}
	for i, n := range k.names {
		if n == name {
			return i
		}
	}
	return -1
}

// lookup returns the index of name, or -1 if the type has not seen it.
func (s *sharedKeys) lookup(name string) int { return s.table.Load().find(name) }

// lookupOrAdd returns the index of name, giving it the next one if the
// type has not seen it; -1 when the table is full.
func (s *sharedKeys) lookupOrAdd(name string) int {
	if i := s.lookup(name); i >= 0 {
		return i
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.table.Load()
	if i := old.find(name); i >= 0 {
		return i // added meanwhile
	}
	var names []string
	if old != nil {
		names = old.names
	}
	if len(names) >= maxSharedKeys {
		return -1
	}
	k := &attrKeys{names: append(names[:len(names):len(names)], name)}
	if len(k.names) > linearKeys {
		k.index = make(map[string]int, len(k.names))
		for i, n := range k.names {
			k.index[n] = i
		}
	}
	s.inline.Store(int32(min(len(k.names), inlineAttrs)))
	s.table.Store(k)
	return len(k.names) - 1
}

// moreAttrs holds what does not fit in an instance: values of shared keys
// from inlineAttrs on, and attributes whose names the type's table had no
// room for. From Go's heap: only instances with many attributes have one.
type moreAttrs struct {
	values []*Object
	named  []attr
}

type attr struct {
	name  string
	value *Object
}

// getAttr returns the value of the attribute with shared index k (or,
// when k < 0, with that name among the instance's own), or nil. Called
// under the instance's lock.
func (inst *instanceObject) getAttr(k int, name string) *Object {
	if k >= 0 && k < inlineAttrs {
		return inst.values[k]
	}
	m := inst.more
	if m == nil {
		return nil
	}
	if k >= 0 {
		if k -= inlineAttrs; k < len(m.values) {
			return m.values[k]
		}
		return nil
	}
	if i := m.findNamed(name); i >= 0 {
		return m.named[i].value
	}
	return nil
}

// setAttr stores v as the attribute (see getAttr) and returns the value
// it replaces, or nil. Called under the instance's lock.
func (inst *instanceObject) setAttr(k int, name string, v *Object) (old *Object) {
	if k >= 0 && k < inlineAttrs {
		old, inst.values[k] = inst.values[k], v
		return old
	}
	if inst.more == nil {
		inst.more = new(moreAttrs)
	}
	m := inst.more
	if k >= 0 {
		k -= inlineAttrs
		if k >= len(m.values) {
			m.values = append(m.values, make([]*Object, k+1-len(m.values))...)
		}
		old, m.values[k] = m.values[k], v
		return old
	}
	if i := m.findNamed(name); i >= 0 {
		old, m.named[i].value = m.named[i].value, v
		return old
	}
	m.named = append(m.named, attr{name: name, value: v})
	return nil
}

// delAttr removes the attribute (see getAttr) and returns its value, or
// nil if it has none. Called under the instance's lock.
func (inst *instanceObject) delAttr(k int, name string) *Object {
	if k >= 0 {
		return inst.setAttr(k, name, nil)
	}
	m := inst.more
	if m == nil {
		return nil
	}
	i := m.findNamed(name)
	if i < 0 {
		return nil
	}
	old := m.named[i].value
	n := len(m.named)
	copy(m.named[i:], m.named[i+1:])
	m.named[n-1] = attr{}
	m.named = m.named[:n-1]
	return old
}

func (m *moreAttrs) findNamed(name string) int {
	for i := range m.named {
		if m.named[i].name == name {
			return i
		}
	}
	return -1
}

func (m *moreAttrs) appendTo(buf []*Object) []*Object {
	for _, v := range m.values {
		if v != nil {
			buf = append(buf, v)
		}
	}
	for i := range m.named {
		buf = append(buf, m.named[i].value)
	}
	return buf
}

// appendReferents is the collector's traversal of the attributes kept in
// m (see collectEnv.Referents).
func (m *moreAttrs) appendReferents(buf []*gc.Header) []*gc.Header {
	for _, v := range m.values {
		if v != nil {
			buf = appendReferent(buf, v)
		}
	}
	for i := range m.named {
		buf = appendReferent(buf, m.named[i].value)
	}
	return buf
}

// subtractReferents is the collector's subtraction over the attributes
// kept in m (see collectEnv.Subtract).
func (m *moreAttrs) subtractReferents(s *gc.Subtraction, open bool) bool {
	for _, v := range m.values {
		if v != nil && !(v.typ.kind.container() && s.Visit(&asContainer(v).gc)) {
			open = open || leadsOut(v)
		}
	}
	for i := range m.named {
		if v := m.named[i].value; !(v.typ.kind.container() && s.Visit(&asContainer(v).gc)) {
			open = open || leadsOut(v)
		}
	}
	return open
}

// takeAttrs appends every attribute value of inst to buf and leaves inst
// with none; the caller owns the references it took.
func (inst *instanceObject) takeAttrs(buf []*Object) []*Object {
	// Written out, as in collectEnv.Referents: a loop over the five slots
	// cost twice the instructions, on the path of every instance the
	// collector frees.
	used := inst.typ.attrKeys.inline.Load() // see sharedKeys.inline
	if used > 0 {
		if v := inst.values[0]; v != nil {
			buf = append(buf, v)
			inst.values[0] = nil
		}
		if used > 1 {
			if v := inst.values[1]; v != nil {
				buf = append(buf, v)
				inst.values[1] = nil
			}
			if used > 2 {
				if v := inst.values[2]; v != nil {
					buf = append(buf, v)
					inst.values[2] = nil
				}
				if used > 3 {
					if v := inst.values[3]; v != nil {
						buf = append(buf, v)
						inst.values[3] = nil
					}
					if used > 4 {
						if v := inst.values[4]; v != nil {
							buf = append(buf, v)
							inst.values[4] = nil
						}
					}
				}
			}
		}
	}
	if m := inst.more; m != nil {
		inst.more = nil
		buf = m.appendTo(buf)
	}
	return buf
}

// clearAttrs leaves inst with no attributes, dropping its references
// without counting them (the collector's Free).
func (inst *instanceObject) clearAttrs() {
	inst.values = [inlineAttrs]*Object{}
	inst.more = nil
}

// releaseAttrs drops every attribute of a dying instance, the last set
// first: released objects that die wait on the work list, which is
// drained from its end, so they die in the order the attributes were
// first set (CPython's _PyObject_FreeInstanceAttributes).
func (th *Thread) releaseAttrs(inst *instanceObject) {
	if m := inst.more; m != nil {
		inst.more = nil
		for i := len(m.named) - 1; i >= 0; i-- {
			th.release(m.named[i].value)
		}
		for i := len(m.values) - 1; i >= 0; i-- {
			if v := m.values[i]; v != nil {
				th.release(v)
			}
		}
	}
	// Written out, as in takeAttrs: on the path of every instance's death
	// (a loop cost create-objects 11 instructions per op).
	switch inst.typ.attrKeys.inline.Load() { // see sharedKeys.inline
	case 5:
		th.releaseAttr(inst, 4)
		fallthrough
	case 4:
		th.releaseAttr(inst, 3)
		fallthrough
	case 3:
		th.releaseAttr(inst, 2)
		fallthrough
	case 2:
		th.releaseAttr(inst, 1)
		fallthrough
	case 1:
		th.releaseAttr(inst, 0)
	}
}

// releaseAttrs's switch is written for five inline slots.
var _ = [1]int{}[inlineAttrs-5]

// releaseAttr drops inline attribute i of a dying instance, if set.
func (th *Thread) releaseAttr(inst *instanceObject, i int) {
	if v := inst.values[i]; v != nil {
		inst.values[i] = nil
		th.release(v)
	}
}

package runtime

import "github.com/nogil-lab/nogil/mimallocish"

// An instance's attributes live in an array beside it (like a __dict__'s
// entries). Up to smallAttrs of them fit in one allocator slot, attrs4, so
// instances with a few attributes — the common case — cost no allocation
// from Go's heap; more attributes move to an array from Go's heap.
// Invariant: cap(inst.attrs) is 0, smallAttrs (an attrs4 slot: the struct
// begins at the array's first element) or larger (Go's heap); only the
// functions in this file assign a new array.

const smallAttrs = 4

type attrs4 struct {
	a    [smallAttrs]attr // first: see above
	slot mimallocish.SlotID
}

// addAttr appends a new attribute. Called under the instance's lock.
func (th *Thread) addAttr(inst *instanceObject, a attr) {
	if len(inst.attrs) == cap(inst.attrs) {
		th.growAttrs(inst)
	}
	inst.attrs = append(inst.attrs, a)
}

func (th *Thread) growAttrs(inst *instanceObject) {
	old := inst.attrs
	var grown []attr
	if cap(old) == 0 {
		var o *attrs4
		var id mimallocish.SlotID
		if p := th.pools; p != nil {
			o, id = p.attrs.Alloc()
		} else {
			o, id = th.heaps.attrs.Alloc()
		}
		o.slot = id
		grown = o.a[:0]
	} else {
		grown = make([]attr, len(old), 2*cap(old))
		copy(grown, old)
	}
	th.freeAttrs(old)
	inst.attrs = grown
}

// freeAttrs gives an attribute array back; its values must have been
// dropped or moved. No clearing first, as for freeItems.
func (th *Thread) freeAttrs(a []attr) {
	if cap(a) != smallAttrs {
		return // none, or Go's heap
	}
	id := attrs4Of(a).slot
	if p := th.pools; p != nil {
		p.attrs.Free(id)
	} else {
		th.heaps.attrs.Free(id)
	}
}

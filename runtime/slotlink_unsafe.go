package runtime

import "unsafe"

// Offsets of Object.slot inside each object struct (and of the slot field
// of the item-array and dict-table structs), for the allocator's
// constructors (alloc.go): while a slot is free, mimallocish threads its
// free list through this field. The runtime writes slot right after Alloc
// and reads it only before Free, so the allocator may use it in between;
// it is a uint32 (no pointer), so the link never hides a pointer from Go's
// GC. Every object embeds Object first, so the offsets are all the same,
// but each is computed from its own struct.
var (
	intSlotLink      = unsafe.Offsetof(intObject{}.slot)
	floatSlotLink    = unsafe.Offsetof(floatObject{}.slot)
	strSlotLink      = unsafe.Offsetof(strObject{}.slot)
	tupleSlotLink    = unsafe.Offsetof(tupleObject{}.slot)
	listSlotLink     = unsafe.Offsetof(listObject{}.slot)
	dictSlotLink     = unsafe.Offsetof(dictObject{}.slot)
	instanceSlotLink = unsafe.Offsetof(instanceObject{}.slot)
	weakrefSlotLink  = unsafe.Offsetof(weakrefObject{}.slot)

	// Item arrays and small dict tables keep their SlotID after the data.
	items4SlotLink     = unsafe.Offsetof(items4{}.slot)
	items8SlotLink     = unsafe.Offsetof(items8{}.slot)
	items16SlotLink    = unsafe.Offsetof(items16{}.slot)
	smallTableSlotLink = unsafe.Offsetof(smallTable{}.slot)
)

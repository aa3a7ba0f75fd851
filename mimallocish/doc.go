// Package mimallocish will hold the allocators of the two modes: per-thread
// mimalloc-style heaps with sharded free lists (free, local_free and an atomic
// thread_free per page) for free-threaded mode, and global pymalloc-style
// arenas and pools for GIL mode. Memory stays Go-managed: a block is a slot in
// a typed page.
package mimallocish

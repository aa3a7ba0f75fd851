#include "textflag.h"

// func lines(p unsafe.Pointer, n int)
//
// p points at n > 0 pointers; each one's line is prefetched (PREFETCHT0
// never faults, so nil and stale pointers are harmless). Only the n words
// at p are loaded.
TEXT ·lines(SB), NOSPLIT|NOFRAME, $0-16
	MOVQ	p+0(FP), SI
	MOVQ	n+8(FP), CX
loop:
	MOVQ	(SI), AX
	PREFETCHT0	(AX)
	ADDQ	$8, SI
	DECQ	CX
	JNZ	loop
	RET

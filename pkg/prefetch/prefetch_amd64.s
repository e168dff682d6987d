#include "textflag.h"

// func Range(p unsafe.Pointer, n uintptr)
// Issues PREFETCHT0 for every 64-byte line of [p, p+n).
TEXT ·Range(SB), NOSPLIT, $0-16
	MOVQ p+0(FP), AX
	MOVQ n+8(FP), CX
	ADDQ AX, CX
loop:
	CMPQ AX, CX
	JAE  done
	PREFETCHT0 (AX)
	ADDQ $64, AX
	JMP  loop
done:
	RET

// func Line(p unsafe.Pointer)
// Issues PREFETCHT0 for the line that holds p.
TEXT ·Line(SB), NOSPLIT, $0-8
	MOVQ p+0(FP), AX
	PREFETCHT0 (AX)
	RET

// func Lines2(p, q unsafe.Pointer)
// Issues PREFETCHT0 for the lines that hold p and q.
TEXT ·Lines2(SB), NOSPLIT, $0-16
	MOVQ p+0(FP), AX
	MOVQ q+8(FP), CX
	PREFETCHT0 (AX)
	PREFETCHT0 (CX)
	RET

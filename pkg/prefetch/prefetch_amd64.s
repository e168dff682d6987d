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

// func Lines8(p *[8]unsafe.Pointer)
// Issues PREFETCHT0 for the lines that hold p[0] to p[7]: eight hints for
// the cost of one call.
TEXT ·Lines8(SB), NOSPLIT, $0-8
	MOVQ p+0(FP), AX
	MOVQ 0(AX), CX
	PREFETCHT0 (CX)
	MOVQ 8(AX), CX
	PREFETCHT0 (CX)
	MOVQ 16(AX), CX
	PREFETCHT0 (CX)
	MOVQ 24(AX), CX
	PREFETCHT0 (CX)
	MOVQ 32(AX), CX
	PREFETCHT0 (CX)
	MOVQ 40(AX), CX
	PREFETCHT0 (CX)
	MOVQ 48(AX), CX
	PREFETCHT0 (CX)
	MOVQ 56(AX), CX
	PREFETCHT0 (CX)
	RET

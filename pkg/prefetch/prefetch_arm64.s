#include "textflag.h"

// func Range(p unsafe.Pointer, n uintptr)
// Issues PRFM PLDL1KEEP for every 64-byte line of [p, p+n).
TEXT ·Range(SB), NOSPLIT, $0-16
	MOVD p+0(FP), R0
	MOVD n+8(FP), R1
	ADD  R0, R1, R1
loop:
	CMP  R1, R0
	BHS  done
	PRFM (R0), PLDL1KEEP
	ADD  $64, R0, R0
	B    loop
done:
	RET

// func Line(p unsafe.Pointer)
// Issues PRFM PLDL1KEEP for the line that holds p.
TEXT ·Line(SB), NOSPLIT, $0-8
	MOVD p+0(FP), R0
	PRFM (R0), PLDL1KEEP
	RET

// func Lines2(p, q unsafe.Pointer)
// Issues PRFM PLDL1KEEP for the lines that hold p and q.
TEXT ·Lines2(SB), NOSPLIT, $0-16
	MOVD p+0(FP), R0
	MOVD q+8(FP), R1
	PRFM (R0), PLDL1KEEP
	PRFM (R1), PLDL1KEEP
	RET

// func Lines8(p *[8]unsafe.Pointer)
// Issues PRFM PLDL1KEEP for the lines that hold p[0] to p[7]: eight hints
// for the cost of one call.
TEXT ·Lines8(SB), NOSPLIT, $0-8
	MOVD p+0(FP), R0
	LDP  0(R0), (R1, R2)
	PRFM (R1), PLDL1KEEP
	PRFM (R2), PLDL1KEEP
	LDP  16(R0), (R1, R2)
	PRFM (R1), PLDL1KEEP
	PRFM (R2), PLDL1KEEP
	LDP  32(R0), (R1, R2)
	PRFM (R1), PLDL1KEEP
	PRFM (R2), PLDL1KEEP
	LDP  48(R0), (R1, R2)
	PRFM (R1), PLDL1KEEP
	PRFM (R2), PLDL1KEEP
	RET

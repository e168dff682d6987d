#include "textflag.h"

// Four lanes of the standard library's amd64 Log (math/log_amd64.s), the
// same operations in the same order, so each lane's result is the same
// bits: the reduction x = 2^k·f1 with f1 in [√2/2, √2), f = f1 - 1,
// s = f/(2+f), the polynomial R in s², and
// k·Ln2Hi - ((hfsq - (s·(hfsq+R) + k·Ln2Lo)) - f) with hfsq = 0.5·f·f.
// The callers pass only positive normal numbers (vlog.go), so the special
// cases of the scalar code (zero, negative, infinite, NaN) never arise.
// k, a small integer, is made a double exactly by adding it to the bits
// of 1.5·2^52 and subtracting 1.5·2^52 as a double.

#define C4(name, bits) \
	DATA name<>+0(SB)/8, $bits \
	DATA name<>+8(SB)/8, $bits \
	DATA name<>+16(SB)/8, $bits \
	DATA name<>+24(SB)/8, $bits \
	GLOBL name<>(SB), RODATA|NOPTR, $32

C4(mant, 0x000FFFFFFFFFFFFF)
C4(half, 0x3FE0000000000000)   // 0.5
C4(expmask, 0x00000000000007FF)
C4(bias, 0x00000000000003FE)
C4(magic, 0x4338000000000000)  // 1.5·2^52
C4(hsqrt2, 0x3FE6A09E667F3BCD) // 7.07106781186547524401e-01
C4(one, 0x3FF0000000000000)
C4(two, 0x4000000000000000)
C4(ln2hi, 0x3FE62E42FEE00000)
C4(ln2lo, 0x3DEA39EF35793C76)
C4(l1, 0x3FE5555555555593)
C4(l2, 0x3FD999999997FA04)
C4(l3, 0x3FD2492494229359)
C4(l4, 0x3FCC71C51D8E78AF)
C4(l5, 0x3FC7466496CB03DE)
C4(l6, 0x3FC39A09D078C69F)
C4(l7, 0x3FC2F112DF3E5244)

// func logVector(dst, src []float64)
TEXT ·logVector(SB), NOSPLIT, $0-48
	MOVQ dst_base+0(FP), DI
	MOVQ src_base+24(FP), SI
	MOVQ src_len+32(FP), CX
	SHRQ $2, CX
	JZ   done

loop:
	VMOVUPD (SI), Y0
	// f1: the mantissa with the exponent of 0.5
	VANDPD  mant<>(SB), Y0, Y2
	VORPD   half<>(SB), Y2, Y2
	// k = exponent - 0x3FE, as a double
	VPSRLQ  $52, Y0, Y1
	VPAND   expmask<>(SB), Y1, Y1
	VPSUBQ  bias<>(SB), Y1, Y1
	VPADDQ  magic<>(SB), Y1, Y1
	VSUBPD  magic<>(SB), Y1, Y1
	// if !(√2/2 < f1) { k -= 1; f1 *= 2 } (the scalar code's cmpnlt)
	VCMPPD  $2, hsqrt2<>(SB), Y2, Y3 // f1 <= √2/2
	VANDPD  one<>(SB), Y3, Y3        // 0 or 1
	VSUBPD  Y3, Y1, Y1               // k -= 0 or 1
	VADDPD  one<>(SB), Y3, Y3        // 1 or 2
	VMULPD  Y3, Y2, Y2               // f1 *= 1 or 2
	// f = f1 - 1; s = f / (2 + f)
	VSUBPD  one<>(SB), Y2, Y2
	VADDPD  two<>(SB), Y2, Y4
	VDIVPD  Y4, Y2, Y3
	// s2, s4
	VMULPD  Y3, Y3, Y4
	VMULPD  Y4, Y4, Y5
	// t1 = s2 * (L1 + s4*(L3 + s4*(L5 + s4*L7)))
	VMULPD  l7<>(SB), Y5, Y6
	VADDPD  l5<>(SB), Y6, Y6
	VMULPD  Y5, Y6, Y6
	VADDPD  l3<>(SB), Y6, Y6
	VMULPD  Y5, Y6, Y6
	VADDPD  l1<>(SB), Y6, Y6
	VMULPD  Y6, Y4, Y4
	// t2 = s4 * (L2 + s4*(L4 + s4*L6))
	VMULPD  l6<>(SB), Y5, Y6
	VADDPD  l4<>(SB), Y6, Y6
	VMULPD  Y5, Y6, Y6
	VADDPD  l2<>(SB), Y6, Y6
	VMULPD  Y6, Y5, Y5
	// R = t1 + t2
	VADDPD  Y5, Y4, Y4
	// hfsq = 0.5 * f * f
	VMULPD  half<>(SB), Y2, Y0
	VMULPD  Y2, Y0, Y0
	// k*Ln2Hi - ((hfsq - (s*(hfsq+R) + k*Ln2Lo)) - f)
	VADDPD  Y0, Y4, Y4
	VMULPD  Y4, Y3, Y3
	VMULPD  ln2lo<>(SB), Y1, Y4
	VADDPD  Y4, Y3, Y3
	VSUBPD  Y3, Y0, Y0
	VSUBPD  Y2, Y0, Y0
	VMULPD  ln2hi<>(SB), Y1, Y1
	VSUBPD  Y0, Y1, Y1
	VMOVUPD Y1, (DI)

	ADDQ $32, SI
	ADDQ $32, DI
	DECQ CX
	JNZ  loop
	VZEROUPPER

done:
	RET

// Four lanes of the standard library's amd64 Exp (math/exp_amd64.s) on
// its FMA path (taken when the CPU has AVX and FMA, as it must for this
// code to run: vlog_amd64.go), the same operations in the same order: k =
// round(x·log2 e) (CVTSD2SL's rounding, the MXCSR's), x - k·ln2 in two
// fused steps, a Taylor series of exp(x/16) squared four times, and the
// scaling by 2^k. The callers pass only |x| ≤ 700 (vlog.go), so k stays
// within the normal exponents and the scalar code's overflow, underflow
// and subnormal branches never arise.

C4(log2e, 0x3FF71547652B82FE)
C4(ln2u, 0x3FE62E42FEFA3000)
C4(ln2l, 0x3D53DE6AF278ECE6)
C4(sixteenth, 0x3FB0000000000000) // 0.0625
C4(e2, 0x3FE0000000000000)        // 0.5
C4(e3, 0x3FC5555555555555)        // 1/6
C4(e4, 0x3FA5555555555555)        // 1/24
C4(e5, 0x3F81111111111111)        // 1/120
C4(e6, 0x3F56C16C16C16C17)        // 1/720
C4(e7, 0x3F2A01A01A01A01A)        // 1/5040
C4(e8, 0x3EFA01A01A01A01A)        // 1/40320
C4(bias1023, 0x00000000000003FF)

// func expVector(dst, src []float64)
TEXT ·expVector(SB), NOSPLIT, $0-48
	MOVQ dst_base+0(FP), DI
	MOVQ src_base+24(FP), SI
	MOVQ src_len+32(FP), CX
	SHRQ $2, CX
	JZ   expdone

exploop:
	VMOVUPD (SI), Y0
	// k = round(x·log2 e), as int32 (X7) and as double (Y1)
	VMULPD     log2e<>(SB), Y0, Y1
	VCVTPD2DQY Y1, X7
	VCVTDQ2PD  X7, Y1
	// x -= k·ln2, upper then lower half, fused
	VFNMADD231PD ln2u<>(SB), Y1, Y0
	VFNMADD231PD ln2l<>(SB), Y1, Y0
	VMULPD       sixteenth<>(SB), Y0, Y0
	// p = ((((((e8·x + e7)·x + e6)·x + e5)·x + e4)·x + e3)·x + 0.5)·x + 1
	VMOVUPD     e8<>(SB), Y1
	VFMADD213PD e7<>(SB), Y0, Y1
	VFMADD213PD e6<>(SB), Y0, Y1
	VFMADD213PD e5<>(SB), Y0, Y1
	VFMADD213PD e4<>(SB), Y0, Y1
	VFMADD213PD e3<>(SB), Y0, Y1
	VFMADD213PD e2<>(SB), Y0, Y1
	VFMADD213PD one<>(SB), Y0, Y1
	// y = x·p, then y = y·(y + 2) three times and y·(y + 2) + 1 fused
	VMULPD      Y1, Y0, Y0
	VADDPD      two<>(SB), Y0, Y1
	VMULPD      Y1, Y0, Y0
	VADDPD      two<>(SB), Y0, Y1
	VMULPD      Y1, Y0, Y0
	VADDPD      two<>(SB), Y0, Y1
	VMULPD      Y1, Y0, Y0
	VADDPD      two<>(SB), Y0, Y1
	VFMADD213PD one<>(SB), Y1, Y0
	// times 2^k: the bits (k + 1023) << 52
	VPMOVSXDQ X7, Y2
	VPADDQ    bias1023<>(SB), Y2, Y2
	VPSLLQ    $52, Y2, Y2
	VMULPD    Y2, Y0, Y0
	VMOVUPD   Y0, (DI)

	ADDQ $32, SI
	ADDQ $32, DI
	DECQ CX
	JNZ  exploop
	VZEROUPPER

expdone:
	RET

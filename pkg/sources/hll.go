package sources

import (
	"math"
	"math/bits"
)

// hllBits sets a HyperLogLog's registers (2^hllBits): with 1,024 the
// standard error is 1.04/sqrt(1024) = 3.3 %, so ±10 % holds three standard
// errors out (Flajolet et al., "HyperLogLog: the analysis of a
// near-optimal cardinality estimation algorithm", 2007).
const (
	hllBits = 10
	hllRegs = 1 << hllBits
)

// hllReg are the registers, 4 bits each, two a byte (a rank past 15 is
// kept as 15: one register in 30 at ten million, a bias under 0.1 %), so
// 512 bytes: a SYN touches one cache line of them.
type hllReg [hllRegs / 2]uint8

// hllSum is kept beside the registers as they change: the sum of
// 2^-register and the count of empty registers, so an estimate costs no
// walk (the outbound-scanner check may ask for one on every SYN). The sum
// is of powers of two no smaller than 2^-15, at most 1,024 of them, so
// float64 holds it exactly and runs are byte-identical. It is apart from
// the registers so a wide entry can keep it in its first cache line.
type hllSum struct {
	zeros int32
	inv   float64
}

// hll is a HyperLogLog in one piece (the port counts).
type hll struct {
	hllSum
	reg hllReg
}

func (h *hll) reset()             { h.hllSum.reset(&h.reg) }
func (h *hll) add(x uint32) bool  { return h.hllSum.add(&h.reg, x) }
func (s *hllSum) reset(r *hllReg) { *r, s.zeros, s.inv = hllReg{}, hllRegs, hllRegs }

// pow2neg[r] is 2^-r.
var pow2neg = func() (p [16]float64) {
	for r := range p {
		p[r] = math.Ldexp(1, -r)
	}
	return
}()

// add notes a hash and reports whether a register changed (the count may
// have grown).
func (s *hllSum) add(reg *hllReg, x uint32) bool {
	j := x >> (32 - hllBits)
	r := min(uint8(bits.LeadingZeros32(x<<hllBits|1<<(hllBits-1)))+1, 15)
	sh := j & 1 * 4
	old := reg[j>>1] >> sh & 15
	if r <= old {
		return false
	}
	if old == 0 {
		s.zeros--
	}
	s.inv += pow2neg[r] - pow2neg[old]
	reg[j>>1] = reg[j>>1]&^(15<<sh) | r<<sh
	return true
}

// estimate is the count: linear counting while registers are empty enough
// (it is exact-ish there), the harmonic mean beyond.
func (s *hllSum) estimate() int {
	const m = float64(hllRegs)
	e := 0.7213 / (1 + 1.079/m) * m * m / s.inv
	if e <= 2.5*m && s.zeros > 0 {
		e = m * math.Log(m/float64(s.zeros))
	}
	return int(math.Round(e))
}

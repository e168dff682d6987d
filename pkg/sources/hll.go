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

// hll counts distinct 32-bit hashes. It keeps the sum of 2^-register and
// the count of empty registers as registers change, so an estimate costs
// no walk over the registers: the outbound-scanner check may ask for one on
// every SYN. The sum is of powers of two no smaller than 2^-23, at most
// 1,024 of them, so float64 holds it exactly and runs are byte-identical.
type hll struct {
	reg   [hllRegs]uint8
	zeros int32
	inv   float64
}

// pow2neg[r] is 2^-r.
var pow2neg = func() (p [34]float64) {
	for r := range p {
		p[r] = math.Ldexp(1, -r)
	}
	return
}()

func (h *hll) reset() {
	h.reg = [hllRegs]uint8{}
	h.zeros, h.inv = hllRegs, hllRegs
}

// add notes a hash and reports whether a register changed (the count may
// have grown).
func (h *hll) add(x uint32) bool {
	j := x >> (32 - hllBits)
	r := uint8(bits.LeadingZeros32(x<<hllBits|1<<(hllBits-1))) + 1
	old := h.reg[j]
	if r <= old {
		return false
	}
	if old == 0 {
		h.zeros--
	}
	h.inv += pow2neg[r] - pow2neg[old]
	h.reg[j] = r
	return true
}

// estimate is the count: linear counting while registers are empty enough
// (it is exact-ish there), the harmonic mean beyond.
func (h *hll) estimate() int {
	const m = float64(hllRegs)
	e := 0.7213 / (1 + 1.079/m) * m * m / h.inv
	if e <= 2.5*m && h.zeros > 0 {
		e = m * math.Log(m/float64(h.zeros))
	}
	return int(math.Round(e))
}

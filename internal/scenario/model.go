package scenario

import (
	"math"
	"math/rand/v2"
	"time"
)

const (
	nsPerHour = float64(time.Hour)
	nsPerDay  = int64(24 * time.Hour)
	// peakOffset is the time of day of the day/night maximum (14:00 UTC).
	peakOffset = int64(14 * time.Hour)
)

// rateModel evaluates the expected infection rate (new sources per hour) of
// a normalized Config. t is nanoseconds since the Unix epoch.
type rateModel struct {
	model    Model
	start    int64
	rate0    float64
	r        float64 // growth (decay) constant per hour: ln2 / doubling
	capacity float64
	i0       float64 // logistic: infections at Start implied by rate0
	peakT    int64   // logistic: instant of the maximum rate (I = K/2)
	dayNight float64
	// a steady rate's step, and a burst (steady model only)
	stepAt, burstFrom, burstTo int64
	stepRate, burstRate        float64
	// exponential: the plateau's rate (0: none); steady: an outbreak on top
	ceiling                 float64
	outbreakAt              int64
	outbreakRate, outbreakR float64
}

func newRateModel(c Config) rateModel {
	m := rateModel{model: c.Model, start: c.Start.UnixNano(), rate0: c.Rate0, dayNight: c.DayNight}
	m.stepAt, m.stepRate = math.MaxInt64, c.Rate0
	if c.StepAt > 0 {
		m.stepAt, m.stepRate = m.start+int64(c.StepAt), c.StepRate
	}
	if c.BurstCount > 0 {
		m.burstFrom = m.start + int64(c.BurstAt)
		m.burstTo = m.burstFrom + int64(c.Window)
		m.burstRate = float64(c.BurstCount) / (float64(c.Window) / nsPerHour)
	}
	if c.Doubling > 0 {
		m.r = math.Ln2 / (float64(c.Doubling) / nsPerHour)
	}
	m.ceiling = c.Ceiling
	if c.OutbreakRate > 0 && c.OutbreakDoubling > 0 {
		m.outbreakAt, m.outbreakRate = m.start+int64(c.OutbreakAt), c.OutbreakRate
		m.outbreakR = math.Ln2 / (float64(c.OutbreakDoubling) / nsPerHour)
	}
	if c.Model == ModelLogistic && m.r > 0 {
		m.capacity = float64(c.Capacity)
		m.i0 = c.Rate0 / m.r
		if m.i0 > 0 && m.i0 < m.capacity/2 {
			hours := math.Log(m.capacity/m.i0-1) / m.r
			m.peakT = m.start + int64(hours*nsPerHour)
		} else {
			m.peakT = m.start
		}
	}
	return m
}

// base is the model's rate without day/night or burst modulation.
func (m rateModel) base(t int64) float64 {
	h := float64(t-m.start) / nsPerHour
	switch m.model {
	case ModelSteady:
		r := m.rate0
		if t >= m.stepAt {
			r = m.stepRate
		}
		if m.burstTo > m.burstFrom && t >= m.burstFrom && t < m.burstTo {
			r += m.burstRate
		}
		return r + m.outbreak(t)
	case ModelExponential:
		if r := m.rate0 * math.Exp(m.r*h); m.ceiling <= 0 || r < m.ceiling {
			return r
		}
		return m.ceiling
	case ModelDecline:
		return m.rate0 * math.Exp(-m.r*h)
	case ModelLogistic:
		if m.i0 <= 0 || m.capacity <= 0 || m.i0 >= m.capacity {
			return 0
		}
		i := m.capacity / (1 + (m.capacity/m.i0-1)*math.Exp(-m.r*h))
		return m.r * i * (1 - i/m.capacity)
	default: // flat, none
		return 0
	}
}

// outbreak is the outbreak's own rate at t (steady model).
func (m rateModel) outbreak(t int64) float64 {
	if m.outbreakRate <= 0 || t < m.outbreakAt {
		return 0
	}
	return m.outbreakRate * math.Exp(m.outbreakR*float64(t-m.outbreakAt)/nsPerHour)
}

// maxBase bounds base over [a, b]: every model is monotone there except
// the logistic, which is unimodal with its peak at peakT.
func (m rateModel) maxBase(a, b int64) float64 {
	v := max(m.base(a), m.base(b))
	if m.model == ModelSteady && m.burstTo > m.burstFrom && a < m.burstTo && b >= m.burstFrom {
		v = max(v, m.base(max(a, m.burstFrom))) // the burst inside [a, b]
	}
	if m.model == ModelLogistic && m.peakT > a && m.peakT < b {
		v = max(v, m.base(m.peakT))
	}
	return v
}

// diurnal is the day/night factor at t: 1 + A*cos(2*pi*(tod - 14:00)/24h).
func (m rateModel) diurnal(t int64) float64 {
	if m.dayNight == 0 {
		return 1
	}
	tod := floorMod(t-peakOffset, nsPerDay)
	return 1 + m.dayNight*math.Cos(2*math.Pi*float64(tod)/float64(nsPerDay))
}

// expected is the expected rate (new sources per hour) at t, day/night
// included, burst factor excluded.
func (m rateModel) expected(t int64) float64 { return m.base(t) * m.diurnal(t) }

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

func floorMod(a, b int64) int64 { return a - floorDiv(a, b)*b }

// expDelay draws an exponential waiting time in nanoseconds for a Poisson
// process of ratePerNs events per nanosecond; it never returns less than 1.
func expDelay(rng *rand.Rand, ratePerNs float64) int64 {
	d := rng.ExpFloat64() / ratePerNs
	if d >= math.MaxInt64/4 {
		return math.MaxInt64 / 4
	}
	return max(int64(d), 1)
}

// jitter returns d scaled by a uniform factor in [0.75, 1.25].
func jitter(rng *rand.Rand, d time.Duration) int64 {
	return max(int64(float64(d)*(0.75+0.5*rng.Float64())), 1)
}

// gammaUnit draws from Gamma(shape, 1) (Marsaglia and Tsang's method, with
// the usual boost for shape < 1).
func gammaUnit(rng *rand.Rand, shape float64) float64 {
	if shape < 1 {
		u := rng.Float64()
		for u == 0 {
			u = rng.Float64()
		}
		return gammaUnit(rng, shape+1) * math.Pow(u, 1/shape)
	}
	d := shape - 1.0/3
	c := 1 / math.Sqrt(9*d)
	for {
		x := rng.NormFloat64()
		v := 1 + c*x
		if v <= 0 {
			continue
		}
		v = v * v * v
		u := rng.Float64()
		if u < 1-0.0331*x*x*x*x {
			return d * v
		}
		if u > 0 && math.Log(u) < 0.5*x*x+d*(1-v+math.Log(v)) {
			return d * v
		}
	}
}

// burstFactor draws the per-window rate multiplier: Gamma with mean 1 and
// variance d, so that counts are negative-binomial with variance mu + d*mu^2.
func burstFactor(rng *rand.Rand, d float64) float64 {
	if d <= 0 {
		return 1
	}
	return gammaUnit(rng, 1/d) * d
}

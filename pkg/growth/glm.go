package growth

import (
	"errors"
	"math"
	"sync"

	"github.com/synscope/synscope/pkg/vlog"
	"gonum.org/v1/gonum/stat/distuv"
)

// A Poisson log-linear model fitted by iteratively reweighted least squares:
//
//	log E[y_i] = log(exposure_i) + X_i · beta
//
// with at most maxParams columns, so the normal equations are solved by
// hand (Cholesky) without a matrix library. Overdispersion is handled the
// quasi-Poisson way: the Pearson dispersion scales the covariance.

const maxParams = 4

type design struct {
	n, p int
	x    [][maxParams]float64
	y    []float64
	off  []float64 // log exposure
	// ylogy[i] is y·log y, taken once: the tests refit one design many
	// times (every hinge, every change point), and with the linear
	// predictor at hand no fit needs a logarithm of its own.
	ylogy []float64
	// etas and mus are η and μ of every window at cacheBeta, kept by the
	// last deviance: the fit's next iteration, its finish and the
	// dispersion need exactly those, and need no exponential of their own.
	etas, mus []float64
	cacheBeta [maxParams]float64
	cached    bool
	// lfact[i] is log(y_i!), taken once like ylogy.
	lfact []float64
	// total and expo are the sums of y and of exp(off), kept by keepSums.
	total, expo float64
	sums        bool
}

// sumsOf returns the counts' total and the exposures' (exp of the
// offsets), which start every fit. The exponentials are taken four at a
// time into mus (the same bits as math.Exp), which drops the cache.
func (d *design) sumsOf() (total, expo float64) {
	d.grow()
	d.cached = false
	vlog.Exp(d.mus[:d.n], d.off[:d.n])
	for i := 0; i < d.n; i++ {
		total += d.y[i]
		expo += d.mus[i]
	}
	return total, expo
}

// keepSums takes the sums every fit starts from once, for a design that
// is refitted with other columns but the same counts and offsets (a scan
// over hinges or change points).
func (d *design) keepSums() {
	d.total, d.expo = d.sumsOf()
	d.sums = true
}

// grow makes etas and mus long enough for the design's windows.
func (d *design) grow() {
	if len(d.etas) < d.n {
		d.etas, d.mus = make([]float64, d.n), make([]float64, d.n)
	}
}

// fill makes etas and mus hold η and μ of every window at beta, unless
// they already do: the exponentials four at a time (vlog.Exp, the same
// bits as math.Exp), the values every fit step, its finish and the
// dispersion read.
func (d *design) fill(beta [maxParams]float64) {
	if d.cached && beta == d.cacheBeta {
		return
	}
	d.grow()
	d.cached = false // while the slices change
	n := d.n
	xs, offs, etas := d.x[:n], d.off[:n], d.etas[:n]
	switch d.p { // eta written out for the common column counts
	case 2:
		b0, b1 := beta[0], beta[1]
		for i := range xs {
			eta := offs[i]
			eta += xs[i][0] * b0
			eta += xs[i][1] * b1
			if eta > 50 {
				eta = 50
			}
			etas[i] = eta
		}
	case 3:
		b0, b1, b2 := beta[0], beta[1], beta[2]
		for i := range xs {
			eta := offs[i]
			eta += xs[i][0] * b0
			eta += xs[i][1] * b1
			eta += xs[i][2] * b2
			if eta > 50 {
				eta = 50
			}
			etas[i] = eta
		}
	default:
		for i := range xs {
			etas[i] = d.eta(beta, i)
		}
	}
	vlog.Exp(d.mus[:n], etas)
	d.cacheBeta, d.cached = beta, true
}

type fit struct {
	beta       [maxParams]float64
	cov        [maxParams][maxParams]float64 // Fisher-information inverse, not yet scaled by dispersion
	loglik     float64                       // Poisson log-likelihood
	dispersion float64                       // Pearson chi-square per degree of freedom over blocks, at least 1
	dispDF     int                           // its degrees of freedom (0: not estimated, Poisson assumed)
	iters      int
}

var (
	errNoEvents     = errors.New("no new sources in the horizon")
	errNotConverged = errors.New("the fit did not converge")
	errSingular     = errors.New("the data cannot separate the model's terms")
	errNumeric      = errors.New("numerical trouble in the fit")
)

func (d *design) fit() (fit, error) { return d.fitFrom(nil) }

// fitFrom fits starting from start, the solution of a neighbouring design
// (the next hinge or change point of a scan), when it is not nil: the
// likelihood is concave, so the iterations converge to the same maximum
// (within about 1e-6 in beta and 1e-11 in log-likelihood, measured: below
// the six digits the records carry) in fewer steps. A
// warm start that fails is retried from the cold one, which is where
// every fit used to start.
func (d *design) fitFrom(start *[maxParams]float64) (fit, error) {
	if start != nil {
		if f, err := d.iterate(start); err == nil {
			return f, nil
		}
	}
	return d.iterate(nil)
}

// iterate runs the iterations from start, or from the cold start (the
// mean rate, no other term) when start is nil.
func (d *design) iterate(start *[maxParams]float64) (fit, error) {
	d.cached = false // x, p or y may have changed since the last fit
	var f fit
	total, expo := d.total, d.expo
	if !d.sums {
		total, expo = d.sumsOf()
	}
	if total == 0 {
		return f, errNoEvents
	}
	if start != nil {
		for j := 0; j < d.p; j++ {
			if math.IsNaN(start[j]) || math.IsInf(start[j], 0) {
				return f, errNumeric
			}
			f.beta[j] = start[j]
		}
	} else {
		f.beta[0] = math.Log(total / expo)
	}
	prevDev := math.Inf(1)
	for f.iters = 1; f.iters <= 100; f.iters++ {
		d.fill(f.beta)
		a, b := d.normal(true)
		next, inv, err := solve(a, b, d.p)
		if err != nil {
			return f, err
		}
		// Step halving keeps the deviance going down.
		step := 1.0
		var dev float64
		for h := 0; h < 30; h++ {
			var trial [maxParams]float64
			for j := 0; j < d.p; j++ {
				trial[j] = f.beta[j] + step*(next[j]-f.beta[j])
			}
			dev = d.deviance(trial)
			if dev <= prevDev*(1+1e-12) || math.IsInf(prevDev, 1) {
				next = trial
				break
			}
			step /= 2
		}
		change := 0.0
		for j := 0; j < d.p; j++ {
			change = math.Max(change, math.Abs(next[j]-f.beta[j]))
		}
		f.beta, f.cov = next, inv
		if math.IsNaN(dev) || math.IsInf(dev, 0) {
			return f, errNumeric
		}
		if change < 1e-9 || math.Abs(prevDev-dev) < 1e-10*(1+math.Abs(dev)) {
			return f, d.finish(&f)
		}
		prevDev = dev
	}
	return f, errNotConverged
}

// normal sums, over the windows at the cached beta (fill), the weighted
// cross products of the columns (the lower triangle of X'WX, W = diag μ)
// and, when withB, X'Wz with the log link's working response z. Written
// out for each number of columns with the products and sums of the
// general loop (the last of these cases) in the same order, so the sums
// have the same bits: (μ·x_j)·x_k and (μ·x_j)·z added window by window.
func (d *design) normal(withB bool) (a [maxParams][maxParams]float64, b [maxParams]float64) {
	n := d.n
	xs, ys, offs := d.x[:n], d.y[:n], d.off[:n]
	etas, mus := d.etas[:n], d.mus[:n]
	switch d.p {
	case 1:
		var a00, b0 float64
		for i := range xs {
			mu := mus[i]
			m0 := mu * xs[i][0]
			if withB {
				z := etas[i] - offs[i] + (ys[i]-mu)/mu
				b0 += m0 * z
			}
			a00 += m0 * xs[i][0]
		}
		a[0][0], b[0] = a00, b0
	case 2:
		var a00, a10, a11, b0, b1 float64
		for i := range xs {
			mu, x := mus[i], &xs[i]
			x0, x1 := x[0], x[1]
			m0, m1 := mu*x0, mu*x1
			if withB {
				z := etas[i] - offs[i] + (ys[i]-mu)/mu
				b0 += m0 * z
				b1 += m1 * z
			}
			a00 += m0 * x0
			a10 += m1 * x0
			a11 += m1 * x1
		}
		a[0][0], a[1][0], a[1][1] = a00, a10, a11
		b[0], b[1] = b0, b1
	case 3:
		var a00, a10, a11, a20, a21, a22, b0, b1, b2 float64
		for i := range xs {
			mu, x := mus[i], &xs[i]
			x0, x1, x2 := x[0], x[1], x[2]
			m0, m1, m2 := mu*x0, mu*x1, mu*x2
			if withB {
				z := etas[i] - offs[i] + (ys[i]-mu)/mu
				b0 += m0 * z
				b1 += m1 * z
				b2 += m2 * z
			}
			a00 += m0 * x0
			a10 += m1 * x0
			a11 += m1 * x1
			a20 += m2 * x0
			a21 += m2 * x1
			a22 += m2 * x2
		}
		a[0][0], a[1][0], a[1][1] = a00, a10, a11
		a[2][0], a[2][1], a[2][2] = a20, a21, a22
		b[0], b[1], b[2] = b0, b1, b2
	default:
		for i := range xs {
			mu := mus[i]
			var z float64
			if withB {
				z = etas[i] - offs[i] + (ys[i]-mu)/mu
			}
			for j := 0; j < d.p; j++ {
				if withB {
					b[j] += mu * xs[i][j] * z
				}
				for k := 0; k <= j; k++ {
					a[j][k] += mu * xs[i][j] * xs[i][k]
				}
			}
		}
	}
	return a, b
}

// finish computes the log-likelihood, the dispersion and the covariance at
// the solution.
func (d *design) finish(f *fit) error {
	d.fill(f.beta)
	if d.lfact == nil {
		d.lfact = make([]float64, d.n)
		for i, y := range d.y[:d.n] {
			d.lfact[i] = logFactorial(y)
		}
	}
	var ll float64
	for i := 0; i < d.n; i++ {
		eta, mu := d.etas[i], d.mus[i]
		if mu > 0 {
			ll += d.y[i]*eta - mu // y·log μ - μ, with log μ = η
		} else if d.y[i] > 0 {
			return errNumeric
		}
		ll -= d.lfact[i]
	}
	a, _ := d.normal(false)
	_, inv, err := solve(a, [maxParams]float64{}, d.p)
	if err != nil {
		return err
	}
	f.cov = inv
	f.loglik = ll
	f.dispersion, f.dispDF = d.dispersion(f.beta)
	if math.IsNaN(ll) || math.IsInf(ll, 0) || math.IsNaN(f.dispersion) {
		return errNumeric
	}
	return nil
}

// minBlockMean is the expected count a block of windows needs before its
// Pearson residual is trusted.
const minBlockMean = 5

// dispersion is the Pearson chi-square per degree of freedom, at least 1,
// computed over blocks of consecutive windows holding at least
// minBlockMean expected events each. Per-window residuals are useless when
// the expected count is tiny (one event where 0.001 was expected weighs
// 1000), which is exactly the start of an outbreak; blocks keep the
// estimate sensitive to bursts without that blow-up.
func (d *design) dispersion(beta [maxParams]float64) (float64, int) {
	d.fill(beta)
	return pearsonDispersion(d.y[:d.n], d.mus[:d.n], d.p)
}

// pearsonDispersion is design.dispersion for counts y and their expected
// values mu under a fit of p parameters.
func pearsonDispersion(y, mu []float64, p int) (float64, int) {
	var x2 float64
	blocks := 0
	var by, bm float64
	var lastY, lastM float64
	for i := range y {
		by += y[i]
		bm += mu[i]
		if bm >= minBlockMean {
			x2 += (by - bm) * (by - bm) / bm
			blocks++
			lastY, lastM = by, bm
			by, bm = 0, 0
		}
	}
	if bm > 0 && blocks > 0 { // fold the remainder into the last block
		x2 -= (lastY - lastM) * (lastY - lastM) / lastM
		lastY, lastM = lastY+by, lastM+bm
		x2 += (lastY - lastM) * (lastY - lastM) / lastM
	}
	if blocks <= p {
		return 1, 0
	}
	// Counts are taken as Poisson unless their extra scatter is clear (the
	// Pearson statistic above its 95 % quantile): a chance excess would
	// otherwise cost the tests power exactly when an outbreak starts.
	df := blocks - p
	if x2 <= chi2Q95(df) {
		return 1, df
	}
	return x2 / float64(df), df
}

// eta is the linear predictor log μ of window i (kept below 50: μ < 5e21).
func (d *design) eta(beta [maxParams]float64, i int) float64 {
	eta := d.off[i]
	for j := 0; j < d.p; j++ {
		eta += d.x[i][j] * beta[j]
	}
	if eta > 50 { // math.Min(eta, 50) without its call (a NaN stays NaN)
		eta = 50
	}
	return eta
}

func (d *design) deviance(beta [maxParams]float64) float64 {
	if d.ylogy == nil {
		d.ylogy = make([]float64, d.n)
		for i, y := range d.y[:d.n] {
			if y > 0 {
				d.ylogy[i] = y * math.Log(y)
			}
		}
	}
	d.fill(beta)
	dev := 0.0
	for i := 0; i < d.n; i++ {
		eta, mu := d.etas[i], d.mus[i]
		if d.y[i] > 0 {
			dev += d.ylogy[i] - d.y[i]*eta - (d.y[i] - mu) // y·log(y/μ) - (y - μ)
		} else {
			dev += mu
		}
	}
	return 2 * dev
}

// solve factors the symmetric matrix a (lower triangle filled) by Cholesky,
// returns a^-1 b and a^-1.
func solve(a [maxParams][maxParams]float64, b [maxParams]float64, p int) ([maxParams]float64, [maxParams][maxParams]float64, error) {
	var l [maxParams][maxParams]float64
	var x [maxParams]float64
	var inv [maxParams][maxParams]float64
	for j := 0; j < p; j++ {
		s := a[j][j]
		for k := 0; k < j; k++ {
			s -= l[j][k] * l[j][k]
		}
		if !(s > 1e-12*math.Max(1, a[j][j])) {
			return x, inv, errSingular
		}
		l[j][j] = math.Sqrt(s)
		for i := j + 1; i < p; i++ {
			s := a[i][j]
			for k := 0; k < j; k++ {
				s -= l[i][k] * l[j][k]
			}
			l[i][j] = s / l[j][j]
		}
	}
	sub := func(rhs [maxParams]float64) [maxParams]float64 {
		var y, out [maxParams]float64
		for i := 0; i < p; i++ {
			s := rhs[i]
			for k := 0; k < i; k++ {
				s -= l[i][k] * y[k]
			}
			y[i] = s / l[i][i]
		}
		for i := p - 1; i >= 0; i-- {
			s := y[i]
			for k := i + 1; k < p; k++ {
				s -= l[k][i] * out[k]
			}
			out[i] = s / l[i][i]
		}
		return out
	}
	x = sub(b)
	for j := 0; j < p; j++ {
		var e [maxParams]float64
		e[j] = 1
		col := sub(e)
		for i := 0; i < p; i++ {
			inv[i][j] = col[i]
		}
	}
	return x, inv, nil
}

// logFactorials caches log(k!) for the small counts windows hold.
var logFactorials = func() (t [4096]float64) {
	for k := range t {
		t[k], _ = math.Lgamma(float64(k) + 1)
	}
	return t
}()

// logFactorial is log(y!) (log Γ(y+1) for a y that is not a whole number).
func logFactorial(y float64) float64 {
	if k := int(y); y >= 0 && float64(k) == y && k < len(logFactorials) {
		return logFactorials[k]
	}
	lg, _ := math.Lgamma(y + 1)
	return lg
}

// chi2q95 memoizes the 95 % quantile of chi-square by degrees of freedom:
// every fit asks for it, and its inverse incomplete gamma is the dearest
// step of a fit. Safe for the harness's parallel workers.
var chi2q95 sync.Map // int -> float64

func chi2Q95(df int) float64 {
	if q, ok := chi2q95.Load(df); ok {
		return q.(float64)
	}
	q := (distuv.ChiSquared{K: float64(df)}).Quantile(0.95)
	chi2q95.Store(df, q)
	return q
}

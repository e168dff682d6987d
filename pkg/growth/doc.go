// Package growth decides, after every window, whether new sources arrive at
// a steady rate (the infected population seen grows linearly), at a
// multiplying rate (exponential growth), at a falling rate, or whether the
// data cannot tell yet, and keeps the evidence behind the verdict.
//
// The method (docs/growth.md explains it in full): over a sliding horizon
// of recent windows, the counts of new sources are fitted with a Poisson
// log-linear model, log rate = a + r·t (+ a 24-hour harmonic once the
// horizon spans a day), by IRLS; overdispersion (bursts) widens the
// interval of r by the Pearson dispersion (quasi-Poisson). The verdict is
// a pair of one-sided tests against an explicit bound r_min (default: a
// doubling time of 24 h):
//
//	exponential  r > r_min with the configured confidence
//	declining    r < -r_min with the configured confidence
//	linear       -r_min < r < r_min with the configured confidence (both tests)
//	otherwise    insufficient_data, with the reason
//
// It is control-path code run once per window: it may allocate, but never
// logs, and never emits NaN or Inf. It imports nothing from capture, decode
// or output.
package growth

package growth

import "time"

// Short windows are merged into bins. The classifier's fits, change-point
// scans and cycle tests cost about the number of windows the longest
// horizon holds for every window, and their settings (a burst of up to
// six windows, MinWindows, a doubling within two windows being a jump)
// were measured on five-minute windows. With one-minute windows a day
// holds 1,440, and a 60-hour capture of a step took 68 s in the
// classifier (against about 2 s at five minutes); with ten-second windows
// a six-hour capture took 21 s, and with one-second windows a live sensor
// would fall behind. So when the longest horizon holds more than maxBins
// windows, consecutive windows are merged into bins of merge windows
// (counted from the first window), so that it holds at most maxBins; the
// newest bin, still filling, is fitted with its exposure so far and
// refilled by each window until it is whole. Every window still gets its
// verdict; a verdict's windows are then bins, and dates the classifier
// finds (steps, onsets) fall on bin starts. At the default five-minute
// windows and 24 h horizon nothing is merged.

// maxBins is the most bins the longest horizon holds: a day of
// five-minute windows, the length the classifier's settings were measured
// on.
const maxBins = 288

// maxKeptBins is the most bins Validate lets the longest horizon hold
// where the shortest one keeps the bins shorter than maxBins asks: the
// fits cost about the bins held, each window.
const maxKeptBins = 8 * maxBins

// binsOf is how many windows of the given length make one bin: enough
// for the longest horizon to hold at most maxBins, but never so many that
// the shortest horizon holds fewer than MinWindows bins (or 3).
func binsOf(cfg Config, window time.Duration) int {
	longest, shortest := cfg.Horizons[len(cfg.Horizons)-1], cfg.Horizons[0]
	kept := int(longest / window)
	m := (kept + maxBins - 1) / maxBins
	for m > 1 && int(shortest/(time.Duration(m)*window)) < max(3, cfg.MinWindows) {
		m--
	}
	return max(1, m)
}

// Merge is how many windows the classifier merges into one bin (1: none,
// and for no classifier).
func (c *Classifier) Merge() int {
	if c == nil {
		return 1
	}
	return c.bin.merge
}

// binning merges the windows into bins.
type binning struct {
	merge   int   // windows per bin (1: none merged)
	open    bool  // a bin is filling (origin is set)
	origin  int64 // start of the first window: bins are counted from it
	idx     int64 // the bin filling
	sumNew  float64
	sumExpo float64 // its windows' exposures, in windows
}

// add merges w into the bin it falls in (of length bin) and returns that
// bin as it stands, and whether it is the bin the last call returned
// (refilled: it replaces that one). A window that starts before the bin
// filling (a clock that went back) joins it.
func (b *binning) add(w Window, bin time.Duration) (Window, bool) {
	if !b.open {
		b.origin = w.Start
	}
	idx := int64(-1)
	if w.Start >= b.origin {
		idx = (w.Start - b.origin) / int64(bin)
	}
	refill := b.open && idx <= b.idx
	b.open = true
	if refill {
		b.sumNew += w.New
		b.sumExpo += w.Exposure
	} else {
		b.idx, b.sumNew, b.sumExpo = idx, w.New, w.Exposure
	}
	start := b.origin + b.idx*int64(bin)
	return Window{Start: start, End: max(w.End, start+1), New: b.sumNew,
		Exposure: min(1, b.sumExpo/float64(b.merge)), Warmup: w.Warmup}, refill
}

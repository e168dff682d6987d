package growth

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"time"
)

// A classifier's state, kept in the engine's state file so that a sensor
// that restarts goes on with its windows and regimes: without them every
// verdict was insufficient_data until the shortest horizon filled again
// (6 hours by default), and an alert raised before the restart was raised
// again after it. Layout, little-endian:
//
//	bin length ns i64 (the windows the classifier fits: the capture's own,
//	or merged bins), then the bin filling: open u8, origin ns i64, index
//	i64, new f64, exposure f64
//	regime u8, decisive u8 (model codes), since ns i64
//	diurnal u8, dispersion f64, cycle amplitude f64, cyclic u8, alarm f64
//	background memo: any u8, last ns i64, then bgDays × (set u8, day i64,
//	amplitude f64)
//	windows u32, then each: start i64, end i64, new f64, exposure f64,
//	flags u8 (1: warm-up)
//
// MarshalState and UnmarshalState are the only readers and writers.

// MarshalState appends the classifier's state to b.
func (c *Classifier) MarshalState(b []byte) []byte {
	le := binary.LittleEndian
	u8 := func(v bool) byte {
		if v {
			return 1
		}
		return 0
	}
	f64 := func(b []byte, f float64) []byte { return le.AppendUint64(b, math.Float64bits(f)) }
	b = le.AppendUint64(b, uint64(c.window))
	b = append(b, u8(c.bin.open))
	b = le.AppendUint64(b, uint64(c.bin.origin))
	b = le.AppendUint64(b, uint64(c.bin.idx))
	b = f64(b, c.bin.sumNew)
	b = f64(b, c.bin.sumExpo)
	b = append(b, modelCode(c.regime), modelCode(c.decisive))
	b = le.AppendUint64(b, uint64(c.since))
	b = append(b, u8(c.diurnal))
	b = f64(b, c.dispersion)
	b = f64(b, c.cycleAmp)
	b = append(b, u8(c.cyclic))
	b = f64(b, c.alarm)
	b = append(b, u8(c.bg.any))
	b = le.AppendUint64(b, uint64(c.bg.last))
	for i := range bgDays {
		b = append(b, u8(c.bg.set[i]))
		b = le.AppendUint64(b, uint64(c.bg.day[i]))
		b = f64(b, c.bg.max[i])
	}
	b = le.AppendUint32(b, uint32(len(c.long)))
	for _, w := range c.long {
		b = le.AppendUint64(b, uint64(w.Start))
		b = le.AppendUint64(b, uint64(w.End))
		b = f64(b, w.New)
		b = f64(b, w.Exposure)
		b = append(b, u8(w.Warmup))
	}
	return b
}

// stateWindowLen is the bytes of one window in the state.
const stateWindowLen = 8 + 8 + 8 + 8 + 1

// UnmarshalState restores a state MarshalState wrote (b is all of it) into
// a classifier that has seen no window yet; clock is the saved run's
// clock, which its windows end by. A state of classifier fitting other
// windows (another --window or --growth-horizons) is refused: the caller
// starts afresh. So is one whose windows lie outside the span a
// classifier keeps before that clock (a crafted file's window in the year
// -292 million made Resume fill gigabytes of windows).
func (c *Classifier) UnmarshalState(b []byte, clock int64) error {
	le := binary.LittleEndian
	if len(c.long) > 0 || c.bin.open {
		return errors.New("the classifier has seen windows already")
	}
	var bad error
	take := func(n int) []byte {
		if bad != nil || len(b) < n {
			bad = errors.New("truncated")
			return make([]byte, n)
		}
		v := b[:n]
		b = b[n:]
		return v
	}
	i64 := func() int64 { return int64(le.Uint64(take(8))) }
	f64 := func() float64 {
		f := math.Float64frombits(le.Uint64(take(8)))
		if math.IsNaN(f) || math.IsInf(f, 0) {
			bad = errors.New("a value that is not a number")
		}
		return f
	}
	flag := func() bool { return take(1)[0] != 0 }
	model := func() string {
		m, ok := codeModel(take(1)[0])
		if !ok {
			bad = errors.New("an unknown model")
		}
		return m
	}
	if w := time.Duration(i64()); bad == nil && w != c.window {
		return fmt.Errorf("its classifier fitted windows of %v, this one %v", w, c.window)
	}
	var s Classifier
	s.bin = binning{merge: c.bin.merge, open: flag(), origin: i64(), idx: i64(), sumNew: f64(), sumExpo: f64()}
	s.regime, s.decisive, s.since = model(), model(), i64()
	s.diurnal, s.dispersion, s.cycleAmp, s.cyclic, s.alarm = flag(), f64(), f64(), flag(), f64()
	s.bg.any, s.bg.last = flag(), i64()
	for i := range bgDays {
		s.bg.set[i], s.bg.day[i], s.bg.max[i] = flag(), i64(), f64()
	}
	// The bin still filling and the regime's date lie before the clock,
	// its sums are a bin's: a crafted bin a year ahead took every later
	// window into itself (verdicts insufficient_data for good), and sums
	// of -1e12 new sources were written as garbage (a review).
	if b := &s.bin; bad == nil && b.open {
		bin := int64(c.window) // (a bin's length: c.window is merge windows)
		if b.origin > clock || b.origin < -1<<62 || clock > 1<<62 || b.idx < 0 || b.idx > (clock-b.origin)/bin+1 ||
			b.sumNew < 0 || b.sumExpo < 0 {
			return errors.New("its bin in progress out of range (corrupt)")
		}
		// A window from before the bin joins it (a clock that went back,
		// see add): its exposures can sum past the bin's windows, which
		// the bin reads as whole (the first version of this check
		// refused such a state, one the classifier wrote: a review).
		b.sumExpo = min(b.sumExpo, float64(c.bin.merge))
	}
	if bad == nil && (s.since > clock+int64(c.window) || s.bg.last > clock+int64(c.window)) {
		return errors.New("a regime or a measurement dated after its clock (corrupt)")
	}
	n := int(le.Uint32(take(4)))
	if bad == nil && (n > 3*c.kept() || n*stateWindowLen != len(b)) {
		return fmt.Errorf("it says %d windows in %d bytes (corrupt)", n, len(b))
	}
	long := make([]Window, 0, n)
	span := 4 * int64(c.cfg.Horizons[len(c.cfg.Horizons)-1])
	if clock > 1<<62 || clock < -1<<62 {
		return fmt.Errorf("clock %d out of range (corrupt)", clock)
	}
	for range n {
		w := Window{Start: i64(), End: i64(), New: f64(), Exposure: f64(), Warmup: flag()}
		if bad == nil && (w.End <= w.Start || w.New < 0 || !(w.Exposure > 0 && w.Exposure <= 1) ||
			len(long) > 0 && w.Start < long[len(long)-1].End ||
			w.Start < clock-span || w.End > clock+int64(c.window) || w.End-w.Start > int64(c.window)) {
			return fmt.Errorf("window %d out of order or out of range (corrupt)", len(long))
		}
		long = append(long, w)
	}
	if bad != nil {
		return bad
	}
	c.bin = s.bin
	c.regime, c.decisive, c.since = s.regime, s.decisive, s.since
	c.diurnal, c.dispersion, c.cycleAmp, c.cyclic, c.alarm = s.diurnal, s.dispersion, s.cycleAmp, s.cyclic, s.alarm
	c.bg = s.bg
	c.long = long
	c.hist = c.long[max(0, len(c.long)-c.kept()):]
	return nil
}

// Resume readies a restored classifier for its next window, which starts
// at start: the windows of the time the sensor was down are windows
// nobody watched (no new source, next to no exposure), so that the
// horizons still span the hours they say; a restart within the window the
// state ended in adds the rest of that window to it (see Add). Down longer
// than the longest horizon, or with merged bins, the classifier starts
// again.
func (c *Classifier) Resume(start int64) {
	n := len(c.long)
	if n == 0 {
		return
	}
	last := c.long[n-1]
	switch {
	case start == last.Start || c.bin.merge > 1 && start >= last.Start && start < last.End:
		return // the window (or bin) the state ended in, again: Add adds the rest
	case start < last.Start:
		// A capture from before the state's last window (the same one
		// read again, overlapping files): its windows are not the next.
		c.forget()
		return
	case c.bin.merge > 1 || start < last.End || start-last.End > int64(c.cfg.Horizons[len(c.cfg.Horizons)-1]):
		c.forget()
		return
	}
	// At most a horizon of windows (the case above): the classifier keeps
	// them contiguous, the oldest trimmed below, as Add does.
	for t := last.End; t < start; t += int64(c.window) {
		c.long = append(c.long, Window{Start: t, End: min(t+int64(c.window), start), Exposure: unwatched})
	}
	if keep := c.kept(); len(c.long) > 3*keep {
		c.long = append(c.long[:0], c.long[len(c.long)-2*keep:]...)
	}
	c.hist = c.long[max(0, len(c.long)-c.kept()):]
}

// LastEnd is the end of the newest window the classifier holds, 0 when it
// holds none.
func (c *Classifier) LastEnd() int64 {
	if len(c.long) == 0 {
		return 0
	}
	return c.long[len(c.long)-1].End
}

// unwatched is the exposure of a window the sensor was down for: the fits'
// floor (a window's expected count is its exposure times the rate).
const unwatched = 1e-6

var models = [...]string{"", Linear, Exponential, Declining, Saturating, Step, Insufficient}

func modelCode(m string) byte {
	for i, s := range models {
		if s == m {
			return byte(i)
		}
	}
	return 0
}

func codeModel(b byte) (string, bool) {
	if int(b) >= len(models) {
		return "", false
	}
	return models[b], true
}

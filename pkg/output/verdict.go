package output

import (
	"github.com/synscope/synscope/pkg/engine"
	"github.com/synscope/synscope/pkg/growth"
)

// Growth writes a `growth` record: the verdict after the window r.
func (w *Writer) Growth(r *engine.WindowRecord, v *growth.Verdict) {
	o := w.begin("growth", r.End)
	o.time("window_start", r.Start)
	o.time("window_end", r.End)
	o.str("model", v.Model)
	o.float("confidence", round(v.Confidence))
	if v.Reason != "" {
		o.str("reason", v.Reason)
	}
	growthRates(o, v)
	o.float("steady_rate_per_hour", round(v.SteadyPerHour))
	o.float("horizon_hours", round(v.Horizon.Hours()))
	o.uint("windows", uint64(v.Windows))
	o.uint("new_sources", uint64(v.NewSources))
	o.bool("diurnal", v.Diurnal)
	o.open("evidence")
	o.float("loglik_steady", round(v.LogLikSteady))
	o.float("loglik_multiplying", round(v.LogLikMultiply))
	o.float("aic_steady", round(v.AICSteady))
	o.float("aic_multiplying", round(v.AICMultiply))
	o.float("z", round(v.Z))
	o.float("dispersion", round(v.Dispersion))
	o.close()
	o.bool("regime_changed", v.RegimeChanged)
	if v.RegimeSince != 0 {
		o.time("regime_since", v.RegimeSince)
	}
	if v.Onset != 0 {
		o.time("onset", v.Onset)
		o.time("onset_low", v.OnsetLow)
		o.time("onset_high", v.OnsetHigh)
	}
	if v.Model == growth.Saturating {
		o.time("stopped_at", v.StoppedAt)
		o.float("rate_after_per_hour", round(v.RateAfterPerHour))
	}
	if v.Model == growth.Step {
		o.time("step_at", v.StepAt)
		o.float("level_before_per_hour", round(v.LevelBeforePerHour))
		o.float("level_after_per_hour", round(v.LevelAfter))
	}
	o.bool("warmup", v.Warmup)
	w.finish()
}

// round keeps six significant digits: enough for any decision, short to
// read, and stable across runs.

// Flood writes a `flood` record: one window's flood sources, summarized
// (they get no source record each unless --flood-sources).
func (w *Writer) Flood(r *engine.FloodRecord) {
	o := w.begin("flood", r.WindowEnd)
	o.time("window_start", r.WindowStart)
	o.time("window_end", r.WindowEnd)
	o.uint("sources", r.Sources)
	o.time("first_seen", r.First)
	o.time("last_seen", r.Last)
	o.openArray("targets")
	for _, t := range r.Targets {
		o.open("")
		o.str("dst_ip", t.Addr.Netip().String())
		o.uint("dst_port", uint64(t.Port))
		o.uint("sources", t.Sources)
		o.close()
	}
	o.closeArray()
	o.uint("other_targets_sources", r.OtherTargets)
	o.open("pattern")
	o.uint("ttl_min", uint64(r.TTLMin))
	o.uint("ttl_max", uint64(r.TTLMax))
	o.uint("ttl_mode", uint64(r.TTLMode))
	o.uint("ttl_mode_sources", r.TTLModeSources)
	o.uint("ip_id_zero_sources", r.IPIDZero)
	// A mode no source is known to share (the bounded summary kept none of
	// their values) is left out: a 0 there read as a value sources had.
	if r.IPIDModeSources > 0 {
		o.uint("ip_id_mode", uint64(r.IPIDMode))
		o.uint("ip_id_mode_sources_min", r.IPIDModeSources)
	}
	if r.WindowModeSources > 0 {
		o.uint("tcp_window_mode", uint64(r.WindowMode))
		o.uint("tcp_window_mode_sources_min", r.WindowModeSources)
	}
	o.close()
	o.openArray("sample_src_ips")
	for _, a := range r.Sample {
		o.elemStr(a.Netip().String())
	}
	o.closeArray()
	w.finish()
}

// growthRates writes a verdict's growth rate, its interval, the bound, the
// doubling time (exponential) and the background under an excess: the
// fields the growth record and an alert's evidence share.
func growthRates(o *obj, v *growth.Verdict) {
	o.float("growth_rate_per_hour", round(v.RatePerHour))
	o.float("growth_rate_low", round(v.RateLow))
	o.float("growth_rate_high", round(v.RateHigh))
	o.float("bound_per_hour", round(v.Bound))
	if v.Model == growth.Exponential && v.DoublingHours > 0 {
		o.float("doubling_time_hours", round(v.DoublingHours))
	}
	if v.BackgroundPerHour > 0 {
		o.float("background_per_hour", round(v.BackgroundPerHour))
	}
}

package output

import (
	"bytes"

	"github.com/synscope/synscope/pkg/engine"
	"github.com/synscope/synscope/pkg/fingerprint"
)

// alertDecoy writes the fields of a decoy alert: a source's first SYN in
// its episode to decoy or dark space (space says which).
func (w *Writer) alertDecoy(o *obj, r *engine.AlertRecord) {
	s := &r.Syn
	o.str("space", r.Space.String())
	o.str("src_ip", s.SrcAddr().String())
	o.str("dst_ip", s.DstAddr().String())
	o.uint("dst_port", uint64(s.DstPort))
	o.str("tool", fingerprint.ToolOf(s).String())
	o.str("os", fingerprint.OSOf(s).String())
	w.netFields(o, s.SrcAddr())
	w.benignField(o, s)
}

// Alert writes an `alert` record: the verdict turned exponential or stood
// down, or a flood started; then hands it to the alert hooks.
func (w *Writer) Alert(r *engine.AlertRecord) {
	o := w.begin("alert", r.Ts)
	o.str("kind", r.Kind)
	if r.Kind == engine.AlertDecoy {
		w.alertDecoy(o, r)
	} else if r.Kind == engine.AlertFlood {
		fr := r.Flood
		o.time("window_start", fr.WindowStart)
		o.time("window_end", fr.WindowEnd)
		o.open("evidence")
		o.str("dst_ip", r.Target.Netip().String())
		o.uint("dst_port", uint64(r.TargetPort))
		o.time("judged_at", r.Ts)
		o.uint("sources", r.TargetSources)
		o.uint("ttl_mode", uint64(fr.TTLMode))
		o.uint("ttl_mode_sources", fr.TTLModeSources)
		o.close()
	} else {
		v := r.Verdict
		o.time("window_start", r.Window.Start)
		o.time("window_end", r.Window.End)
		if r.Kind == engine.AlertCleared {
			o.time("raised_at", r.RaisedAt)
		}
		o.open("evidence")
		o.str("model", v.Model)
		o.float("confidence", round(v.Confidence))
		growthRates(o, v)
		o.float("horizon_hours", round(v.Horizon.Hours()))
		o.uint("windows", uint64(v.Windows))
		o.uint("new_sources", uint64(v.NewSources))
		o.float("z", round(v.Z))
		if v.Onset != 0 {
			o.time("onset", v.Onset)
			o.time("onset_low", v.OnsetLow)
			o.time("onset_high", v.OnsetHigh)
		}
		if v.RegimeSince != 0 {
			o.time("regime_since", v.RegimeSince)
		}
		o.bool("warmup", v.Warmup)
		o.close()
	}
	w.finish()
	switch {
	case w.onAlert == nil:
	case len(w.places) > 0 && !w.filling:
		// Behind a place held: handed over when it is written out, so
		// that the hooks see the alerts in the records' order.
		p := w.places[len(w.places)-1]
		p.alerts = append(p.alerts, bytes.Clone(w.buf))
	default:
		w.onAlert(w.buf)
	}
}

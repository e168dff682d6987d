package engine

import (
	"testing"
	"time"

	"github.com/synscope/synscope/pkg/growth"
)

func (r *recorder) Alert(a *AlertRecord) { r.alerts = append(r.alerts, a.Kind) }

// TestAlertsOncePerChange: the exponential alert needs three exponential
// verdicts in a row, is written once however long the regime lasts, is
// kept through insufficient data, a step and saturation, and cleared by
// the first linear or declining verdict; then it can be raised again.
func TestAlertsOncePerChange(t *testing.T) {
	rec := &recorder{}
	e, err := New(small(), rec)
	if err != nil {
		t.Fatal(err)
	}
	// A window of saturation amid growth keeps the alert (it cleared it,
	// and the next three exponential windows raised it again), and so
	// does a plateau until it is called linear.
	seq := []string{growth.Exponential, growth.Exponential, growth.Linear, growth.Exponential, growth.Exponential, growth.Exponential,
		growth.Insufficient, growth.Exponential, growth.Saturating, growth.Exponential, growth.Exponential, growth.Exponential,
		growth.Step, growth.Saturating, growth.Saturating, growth.Linear, growth.Linear, growth.Exponential, growth.Exponential, growth.Exponential}
	want := []string{"", "", "", "", "", AlertExponential, "", "", "", "", "", "", "", "", "", AlertCleared, "", "", "", AlertExponential}
	for i, m := range seq {
		before := len(rec.alerts)
		w := WindowRecord{Start: t0 + int64(i)*minute, End: t0 + int64(i+1)*minute}
		e.alertGrowth(&w, &growth.Verdict{Model: m})
		got := ""
		if len(rec.alerts) > before {
			got = rec.alerts[len(rec.alerts)-1]
		}
		if got != want[i] {
			t.Errorf("window %d (%s): alert %q, want %q", i, m, got, want[i])
		}
	}
	if e.Counters().Alerts != 3 {
		t.Errorf("%d alerts counted", e.Counters().Alerts)
	}
}

// TestFloodAlertOncePerFlood: one flood alert when a flood starts, none
// for its later windows, before its first flood record.
func TestFloodAlertOncePerFlood(t *testing.T) {
	stream := floodStream(3, 100, 30*1e9, 40*1e9, 2*60*1e9)
	cfg := small()
	cfg.Window = 5 * 1e9
	rec, _, _ := runStream(t, cfg, stream)
	if len(rec.alerts) != 1 || rec.alerts[0] != AlertFlood || len(rec.floods) < 8 {
		t.Errorf("alerts %v over %d flood records", rec.alerts, len(rec.floods))
	}
}

// TestAlertConfirmsOverBins: where the classifier merges one-minute windows
// into five-minute bins, the alert needs three bins' worth of exponential
// verdicts in a row (15), not three windows.
func TestAlertConfirmsOverBins(t *testing.T) {
	rec := &recorder{}
	cfg := small()
	g := growth.DefaultConfig()
	cfg.Growth, cfg.Window = &g, time.Minute
	e, err := New(cfg, rec)
	if err != nil {
		t.Fatal(err)
	}
	if m := e.growth.Merge(); m != 5 {
		t.Fatalf("one-minute windows, default horizons: %d windows a bin, want 5", m)
	}
	for i := range 15 {
		w := WindowRecord{Start: t0 + int64(i)*minute, End: t0 + int64(i+1)*minute}
		e.alertGrowth(&w, &growth.Verdict{Model: growth.Exponential})
		if raised := len(rec.alerts) > 0; raised != (i == 14) {
			t.Fatalf("after %d exponential verdicts: alerts %v", i+1, rec.alerts)
		}
	}
}

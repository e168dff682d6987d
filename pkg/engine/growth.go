package engine

import "github.com/synscope/synscope/pkg/growth"

// classify asks the growth classifier for its verdict after a closed
// window, with the window's flood sources taken out (a spoofed flood is not
// spread), and benign scanners' when asked (research scans come and go on
// their own schedule), and emits it.
func (e *Engine) classify(w *WindowRecord) {
	if e.growth == nil {
		return
	}
	n := w.NewSources - w.FloodSources
	if e.cfg.GrowthExcludeBenign {
		n -= min(n, w.BenignSources)
	}
	e.verdict = e.growth.Add(growth.Window{
		Start:    w.Start,
		End:      w.End,
		New:      float64(n),
		Exposure: w.Exposure,
		Warmup:   w.Warmup,
	})
	if ge, ok := e.emit.(GrowthEmitter); ok {
		ge.Growth(w, &e.verdict)
	}
	e.alertGrowth(w, &e.verdict)
}

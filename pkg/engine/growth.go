package engine

import "github.com/synscope/synscope/pkg/growth"

// classify asks the growth classifier for its verdict after a closed
// window, with the window's flood sources taken out (a spoofed flood is not
// spread), and emits it.
func (e *Engine) classify(w *WindowRecord) {
	if e.growth == nil {
		return
	}
	e.verdict = e.growth.Add(growth.Window{
		Start:    w.Start,
		End:      w.End,
		New:      float64(w.NewSources - w.FloodSources),
		Exposure: w.Exposure,
		Warmup:   w.Warmup,
	})
	if ge, ok := e.emit.(GrowthEmitter); ok {
		ge.Growth(w, &e.verdict)
	}
	e.alertGrowth(w, &e.verdict)
}

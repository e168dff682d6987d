package pipeline

import (
	"github.com/synscope/synscope/pkg/engine"
	"github.com/synscope/synscope/pkg/growth"
	"github.com/synscope/synscope/pkg/output"
)

// Analyzer sits between the engine and the writer: it passes records on
// and, after every window, asks the growth classifier for a verdict and
// writes it. Floods are taken out of the counts the classifier sees.
type Analyzer struct {
	W    *output.Writer
	G    *growth.Classifier // nil: no growth records
	Last growth.Verdict     // the latest verdict
	// LastNew is the last closed window's new sources.
	LastNew uint64
}

// Source implements engine.Emitter.
func (a *Analyzer) Source(r *engine.SourceRecord) { a.W.Source(r) }

// Scanner implements engine.ScannerEmitter.
func (a *Analyzer) Scanner(r *engine.ScannerRecord) { a.W.Scanner(r) }

// Window implements engine.Emitter.
func (a *Analyzer) Window(r *engine.WindowRecord) {
	a.W.Window(r)
	a.LastNew = r.NewSources
	if a.G == nil {
		return
	}
	a.Last = a.G.Add(growth.Window{
		Start:    r.Start,
		End:      r.End,
		New:      float64(r.NewSources - r.FloodSources),
		Exposure: r.Exposure,
		Warmup:   r.Warmup,
	})
	a.W.Growth(r, &a.Last)
}

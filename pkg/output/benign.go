package output

import (
	"github.com/synscope/synscope/pkg/benign"
	"github.com/synscope/synscope/pkg/decode"
)

// SetBenign has the writer tag the records of known benign scanners'
// sources (benign: the list's name for them) and count them in windows.
func (w *Writer) SetBenign(l *benign.List) { w.benign = l }

// benignField writes the name of the benign scanner that sent s, if any.
func (w *Writer) benignField(o *obj, s *decode.Syn) {
	if w.benign == nil {
		return
	}
	if name := w.benign.Source(s); name != "" {
		o.str("benign", name)
	}
}

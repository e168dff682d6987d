package output

import (
	"github.com/synscope/synscope/pkg/engine"
	"github.com/synscope/synscope/pkg/fingerprint"
)

// Alert writes an `alert` record. Kind decoy: a source's first SYN in its
// episode to decoy or dark space (space says which).
func (w *Writer) Alert(r *engine.AlertRecord) {
	s := &r.Syn
	o := w.begin("alert", s.Ts)
	o.str("kind", r.Kind)
	o.str("space", r.Space.String())
	o.str("src_ip", s.SrcAddr().String())
	o.str("dst_ip", s.DstAddr().String())
	o.uint("dst_port", uint64(s.DstPort))
	o.str("tool", fingerprint.ToolOf(s).String())
	o.str("os", fingerprint.OSOf(s).String())
	w.netFields(o, s.SrcAddr())
	w.benignField(o, s)
	w.finish()
}

package output

import (
	"github.com/synscope/synscope/pkg/engine"
	"github.com/synscope/synscope/pkg/fingerprint"
)

// Scan writes a `scanner` record: a source crossed --scan-hosts hosts or
// --scan-ports ports on one host within --scan-interval (or, with update
// true, a reported scanner reached more targets in a later window).
func (w *Writer) Scan(r *engine.ScanRecord) {
	s := &r.Syn
	o := w.begin("scanner", s.Ts)
	o.str("src_ip", s.SrcAddr().String())
	o.str("kind", r.Kind.String())
	o.int("targets", int64(r.Targets))
	o.int("ports", int64(r.Ports))
	o.time("first_seen", r.FirstSeen)
	o.uint("syn_packets", uint64(r.SynPackets))
	o.bool("update", r.Update)
	o.str("tool", fingerprint.ToolOf(s).String())
	o.str("os", fingerprint.OSOf(s).String())
	w.netFields(o, s.SrcAddr())
	w.benignField(o, s)
	if d := r.Direction.String(); d != "" {
		o.str("direction", d)
	}
	o.str("last_dst_ip", s.DstAddr().String())
	o.uint("last_dst_port", uint64(s.DstPort))
	w.finish()
}

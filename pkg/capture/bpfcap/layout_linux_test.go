//go:build linux

package bpfcap

import (
	"reflect"
	"testing"
	"unsafe"

	"github.com/cilium/ebpf/btf"

	"github.com/synscope/synscope/bpf"
	"github.com/synscope/synscope/pkg/decode"
)

// The record has three descriptions: struct syn_record in bpf/synscope.c
// (as BTF in the committed object), the Go struct bpf2go generated from it,
// and the offsets pkg/decode parses at. They must agree field by field.
// Needs no privileges.
func TestRecordLayout(t *testing.T) {
	var r bpf.SynscopeSynRecord
	fields := []struct {
		name   string // Go field
		cname  string // C member
		goOff  uintptr
		size   uintptr
		decOff int
	}{
		{"TsNs", "ts_ns", unsafe.Offsetof(r.TsNs), unsafe.Sizeof(r.TsNs), decode.RecordOffTs},
		{"Saddr", "saddr", unsafe.Offsetof(r.Saddr), unsafe.Sizeof(r.Saddr), decode.RecordOffSrc},
		{"Daddr", "daddr", unsafe.Offsetof(r.Daddr), unsafe.Sizeof(r.Daddr), decode.RecordOffDst},
		{"Sport", "sport", unsafe.Offsetof(r.Sport), unsafe.Sizeof(r.Sport), decode.RecordOffSrcPort},
		{"Dport", "dport", unsafe.Offsetof(r.Dport), unsafe.Sizeof(r.Dport), decode.RecordOffDstPort},
		{"Seq", "seq", unsafe.Offsetof(r.Seq), unsafe.Sizeof(r.Seq), decode.RecordOffSeq},
		{"IpId", "ip_id", unsafe.Offsetof(r.IpId), unsafe.Sizeof(r.IpId), decode.RecordOffIPID},
		{"PktLen", "pkt_len", unsafe.Offsetof(r.PktLen), unsafe.Sizeof(r.PktLen), decode.RecordOffPktLen},
		{"Window", "window", unsafe.Offsetof(r.Window), unsafe.Sizeof(r.Window), decode.RecordOffWindow},
		{"Mss", "mss", unsafe.Offsetof(r.Mss), unsafe.Sizeof(r.Mss), decode.RecordOffMSS},
		{"Vlan", "vlan", unsafe.Offsetof(r.Vlan), unsafe.Sizeof(r.Vlan), decode.RecordOffVLAN},
		{"Ttl", "ttl", unsafe.Offsetof(r.Ttl), unsafe.Sizeof(r.Ttl), decode.RecordOffTTL},
		{"Wscale", "wscale", unsafe.Offsetof(r.Wscale), unsafe.Sizeof(r.Wscale), decode.RecordOffWScale},
		{"TcpFlags", "tcp_flags", unsafe.Offsetof(r.TcpFlags), unsafe.Sizeof(r.TcpFlags), decode.RecordOffFlags},
		{"IpVersion", "ip_version", unsafe.Offsetof(r.IpVersion), unsafe.Sizeof(r.IpVersion), decode.RecordOffIPVersion},
		{"Direction", "direction", unsafe.Offsetof(r.Direction), unsafe.Sizeof(r.Direction), decode.RecordOffDirection},
		{"Nopts", "nopts", unsafe.Offsetof(r.Nopts), unsafe.Sizeof(r.Nopts), decode.RecordOffNOpts},
		{"Opts", "opts", unsafe.Offsetof(r.Opts), unsafe.Sizeof(r.Opts), decode.RecordOffOpts},
	}
	if got := unsafe.Sizeof(r); got != decode.RecordSize {
		t.Errorf("generated struct is %d bytes, decode.RecordSize %d", got, decode.RecordSize)
	}
	if recSize != decode.RecordSize || recOffTs != decode.RecordOffTs || recOffPktLen != decode.RecordOffPktLen {
		t.Errorf("bpfcap's own offsets drifted: size %d ts %d len %d", recSize, recOffTs, recOffPktLen)
	}
	if len(r.Opts) != decode.RecordMaxOpts {
		t.Errorf("%d option slots, decode expects %d", len(r.Opts), decode.RecordMaxOpts)
	}
	// Every Go field is listed (a new C member must reach the decoder).
	n := 0
	for f := range reflect.TypeOf(r).Fields() {
		if f.Name != "_" {
			n++
		}
	}
	if n != len(fields) {
		t.Errorf("generated struct has %d fields, the test knows %d", n, len(fields))
	}

	spec, err := bpf.LoadSynscope()
	if err != nil {
		t.Fatal(err)
	}
	var st *btf.Struct
	if err := spec.Types.TypeByName("syn_record", &st); err != nil {
		t.Fatalf("syn_record in the object's BTF: %v", err)
	}
	if st.Size != decode.RecordSize {
		t.Errorf("C struct is %d bytes, decode.RecordSize %d", st.Size, decode.RecordSize)
	}
	if len(st.Members) != len(fields) {
		t.Errorf("C struct has %d members, want %d", len(st.Members), len(fields))
	}
	for i, f := range fields {
		if uintptr(f.decOff) != f.goOff {
			t.Errorf("%s: decode reads offset %d, generated Go struct has %d", f.name, f.decOff, f.goOff)
		}
		if i < len(st.Members) {
			m := st.Members[i]
			sz, _ := btf.Sizeof(m.Type)
			if m.Name != f.cname || uintptr(m.Offset.Bytes()) != f.goOff || uintptr(sz) != f.size {
				t.Errorf("C member %d is %s at %d (%d bytes), Go has %s at %d (%d bytes)",
					i, m.Name, m.Offset.Bytes(), sz, f.name, f.goOff, f.size)
			}
		}
	}
}

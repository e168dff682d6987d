package pcapfile

import (
	"bytes"
	"encoding/binary"
	"io"
	"math"
	"strings"
	"testing"

	"github.com/synscope/synscope/pkg/capture"
)

// firstPacket reads one packet of a single in-memory capture.
func firstPacket(t *testing.T, name string, b []byte) (capture.Packet, error) {
	t.Helper()
	r := newFromReaders([]string{name}, []io.Reader{bytes.NewReader(b)}, 0)
	var p capture.Packet
	return p, r.Next(&p)
}

// TestLinkTypeField: the link-type field of a classic pcap file as libpcap
// reads it. A capture that kept the frame check sequence says so in the
// field's top bits (LT_FCS_LENGTH_PRESENT, a length of 2 words: 0x44000001
// is Ethernet with a 4-byte FCS); it was refused whole. Reserved bits
// still make the file refused. DLT_RAW's platform values are raw IP, and
// synscope's private record type is never a file's (its frames would be
// believed as the kernel's records, direction and all): unsupported.
func TestLinkTypeField(t *testing.T) {
	le := binary.LittleEndian
	frame := payload(1, 64)
	for _, tt := range []struct {
		field uint32
		want  capture.LinkType
		err   string
	}{
		{1, capture.LinkEthernet, ""},
		{0x44000001, capture.LinkEthernet, ""},
		{0x04000071, capture.LinkLinuxSLL, ""},
		{12, capture.LinkRaw, ""},
		{14, capture.LinkRaw, ""},
		{101, capture.LinkRaw, ""},
		{uint32(capture.LinkSynRecord), linkNotOurs, ""},
		{0x00010001, 0, "invalid link type 65537"},
		{0x08000001, 0, "invalid link type"},
	} {
		p, err := firstPacket(t, "link.pcap", pcapBytes(le, false, tt.field, rec{1, 2, frame, 0}))
		switch {
		case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
			t.Errorf("field 0x%08x: error %v, want one saying %q", tt.field, err, tt.err)
		case tt.err == "" && err != nil:
			t.Errorf("field 0x%08x: %v", tt.field, err)
		case tt.err == "" && p.LinkType != tt.want:
			t.Errorf("field 0x%08x: link type %d, want %d", tt.field, p.LinkType, tt.want)
		}
	}
	// The same in a pcapng interface description.
	for _, tt := range []struct {
		link uint16
		want capture.LinkType
	}{{1, capture.LinkEthernet}, {12, capture.LinkRaw}, {uint16(capture.LinkSynRecord), linkNotOurs}} {
		ng := (&ngBuilder{}).shb(le).idb(tt.link, 0, 9, 0).epb(0, 5, frame, 0).buf
		if p, err := firstPacket(t, "link.pcapng", ng); err != nil || p.LinkType != tt.want {
			t.Errorf("pcapng link %d: %v, link type %d, want %d", tt.link, err, p.LinkType, tt.want)
		}
	}
}

// TestSaturatedTimestampLeavesRoom: a pcapng timestamp far beyond any
// real one saturates where the engine can still align a window to it and
// end it (it saturated at the int64 range: the window ended in 1677).
func TestSaturatedTimestampLeavesRoom(t *testing.T) {
	le := binary.LittleEndian
	for _, ng := range [][]byte{
		(&ngBuilder{}).shb(le).idb(1, 0, 0, 0).epb(0, math.MaxUint64, payload(1, 60), 60).buf,
		(&ngBuilder{}).shb(le).idb(1, 0, 9, math.MinInt64/2).epb(0, 5, payload(1, 60), 60).buf,
	} {
		p, err := firstPacket(t, "sat.pcapng", ng)
		if err != nil {
			t.Fatal(err)
		}
		const week = int64(7 * 24 * 3600e9)
		if ts := p.Timestamp; ts > math.MaxInt64-week || ts < math.MinInt64+week {
			t.Errorf("timestamp %d leaves no room for a window", ts)
		}
	}
}

// TestStdinNamedTwice: "-r - -r -" made two inputs read the one standard
// input, each getting parts of the stream (a bad magic, an absurd record
// length, a third of the packets). The second is an input error.
func TestStdinNamedTwice(t *testing.T) {
	r, err := Open([]string{Stdin, Stdin})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if len(r.inputs) != 2 || r.inputs[0].err != nil || r.inputs[1].err == nil ||
		!strings.Contains(r.inputs[1].err.Error(), "standard input is already read") {
		t.Fatalf("inputs %d, errors %v / %v", len(r.inputs), r.inputs[0].err, r.inputs[len(r.inputs)-1].err)
	}
}

package pcapfile

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/klauspost/compress/zstd"

	"github.com/synscope/synscope/pkg/capture"
)

// rec is one pcap record for the hand-built fixtures.
type rec struct {
	sec, frac uint32
	data      []byte
	orig      uint32 // 0: len(data)
}

// pcapBytes builds a classic pcap file. linkField is the raw last header
// field (link type plus FCS bits).
func pcapBytes(bo appendOrder, nano bool, linkField uint32, recs ...rec) []byte {
	var b []byte
	magic := uint32(0xa1b2c3d4)
	if nano {
		magic = 0xa1b23c4d
	}
	b = bo.AppendUint32(b, magic)
	b = bo.AppendUint16(b, 2)
	b = bo.AppendUint16(b, 4)
	b = bo.AppendUint32(b, 0)     // thiszone
	b = bo.AppendUint32(b, 0)     // sigfigs
	b = bo.AppendUint32(b, 65535) // snaplen
	b = bo.AppendUint32(b, linkField)
	for _, r := range recs {
		orig := r.orig
		if orig == 0 {
			orig = uint32(len(r.data))
		}
		b = bo.AppendUint32(b, r.sec)
		b = bo.AppendUint32(b, r.frac)
		b = bo.AppendUint32(b, uint32(len(r.data)))
		b = bo.AppendUint32(b, orig)
		b = append(b, r.data...)
	}
	return b
}

// ngBuilder builds pcapng files block by block.
type ngBuilder struct {
	bo  appendOrder
	buf []byte
}

// block appends a block with its body padded to 4 bytes.
func (n *ngBuilder) block(typ uint32, body []byte) *ngBuilder {
	pad := (4 - len(body)%4) % 4
	total := uint32(12 + len(body) + pad)
	n.buf = n.bo.AppendUint32(n.buf, typ)
	n.buf = n.bo.AppendUint32(n.buf, total)
	n.buf = append(n.buf, body...)
	n.buf = append(n.buf, make([]byte, pad)...)
	n.buf = n.bo.AppendUint32(n.buf, total)
	return n
}

// shb starts a section in byte order bo.
func (n *ngBuilder) shb(bo appendOrder) *ngBuilder {
	n.bo = bo
	var body []byte
	body = bo.AppendUint32(body, 0x1A2B3C4D)
	body = bo.AppendUint16(body, 1)
	body = bo.AppendUint16(body, 0)
	body = bo.AppendUint64(body, ^uint64(0)) // section length unknown
	body = append(body, n.opt(1, []byte("a comment"))...)
	body = append(body, n.opt(0, nil)...)
	return n.block(0x0A0D0D0A, body)
}

func (n *ngBuilder) opt(code uint16, val []byte) []byte {
	var o []byte
	o = n.bo.AppendUint16(o, code)
	o = n.bo.AppendUint16(o, uint16(len(val)))
	o = append(o, val...)
	return append(o, make([]byte, (4-len(val)%4)%4)...)
}

// idb adds an interface; tsresol < 0 means no if_tsresol option.
func (n *ngBuilder) idb(link uint16, snaplen uint32, tsresol int, tsoffset int64) *ngBuilder {
	var body []byte
	body = n.bo.AppendUint16(body, link)
	body = n.bo.AppendUint16(body, 0)
	body = n.bo.AppendUint32(body, snaplen)
	body = append(body, n.opt(2, []byte("eth0"))...)
	if tsresol >= 0 {
		body = append(body, n.opt(9, []byte{byte(tsresol)})...)
	}
	if tsoffset != 0 {
		body = append(body, n.opt(14, n.bo.AppendUint64(nil, uint64(tsoffset)))...)
	}
	body = append(body, n.opt(0, nil)...)
	return n.block(1, body)
}

func (n *ngBuilder) epb(ifid uint32, ts uint64, data []byte, orig uint32) *ngBuilder {
	var body []byte
	body = n.bo.AppendUint32(body, ifid)
	body = n.bo.AppendUint32(body, uint32(ts>>32))
	body = n.bo.AppendUint32(body, uint32(ts))
	body = n.bo.AppendUint32(body, uint32(len(data)))
	body = n.bo.AppendUint32(body, orig)
	body = append(body, data...)
	body = append(body, make([]byte, (4-len(data)%4)%4)...)
	body = append(body, n.opt(1, []byte("pkt comment"))...)
	body = append(body, n.opt(0, nil)...)
	return n.block(6, body)
}

func (n *ngBuilder) spb(orig uint32, data []byte) *ngBuilder {
	body := n.bo.AppendUint32(nil, orig)
	return n.block(3, append(body, data...))
}

func (n *ngBuilder) opb(ifid uint16, ts uint64, data []byte) *ngBuilder {
	var body []byte
	body = n.bo.AppendUint16(body, ifid)
	body = n.bo.AppendUint16(body, 7) // drops
	body = n.bo.AppendUint32(body, uint32(ts>>32))
	body = n.bo.AppendUint32(body, uint32(ts))
	body = n.bo.AppendUint32(body, uint32(len(data)))
	body = n.bo.AppendUint32(body, uint32(len(data)))
	return n.block(2, append(body, data...))
}

func gz(t testing.TB, b []byte) []byte {
	t.Helper()
	var out bytes.Buffer
	w := gzip.NewWriter(&out)
	if _, err := w.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

func zst(t testing.TB, b []byte) []byte {
	t.Helper()
	w, err := zstd.NewWriter(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	return w.EncodeAll(b, nil)
}

func payload(seed byte, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = seed + byte(i)
	}
	return b
}

// result is everything a Reader returned.
type result struct {
	pkts  []capture.Packet // Data copied
	errs  []*capture.InputError
	stats []InputStats
}

// readAll drains r, copying packet data, and checks the Source contract
// along the way.
func readAll(t testing.TB, r *Reader) result {
	t.Helper()
	var res result
	var p capture.Packet
	for i := 0; ; i++ {
		if i > 10_000_000 {
			t.Fatal("reader does not end")
		}
		err := r.Next(&p)
		if err == io.EOF {
			break
		}
		if err != nil {
			var ie *capture.InputError
			if !errors.As(err, &ie) {
				t.Fatalf("Next: non-input error %v", err)
			}
			res.errs = append(res.errs, ie)
			continue
		}
		if p.CapLen != len(p.Data) {
			t.Fatalf("CapLen %d != len(Data) %d", p.CapLen, len(p.Data))
		}
		q := p
		q.Data = bytes.Clone(p.Data)
		res.pkts = append(res.pkts, q)
	}
	if err := r.Next(&p); err != io.EOF {
		t.Fatalf("Next after EOF: %v", err)
	}
	res.stats = r.Stats()
	if err := r.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	return res
}

func readBytes(t testing.TB, bufSize int, files ...[]byte) result {
	t.Helper()
	names := make([]string, len(files))
	srcs := make([]io.Reader, len(files))
	for i, f := range files {
		names[i] = "mem" + string(rune('A'+i))
		srcs[i] = bytes.NewReader(f)
	}
	return readAll(t, newFromReaders(names, srcs, bufSize))
}

func writeFile(t testing.TB, dir, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func openAll(t testing.TB, paths ...string) result {
	t.Helper()
	r, err := Open(paths)
	if err != nil {
		t.Fatal(err)
	}
	return readAll(t, r)
}

// appendOrder is binary.LittleEndian or binary.BigEndian.
type appendOrder interface {
	binary.ByteOrder
	binary.AppendByteOrder
}

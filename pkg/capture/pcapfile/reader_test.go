package pcapfile

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"math/big"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/synscope/synscope/pkg/capture"
)

type wantPkt struct {
	ts   int64
	link capture.LinkType
	data []byte
	orig int
}

func checkPackets(t *testing.T, got []capture.Packet, want []wantPkt) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d packets, want %d", len(got), len(want))
	}
	for i, w := range want {
		g := got[i]
		if g.Timestamp != w.ts || g.LinkType != w.link || g.OrigLen != w.orig || !bytes.Equal(g.Data, w.data) {
			t.Errorf("packet %d: got ts=%d link=%d orig=%d len=%d, want ts=%d link=%d orig=%d len=%d (data equal: %v)",
				i+1, g.Timestamp, g.LinkType, g.OrigLen, len(g.Data), w.ts, w.link, w.orig, len(w.data), bytes.Equal(g.Data, w.data))
		}
	}
}

type formatCase struct {
	name   string
	file   []byte
	format string
	want   []wantPkt
}

func formatCases(t *testing.T) []formatCase {
	d1, d2, d3 := payload(1, 60), payload(2, 1514), payload(3, 40)
	var cases []formatCase

	// pcap written by gopacket, microseconds and nanoseconds, little endian.
	for _, nano := range []bool{false, true} {
		var buf bytes.Buffer
		var w *pcapgo.Writer
		name, format, frac := "pcapgo-micro", "pcap", int64(123456000)
		if nano {
			w = pcapgo.NewWriterNanos(&buf)
			name, format, frac = "pcapgo-nano", "pcap-ns", 123456789
		} else {
			w = pcapgo.NewWriter(&buf)
		}
		if err := w.WriteFileHeader(65535, layers.LinkTypeEthernet); err != nil {
			t.Fatal(err)
		}
		for i, d := range [][]byte{d1, d2} {
			ci := gopacket.CaptureInfo{Timestamp: time.Unix(1700000000+int64(i), frac), CaptureLength: len(d), Length: len(d) + 4}
			if err := w.WritePacket(ci, d); err != nil {
				t.Fatal(err)
			}
		}
		cases = append(cases, formatCase{name, buf.Bytes(), format, []wantPkt{
			{1700000000_000000000 + frac, capture.LinkEthernet, d1, 64},
			{1700000001_000000000 + frac, capture.LinkEthernet, d2, 1518},
		}})
	}

	// Hand-built big endian, micro and nano, with FCS bits in the link field.
	cases = append(cases,
		formatCase{"be-micro", pcapBytes(binary.BigEndian, false, 0x1000_0000|113,
			rec{1700000000, 999999, d1, 0}, rec{1699999999, 5, d3, 1000}), "pcap", []wantPkt{
			{1700000000_999999000, capture.LinkLinuxSLL, d1, 60},
			{1699999999_000005000, capture.LinkLinuxSLL, d3, 1000}, // backwards in time: kept in file order
		}},
		formatCase{"be-nano", pcapBytes(binary.BigEndian, true, 101,
			rec{4294967295, 999999999, d3, 0}), "pcap-ns", []wantPkt{
			{4294967295_999999999, capture.LinkRaw, d3, 40},
		}},
		// tcpdump's timestamp_invalid_micro.pcap case: the fraction carries.
		formatCase{"le-invalid-micro", pcapBytes(binary.LittleEndian, false, 1,
			rec{10, 1000000, d3, 0}, rec{10, 4294967295, d1, 0}), "pcap", []wantPkt{
			{11_000000000, capture.LinkEthernet, d3, 40},
			{10_000000000 + 4294967295*1000, capture.LinkEthernet, d1, 60},
		}},
		formatCase{"le-nano-invalid", pcapBytes(binary.LittleEndian, true, 1,
			rec{10, 1500000000, d3, 0}), "pcap-ns", []wantPkt{
			{11_500000000, capture.LinkEthernet, d3, 40},
		}},
		formatCase{"header-only", pcapBytes(binary.LittleEndian, false, 1), "pcap", nil},
	)

	// pcapng written by gopacket: two interfaces, an ISB to skip.
	{
		var buf bytes.Buffer
		w, err := pcapgo.NewNgWriterInterface(&buf, pcapgo.NgInterface{Name: "eth0", LinkType: layers.LinkTypeEthernet, TimestampResolution: 9},
			pcapgo.NgWriterOptions{SectionInfo: pcapgo.NgSectionInfo{Application: "pcapfile test"}})
		if err != nil {
			t.Fatal(err)
		}
		id, err := w.AddInterface(pcapgo.NgInterface{Name: "any", LinkType: layers.LinkTypeLinuxSLL, TimestampResolution: 9})
		if err != nil {
			t.Fatal(err)
		}
		ts := time.Unix(1700000000, 123456789)
		for i, d := range [][]byte{d1, d3, d2} {
			ci := gopacket.CaptureInfo{Timestamp: ts.Add(time.Duration(i) * time.Millisecond), CaptureLength: len(d), Length: len(d), InterfaceIndex: i % 2 * id}
			if err := w.WritePacket(ci, d); err != nil {
				t.Fatal(err)
			}
			if i == 1 {
				if err := w.WriteInterfaceStats(0, pcapgo.NgInterfaceStatistics{PacketsReceived: 3}); err != nil {
					t.Fatal(err)
				}
			}
		}
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
		cases = append(cases, formatCase{"pcapgo-ng", buf.Bytes(), "pcapng", []wantPkt{
			{1700000000_123456789, capture.LinkEthernet, d1, 60},
			{1700000000_124456789, capture.LinkLinuxSLL, d3, 40},
			{1700000000_125456789, capture.LinkEthernet, d2, 1514},
		}})
	}

	// Hand-built pcapng: three sections, both byte orders, several
	// resolutions, offsets, SPB, OPB and blocks to skip.
	{
		n := &ngBuilder{}
		n.shb(binary.LittleEndian).
			idb(1, 32, 9, 0).             // if0: ns, snaplen 32
			idb(101, 0, 0x80|20, 1000).   // if1: 2^-20 s, +1000 s
			block(4, []byte{1, 0, 4, 0}). // NRB
			block(0x40000BAD, []byte("custom")).
			epb(0, 1700000000123456789, d1, 60).
			epb(1, 5<<20|1<<19, d3, 40). // 5.5 s
			opb(1, 3<<20|1, d3).         // 3 s + 2^-20 s = 953.67 ns
			spb(100, d3).                // if0 snaplen 32 limits it
			shb(binary.BigEndian).
			idb(113, 0, -1, 0). // default µs
			block(5, make([]byte, 16)).
			epb(0, 1700000001000001, d1, 60).
			spb(20, d3[:20]).
			idb(229, 0, 0, -100). // seconds, -100 s
			epb(1, 1700000002, d3, 40).
			shb(binary.LittleEndian).
			idb(228, 0, 3, 0).
			spb(8, d3[:8]). // first packet of its section: timestamp 0
			epb(0, 5, d3, 40)
		cases = append(cases, formatCase{"handmade-ng", n.buf, "pcapng", []wantPkt{
			{1700000000_123456789, capture.LinkEthernet, d1, 60},
			{1005_500000000, capture.LinkRaw, d3, 40},
			{1003_000000953, capture.LinkRaw, d3, 40},
			{1003_000000953, capture.LinkEthernet, d3[:32], 100},
			{1700000001_000001000, capture.LinkLinuxSLL, d1, 60},
			{1700000001_000001000, capture.LinkLinuxSLL, d3[:20], 20},
			{1699999902_000000000, capture.LinkIPv6, d3, 40},
			{0, capture.LinkIPv4, d3[:8], 8},
			{5_000000, capture.LinkIPv4, d3, 40},
		}})
	}
	// Empty pcapng (section header only), big endian.
	cases = append(cases, formatCase{"ng-no-packets", (&ngBuilder{}).shb(binary.BigEndian).idb(1, 0, -1, 0).buf, "pcapng", nil})
	return cases
}

func TestFormats(t *testing.T) {
	for _, tc := range formatCases(t) {
		for _, comp := range []string{"", "gzip", "zstd", "zstd-skippable"} {
			file, format := tc.file, tc.format
			switch comp {
			case "gzip":
				file, format = gz(t, file), format+"+gzip"
			case "zstd":
				file, format = zst(t, file), format+"+zstd"
			case "zstd-skippable":
				// pzstd writes a skippable frame before each frame
				file, format = append([]byte{0x5e, 0x2a, 0x4d, 0x18, 2, 0, 0, 0, 9, 9}, zst(t, file)...), format+"+zstd"
			}
			// bufSize 16 forces every record larger than that through the copy path.
			for _, bufSize := range []int{0, 16, 100} {
				t.Run(fmt.Sprintf("%s/%s/buf=%d", tc.name, comp, bufSize), func(t *testing.T) {
					res := readBytes(t, bufSize, file)
					if len(res.errs) != 0 {
						t.Fatalf("unexpected error: %v", res.errs[0])
					}
					checkPackets(t, res.pkts, tc.want)
					st := res.stats[0]
					if st.Format != format || st.Packets != uint64(len(tc.want)) || st.Err != nil {
						t.Errorf("stats = %+v, want format %q, %d packets", st, format, len(tc.want))
					}
				})
			}
		}
	}
}

// Multi-member gzip (concatenated gzip streams) is one stream.
func TestGzipMultiMember(t *testing.T) {
	f := pcapBytes(binary.LittleEndian, false, 1, rec{1, 0, payload(1, 30), 0}, rec{2, 0, payload(2, 30), 0})
	two := append(gz(t, f[:35]), gz(t, f[35:])...)
	res := readBytes(t, 0, two)
	if len(res.errs) != 0 || len(res.pkts) != 2 {
		t.Fatalf("got %d packets, errors %v", len(res.pkts), res.errs)
	}
	// Zero bytes after the last member are padding, as gzip -d reads
	// them (a tape's blocks): every packet, no error. They failed the
	// input as a member that did not start ("invalid header").
	for _, pad := range []int{1, 2, 511, 10000} {
		res := readBytes(t, 0, append(slices.Clone(two), make([]byte, pad)...))
		if len(res.errs) != 0 || len(res.pkts) != 2 {
			t.Fatalf("%d bytes of padding: got %d packets, errors %v", pad, len(res.pkts), res.errs)
		}
	}
}

func TestTimestampConversion(t *testing.T) {
	const maxU = math.MaxUint64
	tests := []struct {
		resol  uint8
		offset int64
		raw    uint64
		want   int64
	}{
		{9, 0, 123, 123},
		{6, 0, 1, 1000},
		{0, 0, 2, 2e9},
		{3, 0, 1700000000123, 1700000000123000000},
		{12, 0, 1_000_000_123_456, 1_000_000_123},
		{28, 0, maxU, 1}, // 10^19 units per ns
		{29, 0, maxU, 0}, // 10^20 does not fit a uint64
		{127, 0, maxU, 0},
		{0x80 | 20, 0, 1 << 20, 1e9},
		{0x80 | 20, 0, 1, 953},
		{0x80 | 0, 0, 3, 3e9},
		{0x80 | 30, 0, 1 << 30, 1e9},
		{0x80 | 64, 0, 1 << 63, 5e8},
		{0x80 | 127, 0, maxU, 0},
		{0x80 | 1, 0, maxU, tsLimit},
		{0, 0, maxU, tsLimit},
		{9, 0, maxU, tsLimit},
		{6, 0, math.MaxInt64/1000 + 1, tsLimit},
		{9, 0, tsLimit + 1, tsLimit},
		{9, 0, tsLimit, tsLimit},
		{9, 10, 5, 10e9 + 5},
		{9, -10, 5, 5 - 10e9},
		{9, math.MaxInt64, 5, tsLimit},
		{9, math.MinInt64, 5, -tsLimit},
		{9, -tsLimit / 1_000_000_000, 5, -tsLimit/1_000_000_000*1_000_000_000 + 5},
		{9, 1, math.MaxInt64 - 5, tsLimit},
		{9, 1, tsLimit - 1e9 - 5, tsLimit - 5},
	}
	for _, tt := range tests {
		c := newTSConv(tt.resol, tt.offset)
		if got := c.nanos(tt.raw); got != tt.want {
			t.Errorf("resol 0x%02x offset %d raw %d: got %d, want %d", tt.resol, tt.offset, tt.raw, got, tt.want)
		}
	}
	// Exactness against big-integer arithmetic for every resolution.
	rng := rand.New(rand.NewPCG(1, 2))
	maxI := big.NewInt(tsLimit)
	for resol := 0; resol < 256; resol++ {
		c := newTSConv(uint8(resol), 0)
		for i := 0; i < 200; i++ {
			raw := rng.Uint64() >> rng.UintN(64)
			num := new(big.Int).Mul(new(big.Int).SetUint64(raw), big.NewInt(1e9))
			den := new(big.Int)
			if resol&0x80 != 0 {
				den.Lsh(big.NewInt(1), uint(resol&0x7f))
			} else {
				den.Exp(big.NewInt(10), big.NewInt(int64(resol)), nil)
			}
			want := num.Quo(num, den)
			if want.Cmp(maxI) > 0 {
				want = maxI
			}
			if got := c.nanos(raw); got != want.Int64() {
				t.Fatalf("resol 0x%02x raw %d: got %d, want %s", resol, raw, got, want)
			}
		}
	}
}

func TestMergeOrder(t *testing.T) {
	dir := t.TempDir()
	mk := func(name string, secs ...uint32) string {
		var recs []rec
		for i, s := range secs {
			recs = append(recs, rec{s, 0, []byte(fmt.Sprintf("%s%d", name, i)), 0})
		}
		return writeFile(t, dir, name+".pcap", pcapBytes(binary.LittleEndian, false, 1, recs...))
	}
	a := mk("a", 1, 3, 5, 5)
	b := mk("b", 2, 3, 4)
	c := mk("c", 5, 0) // goes backwards: 0 stays after 5
	var cgz, czst string
	{
		raw, _ := os.ReadFile(mk("d", 3, 6))
		cgz = writeFile(t, dir, "d.pcap.gz", gz(t, raw))
		raw, _ = os.ReadFile(mk("e", 4, 7))
		czst = writeFile(t, dir, "e.pcap.zst", zst(t, raw)) // a file: not mapped, inflated
	}
	res := openAll(t, a, b, c, cgz, czst)
	var got []string
	for _, p := range res.pkts {
		got = append(got, fmt.Sprintf("%s@%d", p.Data, p.Timestamp/1e9))
	}
	if f := res.stats[4].Format; f != "pcap+zstd" {
		t.Errorf("e.pcap.zst read as %q", f)
	}
	want := "a0@1 b0@2 a1@3 b1@3 d0@3 b2@4 e0@4 a2@5 a3@5 c0@5 c1@0 d1@6 e1@7"
	if s := strings.Join(got, " "); s != want {
		t.Errorf("merge order\n got %s\nwant %s", s, want)
	}
	// Input order decides ties: listing c first puts c0 first among the 5s.
	res = openAll(t, c, a)
	if s := fmt.Sprintf("%s %s %s %s %s", res.pkts[0].Data, res.pkts[1].Data, res.pkts[2].Data, res.pkts[3].Data, res.pkts[4].Data); s != "a0 a1 c0 c1 a2" {
		t.Errorf("tie order: %s", s)
	}
}

func TestDirectoryExpansion(t *testing.T) {
	dir := t.TempDir()
	f := pcapBytes(binary.LittleEndian, false, 1, rec{1, 0, []byte("x"), 0})
	for _, name := range []string{"b.pcap", "a/x.pcap", "a-b/y.pcap", ".hidden.pcap", ".git/z.pcap", "sub/deeper/c.pcap"} {
		writeFile(t, dir, name, f)
	}
	writeFile(t, dir, "sub/c.pcap.gz", gz(t, f))
	if err := os.MkdirAll(filepath.Join(dir, "emptydir"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(dir, "b.pcap"), filepath.Join(dir, "link.pcap")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(dir, "a"), filepath.Join(dir, "linkdir")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(dir, "missing"), filepath.Join(dir, "dangling.pcap")); err != nil {
		t.Fatal(err)
	}
	explicitHidden := writeFile(t, dir, ".explicit.pcap", f)
	res := openAll(t, dir, explicitHidden)
	var paths []string
	for _, s := range res.stats {
		paths = append(paths, strings.TrimPrefix(s.Path, dir+"/"))
	}
	want := "a-b/y.pcap a/x.pcap b.pcap dangling.pcap link.pcap sub/c.pcap.gz sub/deeper/c.pcap .explicit.pcap"
	if got := strings.Join(paths, " "); got != want {
		t.Errorf("listing\n got %s\nwant %s", got, want)
	}
	// link.pcap is b.pcap: read once, its listing skipped and said.
	if len(res.pkts) != 6 {
		t.Errorf("got %d packets, want 6", len(res.pkts))
	}
	for _, s := range res.stats {
		if strings.HasSuffix(s.Path, "link.pcap") && s.Skipped != "the same file as "+filepath.Join(dir, "b.pcap")+": read once" {
			t.Errorf("link.pcap: skipped %q", s.Skipped)
		}
	}
	if len(res.errs) != 1 || res.errs[0].File != filepath.Join(dir, "dangling.pcap") || !errors.Is(res.errs[0], fs.ErrNotExist) {
		t.Errorf("want one not-exist error for the dangling link, got %v", res.errs)
	}
}

func TestOpenErrors(t *testing.T) {
	if _, err := Open(nil); err == nil {
		t.Error("Open(nil): want error")
	}
	dir := t.TempDir()
	good := writeFile(t, dir, "good.pcap", pcapBytes(binary.LittleEndian, false, 1, rec{1, 0, []byte("x"), 0}))
	missing := filepath.Join(dir, "capture.pcap")
	r, err := Open([]string{missing, good})
	if err != nil {
		t.Fatal(err)
	}
	var p capture.Packet
	err = r.Next(&p)
	var ie *capture.InputError
	if !errors.As(err, &ie) || ie.File != missing || ie.Offset != -1 || ie.Packet != 0 || !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("first Next: %v", err)
	}
	if want := "read " + missing + ": stat: no such file or directory"; err.Error() != want {
		t.Errorf("error text %q, want %q", err, want)
	}
	if err := r.Next(&p); err != nil || string(p.Data) != "x" {
		t.Fatalf("second Next: %v %q", err, p.Data)
	}
	if err := r.Next(&p); err != io.EOF {
		t.Fatalf("third Next: %v", err)
	}
	r.Close()
	if err := r.Next(&p); err != ErrClosed {
		t.Errorf("Next after Close: %v", err)
	}
	if err := r.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

// A path with glob characters that names no file (a config file's read
// list, a quoted argument: no shell expanded it) reads its matches in name
// order; a pattern that matches nothing, or is malformed, is that path's
// error. A file whose name holds such characters is read as itself.
func TestPatterns(t *testing.T) {
	dir := t.TempDir()
	le := binary.LittleEndian
	mk := func(name string, sec uint32) string {
		return writeFile(t, dir, name, pcapBytes(le, false, 1, rec{sec, 0, []byte(name), 0}))
	}
	mk("a2.pcap", 2)
	mk("a1.pcap", 3)
	mk("b.pcap", 1)
	odd := mk("c[1].pcap", 4)
	res := openAll(t, filepath.Join(dir, "a*.pcap"), odd)
	var got []string
	for _, p := range res.pkts {
		got = append(got, string(p.Data))
	}
	if s := strings.Join(got, " "); s != "a2.pcap a1.pcap c[1].pcap" || len(res.errs) != 0 {
		t.Errorf("packets %q, errors %v", s, res.errs)
	}
	if len(res.stats) != 3 || res.stats[0].Path != filepath.Join(dir, "a1.pcap") {
		t.Errorf("inputs %+v", res.stats)
	}
	for pat, want := range map[string]string{
		filepath.Join(dir, "z*.pcap"): "no file matches this pattern",
		filepath.Join(dir, "[.pcap"):  "bad pattern: syntax error in pattern",
	} {
		res := openAll(t, pat)
		if len(res.errs) != 1 || res.errs[0].File != pat || !strings.Contains(res.errs[0].Error(), want) {
			t.Errorf("%s: errors %v, want %q", pat, res.errs, want)
		}
	}
}

func TestBadInputs(t *testing.T) {
	le := binary.LittleEndian
	d := payload(7, 60)
	twoRecs := pcapBytes(le, false, 1, rec{1, 0, d, 0}, rec{2, 0, d, 0})
	absurd := pcapBytes(le, false, 1, rec{1, 0, d, 0}, rec{2, 0, nil, 0})
	binary.LittleEndian.PutUint32(absurd[24+16+60+8:], 0xffffffff)
	badVersion := pcapBytes(le, false, 1)
	badVersion[4] = 3
	badLink := pcapBytes(le, false, 0x0001_0000)
	modified := pcapBytes(le, false, 1)
	binary.LittleEndian.PutUint32(modified, 0xa1b2cd34)

	ng := func() *ngBuilder { return (&ngBuilder{}).shb(le).idb(1, 0, 9, 0) }
	shbLen := len((&ngBuilder{}).shb(le).buf)
	hdrLen := len(ng().buf)
	epbLen := len(ng().epb(0, 1, d, 60).buf) - hdrLen // 112
	mismatch := ng().epb(0, 1, d, 60).epb(0, 2, d, 60).buf
	binary.LittleEndian.PutUint32(mismatch[len(mismatch)-4:], 12345)
	badBlockLen := ng().epb(0, 1, d, 60).block(4, nil).buf
	binary.LittleEndian.PutUint32(badBlockLen[len(badBlockLen)-8:], 13)
	hugeBlock := ng().buf
	hugeBlock = le.AppendUint32(hugeBlock, 6)
	hugeBlock = le.AppendUint32(hugeBlock, 1<<30)
	badBOM := ng().buf
	binary.LittleEndian.PutUint32(badBOM[8:], 0x11223344)
	ngV2 := (&ngBuilder{}).shb(le).buf
	binary.LittleEndian.PutUint16(ngV2[12:], 2)
	capOver := ng().epb(0, 1, d, 60).buf
	binary.LittleEndian.PutUint32(capOver[hdrLen+20:], 100)
	badOpt := (&ngBuilder{}).shb(le).block(1, []byte{1, 0, 0, 0, 0, 0, 0, 0, 9, 0, 200, 0}).buf
	gzNoTrailer := gz(t, twoRecs)
	gzNoTrailer = gzNoTrailer[:len(gzNoTrailer)-8]
	gzTrunc := gz(t, twoRecs)
	gzTrunc = gzTrunc[:len(gzTrunc)/2]
	gzBadCRC := gz(t, twoRecs)
	gzBadCRC[len(gzBadCRC)-8] ^= 0xff
	gzGarbage := append(gz(t, twoRecs), 0, 0, 7, 0)
	zstTrunc := zst(t, twoRecs)
	zstTrunc = zstTrunc[:len(zstTrunc)-10]
	zstBadSum := zst(t, twoRecs)
	zstBadSum[len(zstBadSum)-1] ^= 0xff // the frame's content checksum
	// A frame header that asks for a 1 GiB window (descriptor: a window
	// descriptor follows; exponent 20: 2^30 bytes): refused, not allocated.
	zstHugeWindow := []byte{0x28, 0xb5, 0x2f, 0xfd, 0x00, 20 << 3, 1, 0, 0}

	tests := []struct {
		name      string
		file      []byte
		pkts      int // delivered before the error; -1: not checked (nor packet and offset)
		errText   string
		errPacket uint64
		errOffset int64
	}{
		{"empty", nil, 0, "empty file", 0, 0},
		{"html", []byte("<html><body>"), 0, "not a pcap or pcapng file (magic 0x3c68746d)", 0, 0},
		{"tiny", []byte("ab"), 0, "not a pcap or pcapng file (only 2 bytes)", 0, 0},
		{"pcap-short-header", twoRecs[:10], 0, "truncated file header: want 24 bytes, have 10", 0, 0},
		{"pcap-bad-version", badVersion, 0, "unsupported pcap version 3.4", 0, 0},
		{"pcap-bad-link", badLink, 0, "invalid link type 65536", 0, 0},
		{"pcap-modified", modified, 0, "unsupported pcap variant: modified (Kuznetzov) pcap (magic 0x34cdb2a1): convert it with tcpdump -r FILE -w FILE.pcap", 0, 0},
		{"pcap-trunc-record", twoRecs[:len(twoRecs)-5], 1, "truncated record: want 60 bytes, have 55", 2, 24 + 76},
		{"pcap-trunc-record-header", twoRecs[:24+76+7], 1, "truncated record header: want 16 bytes, have 7", 2, 24 + 76},
		{"pcap-absurd-length", absurd, 1, "record length 4294967295 exceeds the 1048576-byte limit", 2, 24 + 76},
		{"ng-length-mismatch", mismatch, 1, "block length mismatch: header says 112, trailer says 12345 (block type 0x00000006)", 2, int64(hdrLen + epbLen)},
		{"ng-bad-block-length", badBlockLen, 1, "invalid block length 13 (block type 0x00000004): must be a multiple of 4, at least 12", 2, int64(hdrLen + epbLen)},
		{"ng-huge-block", hugeBlock, 0, "block length 1073741824 exceeds the 16777216-byte limit", 1, int64(hdrLen)},
		{"ng-unknown-interface", ng().epb(0, 1, d, 60).epb(1, 2, d, 60).buf, 1, "packet references interface 1, but this section defines 1", 2, int64(hdrLen + epbLen)},
		{"ng-no-interface", (&ngBuilder{}).shb(le).spb(4, d[:4]).buf, 0, "packet references interface 0, but this section defines 0", 1, int64(shbLen)},
		{"ng-bad-bom", badBOM, 0, "bad byte-order magic 0x44332211 in section header", 0, 0},
		{"ng-version-2", ngV2, 0, "unsupported pcapng version 2.0", 0, 0},
		{"ng-trunc-block", ng().epb(0, 1, d, 60).buf[:hdrLen+50], 0, "truncated block: want 104 bytes, have 42", 1, int64(hdrLen)},
		{"ng-trunc-block-header", ng().buf[:hdrLen+5], 0, "truncated block header: want 8 bytes, have 5", 0, int64(hdrLen)},
		{"ng-caplen-over-body", capOver, 0, "captured length 100 exceeds the block body", 1, int64(hdrLen)},
		{"ng-bad-option", badOpt, 0, "option 9 length 200 overruns the block", 0, int64(shbLen)},
		{"gzip-empty", gz(t, nil), 0, "empty file (the gzip stream decompresses to 0 bytes)", 0, 0},
		{"gzip-garbage", []byte{0x1f, 0x8b, 1, 2, 3}, 0, "bad gzip stream", 0, 0},
		{"gzip-no-trailer", gzNoTrailer, 2, "bad gzip stream: truncated: unexpected EOF", 3, 24 + 76 + 76},
		{"gzip-truncated", gzTrunc, -1, "bad gzip stream: truncated: unexpected EOF", 0, -2},
		{"gzip-bad-crc", gzBadCRC, 2, "bad gzip stream: gzip: invalid checksum", 3, 24 + 76 + 76},
		{"gzip-trailing-garbage", gzGarbage, 2, "bad gzip stream: bytes after its end that are neither a gzip member nor zero padding", 3, 24 + 76 + 76},
		{"gzip-not-capture", gz(t, []byte("<html><body>")), 0, "not a pcap or pcapng file (magic 0x3c68746d)", 0, 0},
		{"zstd-empty", zst(t, nil), 0, "empty file (the zstd stream decompresses to 0 bytes)", 0, 0},
		{"zstd-truncated", zstTrunc, -1, "bad zstd stream: truncated: unexpected EOF", 0, -2},
		{"zstd-bad-checksum", zstBadSum, -1, "bad zstd stream: CRC check failed", 0, -2},
		{"zstd-huge-window", zstHugeWindow, 0, "bad zstd stream: window size exceeded: it asks for a window over 128 MiB (zstd --long); decompress it first (zstd -dc --long=31 FILE | sensor -r -)", 0, 0},
		{"zstd-truncated-header", zst(t, twoRecs)[:6], 0, "bad zstd stream", 0, 0},
		{"zstd-not-capture", zst(t, []byte("<html><body>")), 0, "not a pcap or pcapng file (magic 0x3c68746d)", 0, 0},
		{"zstd-skippable-first", append([]byte{0x50, 0x2a, 0x4d, 0x18, 4, 0, 0, 0, 1, 2, 3, 4}, zstTrunc...), -1, "bad zstd stream: truncated", 0, -2},
		{"xz", []byte("\xfd7zXZ\x00\x00\x04"), 0, "xz-compressed file, not read directly: decompress it first (xz -dc FILE > FILE.pcap, or xz -dc FILE | sensor -r -)", 0, 0},
		{"bzip2", []byte("BZh91AY&SY"), 0, "bzip2-compressed file, not read directly: decompress it first (bzip2 -dc", 0, 0},
		{"lz4", []byte{0x04, 0x22, 0x4d, 0x18, 0x64, 0x40, 0xa7}, 0, "lz4-compressed file, not read directly: decompress it first (lz4 -dc", 0, 0},
	}
	for _, tt := range tests {
		for _, bufSize := range []int{0, 16} {
			t.Run(fmt.Sprintf("%s/buf=%d", tt.name, bufSize), func(t *testing.T) {
				res := readBytes(t, bufSize, tt.file)
				if tt.pkts >= 0 && len(res.pkts) != tt.pkts {
					t.Errorf("delivered %d packets, want %d", len(res.pkts), tt.pkts)
				}
				if len(res.errs) != 1 {
					t.Fatalf("got %d errors, want 1: %v", len(res.errs), res.errs)
				}
				e := res.errs[0]
				if !strings.Contains(e.Err.Error(), tt.errText) {
					t.Errorf("error %q does not contain %q", e.Err, tt.errText)
				}
				if e.File != "memA" || (tt.pkts >= 0 && (e.Packet != tt.errPacket || e.Offset != tt.errOffset)) {
					t.Errorf("error at file %s packet %d offset %d, want memA packet %d offset %d (%v)",
						e.File, e.Packet, e.Offset, tt.errPacket, tt.errOffset, e)
				}
				if st := res.stats[0]; st.Err != error(e) || st.Packets != uint64(len(res.pkts)) {
					t.Errorf("stats %+v", st)
				}
			})
		}
	}
}

// A corrupt file in the middle of three: the other two are read completely.
func TestCorruptFileInTheMiddle(t *testing.T) {
	dir := t.TempDir()
	le := binary.LittleEndian
	mk := func(tag byte, base uint32) []byte {
		return pcapBytes(le, false, 1, rec{base, 0, payload(tag, 50), 0}, rec{base + 2, 0, payload(tag, 50), 0}, rec{base + 4, 0, payload(tag, 50), 0})
	}
	a := writeFile(t, dir, "a.pcap", mk('a', 100))
	bad := mk('b', 101)
	binary.LittleEndian.PutUint32(bad[24+66+8:], 1<<25) // packet 2: absurd length
	b := writeFile(t, dir, "b.pcap", bad)
	c := writeFile(t, dir, "c.pcap", gz(t, mk('c', 99)))

	res := openAll(t, a, b, c)
	if len(res.pkts) != 7 {
		t.Errorf("got %d packets, want 7", len(res.pkts))
	}
	if len(res.errs) != 1 {
		t.Fatalf("errors: %v", res.errs)
	}
	want := "read " + b + ": packet 2 at offset 90: record length 33554432 exceeds the 1048576-byte limit"
	if got := res.errs[0].Error(); got != want {
		t.Errorf("error\n got %s\nwant %s", got, want)
	}
	wantStats := []struct {
		n      uint64
		format string
		err    bool
	}{{3, "pcap", false}, {1, "pcap", true}, {3, "pcap+gzip", false}}
	for i, w := range wantStats {
		st := res.stats[i]
		if st.Packets != w.n || st.Format != w.format || (st.Err != nil) != w.err {
			t.Errorf("stats[%d] = %+v", i, st)
		}
	}
}

func TestProgress(t *testing.T) {
	dir := t.TempDir()
	f := pcapBytes(binary.LittleEndian, false, 1, rec{1, 0, payload(1, 100), 0}, rec{2, 0, payload(1, 100), 0})
	a := writeFile(t, dir, "a.pcap", f)
	b := writeFile(t, dir, "b.pcap.gz", gz(t, f))
	bad := writeFile(t, dir, "c.pcap", append(bytes.Clone(f), 1, 2, 3))
	var total int64
	for _, p := range []string{a, b, bad} {
		fi, _ := os.Stat(p)
		total += fi.Size()
	}
	r, err := Open([]string{a, b, bad})
	if err != nil {
		t.Fatal(err)
	}
	if d, tot := r.Progress(); d != 0 || tot != total {
		t.Errorf("before: %d/%d, want 0/%d", d, tot, total)
	}
	var p capture.Packet
	for r.Next(&p) != io.EOF {
		if d, tot := r.Progress(); d > tot {
			t.Errorf("during: %d/%d", d, tot)
		}
	}
	if d, tot := r.Progress(); d != total || tot != total {
		t.Errorf("after: %d/%d, want %d/%d", d, tot, total, total)
	}
	r.Close()
}

// Steady-state reading allocates nothing, for every format and in a merge.
func TestZeroAllocsPerPacket(t *testing.T) {
	const n = 3000
	var recs []rec
	ng := (&ngBuilder{}).shb(binary.BigEndian).idb(1, 0, 0x80|20, 0)
	for i := range n {
		recs = append(recs, rec{uint32(i), 0, payload(byte(i), 60+i%900), 0})
		ng.epb(0, uint64(i)<<20, payload(byte(i), 60+i%900), 1000)
		if i%10 == 0 {
			ng.block(5, make([]byte, 20)).spb(60, payload(1, 60))
		}
	}
	pc := pcapBytes(binary.LittleEndian, true, 1, recs...)
	for _, tc := range []struct {
		name    string
		bufSize int
		files   [][]byte
	}{
		{"pcap", 0, [][]byte{pc}},
		{"pcap-smallbuf", 256, [][]byte{pc}},
		{"pcapng", 0, [][]byte{ng.buf}},
		{"gzip", 0, [][]byte{gz(t, pc)}},
		{"merge", 0, [][]byte{pc, ng.buf, pc}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srcs := make([]io.Reader, len(tc.files))
			names := make([]string, len(tc.files))
			for i, f := range tc.files {
				srcs[i], names[i] = bytes.NewReader(f), fmt.Sprint(i)
			}
			r := newFromReaders(names, srcs, tc.bufSize)
			defer r.Close()
			var p capture.Packet
			for range 1000 { // warm up: open, grow buffers
				if err := r.Next(&p); err != nil {
					t.Fatal(err)
				}
			}
			allocs := testing.AllocsPerRun(1000, func() {
				if err := r.Next(&p); err != nil {
					t.Fatal(err)
				}
			})
			if allocs != 0 {
				t.Errorf("%v allocations per packet", allocs)
			}
		})
	}
}

// A file cut short while being written and zero-filled (a crash, a
// preallocated file) ends in record headers of zeros: each was read as a
// packet of 0 bytes at 1970-01-01, and a run's every record was dated
// 1970 (a review). Now the first of them is the file's error, named, and
// the packets before it are kept: mapped, through windows, in batches, as
// a stream, gzipped.
func TestZeroFilledTail(t *testing.T) {
	le := binary.LittleEndian
	var recs []rec
	for i := range 300 {
		recs = append(recs, rec{1_600_000_000 + uint32(i), 0, payload(byte(i), 60), 0})
	}
	f := append(pcapBytes(le, false, 1, recs...), make([]byte, 4096)...)
	off := int64(24 + 300*(16+60))
	check := func(t *testing.T, name string, res result) {
		t.Helper()
		if len(res.pkts) != 300 {
			t.Errorf("%s: %d packets, want 300", name, len(res.pkts))
		}
		for _, p := range res.pkts {
			if p.Timestamp < 1_600_000_000e9 {
				t.Fatalf("%s: a packet at %d", name, p.Timestamp)
			}
		}
		if len(res.errs) != 1 || res.errs[0].Packet != 301 || res.errs[0].Offset != off ||
			!strings.Contains(res.errs[0].Error(), "original length of 0") {
			t.Errorf("%s: errors %v, want one at packet 301, offset %d", name, res.errs, off)
		}
	}
	everyWay(t, "a.pcap", f, 4096, check)
}

// everyWay reads the file b (named name) every way there is: mapped and
// through windows, with Next and in batches of 1, 7 (mixed with Next) and
// 64, as a stream with a read buffer of bufSize (0: the default), and
// gzipped; check gets each result.
func everyWay(t *testing.T, name string, b []byte, bufSize int, check func(t *testing.T, how string, res result)) {
	eachWalk(t, func(t *testing.T) {
		a := writeFile(t, t.TempDir(), name, b)
		check(t, "next", openAll(t, a))
		for _, n := range []int{1, 7, 64} {
			r, err := Open([]string{a})
			if err != nil {
				t.Fatal(err)
			}
			check(t, "batch "+itoa(n), readBatches(t, r, n, n == 7))
		}
	})
	check(t, "stream", readBytes(t, bufSize, b))
	check(t, "gzip", readBytes(t, bufSize, gz(t, b)))
}

// A file given on standard input and named too is read once, whichever
// comes first (-r f -r - < f counted every packet twice, a review); a
// file on standard input alone is read.
func TestStdinSameFileReadOnce(t *testing.T) {
	dir := t.TempDir()
	a := writeFile(t, dir, "a.pcap", pcapBytes(binary.LittleEndian, false, 1,
		rec{1, 0, payload(1, 60), 0}, rec{2, 0, payload(2, 60), 0}, rec{3, 0, payload(3, 60), 0}))
	saved := os.Stdin
	defer func() { os.Stdin = saved }()
	for _, paths := range [][]string{{a, Stdin}, {Stdin, a}, {Stdin}} {
		f, err := os.Open(a)
		if err != nil {
			t.Fatal(err)
		}
		os.Stdin = f
		res := openAll(t, paths...)
		f.Close()
		skipped := 0
		for _, st := range res.stats {
			if strings.HasPrefix(st.Skipped, "the same file as") {
				skipped++
			}
		}
		if len(res.pkts) != 3 || skipped != len(paths)-1 {
			t.Errorf("%v: %d packets, %d skipped; want 3 and %d", paths, len(res.pkts), skipped, len(paths)-1)
		}
	}
}

// Packet blocks longer than maxPacketBlock are not held whole: a packet
// of more than MaxRecordLen captured bytes comes without its bytes, a
// short one with long options with its bytes; every way of reading gives
// the same packets (both byte orders), and the packets after them come.
func TestBigPacketBlocks(t *testing.T) {
	for _, bo := range []appendOrder{binary.LittleEndian, binary.BigEndian} {
		b := &ngBuilder{}
		b.shb(bo).idb(1, 0, 9, 0)
		b.epb(0, 1_600_000_000e9, payload(1, 60), 60)
		b.epb(0, 1_600_000_001e9, payload(2, MaxRecordLen+1), 1<<30)
		// A short packet whose options make the block long.
		var body []byte
		body = bo.AppendUint32(body, 0)
		ts := uint64(1_600_000_002e9)
		body = bo.AppendUint32(body, uint32(ts>>32))
		body = bo.AppendUint32(body, uint32(ts))
		body = bo.AppendUint32(body, 64)
		body = bo.AppendUint32(body, 64)
		body = append(body, payload(3, 64)...)
		for range 40 {
			body = append(body, b.opt(1, make([]byte, 65532))...)
		}
		body = append(body, b.opt(0, nil)...)
		b.block(6, body)
		b.spb(MaxRecordLen+100, payload(4, MaxRecordLen+100))
		b.epb(0, 1_600_000_003e9, payload(5, 60), 60)
		want := []wantPkt{
			{1_600_000_000e9, capture.LinkEthernet, payload(1, 60), 60},
			{1_600_000_001e9, capture.LinkEthernet, nil, 1 << 30},
			{1_600_000_002e9, capture.LinkEthernet, payload(3, 64), 64},
			{1_600_000_002e9, capture.LinkEthernet, nil, MaxRecordLen + 100}, // a simple packet block: the last time
			{1_600_000_003e9, capture.LinkEthernet, payload(5, 60), 60},
		}
		check := func(t *testing.T, name string, res result) {
			t.Helper()
			if len(res.errs) != 0 || len(res.pkts) != len(want) {
				t.Fatalf("%s: %d packets, errors %v", name, len(res.pkts), res.errs)
			}
			for i, w := range want {
				p := res.pkts[i]
				if p.Timestamp != w.ts || p.LinkType != w.link || !bytes.Equal(p.Data, w.data) || p.OrigLen != w.orig {
					t.Errorf("%s: packet %d: ts %d link %d %d bytes orig %d", name, i, p.Timestamp, p.LinkType, len(p.Data), p.OrigLen)
				}
			}
		}
		everyWay(t, "a.pcapng", b.buf, 64<<10, check)
	}
}

// Gzip inputs whose first packet block is 16 MiB each: every one held its
// pending packet whole while the merge waited (64 files of 72 KB took
// 1.4 GB, a review); now each holds its fixed fields.
func TestBigPacketBlocksBounded(t *testing.T) {
	b := &ngBuilder{}
	b.shb(binary.LittleEndian).idb(1, 0, 9, 0)
	b.epb(0, 1_600_000_000e9, make([]byte, MaxBlockLen-200), MaxBlockLen-200)
	b.epb(0, 1_600_000_001e9, payload(1, 60), 60)
	z := gz(t, b.buf)
	dir := t.TempDir()
	var paths []string
	for i := range 32 {
		paths = append(paths, writeFile(t, dir, "f"+itoa(i)+".pcapng.gz", z))
	}
	r, err := Open(paths)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	var p capture.Packet
	if err := r.Next(&p); err != nil { // every input opened, its first packet pending
		t.Fatal(err)
	}
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 96<<20 {
		t.Errorf("32 inputs with a 16 MiB packet each pending: %d MiB allocated", grew>>20)
	}
}

package pcapfile

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"unsafe"

	"github.com/klauspost/compress/gzip" // the standard library's API, a quarter faster to inflate
	"github.com/klauspost/compress/zstd"

	"github.com/synscope/synscope/pkg/capture"
	"github.com/synscope/synscope/pkg/prefetch"
)

type inputState uint8

const (
	stateNew  inputState = iota // listed, not opened
	stateOpen                   // header read, reading packets
	stateDone                   // exhausted, failed or closed
)

type fileKind uint8

const (
	kindPcap fileKind = iota + 1
	kindPcapng
)

// input is one file (or in-memory stream) being read.
type input struct {
	idx      int
	path     string
	size     int64       // file size at listing time, 0 if unknown
	fi       fs.FileInfo // the file's, when listed from the file system
	src      io.Reader   // in-memory source; nil means open path
	bufSize  int
	progress *atomic.Int64

	state inputState
	err   *capture.InputError // the error that ended this input, if any
	// found: listed by a directory walk, so a file whose content is not a
	// capture is skipped (skipped says why) rather than failed.
	found   bool
	skipped string
	// hidden: an output of this run found in a directory read (an earlier
	// run's records or state beside the captures), left out of the stats
	// too, so that the first run, which did not find it, and every rerun
	// write the same bytes.
	hidden bool
	f      *os.File
	cr     countingReader
	raw    *bufio.Reader // over the file
	zr     io.ReadCloser // the decompressing reader; nil unless compressed
	comp   string        // its format ("gzip", "zstd"), or ""
	br     *bufio.Reader // over the decompressed stream (raw when not compressed)
	held   int           // bytes peeked from br and not yet discarded
	off    int64         // offset of the next unread byte of the decompressed stream
	buf    []byte        // for records larger than br's buffer
	big    []byte        // a packet block larger than maxPacketBlock: its fixed fields and data (pcapng.go)

	// An uncompressed regular file is mapped into memory instead: records
	// are slices of the mapping, with no read system call and no copy;
	// except that a lone classic pcap file's batch walk and its Tails read
	// the stretches of the file whose pages do not map 2 MiB at a time
	// through windows (see decide and window).
	mm   []byte
	mpos int       // next unread byte of mm
	cur  mapCursor // the walk's prefetch, release and progress in mm
	tail *Tail     // the part another goroutine reads, from its boundary on (SplitTail)
	// split: a Tail was split off this input. Its goroutine may still be
	// in a batch when the Reader's walk ends (a bad record or a fault
	// before the boundary, the end of the file after stepping over it),
	// so the mapping is then kept until Close, when every Tail has
	// stopped, and the Tails are voided (release).
	split bool
	// chain guards the links between Tails, their splitting (Split) and
	// the windows of Tails that ended (spare).
	chain  sync.Mutex
	spare  [][]byte
	win    window    // fastBatch's copy of the records it parses (see window)
	wk     walked    // fastBatch's progress through the mapping, for a fault
	walkBy walkModeT // SENSOR_PCAP_WALK when opened

	// parked: opened and let go again, holding only its first packet's
	// time (its place in the merge) until that packet's turn (see park).
	parked bool
	// lean: an input past the open budget (a parked one) closes its file
	// once it has mapped it, and walks the mapping (no window to read
	// into): among many files whose times overlap, each opened again at
	// its turn and read from then on, a descriptor each ran out (a
	// review: 1,500 interleaved files under ulimit -n 1024 lost 486). A
	// compressed file keeps its descriptor: its stream reads through it.
	lean bool

	format    string
	kind      fileKind
	bo        byteOrder
	n         uint64 // packets read
	delivered uint64 // packets returned by Next
	pkt       capture.Packet

	// pcap
	link capture.LinkType
	nano bool

	// pcapng: interfaces of the current section, and the timestamp of its
	// last packet (for Simple Packet Blocks).
	ifaces    []ngIface
	sectionTS int64
	hdr       [8]byte
}

// countingReader counts the bytes read from the file into the Reader's
// progress counter.
type countingReader struct {
	r        io.Reader
	n        int64
	progress *atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if n > 0 {
		c.n += int64(n)
		c.progress.Add(int64(n))
	}
	return n, err
}

// byteOrder is true for big endian. A bool instead of binary.ByteOrder keeps
// the per-field reads free of interface calls.
type byteOrder bool

const (
	littleEndian byteOrder = false
	bigEndian    byteOrder = true
)

func (o byteOrder) u16(b []byte) uint16 {
	if o {
		return binary.BigEndian.Uint16(b)
	}
	return binary.LittleEndian.Uint16(b)
}

func (o byteOrder) u32(b []byte) uint32 {
	if o {
		return binary.BigEndian.Uint32(b)
	}
	return binary.LittleEndian.Uint32(b)
}

func (o byteOrder) put32(b []byte, v uint32) {
	if o {
		binary.BigEndian.PutUint32(b, v)
		return
	}
	binary.LittleEndian.PutUint32(b, v)
}

func (o byteOrder) u64(b []byte) uint64 {
	if o {
		return binary.BigEndian.Uint64(b)
	}
	return binary.LittleEndian.Uint64(b)
}

// Magic numbers, as read big-endian from the first four bytes.
const (
	magicPcapMicro    = 0xa1b2c3d4
	magicPcapNano     = 0xa1b23c4d
	magicPcapModified = 0xa1b2cd34 // Kuznetzov's patched libpcap
	magicPcapng       = 0x0a0d0d0a
)

// advance makes in.pkt the next packet of the input. It returns nil, io.EOF
// once the input is exhausted, or the input's *capture.InputError once when
// it fails; both leave the input done.
func (in *input) advance() error {
	switch in.state {
	case stateDone:
		return io.EOF
	case stateNew:
		if in.err != nil { // listing failed
			in.release(true, false)
			return in.err
		}
		if err := in.open(); err != nil {
			return err
		}
	}
	var err error
	if in.kind == kindPcap {
		err = in.nextPcap()
	} else {
		err = in.nextPcapng()
	}
	if err != nil {
		if err == io.EOF {
			in.release(true, false)
		}
		return err
	}
	in.n++
	return nil
}

// open opens the file, detects compression and format and reads the file
// header.
func (in *input) open() error {
	in.state = stateOpen
	src := in.src
	if src == nil {
		f, err := os.Open(in.path)
		if err != nil {
			e := opErr("open", err)
			if errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) {
				// Compressed files whose times overlap each keep one (and a
				// file that could not be mapped).
				e = fmt.Errorf("%w (too many files open at once: raise the limit, ulimit -n, or read fewer files whose times overlap in one run)", e)
			}
			return in.fail(-1, false, e)
		}
		in.f = f
		src = f
	}
	if in.f != nil {
		if mm := mapFile(in.f); len(mm) >= 4 && compressionOf(mm) == "" {
			in.mm = mm
			in.walkBy = walkModeOf(os.Getenv(walkEnv))
			if in.lean && in.src == nil {
				in.f.Close() // the mapping stays
				in.f, in.walkBy = nil, walkMapped
			}
			return in.detect(mm[:4])
		} else if mm != nil {
			unmapFile(mm)
		}
	}
	in.cr = countingReader{r: src, progress: in.progress}
	in.raw = bufio.NewReaderSize(&in.cr, in.bufSize)
	in.br = in.raw

	b, err := in.raw.Peek(2)
	if len(b) == 0 && err == io.EOF {
		return in.notCapture(errors.New("empty file"))
	}
	b, _ = in.raw.Peek(6)
	if c := compressionOf(b); c != "" {
		in.format = c
		zr, err := decompress(c, in.raw)
		if errors.Is(err, errNotInflated) {
			// Named, it is an error that says what to do; found in a
			// directory, a file skipped (it may not be a capture at all).
			return in.notCapture(err)
		}
		if err != nil {
			return in.fail(0, false, err)
		}
		in.zr, in.comp = zr, c
		in.br = bufio.NewReaderSize(zr, in.bufSize)
	}

	b, err = in.br.Peek(4)
	if len(b) < 4 {
		switch {
		case err != nil && err != io.EOF:
			return in.fail(0, false, in.ioError(err))
		case len(b) == 0 && in.zr != nil:
			return in.notCapture(fmt.Errorf("empty file (the %s stream decompresses to 0 bytes)", in.comp))
		case len(b) == 0:
			return in.notCapture(errors.New("empty file"))
		default:
			return in.notCapture(fmt.Errorf("not a pcap or pcapng file (only %d bytes)", len(b)))
		}
	}
	return in.detect(b)
}

// detect reads the magic number in b and the file header that follows.
func (in *input) detect(b []byte) error {
	be := binary.BigEndian.Uint32(b)
	le := binary.LittleEndian.Uint32(b)
	switch {
	case be == magicPcapng:
		in.kind = kindPcapng
		in.format = "pcapng"
	case be == magicPcapMicro || le == magicPcapMicro:
		in.kind = kindPcap
		in.format = "pcap"
		in.bo = byteOrder(be == magicPcapMicro)
	case be == magicPcapNano || le == magicPcapNano:
		in.kind = kindPcap
		in.format = "pcap-ns"
		in.nano = true
		in.bo = byteOrder(be == magicPcapNano)
	case be == magicPcapModified || le == magicPcapModified:
		return in.fail(0, false, fmt.Errorf("unsupported pcap variant: modified (Kuznetzov) pcap (magic 0x%08x): convert it with tcpdump -r FILE -w FILE.pcap", be))
	default:
		return in.notCapture(fmt.Errorf("not a pcap or pcapng file (magic 0x%08x)", be))
	}
	if in.zr != nil {
		in.format += "+" + in.comp
	}
	if in.kind == kindPcap {
		return in.pcapHeader()
	}
	return nil // pcapng: the first block is the section header, read as any block
}

// read returns the next n bytes of the decompressed stream, or fewer with
// the error that stopped it. The slice is valid until the next read.
func (in *input) read(n int) ([]byte, error) {
	if in.mm != nil {
		in.ahead(&in.cur, in.mpos)
		end := min(in.mpos+n, len(in.mm))
		b := in.mm[in.mpos:end]
		in.mpos = end
		in.off += int64(len(b))
		in.passed(&in.cur, end)
		if len(b) < n {
			return b, io.EOF
		}
		return b, nil
	}
	in.discardHeld()
	if n <= in.br.Size() {
		b, err := in.br.Peek(n)
		in.held = len(b)
		in.off += int64(len(b))
		return b, err
	}
	// Larger than the read buffer: copy into in.buf, growing it only as the
	// data arrives so a lying length costs at most what the file holds.
	buf := in.buf[:0]
	for len(buf) < n {
		if len(buf) == cap(buf) {
			c := min(n, max(2*cap(buf), in.br.Size()))
			nb := make([]byte, len(buf), c)
			copy(nb, buf)
			buf = nb
		}
		m, err := in.br.Read(buf[len(buf):min(cap(buf), n)])
		buf = buf[:len(buf)+m]
		if err != nil {
			in.buf = buf
			in.off += int64(len(buf))
			return buf, err
		}
	}
	in.buf = buf
	in.off += int64(n)
	return buf, nil
}

// mapCursor is a walk's place in a mapping, beside its read position:
// how far it was prefetched, how far its pages were let go, how much of it
// was added to the progress. The Reader's walk and a Tail's each have one.
type mapCursor struct {
	pf       int
	released int
	reported int64
	// How the walk reads its records up to until: straight from the
	// mapping (mapped) or through its window (see decide).
	mapped bool
	until  int
	// A mapped walk's prefetch (see prefetchAt): where it acts next; the
	// end of a stretch of small records whose every line is prefetched
	// (dense); the start of the stretch the scout took last (mark), and
	// that stretch (st), followed as packets are analysed when lazy (see
	// Reader.Ahead), else at once.
	next, dense, mark int
	st                scoutRun
	lazy              bool
}

// walkModeT is how the walks of a mapped classic pcap file read their
// records: walkAuto decides by the page cache (see decide); the others are
// forced, for tests and measurements, by SENSOR_PCAP_WALK=windows or
// mapped in the environment when the file is opened.
type walkModeT int

const (
	walkAuto walkModeT = iota
	walkWindows
	walkMapped
)

const walkEnv = "SENSOR_PCAP_WALK"

func walkModeOf(s string) walkModeT {
	switch s {
	case "windows":
		return walkWindows
	case "mapped":
		return walkMapped
	}
	return walkAuto
}

// decide chooses how the walk at pos reads the records of the next stretch
// of the file, decideEvery bytes from the next huge page boundary after
// pos: where the file's pages map a huge page at a time (a page cache in
// large folios), straight from the mapping, which costs a fault per 2 MiB
// and no copy (on the bench capture, one core, growth off, 0.58 to 0.63 s
// against 0.79 to 0.93 s through windows); otherwise through a window, as
// mapping 4 KiB pages costs more than copying them (1.41 s against 0.99 to
// 1.10 s on the same capture written in 4 KiB writes: docs/performance.md).
// A probe that cannot tell (pages mapped already, a stretch too short, a
// file that shrank under it) keeps the last choice; the first is a window.
func (in *input) decide(c *mapCursor, pos int) {
	next := (pos + hugePage) &^ (hugePage - 1)
	c.until = next + decideEvery
	switch in.walkBy {
	case walkWindows:
		c.mapped = false
		return
	case walkMapped:
		c.mapped = true
		return
	}
	if next+probeLen > len(in.mm) {
		return
	}
	b := in.mm[next : next+probeLen]
	if touched, huge := probe(b); touched {
		c.mapped = huge
	}
}

// probe is hugeProbe, with a fault (the file shrank under the mapping)
// taken for an answer it cannot give.
func probe(b []byte) (touched, huge bool) {
	defer func() {
		if v := recover(); v != nil {
			if _, fault := v.(interface{ Addr() uintptr }); !fault {
				panic(v)
			}
			touched, huge = false, false
		}
	}()
	return hugeProbe(b)
}

const (
	hugePage    = 2 << 20
	decideEvery = releaseEvery
	probeLen    = 512 << 10
	probeStride = 64 << 10
)

// ahead keeps the prefetch prefetchAhead bytes beyond pos (a record may be
// longer than a chunk).
func (in *input) ahead(c *mapCursor, pos int) { in.aheadBy(c, pos, prefetchAhead, math.MaxInt) }

// aheadBy prefetches the mapping from where its prefetch stands (or from
// pos, when the walk got past it) until it is lead bytes beyond pos, or
// most bytes further on, a chunk at a time.
func (in *input) aheadBy(c *mapCursor, pos, lead, most int) {
	// What lies before pos was parsed already (through a window, see
	// window, when the mapped path takes over at a file's end).
	c.pf = max(c.pf, pos)
	for end := min(pos+lead, c.pf+most); c.pf < len(in.mm) && c.pf < end; {
		n := min(prefetchChunk, len(in.mm)-c.pf)
		prefetch.Range(unsafe.Pointer(&in.mm[c.pf]), uintptr(n))
		c.pf += n
	}
}

// passed is told that a walk read the mapping up to end: every MiB it adds
// to the progress, and it lets go of the pages far behind (releaseMapped),
// so a file read through costs the process releaseEvery of resident memory
// at most, not its size (the page cache keeps them; a late read of a
// released page maps it again).
func (in *input) passed(c *mapCursor, end int) {
	if int64(end)-c.reported < 1<<20 {
		return
	}
	in.progress.Add(int64(end) - c.reported)
	c.reported = int64(end)
	if end-c.released >= releaseEvery {
		in.letGo(c, end-releaseLag)
	}
}

// letGo lets go of the pages a walk mapped up to end (whose records were
// all used): behind the parse point as it goes (passed), and where it
// stops, at the end of a part of the file.
func (in *input) letGo(c *mapCursor, end int) {
	if upTo := end &^ (pageSize - 1); upTo > c.released {
		releaseMapped(in.mm[c.released:upTo])
		c.released = upTo
	}
}

var pageSize = os.Getpagesize()

const (
	releaseEvery = 32 << 20
	releaseLag   = 1 << 20
)

// Each record's offset depends on the previous record's length, so walking
// a mapping is a chain of dependent loads that miss the caches and runs at
// memory latency. The hardware prefetcher does not cross a page, so the
// reader asks for the data a page at a time, prefetchAhead bytes before it
// is parsed: the loads then hit the caches and the walk runs at memory
// bandwidth (../shared/tools/minscan.c measures the same effect in C).
const (
	prefetchAhead = 16 << 10
	prefetchChunk = 512
)

// A window is a private copy of a stretch of a mapped file, taken with
// pread(2) just before its records are parsed: the batch walk (fastBatch)
// and a Tail read their records from windows where the file's pages map
// 4 KiB at a time (see decide). Walking such a mapping costs a page fault
// per 16 pages (mapping them) and their release later, and each record's
// header load waits for memory unless prefetched; a copy into a buffer
// that stays in the core's L2 cache costs the kernel one memory-speed copy
// and leaves the parse nothing to wait for. Measured on the bench capture
// (5.4 GB) in such a page cache, one core, four rounds: the whole run 1.47
// to 1.79 s through the mapping, 1.31 to 1.57 s through windows of 512 KiB
// (128 KiB and 1 MiB about the same, 4 MiB slower: docs/performance.md).
// The mapping stays for everything else (the general path, several files
// merged, the Tail's boundary search): a record a window does not hold
// whole after a fresh read (longer than the window, cut short, a file that
// shrank) is left to that path, which reports it as before.
type window struct {
	buf []byte // the file's bytes from off on
	off int
}

// windowSize is a window's capacity: half of this machine's 1 MiB L2.
const windowSize = 512 << 10

// fill reads the file from pos on into w, up to its capacity or to size
// (the mapping's length: a file that grew is read as it was mapped); a
// read that fails or comes short leaves w shorter.
func (w *window) fill(f *os.File, pos, size int) {
	if w.buf == nil {
		w.buf = make([]byte, 0, windowSize)
	}
	b := w.buf[:min(cap(w.buf), max(size-pos, 0))]
	m, _ := f.ReadAt(b, int64(pos))
	w.buf, w.off = b[:m], pos
}

// has tells whether w holds the bytes [pos, end).
func (w *window) has(pos, end int) bool { return pos >= w.off && end <= w.off+len(w.buf) }

// readFull is read, with a short read turned into an error that says what
// was being read.
func (in *input) readFull(n int, what string) ([]byte, error) {
	b, err := in.read(n)
	if len(b) == n {
		return b, nil
	}
	return b, in.shortError(n, len(b), err, what)
}

// skip discards n bytes.
func (in *input) skip(n int, what string) error {
	if in.mm != nil {
		b, err := in.read(n)
		if len(b) < n {
			return in.shortError(n, len(b), err, what)
		}
		return nil
	}
	in.discardHeld()
	m, err := in.br.Discard(n)
	in.off += int64(m)
	if m < n {
		return in.shortError(n, m, err, what)
	}
	return nil
}

func (in *input) discardHeld() {
	if in.held > 0 {
		in.br.Discard(in.held) // the bytes are buffered: cannot fail
		in.held = 0
	}
}

func (in *input) shortError(want, have int, err error, what string) error {
	if err == nil || err == io.EOF {
		return fmt.Errorf("truncated %s: want %d bytes, have %d", what, want, have)
	}
	return in.ioError(err)
}

func (in *input) ioError(err error) error {
	if in.zr != nil {
		if err == io.ErrUnexpectedEOF {
			return fmt.Errorf("bad %s stream: truncated: %w", in.comp, err)
		}
		if errors.Is(err, zstd.ErrWindowSizeExceeded) {
			return fmt.Errorf("bad zstd stream: %w: it asks for a window over %d MiB (zstd --long); decompress it first (zstd -dc --long=31 FILE | sensor -r -)", err, zstdMaxWindow>>20)
		}
		return fmt.Errorf("bad %s stream: %w", in.comp, err)
	}
	return opErr("read", err)
}

// notCapture ends an input whose content is not a capture at all: a skip
// for a file found in a directory, an error for one the user named.
func (in *input) notCapture(err error) error {
	if !in.found {
		return in.fail(0, false, err)
	}
	in.skipped = err.Error()
	in.release(true, false)
	return io.EOF
}

// fail ends the input with an error for the record or block starting at
// offset start. inPacket tells whether the failure is in a packet record
// (so it names packet n+1 even before the first packet).
func (in *input) fail(start int64, inPacket bool, err error) error {
	if errors.Is(err, errStreamInterrupted) { // no failure of the input
		in.release(false, false)
		return ErrInterrupted
	}
	e := &capture.InputError{File: in.path, Offset: start, Err: err}
	if inPacket || in.n > 0 {
		e.Packet = in.n + 1
	}
	in.err = e
	in.release(true, false)
	return e
}

// release closes the file and drops the buffers. With complete, the unread
// rest of the file counts as consumed for Progress. A mapping Tails were
// split off is only unmapped when final (Close): before that their
// goroutines may still be reading it, so they are voided (they stop at
// their next batch) and the mapping, and in.mm, stay as they are.
func (in *input) release(complete, final bool) error {
	var err error
	if in.zr != nil {
		in.zr.Close()
	}
	if in.mm != nil {
		in.cr.n = in.cur.reported
		switch {
		case in.split && !final:
			in.chain.Lock()
			voidFrom(in.tail)
			in.chain.Unlock()
		default:
			unmapFile(in.mm)
			in.mm = nil
		}
	}
	if in.f != nil {
		err = in.f.Close()
	}
	if st, ok := in.src.(*stream); ok {
		// Finished or failed: a FIFO's writer is let go (EPIPE), not
		// left blocked on a pipe no one reads (a review).
		st.interrupt()
	}
	if complete && in.state != stateDone && in.size > in.cr.n {
		in.progress.Add(in.size - in.cr.n)
	}
	in.state = stateDone
	in.f, in.zr, in.raw, in.br, in.buf, in.big, in.ifaces = nil, nil, nil, nil, nil, nil, nil
	in.comp = ""
	in.held = 0
	in.pkt = capture.Packet{}
	return err
}

// park lets go of a file whose first packet has been read, keeping only
// what orders it in the merge (that packet's time, the input's place in
// the list) and what listing found. Its next advance opens it again from
// the start, as if never opened; nothing was delivered from it yet, and
// the bytes it counted towards Progress are taken back (they are counted
// again when it is read).
func (in *input) park() {
	ts := in.pkt.Timestamp
	in.release(false, true)   // a parked input was never split (SplitTail needs one input)
	in.progress.Add(-in.cr.n) // release left what the file counted here
	*in = input{idx: in.idx, path: in.path, size: in.size, bufSize: in.bufSize, progress: in.progress,
		found: in.found, format: in.format, parked: true, lean: true, pkt: capture.Packet{Timestamp: ts}}
}

// zstdMaxWindow bounds the memory a zstd stream may ask for (its window):
// 128 MiB, zstd's own limit unless --long asks more. A stream that asks
// more is refused (bad zstd stream), not allocated.
const zstdMaxWindow = 1 << 27

// compressionOf names the compression whose magic number b (a file's
// first bytes) starts with: "gzip" and "zstd", which the reader inflates,
// or "xz", "bzip2" and "lz4", which it does not; "" for none of them.
// CompressionOf is compressionOf, for the other readers of the sensor's
// files (sensor report reads its rotated, compressed outputs).
func CompressionOf(b []byte) string { return compressionOf(b) }

func compressionOf(b []byte) string {
	switch {
	case len(b) >= 2 && b[0] == 0x1f && b[1] == 0x8b:
		return "gzip"
	case len(b) >= 4 && b[0] == 0x28 && b[1] == 0xb5 && b[2] == 0x2f && b[3] == 0xfd:
		return "zstd"
	case len(b) >= 4 && b[0]&0xf0 == 0x50 && b[1] == 0x2a && b[2] == 0x4d && b[3] == 0x18:
		return "zstd" // a skippable frame first, as pzstd writes
	case len(b) >= 4 && b[0] == 0x02 && b[1] == 0x21 && b[2] == 0x4c && b[3] == 0x18:
		return "lz4" // the legacy format (lz4 -l)
	case len(b) >= 6 && string(b[:6]) == "\xfd7zXZ\x00":
		return "xz"
	case len(b) >= 4 && string(b[:3]) == "BZh" && b[3] >= '1' && b[3] <= '9':
		return "bzip2"
	case len(b) >= 4 && b[0] == 0x04 && b[1] == 0x22 && b[2] == 0x4d && b[3] == 0x18:
		return "lz4"
	}
	return ""
}

// decompress returns the reader of the stream compressed with c in r, or
// an error saying what to do with a compression the reader does not
// inflate.
func decompress(c string, r io.Reader) (io.ReadCloser, error) {
	switch c {
	case "gzip":
		br, ok := r.(*bufio.Reader)
		if !ok {
			br = bufio.NewReader(r)
		}
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("bad gzip stream: %w", err)
		}
		zr.Multistream(false)
		return &gzipMembers{br: br, zr: zr}, nil
	case "zstd":
		// One goroutine: the stream is read in order, and the capture's
		// own work runs beside it.
		zr, err := zstd.NewReader(r, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxWindow(zstdMaxWindow))
		if err != nil {
			return nil, fmt.Errorf("bad zstd stream: %w", err)
		}
		return zr.IOReadCloser(), nil
	}
	tool := map[string]string{"xz": "xz -dc", "bzip2": "bzip2 -dc", "lz4": "lz4 -dc"}[c]
	return nil, fmt.Errorf("%s-compressed %w: decompress it first (%s FILE > FILE.pcap, or %s FILE | sensor -r -)", c, errNotInflated, tool, tool)
}

// gzipMembers reads a gzip file member after member (files concatenated
// with cat are one stream, as gzip -d reads them) and, like gzip -d, takes
// zero bytes after the last member for padding (a tape's, a block
// device's), not for a member that fails to start: every packet was read.
// Other bytes there are an error that says so.
type gzipMembers struct {
	br  *bufio.Reader // the compressed bytes; gzip reads no further than a member's end from it
	zr  *gzip.Reader
	err error // sticky: io.EOF at the end, or what stopped the stream
}

func (g *gzipMembers) Read(p []byte) (int, error) {
	for g.err == nil {
		n, err := g.zr.Read(p)
		switch {
		case err != io.EOF:
			return n, err
		case n > 0:
			return n, nil // the member's end: looked past on the next call
		}
		g.err = g.next()
	}
	return 0, g.err
}

// next starts the next member after one ended: nil, or io.EOF at the end,
// or the error that stops the stream.
func (g *gzipMembers) next() error {
	b, err := g.br.Peek(2)
	switch {
	case len(b) == 0 && err == io.EOF:
		return io.EOF
	case len(b) == 2 && b[0] == 0x1f && b[1] == 0x8b:
		if err := g.zr.Reset(g.br); err != nil {
			return err // named a bad gzip stream by ioError
		}
		g.zr.Multistream(false)
		return nil
	case len(b) == 0:
		return err
	}
	for {
		c, err := g.br.ReadByte()
		switch {
		case err != nil:
			return err // io.EOF: only zeros after the last member
		case c != 0:
			return errors.New("bytes after its end that are neither a gzip member nor zero padding")
		}
	}
}

func (g *gzipMembers) Close() error { return g.zr.Close() }

// errNotInflated: the file is compressed with a tool the reader does not
// inflate.
var errNotInflated = errors.New("file, not read directly")

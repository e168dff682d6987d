package pcapfile

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"unsafe"

	"github.com/synscope/synscope/pkg/capture"
)

// Limits on what a file may claim. Anything larger is reported as an
// absurd length instead of being allocated.
const (
	// MaxRecordLen is the largest pcap record (incl_len) accepted.
	MaxRecordLen = 1 << 20
	// MaxBlockLen is the largest pcapng block (block total length) accepted.
	MaxBlockLen = 16 << 20
)

const (
	defaultBufSize = 1 << 20  // per-input read buffer
	minBufSize     = 64 << 10 // floor when many inputs share the budget
	bufBudget      = 64 << 20 // total read-buffer budget with many inputs
	manyInputs     = bufBudget / defaultBufSize
)

// ErrClosed is returned by Next after Close.
var ErrClosed = errors.New("pcapfile: reader closed")

// Reader reads a list of capture files as one capture.Source. It is not safe
// for concurrent use, except Progress, which may be called from any
// goroutine at any time.
type Reader struct {
	inputs []*input
	heap   []*input // inputs holding a pending packet, ordered by (timestamp, idx)
	prime  int      // inputs[prime:] have not been opened yet
	budget int      // inputs past this many are parked after their first packet (openBudget)
	last   *input   // input whose packet Next returned last; advanced on the next call
	closed bool
	stdin  bool // "-" is listed already
	// stdinIn is the input of "-", stdinFi the file it reads when that is
	// a regular file (same finds it as a file named).
	stdinIn *input
	stdinFi fs.FileInfo
	// streams: standard input when it is a pipe, FIFO or socket (see
	// stdinStream), and the FIFOs named (see list): Interrupt ends their
	// waiting reads.
	streams []*stream
	bySize  map[int64][]*input // listed files by size, to find one listed twice (addListed)

	done  atomic.Int64 // bytes consumed from disk (compressed bytes for gzip)
	total int64        // sum of the sizes of the listed files
}

var _ capture.Source = (*Reader)(nil)

// InputStats describes one input after (or while) reading.
type InputStats struct {
	Path    string
	Format  string // "pcap", "pcap-ns" or "pcapng", with "+gzip" or "+zstd" when compressed; "gzip", "zstd" or "" when not (yet) recognised
	Packets uint64 // packets delivered by Next
	Err     error  // nil, or the *capture.InputError that ended this input
	// Skipped is why a file found in a directory was passed over (its
	// content is not a capture), or "".
	Skipped string
}

// Open lists the inputs named by paths (files or directories, see the
// package documentation) without opening them. It fails only when paths is
// empty; a path that cannot be read becomes an *capture.InputError returned
// by Next.
func Open(paths []string) (*Reader, error) {
	if len(paths) == 0 {
		return nil, errors.New("pcapfile: no input paths given")
	}
	r := &Reader{}
	for _, p := range paths {
		r.list(p)
	}
	r.setup(0)
	return r, nil
}

// newFromReaders builds a Reader over in-memory streams (tests and fuzzing).
// bufSize 0 means the default.
func newFromReaders(names []string, srcs []io.Reader, bufSize int) *Reader {
	r := &Reader{}
	for i, src := range srcs {
		r.inputs = append(r.inputs, &input{path: names[i], src: src})
	}
	r.setup(bufSize)
	return r
}

func (r *Reader) setup(bufSize int) {
	if bufSize <= 0 {
		bufSize = defaultBufSize
		if n := len(r.inputs); n > manyInputs {
			bufSize = max(minBufSize, bufBudget/n)
		}
	}
	for i, in := range r.inputs {
		in.idx = i
		in.bufSize = bufSize
		in.progress = &r.done
		r.total += in.size
	}
	r.heap = make([]*input, 0, len(r.inputs))
	r.budget = openBudget()
}

// Stdin is the path that names standard input ("-r -"): a capture piped in,
// read through a buffer (it cannot be mapped), plain or gzip.
const Stdin = "-"

// list appends the inputs named by one path.
func (r *Reader) list(root string) {
	if root == Stdin {
		if r.stdin {
			// Two readers of one stream would each get parts of it.
			r.addErr(root, errors.New("standard input is already read by an earlier -r -: name it once"))
			return
		}
		r.stdin = true
		// A file on standard input is a file named like the others: read
		// once (-r f -r - < f counted every packet twice, a review).
		sfi, err := os.Stdin.Stat()
		if err != nil || !sfi.Mode().IsRegular() {
			sfi = nil
		} else if e := r.same(sfi); e != nil {
			r.inputs = append(r.inputs, &input{path: root, skipped: fmt.Sprintf("the same file as %s: read once", e.path), state: stateDone})
			return
		}
		in, stream := stdinStream()
		if stream != nil {
			r.streams = append(r.streams, stream)
		}
		r.stdinIn, r.stdinFi = &input{path: root, src: in}, sfi
		r.inputs = append(r.inputs, r.stdinIn)
		return
	}
	fi, err := os.Stat(root)
	if err != nil && errors.Is(err, fs.ErrNotExist) && strings.ContainsAny(root, "*?[") {
		// A pattern no shell expanded (a config file's read list, a
		// quoted argument): its matches, in name order.
		matches, gerr := filepath.Glob(root)
		if gerr != nil {
			r.addErr(root, fmt.Errorf("bad pattern: %w", gerr))
			return
		}
		if len(matches) == 0 {
			r.addErr(root, errors.New("no file matches this pattern"))
			return
		}
		for _, m := range matches {
			r.list(m)
		}
		return
	}
	if err != nil {
		r.addErr(root, opErr("stat", err))
		return
	}
	if fi.Mode()&fs.ModeSocket != 0 {
		// open(2) cannot open a socket: it failed at the first read as
		// "no such device or address" (a review).
		r.addErr(root, errors.New("is a socket, which cannot be opened as a file: read it through a pipe (nc -U "+root+" | sensor -r -)"))
		return
	}
	if fi.Mode()&fs.ModeNamedPipe != 0 {
		// A FIFO or a process substitution (-r <(tcpdump -w - ...)) is a
		// stream, as standard input is: opened and read by the stream's
		// goroutine, so that a signal ends a run that waits for its writer
		// or its data, and what it gives is analysed as it comes. (It was
		// opened and read as a file: the run heard no signal until the
		// writer closed, and none at all while no writer opened it; a
		// review.) Named twice, it is read once (two readers would each
		// get parts of it), and it is listed by size as a file is, so that
		// an output at the same FIFO is refused (CheckOutput).
		r.addFile(root, fi)
		if in := r.inputs[len(r.inputs)-1]; in.skipped == "" {
			s := newStream(&fifoReader{path: root})
			r.streams = append(r.streams, s)
			in.src = s
		}
		return
	}
	if !fi.IsDir() {
		r.addFile(root, fi)
		return
	}
	start := len(r.inputs)
	r.walk(root)
	added := r.inputs[start:]
	slices.SortStableFunc(added, func(a, b *input) int { return strings.Compare(a.path, b.path) })
}

// walk appends every regular file below dir, skipping hidden entries and
// not following symbolic links to directories.
func (r *Reader) walk(dir string) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		// ReadDir may return the entries read before the error; report the
		// directory and still take what was listed.
		r.addErr(dir, opErr("list directory", err))
	}
	for _, e := range entries {
		name := e.Name()
		if strings.HasPrefix(name, ".") {
			continue
		}
		p := filepath.Join(dir, name)
		switch t := e.Type(); {
		case t.IsDir():
			r.walk(p)
		case t.IsRegular():
			fi, err := e.Info()
			if err != nil {
				r.addErr(p, opErr("stat", err))
				continue
			}
			r.addListed(p, fi, true)
		case t&fs.ModeSymlink != 0:
			fi, err := os.Stat(p)
			if err != nil {
				r.addErr(p, opErr("stat", err))
				continue
			}
			if fi.Mode().IsRegular() {
				r.addListed(p, fi, true)
			}
		}
		// Devices, pipes and sockets inside a directory are not capture files.
	}
}

func (r *Reader) addFile(path string, fi fs.FileInfo) {
	r.addListed(path, fi, false)
}

// addListed appends a file; found (in a directory walk, not named by the
// user) makes a file that is not a capture a skip instead of an error: a
// folder of captures often holds a README or a checksum list beside them.
func (r *Reader) addListed(path string, fi fs.FileInfo, found bool) {
	in := &input{path: path, found: found, fi: fi}
	if e := r.same(fi); e != nil {
		// Named twice (-r f -r f, a directory and a file in it, a link
		// to it): read once, or its packets count twice.
		in.skipped, in.state = fmt.Sprintf("the same file as %s: read once", e.path), stateDone
		r.inputs = append(r.inputs, in)
		return
	}
	if fi.Mode().IsRegular() {
		in.size = fi.Size()
	}
	if r.bySize == nil {
		r.bySize = map[int64][]*input{}
	}
	r.bySize[fi.Size()] = append(r.bySize[fi.Size()], in)
	r.inputs = append(r.inputs, in)
}

// same returns the input listed already that is the file fi (standard
// input's too), or nil.
func (r *Reader) same(fi fs.FileInfo) *input {
	for _, e := range r.bySize[fi.Size()] {
		if os.SameFile(e.fi, fi) {
			return e
		}
	}
	if r.stdinFi != nil && os.SameFile(r.stdinFi, fi) {
		return r.stdinIn
	}
	return nil
}

// CheckOutput refuses an output file fi that is one of the captures named
// (or the file standard input reads): opening it truncates it. One found in
// a directory read (an earlier run's output beside the captures) is skipped
// instead, as not a capture of this run, and left out of Stats and
// NewestModTime (a rerun writes what the first run wrote). Call it before
// reading.
func (r *Reader) CheckOutput(fi fs.FileInfo) error {
	if r.stdin {
		// A file, or a FIFO (sensor -r - -o f < f read its own records
		// as capture data, a review); not a device (-o /dev/null with
		// standard input from it is no loop).
		if sfi, err := os.Stdin.Stat(); err == nil && (sfi.Mode().IsRegular() || sfi.Mode()&fs.ModeNamedPipe != 0) && os.SameFile(sfi, fi) {
			return errors.New("is the capture read from standard input")
		}
	}
	e := r.same(fi)
	switch {
	case e == nil:
		return nil
	case e.found && !looksLikeCapture(e.path):
		if e.state != stateDone {
			e.skipped, e.state = "the output of this run", stateDone
			r.total -= e.size
		}
		// Hidden, and so is every other listing of it (-r d -r d/sub: "the
		// same file as", read once), or a rerun still named it (a review).
		for _, in := range r.inputs {
			if in.fi != nil && os.SameFile(in.fi, fi) {
				in.hidden = true
			}
		}
		return nil
	}
	return fmt.Errorf("is the capture %s read", e.path)
}

// NewestModTime is the latest modification time of the files listed (ns;
// 0 when none has one: standard input or FIFOs alone).
func (r *Reader) NewestModTime() int64 {
	var t int64
	for _, in := range r.inputs {
		// A FIFO's time is its node's, not its data's: left out, as
		// standard input is (a review: an empty FIFO's run was stamped
		// with the day the FIFO was made).
		if _, stream := in.src.(*stream); in.fi != nil && !in.hidden && !stream {
			t = max(t, in.fi.ModTime().UnixNano())
		}
	}
	return t
}

// looksLikeCapture says whether the file at path starts as a capture (pcap,
// pcapng) or a compressed file may: one that does not is not a capture this
// run would read (a directory's README, an earlier run's JSONL).
func looksLikeCapture(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return true // unknown: the safe answer
	}
	defer f.Close()
	var b [4]byte
	if n, _ := io.ReadFull(f, b[:]); n < 4 {
		return n > 0 && compressionOf(b[:n]) != ""
	}
	be, le := binary.BigEndian.Uint32(b[:]), binary.LittleEndian.Uint32(b[:])
	for _, m := range []uint32{magicPcapng, magicPcapMicro, magicPcapNano, magicPcapModified} {
		if be == m || le == m {
			return true
		}
	}
	return compressionOf(b[:]) != ""
}

func (r *Reader) addErr(path string, err error) {
	in := &input{path: path}
	in.err = &capture.InputError{File: path, Offset: -1, Err: err}
	r.inputs = append(r.inputs, in)
}

// opErr strips the path from an *fs.PathError (InputError names the file
// already) and prefixes the operation.
func opErr(op string, err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return fmt.Errorf("%s: %w", op, pe.Err)
	}
	return fmt.Errorf("%s: %w", op, err)
}

// Next implements capture.Source. p.Data aliases a buffer of the input it
// came from and is valid until the next call to Next or Close.
func (r *Reader) Next(p *capture.Packet) error {
	if r.closed {
		return ErrClosed
	}
	// First call(s): open every input in list order and read its first
	// packet. A failing input returns its error now; the others follow on
	// the next calls.
	for r.prime < len(r.inputs) {
		in := r.inputs[r.prime]
		r.prime++
		if err := in.advance(); err != nil {
			if err == io.EOF {
				continue
			}
			return err
		}
		if r.prime > r.budget && in.src == nil {
			in.park()
		}
		r.heap = append(r.heap, in)
		r.up(len(r.heap) - 1)
	}
	// The input delivered last is still at the top of the heap: read its
	// next packet only now, so the previous p.Data stayed valid until this
	// call.
	if in := r.last; in != nil {
		if st, ok := in.src.(*stream); ok && in.comp == "" && in.br != nil && !in.awaitRecord(st) {
			// A stream that idles (a capture of a quiet link, still
			// running) before its next record is whole: said, so that
			// the run can write what it holds; the next call reads on.
			return capture.ErrTimeout
		}
		r.last = nil
		err := in.advance()
		if err == nil {
			r.down(0)
		} else {
			r.pop()
			if err != io.EOF {
				return err
			}
		}
	}
	// A parked input whose first packet is next is opened again (its
	// packet may differ if the file changed: the heap decides again).
	for len(r.heap) > 0 && r.heap[0].parked {
		in := r.heap[0]
		in.parked = false
		if err := in.advance(); err != nil {
			r.pop()
			if err != io.EOF {
				return err
			}
			continue
		}
		r.down(0)
	}
	if len(r.heap) == 0 {
		return io.EOF
	}
	in := r.heap[0]
	*p = in.pkt
	in.delivered++
	r.last = in
	return nil
}

var _ capture.BatchSource = (*Reader)(nil)

// NextBatch is Next for several packets at a time. When the input whose
// packet came last is a mapped classic pcap file, its records are parsed
// straight from the mapping in a tight loop, for as long as they come
// before every other input's next packet (a single file: to the end of the
// batch; files of consecutive times, such as a rotated capture: to the end
// of each); a mapped pcapng file read alone, its Enhanced Packet Blocks
// (fastNG); anything else (other pcapng blocks, pcapng among other inputs,
// compressed files, the end of a file, an error) goes through Next, one
// packet.
//
// A read of a mapped file that shrank faults (see FaultSource): when
// packets were parsed before it, they are returned and the fault comes
// again on the next call, from the record it could not read.
func (r *Reader) NextBatch(ps []capture.Packet) (n int, err error) {
	in := r.last
	if r.closed || in == nil || r.prime < len(r.inputs) || len(r.heap) == 0 || r.heap[0] != in ||
		in.mm == nil || in.state != stateOpen || len(ps) == 0 ||
		(in.kind != kindPcap && (in.kind != kindPcapng || len(r.heap) > 1 || len(in.ifaces) == 0)) {
		if err := r.Next(&ps[0]); err != nil {
			return 0, err
		}
		return 1, nil
	}
	var rival *input
	n0 := in.n
	defer func() {
		if wk := in.wk; wk.n > 0 { // a fault in fastBatch's mapped walk
			in.mpos, in.off, in.n = wk.pos, in.off+int64(wk.pos-wk.start), in.n+uint64(wk.n)
			in.wk = walked{}
		}
		if rival == nil {
			n = int(in.n - n0) // fastBatch's records before the fault
		}
		if n > 0 {
			if v := recover(); v != nil {
				if _, fault := v.(interface{ Addr() uintptr }); !fault {
					panic(v)
				}
				in.delivered += uint64(n)
				if rival == nil {
					in.pkt = ps[n-1]
					if in.kind == kindPcapng {
						in.sectionTS = in.pkt.Timestamp
					}
				}
			}
		}
	}()
	// With other inputs open, in's packets go while they come before the
	// earliest of the others (a child of the heap's root); the first that
	// does not stays in's pending packet, and the heap decides again.
	if h := r.heap; len(h) > 1 {
		rival = h[1]
		if len(h) > 2 && less(h[2], rival) {
			rival = h[2]
		}
	}
	if rival == nil {
		// Alone: the records go straight into ps, and in.pkt is the last
		// one, as if each had passed through it.
		if in.kind == kindPcapng {
			n = in.fastNG(ps)
		} else {
			n = in.fastBatch(ps)
		}
		if n > 0 {
			in.pkt = ps[n-1]
		}
	} else {
		for n < len(ps) && in.fastPcap(&in.pkt) {
			if !less(in, rival) {
				r.last = nil
				r.down(0)
				break
			}
			ps[n] = in.pkt
			n++
		}
	}
	in.delivered += uint64(n)
	if n == 0 { // the end of the mapping, a Tail's boundary, or a record fastPcap leaves to Next
		if in.atTail() {
			in.letGo(&in.cur, in.mpos)
			return 0, capture.ErrAtTail
		}
		if err := r.Next(&ps[0]); err != nil {
			return 0, err
		}
		return 1, nil
	}
	return n, nil
}

// Ahead has the scout of the file being read follow the stretch it will
// read next (see scout), four records of its chains a call, or prefetch
// the lines of a dense stretch's next batch: the pipeline
// calls it every few packets it analyses, so that the scout's loads wait
// for memory while the packets are decoded and counted instead of before
// the walk (capture.AheadSource). Once called, the scout no longer follows
// a stretch at once when it takes it; whatever Ahead has not done by the
// time the walk gets there is done then.
func (r *Reader) Ahead() {
	if in := r.last; in != nil && in.mm != nil && in.state == stateOpen {
		in.cur.lazy = true
		in.step(&in.cur, in.mpos)
	}
}

// pop removes the top of the heap.
func (r *Reader) pop() {
	n := len(r.heap) - 1
	r.heap[0] = r.heap[n]
	r.heap[n] = nil
	r.heap = r.heap[:n]
	if n > 0 {
		r.down(0)
	}
}

// maxOpen is the most files the merge keeps open from the start (fewer
// when the descriptor limit is low: openBudget; a variable so tests can
// lower it). The others are parked once their first packet is read (see
// park) and opened again when it is their turn: a directory of a month of
// rotated captures (tcpdump -G 60: 43,200 files) would otherwise hold a
// descriptor and a mapping per file, past the usual limits (1,024
// descriptors, 65,530 mappings), and lose the files beyond them.
var maxOpen = 256

func less(a, b *input) bool {
	if a.pkt.Timestamp != b.pkt.Timestamp {
		return a.pkt.Timestamp < b.pkt.Timestamp
	}
	return a.idx < b.idx
}

func (r *Reader) up(i int) {
	h := r.heap
	for i > 0 {
		parent := (i - 1) / 2
		if !less(h[i], h[parent]) {
			break
		}
		h[i], h[parent] = h[parent], h[i]
		i = parent
	}
}

func (r *Reader) down(i int) {
	h := r.heap
	n := len(h)
	for {
		l := 2*i + 1
		if l >= n {
			return
		}
		m := l
		if rt := l + 1; rt < n && less(h[rt], h[l]) {
			m = rt
		}
		if !less(h[m], h[i]) {
			return
		}
		h[i], h[m] = h[m], h[i]
		i = m
	}
}

func shrankError(size int) error {
	return fmt.Errorf("the file shrank below the %d bytes it had when it was opened, while being read (truncated or rewritten by another program?)", size)
}

// shrank says whether a mapped input's file is now shorter than its
// mapping: the rest of the page at the new end reads as zeros, before
// the next page faults.
func (in *input) shrank() bool {
	if in.mm == nil || in.f == nil {
		return false
	}
	fi, err := in.f.Stat()
	return err == nil && fi.Size() < int64(len(in.mm))
}

// Fault implements capture.FaultSource: the input whose mapping holds addr
// shrank while it was read (truncated or rewritten by another program). It
// ends that input as a truncated one, with everything read before it kept.
func (r *Reader) Fault(addr uintptr) error {
	for _, in := range r.inputs {
		if len(in.mm) == 0 {
			continue
		}
		base := uintptr(unsafe.Pointer(unsafe.SliceData(in.mm)))
		if addr < base || addr >= base+uintptr(len(in.mm)) {
			continue
		}
		err := in.fail(in.off, true, shrankError(len(in.mm)))
		// The input may be in the merge heap with a packet that can no
		// longer be read: take it out.
		if i := slices.Index(r.heap, in); i >= 0 {
			r.heap = slices.Delete(r.heap, i, i+1)
			for j := len(r.heap)/2 - 1; j >= 0; j-- {
				r.down(j)
			}
		}
		if r.last == in {
			r.last = nil
		}
		return err
	}
	return nil
}

// Close releases every open file. Next then returns ErrClosed.
func (r *Reader) Close() error {
	if r.closed {
		return nil
	}
	r.closed = true
	for _, st := range r.streams {
		st.interrupt() // its goroutine, if not blocked in a read, ends now
	}
	var first error
	for _, in := range r.inputs {
		if err := in.release(false, true); err != nil && first == nil {
			first = err
		}
	}
	r.heap = r.heap[:0]
	r.last = nil
	return first
}

// Interrupt ends a read of the stream (standard input, or a FIFO named
// with -r) that waits for data or for its writer (a capture still running,
// idle), so that a signal ends the run at once:
// the read fails, the input is not counted failed, and Next returns
// ErrInterrupted from then on. Reads of files, which do not wait for
// long, are not interrupted: the caller's next check of its context
// stops it. It is safe to call from any goroutine, more than once.
func (r *Reader) Interrupt() {
	for _, st := range r.streams {
		st.interrupt()
	}
}

// Streaming says whether a stream is read (standard input that is a pipe,
// FIFO or socket, or a FIFO named with -r): a capture that may still be
// running.
func (r *Reader) Streaming() bool { return len(r.streams) > 0 }

// ErrInterrupted is what Next returns once Interrupt ended a read.
var ErrInterrupted = errors.New("standard input: the read was interrupted")

// Progress reports the bytes consumed from disk so far (compressed bytes for
// gzip files; a finished or failed input counts as fully consumed) and the
// sum of the input file sizes taken when Open listed them. done never
// exceeds total. It is safe to call concurrently with Next.
func (r *Reader) Progress() (done, total int64) {
	done = r.done.Load()
	return min(done, r.total), r.total
}

// Stats returns one entry per input, in list order (an output of this run
// found in a directory left out: CheckOutput).
func (r *Reader) Stats() []InputStats {
	out := make([]InputStats, 0, len(r.inputs))
	for _, in := range r.inputs {
		if in.hidden {
			continue
		}
		st := InputStats{Path: in.path, Format: in.format, Packets: in.delivered, Skipped: in.skipped}
		if in.err != nil {
			st.Err = in.err
		}
		out = append(out, st)
	}
	return out
}

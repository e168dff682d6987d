package pcapfile

import (
	"errors"
	"io"
	"os"
	"sync"
	"time"
)

// stdinStream is standard input as a reader whose waiting read Interrupt
// can end, when it is a stream (a pipe, FIFO or socket: a capture still
// running); a file or a terminal is os.Stdin as it is, and the stream is
// nil. A goroutine of its own reads the stream ahead into a few buffers
// and the Reader takes them; interrupted, the Reader stops waiting (the
// goroutine, blocked in its read, is left to the end of the process). The
// descriptor's own mode is not changed: put in non-blocking mode to be read
// through Go's poller, it was so for every process sharing it (standard
// output too, when both are one socket: its writes failed with EAGAIN), and
// stayed so after a run ended by a second signal (review).
func stdinStream() (io.Reader, *stream) {
	fi, err := os.Stdin.Stat()
	if err != nil || fi.Mode()&(os.ModeNamedPipe|os.ModeSocket) == 0 {
		return os.Stdin, nil
	}
	if fi.Mode()&os.ModeNamedPipe != 0 {
		growPipe(int(os.Stdin.Fd()))
	}
	s := newStream(os.Stdin)
	return s, s
}

// fifoReader reads a FIFO named on the command line, opened at its first
// read (the open waits for a writer: on the stream's goroutine, where a
// signal does not wait for it) and closed at its end, or when the stream
// is interrupted (its input finished or failed, the Reader closed): its
// writer then gets EPIPE, as a shell pipe's does, instead of blocking on
// a FIFO no one reads (a review: a failed -r <(ssh ... tcpdump -w -)
// stalled that tcpdump for the rest of the run).
type fifoReader struct {
	path   string
	mu     sync.Mutex
	f      *os.File
	closed bool
}

func (r *fifoReader) Read(p []byte) (int, error) {
	r.mu.Lock()
	if r.f == nil {
		if r.closed {
			r.mu.Unlock()
			return 0, errStreamInterrupted
		}
		r.mu.Unlock()
		f, err := os.Open(r.path) // waits for a writer: not under the lock
		r.mu.Lock()
		if err != nil {
			r.mu.Unlock()
			return 0, err
		}
		if r.closed {
			r.mu.Unlock()
			f.Close()
			return 0, errStreamInterrupted
		}
		// Its descriptor through SyscallConn, not Fd: Fd puts it in
		// blocking mode, off the poller, and a close then waited for a
		// read blocked on an idle writer (a review).
		if rc, err := f.SyscallConn(); err == nil {
			rc.Control(func(fd uintptr) { growPipe(int(fd)) })
		}
		r.f = f
	}
	f := r.f
	r.mu.Unlock()
	n, err := f.Read(p) // a close meanwhile ends it (the FIFO is read through the poller)
	if err != nil {
		r.close()
	}
	return n, err
}

// close closes the FIFO, now or as soon as its open returns.
func (r *fifoReader) close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.closed = true
	if r.f != nil {
		r.f.Close()
		r.f = nil
	}
}

// streamBufs and streamBuf: the stream's buffers, read ahead.
const (
	streamBufs = 4
	streamBuf  = 256 << 10
)

// stream is a reader read ahead by a goroutine, whose Read interrupt ends.
type stream struct {
	fifo     *fifoReader // the FIFO read, closed by interrupt; nil for standard input
	data     chan chunk
	free     chan []byte
	stop     chan struct{}
	stopOnce sync.Once
	buf, cur []byte // the buffer taken last and what is left of it
	err      error  // the read error after cur
}

type chunk struct {
	b   []byte
	err error
}

func newStream(r io.Reader) *stream {
	s := &stream{data: make(chan chunk, streamBufs), free: make(chan []byte, streamBufs), stop: make(chan struct{})}
	s.fifo, _ = r.(*fifoReader)
	for range streamBufs {
		s.free <- make([]byte, streamBuf)
	}
	go func() {
		for {
			var b []byte
			select {
			case b = <-s.free:
			case <-s.stop:
				return
			}
			n, err := r.Read(b)
			select {
			case s.data <- chunk{b[:n], err}:
			case <-s.stop:
				return
			}
			if err != nil {
				return
			}
		}
	}()
	return s
}

// errStreamInterrupted is the read error after interrupt.
var errStreamInterrupted = errors.New("standard input: interrupted")

func (s *stream) Read(p []byte) (int, error) {
	for len(s.cur) == 0 {
		if s.err != nil {
			return 0, s.err
		}
		if s.buf != nil {
			s.free <- s.buf[:cap(s.buf)] // one of streamBufs: there is room
			s.buf = nil
		}
		select {
		case c := <-s.data:
			s.buf, s.cur, s.err = c.b, c.b, c.err
		case <-s.stop:
			return 0, errStreamInterrupted
		}
	}
	n := copy(p, s.cur)
	s.cur = s.cur[n:]
	return n, nil
}

// interrupt ends a Read waiting for data, and every later one; a FIFO
// read is closed (standard input is left as it is: not the sensor's).
func (s *stream) interrupt() {
	s.stopOnce.Do(func() {
		close(s.stop)
		if s.fifo != nil {
			s.fifo.close()
		}
	})
}

// ready waits up to d for something to read (data, the end or an error)
// and reports whether there is; nothing is taken: the next Read has it.
func (s *stream) ready(d time.Duration) bool {
	if len(s.cur) > 0 || s.err != nil {
		return true
	}
	if s.buf != nil {
		s.free <- s.buf[:cap(s.buf)] // as Read does before it waits
		s.buf = nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case c := <-s.data:
		s.buf, s.cur, s.err = c.b, c.b, c.err
		return true
	case <-s.stop:
		return true // Read says so
	case <-t.C:
		return false
	}
}

// idleAfter is how long a stream may give nothing before Next says so
// (capture.ErrTimeout), so that the run can write what it holds.
const idleAfter = time.Second

// ended says whether Read has nothing more to give: the stream's end, its
// error, or an interrupt.
func (s *stream) ended() bool {
	select {
	case <-s.stop:
		return true
	default:
	}
	return len(s.cur) == 0 && s.err != nil
}

// awaitRecord waits until the input's next record (a pcapng file: its next
// block) is whole in its buffer, reading what the stream s gives without
// waiting on it more than idleAfter at a time, and reports whether it is;
// false: the stream idled with it incomplete (tcpdump without -U flushes
// in chunks that split records). Nothing is consumed: the read after it
// finds the record buffered. A record too large for the buffer, a section
// header, or the stream's end is left to the read (true).
func (in *input) awaitRecord(s *stream) bool {
	for {
		n := in.br.Buffered() - in.held
		need := in.nextLen(n)
		if need < 0 || n >= need || in.held+need > in.br.Size() {
			return true
		}
		if !s.ready(idleAfter) {
			return false
		}
		if s.ended() {
			return true
		}
		in.br.Peek(in.br.Buffered() + 1) // one fill: the stream has data, so it does not wait
	}
}

// nextLen is how many bytes the next record (or block) takes, as far as
// the n bytes buffered after the one delivered last tell: its header's
// size while that is not whole; -1 when the read should go ahead (a
// section header, whose byte order may change; a length the read will
// refuse).
func (in *input) nextLen(n int) int {
	hdr := 16 // a pcap record header
	if in.kind == kindPcapng {
		hdr = 8
	}
	if n < hdr {
		return hdr
	}
	b, err := in.br.Peek(in.held + hdr)
	if err != nil {
		return -1
	}
	b = b[in.held:]
	if in.kind == kindPcapng {
		if in.bo.u32(b[0:]) == blockSHB {
			return -1
		}
		if l := in.bo.u32(b[4:]); l >= 12 && l <= MaxBlockLen {
			return int(l)
		}
		return -1
	}
	if l := in.bo.u32(b[8:]); l <= MaxRecordLen {
		return hdr + int(l)
	}
	return -1
}

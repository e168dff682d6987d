package pcapfile

import (
	"io"
	"os"
	"runtime"
)

// ahead reads a large uncompressed file with reader goroutines that stay a
// few chunks ahead of the parser, each reading every readers-th chunk with
// pread, so the kernel's copies run on other cores while this one parses.
// On this kind of machine that beats walking a memory mapping, whose page
// faults and TLB misses all land on the parsing core; with one core the
// mapping is better, and ahead is not used (see useAhead).
//
// Records are slices of a chunk; one that straddles two chunks is stitched
// into a carry buffer. A slice stays valid until the read after next (the
// chunk before the current one is kept), which covers a record header read
// before its body.
type ahead struct {
	nchunks int
	readers int
	chunks  []chan aheadChunk // per reader, its chunks in order
	free    []chan []byte     // per reader, buffers to fill
	stop    chan struct{}

	k     int    // index of the current chunk
	cur   []byte // its data
	buf   []byte // its buffer
	pos   int
	prev  []byte // the buffer before, handed back when cur is done
	prevK int
	carry []byte
	err   error // what ended the stream: io.EOF or a read error
}

type aheadChunk struct {
	buf []byte
	n   int
	err error
}

// Chunks of 512 KiB, three readers with four buffers each: the fastest of
// the sizes and counts tried on the bench capture (scripts/bench.sh).
const aheadPerReader = 4

var (
	aheadChunkLen = 1 << 19
	aheadMinSize  = int64(16 << 20) // smaller files are mapped
	aheadAlways   = false           // tests: read every regular file ahead
)

// useAhead says whether a file of this size is read ahead rather than
// mapped: large enough, and a second core to read on.
func useAhead(size int64) bool {
	return aheadAlways || size >= aheadMinSize && runtime.GOMAXPROCS(0) >= 2
}

func newAhead(f *os.File, size int64) *ahead {
	a := &ahead{
		nchunks: int((size + int64(aheadChunkLen) - 1) / int64(aheadChunkLen)),
		readers: 3,
		stop:    make(chan struct{}),
		k:       -1,
		prevK:   -1,
	}
	a.chunks = make([]chan aheadChunk, a.readers)
	a.free = make([]chan []byte, a.readers)
	for r := range a.readers {
		a.chunks[r] = make(chan aheadChunk, aheadPerReader)
		a.free[r] = make(chan []byte, aheadPerReader)
		for range aheadPerReader {
			a.free[r] <- make([]byte, aheadChunkLen)
		}
		go a.reader(f, r, a.nchunks)
	}
	return a
}

// reader fills the chunks r, r+readers, ... in order until the file ends,
// a read fails or stop closes.
func (a *ahead) reader(f *os.File, r, nchunks int) {
	for k := r; k < nchunks; k += a.readers {
		var b []byte
		select {
		case b = <-a.free[r]:
		case <-a.stop:
			return
		}
		n, err := f.ReadAt(b, int64(k)*int64(aheadChunkLen))
		if err == io.EOF && n == len(b) {
			err = nil
		}
		a.chunks[r] <- aheadChunk{b, n, err}
		if err != nil {
			return
		}
	}
}

// next makes the next chunk current; false at the end of the stream.
func (a *ahead) next() bool {
	if a.err != nil {
		return false
	}
	if a.prev != nil {
		a.free[a.prevK%a.readers] <- a.prev
	}
	a.prev, a.prevK = a.buf, a.k
	a.k++
	if a.k >= a.nchunks {
		a.cur, a.buf, a.err = nil, nil, io.EOF
		return false
	}
	c := <-a.chunks[a.k%a.readers]
	a.cur, a.buf, a.pos = c.buf[:c.n], c.buf, 0
	switch {
	case c.err == io.EOF:
		a.nchunks = a.k + 1 // the last chunk, or the file shrank
	case c.err != nil:
		a.err = c.err
	}
	return c.n > 0 || a.err == nil
}

// read returns the next n bytes (fewer only at the end or on an error,
// with that error).
func (a *ahead) read(n int) ([]byte, error) {
	if a.pos+n <= len(a.cur) {
		b := a.cur[a.pos : a.pos+n]
		a.pos += n
		return b, nil
	}
	a.carry = append(a.carry[:0], a.cur[a.pos:]...)
	a.pos = len(a.cur)
	for len(a.carry) < n && a.next() {
		take := min(n-len(a.carry), len(a.cur))
		a.carry = append(a.carry, a.cur[:take]...)
		a.pos = take
	}
	if len(a.carry) < n {
		err := a.err
		if err == nil {
			err = io.ErrUnexpectedEOF
		}
		return a.carry, err
	}
	return a.carry, nil
}

// close stops the readers.
func (a *ahead) close() {
	select {
	case <-a.stop:
	default:
		close(a.stop)
	}
}

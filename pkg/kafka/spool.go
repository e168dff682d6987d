package kafka

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// spool keeps records, in order, in segment files under one directory
// while the brokers cannot take them, and hands them back oldest first. Its
// size on disk is bounded; a record that does not fit is refused (the sink
// counts it as dropped). Segments left by an earlier run are read first,
// so a sensor restarted during an outage still delivers them.
//
// A record is: key length u32, value length u32, crc32c of key and value
// u32 (little-endian), key, value. A record whose bytes do not check out is
// skipped and counted lost, the next read; a segment that ends in a torn
// record (a crash while writing), or whose lengths are damaged, is read up
// to it, the rest counted as lost. It is used under the sink's lock.
//
// How far the oldest segment has been handed back is kept beside it (its
// name and ".read": the offset u64 and its crc32c u32), written after each
// batch handed to the producer and at close: a run that stopped while a
// segment was half drained (the close timeout, a crash) began it again
// from its start, and its first half was delivered twice.
type spool struct {
	dir     string
	max     int64
	size    int64    // bytes of every segment not yet read to its end
	segs    []uint64 // segment numbers, oldest first; the last is written
	w       *os.File // the last segment, for appending
	wOff    int64
	r       *os.File // the first segment, for reading
	rOff    int64
	corrupt uint64 // records lost to a torn or corrupt segment
	skip    int64  // where reading the first segment starts: its mark, from an earlier run
	marked  int64  // the offset its mark says
	next    uint64
	hdr     [12]byte
	buf     []byte
}

const (
	segmentMax = 16 << 20
	segSuffix  = ".spool"
	maxRecord  = 64 << 20
)

func openSpool(dir string, max int64) (*spool, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("kafka-spool %s: %w", dir, err)
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("kafka-spool %s: %w", dir, err)
	}
	s := &spool{dir: dir, max: max}
	for _, e := range ents {
		n, ok := strings.CutSuffix(e.Name(), segSuffix)
		if !ok || !e.Type().IsRegular() {
			continue
		}
		num, err := strconv.ParseUint(n, 10, 64)
		if err != nil {
			continue
		}
		fi, err := e.Info()
		if err != nil {
			return nil, fmt.Errorf("kafka-spool %s: %w", dir, err)
		}
		s.segs = append(s.segs, num)
		s.size += fi.Size()
		s.next = max64(s.next, num+1)
	}
	slices.Sort(s.segs)
	if len(s.segs) > 0 {
		first := s.path(s.segs[0])
		if off := readMark(first); off > 0 {
			if fi, err := os.Stat(first); err == nil && off <= fi.Size() {
				s.skip, s.marked = off, off
				s.size -= off
			}
		}
	}
	return s, nil
}

const markSuffix = ".read"

// readMark is the offset a segment's mark says, 0 when it has none or one
// that does not check out (then the segment is read again from its start:
// records twice rather than lost).
func readMark(seg string) int64 {
	b, err := os.ReadFile(seg + markSuffix)
	if err != nil || len(b) != 12 || crc32.Checksum(b[:8], castagnoli) != binary.LittleEndian.Uint32(b[8:]) {
		return 0
	}
	return int64(binary.LittleEndian.Uint64(b))
}

// mark notes how far the segment being read has been handed back (its
// records before that offset are the producer's now), when it moved.
func (s *spool) mark() error {
	if s.r == nil || s.rOff == s.marked {
		return nil
	}
	var b [12]byte
	binary.LittleEndian.PutUint64(b[:], uint64(s.rOff))
	binary.LittleEndian.PutUint32(b[8:], crc32.Checksum(b[:8], castagnoli))
	p := s.path(s.segs[0]) + markSuffix
	if err := os.WriteFile(p+".tmp", b[:], 0o600); err != nil {
		return fmt.Errorf("kafka-spool: %w", err)
	}
	if err := os.Rename(p+".tmp", p); err != nil {
		return fmt.Errorf("kafka-spool: %w", err)
	}
	s.marked = s.rOff
	return nil
}

// removeFirst deletes the first segment, read to its end, and its mark.
func (s *spool) removeFirst() {
	p := s.path(s.segs[0])
	os.Remove(p)
	os.Remove(p + markSuffix)
	s.segs, s.marked = s.segs[1:], 0
}

func max64(a, b uint64) uint64 {
	if a > b {
		return a
	}
	return b
}

func (s *spool) path(n uint64) string {
	return filepath.Join(s.dir, fmt.Sprintf("%020d%s", n, segSuffix))
}

// empty reports whether every spooled record has been read.
func (s *spool) empty() bool { return s.size == 0 }

// add appends a record; it reports false, writing nothing, when the record
// would take the spool past its bound.
func (s *spool) add(key, val []byte) (bool, error) {
	if len(key)+len(val) == 0 {
		return true, nil // nothing to keep (and a header of zeros reads as the end)
	}
	n := int64(12 + len(key) + len(val))
	if s.size+n > s.max {
		return false, nil
	}
	if s.w == nil || s.wOff+n > segmentMax {
		if err := s.rotate(); err != nil {
			return false, err
		}
	}
	need := int(n)
	if cap(s.buf) < need {
		s.buf = make([]byte, need)
	}
	b := s.buf[:need]
	le := binary.LittleEndian
	le.PutUint32(b[0:], uint32(len(key)))
	le.PutUint32(b[4:], uint32(len(val)))
	copy(b[12:], key)
	copy(b[12+len(key):], val)
	le.PutUint32(b[8:], crc32.Checksum(b[12:], castagnoli))
	if nw, err := s.w.Write(b); err != nil {
		// Cut short (a full disk): the bytes that made it are taken back,
		// so the next record starts where this one did; where that fails
		// too, they are counted and the segment is written no more (the
		// reader counts its torn tail as corrupt and goes on to the next).
		// Left there, later records came after a fragment the reader
		// stopped at, and the spool never emptied.
		if terr := s.w.Truncate(s.wOff); terr != nil {
			s.wOff += int64(nw)
			s.size += int64(nw)
			s.w.Close()
			s.w = nil
		}
		return false, fmt.Errorf("kafka-spool %s: %w", s.dir, err)
	}
	s.wOff += n
	s.size += n
	return true, nil
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// rotate starts a new segment for writing.
func (s *spool) rotate() error {
	if s.w != nil {
		s.w.Close()
	}
	num := s.next
	s.next++
	f, err := os.OpenFile(s.path(num), os.O_WRONLY|os.O_CREATE|os.O_EXCL|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("kafka-spool: %w", err)
	}
	s.w, s.wOff = f, 0
	s.segs = append(s.segs, num)
	return nil
}

// read returns the oldest record not yet read (valid until the next call),
// or ok false when there is none.
func (s *spool) read() (key, val []byte, ok bool, err error) {
	for len(s.segs) > 0 {
		if s.r == nil {
			if s.r, err = os.Open(s.path(s.segs[0])); err != nil {
				if !errors.Is(err, fs.ErrNotExist) {
					return nil, nil, false, fmt.Errorf("kafka-spool: %w", err)
				}
				// Removed under the sink (a tmp cleaner, an operator):
				// its records are lost, counted once as a damaged
				// stretch, and the spool goes on with the next segment.
				// It stopped for good there, every new record spooled
				// behind it (a review).
				s.r = nil
				s.corrupt++
				os.Remove(s.path(s.segs[0]) + markSuffix)
				writing := s.w != nil && len(s.segs) == 1
				s.segs, s.marked, s.skip = s.segs[1:], 0, 0
				if writing {
					if err := s.rotate(); err != nil {
						return nil, nil, false, err
					}
				}
				s.recount()
				continue
			}
			s.rOff, s.skip = s.skip, 0
		}
		key, val, ok, err = s.readAt()
		if ok || err != nil {
			return key, val, ok, err
		}
		// The end of this segment: the one being written waits for more;
		// an older one is done with.
		if s.w != nil && len(s.segs) == 1 {
			return nil, nil, false, nil
		}
		fi, ferr := s.r.Stat()
		if ferr == nil && fi.Size() > s.rOff {
			s.corrupt++ // a torn tail: its bytes leave the count
		}
		s.size -= s.segSize() - s.rOff
		s.r.Close()
		s.r = nil
		s.removeFirst()
	}
	return nil, nil, false, nil
}

// recount sets size from the segments on disk (one of them gone, its
// bytes are not known otherwise): what is left to read of them.
func (s *spool) recount() {
	s.size = 0
	for _, n := range s.segs {
		if fi, err := os.Stat(s.path(n)); err == nil {
			s.size += fi.Size()
		}
	}
	if s.r != nil {
		s.size -= s.rOff
	} else {
		s.size -= s.skip
	}
	s.size = max(s.size, 0)
}

func (s *spool) segSize() int64 {
	fi, err := s.r.Stat()
	if err != nil {
		return s.rOff
	}
	return fi.Size()
}

// readAt reads the record at the read offset; ok false at the end of the
// segment or at a record that does not check out.
func (s *spool) readAt() (key, val []byte, ok bool, err error) {
again:
	if _, err := s.r.ReadAt(s.hdr[:], s.rOff); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil, false, nil
		}
		return nil, nil, false, fmt.Errorf("kafka-spool: %w", err)
	}
	le := binary.LittleEndian
	kl, vl := int(le.Uint32(s.hdr[0:])), int(le.Uint32(s.hdr[4:]))
	if kl+vl > maxRecord || kl+vl == 0 {
		// Damaged lengths, or zeros: a crash's unwritten blocks, whose
		// empty checksum would check out (add keeps no empty record): the
		// segment ends here.
		return nil, nil, false, nil
	}
	if cap(s.buf) < kl+vl {
		s.buf = make([]byte, kl+vl)
	}
	b := s.buf[:kl+vl]
	if _, err := s.r.ReadAt(b, s.rOff+12); err != nil {
		return nil, nil, false, nil // torn
	}
	n := int64(12 + kl + vl)
	if crc32.Checksum(b, castagnoli) != le.Uint32(s.hdr[8:]) {
		// Damaged inside, its lengths plausible and its bytes all there:
		// that record is lost, and the next is read (one flipped byte lost
		// the rest of the segment). Damaged lengths end the segment here.
		s.corrupt++
		s.rOff += n
		s.size -= n
		goto again
	}
	s.rOff += n
	s.size -= n
	if s.w != nil && len(s.segs) == 1 && s.rOff == s.wOff {
		// Caught up with the writer: start the next records afresh, so an
		// outage's spool does not stay on disk after it is delivered.
		s.w.Close()
		s.r.Close()
		s.removeFirst()
		s.w, s.r = nil, nil
	}
	return b[:kl], b[kl:], true, nil
}

func (s *spool) close() error {
	err := s.mark()
	if s.w != nil {
		s.w.Close()
	}
	if s.r != nil {
		s.r.Close()
	}
	return err
}

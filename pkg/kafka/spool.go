package kafka

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
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
// u32 (little-endian), key, value. A segment that ends in a torn or corrupt
// record (a crash while writing) is read up to it; the rest is counted as
// lost. It is used under the sink's lock.
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
	return s, nil
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
				return nil, nil, false, fmt.Errorf("kafka-spool: %w", err)
			}
			s.rOff = 0
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
		os.Remove(s.path(s.segs[0]))
		s.segs = s.segs[1:]
	}
	return nil, nil, false, nil
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
	if _, err := s.r.ReadAt(s.hdr[:], s.rOff); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil, false, nil
		}
		return nil, nil, false, fmt.Errorf("kafka-spool: %w", err)
	}
	le := binary.LittleEndian
	kl, vl := int(le.Uint32(s.hdr[0:])), int(le.Uint32(s.hdr[4:]))
	if kl+vl > maxRecord {
		return nil, nil, false, nil
	}
	if cap(s.buf) < kl+vl {
		s.buf = make([]byte, kl+vl)
	}
	b := s.buf[:kl+vl]
	if _, err := s.r.ReadAt(b, s.rOff+12); err != nil {
		return nil, nil, false, nil // torn
	}
	if crc32.Checksum(b, castagnoli) != le.Uint32(s.hdr[8:]) {
		return nil, nil, false, nil
	}
	n := int64(12 + kl + vl)
	s.rOff += n
	s.size -= n
	if s.w != nil && len(s.segs) == 1 && s.rOff == s.wOff {
		// Caught up with the writer: start the next records afresh, so an
		// outage's spool does not stay on disk after it is delivered.
		s.w.Close()
		s.r.Close()
		os.Remove(s.path(s.segs[0]))
		s.w, s.r, s.segs = nil, nil, s.segs[:0]
	}
	return b[:kl], b[kl:], true, nil
}

func (s *spool) close() {
	if s.w != nil {
		s.w.Close()
	}
	if s.r != nil {
		s.r.Close()
	}
}

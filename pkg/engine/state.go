package engine

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"time"

	"github.com/synscope/synscope/pkg/decode"
	"github.com/synscope/synscope/pkg/srctable"
)

// The state file keeps what the lookback remembers, so a sensor that
// restarts does not see every known scanner as new. Layout, little-endian:
//
//	magic   [16]byte  "synscope-state\x00\x02"
//	header  version u32, window ns i64, lookback ns i64, clock ns i64,
//	        first packet ns i64, sources u64, prefixes u64
//	sources  sources × (key [16]byte, first i64, last i64, syns u32,
//	         sketch u16, direction u8, flags u8)
//	prefixes prefixes × (prefix u64, last i64)
//	crc32c of everything before it, u32
//
// Times are ns since the Unix epoch, as the table keeps them (first to the
// second, last to the millisecond). Anything else (another magic, version,
// a short file, a bad checksum, a count that does not fit the size) is
// refused with the reason.

var stateMagic = [16]byte{'s', 'y', 'n', 's', 'c', 'o', 'p', 'e', '-', 's', 't', 'a', 't', 'e', 0, 2}

const (
	stateVersion   = 2
	stateHeaderLen = 16 + 4 + 8*6
	sourceRecLen   = 16 + 8 + 8 + 4 + 2 + 1 + 1
	prefixRecLen   = 8 + 8
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// savedSource is one source of a state file.
type savedSource struct {
	k           key
	first, last int64
	syns        uint32
	sketch      uint16
	dir         Direction
	reported    bool
}

type savedPrefix struct {
	k    uint64
	last int64
}

// each calls f for every source the shards remember and p for every prefix.
func (e *Engine) each(f func(savedSource), p func(savedPrefix)) {
	for _, sh := range e.shards {
		for _, g := range []*gen{sh.cur, sh.old} {
			conv := func(k key, v *srcVal) {
				f(savedSource{k: k, first: int64(v.first) * int64(time.Second), last: g.abs(v.last),
					syns: sh.syns(k, *v), sketch: uint16(v.sketch()), dir: v.dir(), reported: v.reported()})
			}
			g.v4.Range(func(k uint32, v *srcVal) bool { conv(v4mapped(k), v); return true })
			g.v6.Range(func(k [16]byte, v *srcVal) bool { conv(k, v); return true })
			g.p4.Range(func(k uint32, v *pfxVal) bool { p(savedPrefix{4<<56 | uint64(k), g.abs(v.last)}); return true })
			g.p6.Range(func(k uint64, v *pfxVal) bool { p(savedPrefix{k, g.abs(v.last)}); return true })
		}
	}
}

// SaveState writes the remembered sources and prefixes (those still within
// the lookback) to w.
func (e *Engine) SaveState(w io.Writer) error {
	e.Sync() // the shards are idle until the next SYN
	crc := crc32.New(castagnoli)
	bw := bufio.NewWriterSize(io.MultiWriter(w, crc), 1<<16)
	var live, livePrefixes uint64
	e.each(func(v savedSource) {
		if e.now-v.last <= e.lookback {
			live++
		}
	}, func(p savedPrefix) {
		if e.now-p.last <= e.lookback {
			livePrefixes++
		}
	})
	var h [stateHeaderLen]byte
	copy(h[:], stateMagic[:])
	le := binary.LittleEndian
	le.PutUint32(h[16:], stateVersion)
	le.PutUint64(h[20:], uint64(e.window))
	le.PutUint64(h[28:], uint64(e.lookback))
	le.PutUint64(h[36:], uint64(e.now))
	le.PutUint64(h[44:], uint64(e.c.FirstPacket))
	le.PutUint64(h[52:], live)
	le.PutUint64(h[60:], livePrefixes)
	bw.Write(h[:])
	var rec [sourceRecLen]byte
	var pr [prefixRecLen]byte
	e.each(func(v savedSource) {
		if e.now-v.last > e.lookback {
			return
		}
		copy(rec[:16], v.k[:])
		le.PutUint64(rec[16:], uint64(v.first))
		le.PutUint64(rec[24:], uint64(v.last))
		le.PutUint32(rec[32:], v.syns)
		le.PutUint16(rec[36:], v.sketch)
		rec[38], rec[39] = byte(v.dir), 0
		if v.reported {
			rec[39] = 1
		}
		bw.Write(rec[:])
	}, func(p savedPrefix) {})
	e.each(func(savedSource) {}, func(p savedPrefix) {
		if e.now-p.last > e.lookback {
			return
		}
		le.PutUint64(pr[:], p.k)
		le.PutUint64(pr[8:], uint64(p.last))
		bw.Write(pr[:])
	})
	if err := bw.Flush(); err != nil {
		return err
	}
	var sum [4]byte
	le.PutUint32(sum[:], crc.Sum32())
	_, err := w.Write(sum[:])
	return err
}

// ErrStateMismatch wraps the reasons a state file is refused.
var ErrStateMismatch = errors.New("not a usable state file")

// LoadState restores what SaveState wrote, before the first packet: the
// clock, the capture start (so warm-up carries on) and the remembered
// sources and prefixes. size is the file's length, checked against the
// counts so a lying header cannot make it allocate.
func (e *Engine) LoadState(r io.Reader, size int64) error {
	if e.started {
		return errors.New("load state: the engine has already started")
	}
	le := binary.LittleEndian
	crc := crc32.New(castagnoli)
	br := bufio.NewReaderSize(r, 1<<16)
	// read consumes exactly len(b) bytes into the checksum (a TeeReader
	// under the buffer would also sum what is read ahead).
	read := func(b []byte) error {
		_, err := io.ReadFull(br, b)
		crc.Write(b)
		return err
	}
	var h [stateHeaderLen]byte
	if err := read(h[:]); err != nil {
		return fmt.Errorf("%w: header: %v (%d bytes)", ErrStateMismatch, err, size)
	}
	if [16]byte(h[:16]) != stateMagic {
		if string(h[:14]) == string(stateMagic[:14]) {
			return fmt.Errorf("%w: format revision %d, this sensor reads %d", ErrStateMismatch, h[15], stateMagic[15])
		}
		return fmt.Errorf("%w: it does not start with the synscope state magic", ErrStateMismatch)
	}
	if v := le.Uint32(h[16:]); v != stateVersion {
		return fmt.Errorf("%w: version %d, this sensor reads %d", ErrStateMismatch, v, stateVersion)
	}
	clock, first := int64(le.Uint64(h[36:])), int64(le.Uint64(h[44:]))
	n, np := le.Uint64(h[52:]), le.Uint64(h[60:])
	want := uint64(stateHeaderLen) + n*sourceRecLen + np*prefixRecLen + 4
	if n > uint64(size) || np > uint64(size) || want != uint64(size) {
		return fmt.Errorf("%w: it says %d sources and %d prefixes, which take %d bytes, but it has %d (truncated or corrupt)", ErrStateMismatch, n, np, want, size)
	}
	if uint64(e.cfg.MaxSources) < n {
		return fmt.Errorf("%w: it holds %d sources, more than --max-sources %d", ErrStateMismatch, n, e.cfg.MaxSources)
	}
	sources := make([]savedSource, 0, n)
	var rec [sourceRecLen]byte
	for i := uint64(0); i < n; i++ {
		if err := read(rec[:]); err != nil {
			return fmt.Errorf("%w: source %d: %v", ErrStateMismatch, i, err)
		}
		v := savedSource{
			k:        key(rec[:16]),
			first:    int64(le.Uint64(rec[16:])),
			last:     int64(le.Uint64(rec[24:])),
			syns:     le.Uint32(rec[32:]),
			sketch:   le.Uint16(rec[36:]),
			dir:      Direction(rec[38]),
			reported: rec[39]&1 != 0,
		}
		if v.dir > DirExternal || rec[39] > 1 || v.syns == 0 {
			return fmt.Errorf("%w: source %d: impossible values (corrupt)", ErrStateMismatch, i)
		}
		sources = append(sources, v)
	}
	prefixes := make([]savedPrefix, 0, np)
	var pr [prefixRecLen]byte
	for i := uint64(0); i < np; i++ {
		if err := read(pr[:]); err != nil {
			return fmt.Errorf("%w: prefix %d: %v", ErrStateMismatch, i, err)
		}
		p := savedPrefix{k: le.Uint64(pr[:]), last: int64(le.Uint64(pr[8:]))}
		if f := p.k >> 56; f != 4 && f != 6 {
			return fmt.Errorf("%w: prefix %d: impossible values (corrupt)", ErrStateMismatch, i)
		}
		prefixes = append(prefixes, p)
	}
	sum := crc.Sum32() // of everything read so far
	var tail [4]byte
	if _, err := io.ReadFull(br, tail[:]); err != nil {
		return fmt.Errorf("%w: checksum: %v", ErrStateMismatch, err)
	}
	if le.Uint32(tail[:]) != sum {
		return fmt.Errorf("%w: checksum mismatch (corrupt)", ErrStateMismatch)
	}
	e.restored = &restored{clock: clock, first: first, sources: sources, prefixes: prefixes}
	return nil
}

// restored is what a loaded state sets when the first packet comes.
type restored struct {
	clock, first int64
	sources      []savedSource
	prefixes     []savedPrefix
}

// restore puts a loaded state's sources and prefixes in their shards when
// the clock starts at ts: in the current generation when the capture goes
// on within the lookback, else in the old one (stale, but a source that
// comes back is then told as returning).
func (e *Engine) restore(r *restored, ts int64) {
	base := r.clock - e.lookback
	intoCur := ts-r.clock <= e.lookback && r.clock <= ts
	for _, sh := range e.shards {
		if intoCur {
			sh.cur = newGen(base, 0)
		} else {
			sh.old = newGen(base, 0)
		}
	}
	genOf := func(sh *shard) *gen {
		if intoCur {
			return sh.cur
		}
		return sh.old
	}
	pick := func(pfx uint64) *shard { return e.shards[e.shardOfPrefix(pfx)] }
	for _, v := range r.sources {
		var s decode.Syn
		s.Src, s.V6 = v.k, !isV4Mapped(v.k)
		if !s.V6 {
			s.Src = [16]byte{v.k[12], v.k[13], v.k[14], v.k[15]}
		}
		sh := pick(prefixOf(&s))
		g := genOf(sh)
		val := srcVal{last: g.rel(v.last), first: unixSeconds(v.first),
			bits: v.syns&synsMask | uint32(v.sketch)<<sketchShift | uint32(v.dir)<<dirShift}
		if v.reported {
			val.bits |= reportedBit
		}
		if v.syns > synsMask {
			sh.heavy[v.k] = v.syns >> synsBits
		}
		if s.V6 {
			g.v6.Put(s.Src, srctable.Hash6(s.Src), val)
		} else {
			k := v4key(s.Src)
			g.v4.Put(k, srctable.Hash4(k), val)
		}
	}
	for _, p := range r.prefixes {
		var s decode.Syn
		if p.k>>56 == 4 {
			s.Src = [16]byte{byte(p.k >> 16), byte(p.k >> 8), byte(p.k)}
		} else {
			s.V6 = true
			for i := range 6 {
				s.Src[i] = byte(p.k >> (40 - 8*i))
			}
		}
		g := genOf(pick(prefixOf(&s)))
		if s.V6 {
			g.p6.Put(p.k, srctable.Hash64(p.k), pfxVal{g.rel(p.last)})
		} else {
			k := uint32(p.k & 0xffffff)
			g.p4.Put(k, srctable.Hash4(k), pfxVal{g.rel(p.last)})
		}
	}
}

func isV4Mapped(k key) bool {
	return k[10] == 0xff && k[11] == 0xff && [10]byte(k[:10]) == [10]byte{}
}

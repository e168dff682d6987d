package engine

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"

	"github.com/synscope/synscope/pkg/sources"
	"github.com/synscope/synscope/pkg/srctable"
)

// The state file keeps what the lookback remembers, so a sensor that
// restarts does not see every known scanner as new. Layout, little-endian:
//
//	magic   [16]byte  "synscope-state\x00\x02"
//	header  version u32, window ns i64, lookback ns i64, clock ns i64,
//	        warm-up origin ns i64 (the first packet of the capture a run
//	        continues), sources u64, prefixes u64
//	sources  sources × a source record (package sources)
//	prefixes prefixes × a prefix record (package sources)
//	memory   (version 3) the memory of forgotten sources, per shard:
//	         parts u32, then per part: since ns i64, old u64, cur u64,
//	         then old + cur fingerprints u32 (sources.Table.Memory)
//	seed     (version 5) the hashes' key u64 (srctable.SetSeed: the memory's
//	         fingerprints depend on it; files before version 5 had none, 0)
//	growth   (version 4) bytes u32 (0: no classifier), then the alert in
//	         force (raised u8, exponential verdicts in a row u32, raised at
//	         ns i64) and the classifier's state (growth.MarshalState)
//	floods   (version 6) the flood detector's targets within its span:
//	         targets u32, then per target: address [16]byte, latest
//	         second i64 (seconds + 2^40, bit 62 set while flooded), new
//	         sources in each of the span's seconds [10]u32
//	crc32c of everything before it, u32
//
// Version 2 to 5 files (without the memory, the classifier, the key, the
// flood detector) are still read: what they lack starts empty (the key 0).
//
// Times are ns since the Unix epoch, as the table keeps them (first to the
// second, last to the millisecond). Anything else (another magic, version,
// a short file, a bad checksum, a count that does not fit the size) is
// refused with the reason.

var stateMagic = [16]byte{'s', 'y', 'n', 's', 'c', 'o', 'p', 'e', '-', 's', 't', 'a', 't', 'e', 0, 2}

const (
	stateVersion   = 6
	stateHeaderLen = 16 + 4 + 8*6
	// maxStateParts bounds the memory's parts (shards are at most 256).
	maxStateParts = 256
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// heldSources is the sources of the new-source records the flood line
// holds (nil when it holds none).
func (e *Engine) heldSources() map[sources.Addr]struct{} {
	f := &e.flood
	if f.n == 0 {
		return nil
	}
	m := make(map[sources.Addr]struct{}, f.n)
	for i := range f.n {
		m[sources.SrcOf(&f.at(i).rec.Syn)] = struct{}{}
	}
	return m
}

// each calls f for every source the shards remember and p for every prefix.
func (e *Engine) each(f func(sources.Saved), p func(sources.SavedPrefix)) {
	for _, sh := range e.shards {
		sh.tab.Each(f, p)
	}
}

// SaveState writes the remembered sources and prefixes (those still within
// the lookback) to w.
//
// A new source still held in the flood line (its record not written yet:
// it waits up to the flood span for the flood decision) is left out, so
// that the state says no more than the records written: a live sensor
// saves every --state-interval, and one killed after a save and before
// such a record was written came back knowing the source, which was then
// never reported at all (a review). Left out, it is new again at its next
// SYN after a restart, as a source first seen after the save is.
func (e *Engine) SaveState(w io.Writer) error {
	e.Flush() // the shards are idle until the next SYN
	held := e.heldSources()
	saved := func(v *sources.Saved) bool {
		if e.now-v.Last > e.lookback {
			return false
		}
		_, h := held[v.Addr]
		return !h
	}
	crc := crc32.New(castagnoli)
	bw := bufio.NewWriterSize(io.MultiWriter(w, crc), 1<<16)
	var live, livePrefixes uint64
	e.each(func(v sources.Saved) {
		if saved(&v) {
			live++
		}
	}, func(p sources.SavedPrefix) {
		if e.now-p.Last <= e.lookback {
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
	le.PutUint64(h[44:], uint64(e.warmFrom)) // where warm-up counts from: the first packet of the capture this one continues
	le.PutUint64(h[52:], live)
	le.PutUint64(h[60:], livePrefixes)
	bw.Write(h[:])
	var rec [sources.SourceRecLen]byte
	var pr [sources.PrefixRecLen]byte
	e.each(func(v sources.Saved) {
		if !saved(&v) {
			return
		}
		v.Encode(rec[:])
		bw.Write(rec[:])
	}, func(sources.SavedPrefix) {})
	e.each(func(sources.Saved) {}, func(p sources.SavedPrefix) {
		if e.now-p.Last > e.lookback {
			return
		}
		p.Encode(pr[:])
		bw.Write(pr[:])
	})
	var b8 [8]byte
	le.PutUint32(b8[:], uint32(len(e.shards)))
	bw.Write(b8[:4])
	for _, sh := range e.shards {
		since, old, cur := sh.tab.Memory(e.now)
		for _, v := range []uint64{uint64(since), uint64(len(old)), uint64(len(cur))} {
			le.PutUint64(b8[:], v)
			bw.Write(b8[:])
		}
		for _, fps := range [2][]uint32{old, cur} {
			for _, f := range fps {
				le.PutUint32(b8[:], f)
				bw.Write(b8[:4])
			}
		}
	}
	le.PutUint64(b8[:], srctable.Seed())
	bw.Write(b8[:])
	var g []byte
	if e.growth != nil {
		e.drainAside() // the classifier is idle, its verdicts written
		a := &e.alert
		g = append(g, 0)
		if a.raised {
			g[0] = 1
		}
		g = le.AppendUint32(g, uint32(a.run))
		g = le.AppendUint64(g, uint64(a.raisedAt))
		g = e.growth.MarshalState(g)
	}
	le.PutUint32(b8[:], uint32(len(g)))
	bw.Write(b8[:4])
	bw.Write(g)
	bw.Write(e.flood.marshalTargets(nil, e.now))
	if err := bw.Flush(); err != nil {
		return err
	}
	var sum [4]byte
	le.PutUint32(sum[:], crc.Sum32())
	_, err := w.Write(sum[:])
	return err
}

// StatePending tells whether a state loaded by LoadState is still waiting
// for the first packet: nothing has been seen since it was loaded, and
// SaveState, which saves what the shards hold, would write an empty state
// in its place. The loaded file is then the state to keep.
func (e *Engine) StatePending() bool { return !e.started && e.restored != nil }

// ErrStateMismatch wraps the reasons a state file is refused.
var ErrStateMismatch = errors.New("not a usable state file")

// ErrStateTooBig: a sound state file holds more sources than the table may.
var ErrStateTooBig = errors.New("too large for the settings")

// LoadState restores what SaveState wrote, before the first packet: the
// clock, the capture start (so warm-up carries on) and the remembered
// sources and prefixes. size is the file's length, checked against the
// counts so a lying header cannot make it allocate.
func (e *Engine) LoadState(r io.Reader, size int64) error {
	e.disarm()
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
	version := le.Uint32(h[16:])
	if version < 2 || version > stateVersion {
		return fmt.Errorf("%w: version %d, this sensor reads 2 to %d", ErrStateMismatch, version, stateVersion)
	}
	clock, first := int64(le.Uint64(h[36:])), int64(le.Uint64(h[44:]))
	n, np := le.Uint64(h[52:]), le.Uint64(h[60:])
	want := uint64(stateHeaderLen) + n*sources.SourceRecLen + np*sources.PrefixRecLen + 4
	if n > uint64(size) || np > uint64(size) || (version == 2 && want != uint64(size)) || (version >= 3 && want+4 > uint64(size)) {
		return fmt.Errorf("%w: it says %d sources and %d prefixes, which take %d bytes, but it has %d (truncated or corrupt)", ErrStateMismatch, n, np, want, size)
	}
	if uint64(e.cfg.MaxSources) < n {
		// The file is sound: the setting is what does not fit it.
		return fmt.Errorf("%w: it holds %d sources, more than --max-sources %d: raise --max-sources to at least %d (--state-reset would throw the remembered sources away)", ErrStateTooBig, n, e.cfg.MaxSources, n)
	}
	saved := make([]sources.Saved, 0, n)
	var rec [sources.SourceRecLen]byte
	for i := uint64(0); i < n; i++ {
		if err := read(rec[:]); err != nil {
			return fmt.Errorf("%w: source %d: %v", ErrStateMismatch, i, err)
		}
		v, err := sources.DecodeSaved(rec[:])
		if err != nil {
			return fmt.Errorf("%w: source %d: %v", ErrStateMismatch, i, err)
		}
		saved = append(saved, v)
	}
	prefixes := make([]sources.SavedPrefix, 0, np)
	var pr [sources.PrefixRecLen]byte
	for i := uint64(0); i < np; i++ {
		if err := read(pr[:]); err != nil {
			return fmt.Errorf("%w: prefix %d: %v", ErrStateMismatch, i, err)
		}
		p, err := sources.DecodeSavedPrefix(pr[:])
		if err != nil {
			return fmt.Errorf("%w: prefix %d: %v", ErrStateMismatch, i, err)
		}
		prefixes = append(prefixes, p)
	}
	var mem []savedMemory
	var grow []byte
	var floods []target
	var seed uint64
	if version >= 3 {
		var err error
		var left uint64
		if mem, left, err = readMemory(read, uint64(size)-want); err != nil {
			return fmt.Errorf("%w: memory of forgotten sources: %v", ErrStateMismatch, err)
		}
		switch {
		case version == 3 && left != 0:
			return fmt.Errorf("%w: memory of forgotten sources: %d bytes left over (corrupt)", ErrStateMismatch, left)
		case version >= 4:
			if version >= 5 {
				var b8 [8]byte
				if left < 12 || read(b8[:]) != nil {
					return fmt.Errorf("%w: hash key: truncated", ErrStateMismatch)
				}
				seed = le.Uint64(b8[:])
				left -= 8
			}
			var b4 [4]byte
			if left < 4 {
				return fmt.Errorf("%w: growth classifier: truncated", ErrStateMismatch)
			}
			if read(b4[:]) != nil {
				return fmt.Errorf("%w: growth classifier: truncated", ErrStateMismatch)
			}
			// The classifier is the rest of the file before version 6,
			// and the flood detector's targets follow it since.
			if g := uint64(le.Uint32(b4[:])); g > left-4 || (version < 6 && g != left-4) {
				return fmt.Errorf("%w: growth classifier: its length does not fit the file (truncated or corrupt)", ErrStateMismatch)
			}
			if grow = make([]byte, le.Uint32(b4[:])); read(grow) != nil {
				return fmt.Errorf("%w: growth classifier: truncated", ErrStateMismatch)
			}
			left -= 4 + uint64(len(grow))
			if version >= 6 {
				var err error
				if floods, err = readTargets(read, left, clock); err != nil {
					return fmt.Errorf("%w: flood detector: %v", ErrStateMismatch, err)
				}
			}
		}
	}
	sum := crc.Sum32() // of everything read so far
	var tail [4]byte
	if _, err := io.ReadFull(br, tail[:]); err != nil {
		return fmt.Errorf("%w: checksum: %v", ErrStateMismatch, err)
	}
	if le.Uint32(tail[:]) != sum {
		return fmt.Errorf("%w: checksum mismatch (corrupt)", ErrStateMismatch)
	}
	e.restored = &restored{clock: clock, first: first, sources: saved, prefixes: prefixes, memory: mem, growth: grow, floods: floods}
	// The saved sources go back into tables keyed as the memory's
	// fingerprints were: the seed is the file's from now on (a live run
	// that finds it unkeyed keys it anew: KeyAnew).
	srctable.SetSeed(seed)
	return nil
}

// KeyAnew keys the hashes with seed (not 0) for a run whose loaded state
// was unkeyed (a file of an offline run, or of a version before 5): its
// memory of forgotten sources, whose fingerprints were made unkeyed, is
// let go (the sources and prefixes are hashed again as they are put back).
// It reports whether there was such a memory to let go.
func (e *Engine) KeyAnew(seed uint64) bool {
	srctable.SetSeed(seed)
	if e.restored == nil || len(e.restored.memory) == 0 {
		return false
	}
	e.restored.memory = nil
	return true
}

// savedMemory is one shard's memory of forgotten sources in a state file.
type savedMemory struct {
	since    int64
	old, cur []uint32
}

// readMemory reads the memory section, which has at most room bytes
// (checked against its counts before anything is allocated), and returns
// the bytes left after it.
func readMemory(read func([]byte) error, room uint64) ([]savedMemory, uint64, error) {
	le := binary.LittleEndian
	var b [24]byte
	if err := read(b[:4]); err != nil {
		return nil, 0, err
	}
	parts := le.Uint32(b[:])
	if parts > maxStateParts {
		return nil, 0, fmt.Errorf("%d parts, more than %d (corrupt)", parts, maxStateParts)
	}
	if room < 4 {
		return nil, 0, errors.New("truncated")
	}
	room -= 4
	out := make([]savedMemory, 0, parts)
	for p := range parts {
		if err := read(b[:]); err != nil {
			return nil, 0, fmt.Errorf("part %d: %v", p, err)
		}
		no, nc := le.Uint64(b[8:]), le.Uint64(b[16:])
		if room < 24 || no > room || nc > room || 24+4*(no+nc) > room {
			return nil, 0, fmt.Errorf("part %d says %d and %d fingerprints, more than the file holds (truncated or corrupt)", p, no, nc)
		}
		room -= 24 + 4*(no+nc)
		m := savedMemory{since: int64(le.Uint64(b[:])), old: make([]uint32, no), cur: make([]uint32, nc)}
		for _, fps := range [2][]uint32{m.old, m.cur} {
			for i := range fps {
				if err := read(b[:4]); err != nil {
					return nil, 0, fmt.Errorf("part %d: %v", p, err)
				}
				fps[i] = le.Uint32(b[:])
			}
		}
		out = append(out, m)
	}
	return out, room, nil
}

// restored is what a loaded state sets when the first packet comes.
type restored struct {
	clock, first int64
	sources      []sources.Saved
	prefixes     []sources.SavedPrefix
	memory       []savedMemory
	growth       []byte   // the alert in force and the classifier (version 4), or nil
	floods       []target // the flood detector's targets (version 6)
}

// restore puts a loaded state's sources and prefixes in their shards when
// the clock starts at ts: in the current generation when the capture goes
// on within the lookback, else in the old one (stale, but a source that
// comes back is then told as returning).
func (e *Engine) restore(r *restored, ts int64) {
	if r.clock > ts {
		e.stateAhead = [2]int64{r.clock, ts}
	}
	intoCur := ts-r.clock <= e.lookback && r.clock <= ts
	for _, sh := range e.shards {
		sh.tab.StartRestore(r.clock, intoCur)
	}
	for i := range r.sources {
		v := &r.sources[i]
		e.shards[e.shardOfPrefix(v.Addr.Prefix())].tab.Restore(v, intoCur)
	}
	for i := range r.prefixes {
		p := &r.prefixes[i]
		e.shards[e.shardOfPrefix(p.Prefix)].tab.RestorePrefix(p, intoCur)
	}
	// A fingerprint cannot say which shard its source belongs to: with as
	// many shards as when saved, each gets its own part back, else every
	// shard gets every part (a false positive is then as many times as
	// likely, until those generations go).
	for i, m := range r.memory {
		if len(r.memory) == len(e.shards) {
			e.shards[i].tab.RestoreMemory(ts, m.since, m.old, m.cur)
			continue
		}
		for _, sh := range e.shards {
			sh.tab.RestoreMemory(ts, m.since, m.old, m.cur)
		}
	}
	// A flood going on across the restart (a capture rotated into files,
	// each analysed with the state) goes on being one flood: one alert,
	// its sources flood sources from the first.
	e.flood.restoreTargets(r.floods, r.clock, ts)
	if r.clock <= ts && ts-r.clock > e.lookback {
		// A state older than a lookback: its sources are all stale, as
		// before a gap in one capture (a restart a month on told them
		// returning, with their last SYN of a month before, where an
		// unbroken run had let them go).
		for _, sh := range e.shards {
			sh.tab.Gap(ts, r.clock)
		}
	}
}

// StateAhead reports a loaded state saved later than the capture's first
// packet (saved, first; ok false when not): the capture is earlier than
// what the state remembers, so sources the state knew are taken as seen
// before (a later part of a capture run before an earlier one).
func (e *Engine) StateAhead() (saved, first int64, ok bool) {
	return e.stateAhead[0], e.stateAhead[1], e.stateAhead[0] != 0
}

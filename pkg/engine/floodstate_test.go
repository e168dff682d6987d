package engine

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"sort"
	"testing"

	"github.com/synscope/synscope/pkg/decode"
	"github.com/synscope/synscope/pkg/sources"
)

// runParts runs the parts of a stream one after the other, each by a new
// engine that loads the state the one before saved (capture files rotated
// every few minutes, each analysed with --state), all writing to emit,
// and returns the flood sources counted.
func runParts(t *testing.T, cfg Config, emit Emitter, parts ...[]decode.Syn) uint64 {
	t.Helper()
	var state []byte
	var floods uint64
	for _, p := range parts {
		e, err := New(cfg, emit)
		if err != nil {
			t.Fatal(err)
		}
		if state != nil {
			if err := e.LoadState(bytes.NewReader(state), int64(len(state))); err != nil {
				t.Fatal(err)
			}
		}
		for i := range p {
			s := p[i]
			e.Frame(s.Ts, 60, &s)
		}
		e.Finish()
		floods += e.Counters().FloodSources
		var buf bytes.Buffer
		if err := e.SaveState(&buf); err != nil {
			t.Fatal(err)
		}
		state = buf.Bytes()
	}
	return floods
}

// TestFloodAlertOnceAcrossARestart: a flood that goes on across a restart
// with the state file (a capture rotated into files, each run with
// --state) raises its alert once, as one uninterrupted run does, and its
// sources after the restart are flood sources from the first: the state
// keeps the flood detector's targets. The second file's sources were new
// sources until 50 of them had come in 10 s again, and the flood was
// alerted a second time (a SOC paged at every file).
func TestFloodAlertOnceAcrossARestart(t *testing.T) {
	stream := floodStream(3, 100, 30*1e9, 60*1e9, 3*60*1e9)
	for _, shards := range []int{0, 2} {
		cfg := small()
		cfg.Window, cfg.Shards = 5*1e9, shards
		whole, split := &recorder{}, &recorder{}
		wholeFloods := runParts(t, cfg, whole, stream)
		cut := t0 + 50*int64(1e9) // 20 s into the flood
		i := sort.Search(len(stream), func(i int) bool { return stream[i].Ts >= cut })
		splitFloods := runParts(t, cfg, split, stream[:i], stream[i:])
		if len(whole.alerts) != 1 || len(split.alerts) != len(whole.alerts) {
			t.Errorf("shards %d: alerts %v in one run, %v with a restart 20 s into the flood", shards, whole.alerts, split.alerts)
		}
		if splitFloods != wholeFloods {
			t.Errorf("shards %d: %d flood sources with the restart, %d in one run", shards, splitFloods, wholeFloods)
		}
	}
}

// TestFloodStateAheadIsNotRestored: a state saved during a flood and
// loaded for an earlier part of the capture (run after the later one)
// leaves the flood detector empty: its target's seconds lie ahead, and a
// target ahead of the clock is never cleared, so a dozen new sources at
// it an hour before, far below the threshold, were taken as flood
// sources (review). A file whose target is not within the 10 s before
// its own clock is refused as corrupt.
func TestFloodStateAheadIsNotRestored(t *testing.T) {
	stream := floodStream(3, 100, 30*1e9, 60*1e9, 3*60*1e9)
	cfg := small()
	cfg.Window = 5 * 1e9
	e1, _ := New(cfg, &recorder{})
	for i := range stream {
		if s := stream[i]; s.Ts < t0+50*sec {
			e1.Frame(s.Ts, 60, &s)
		}
	}
	var buf bytes.Buffer
	if err := e1.SaveState(&buf); err != nil {
		t.Fatal(err)
	}
	if len(e1.flood.marshalTargets(nil, e1.now)) <= 4 {
		t.Fatal("no flood target saved mid-flood")
	}
	rec := &recorder{}
	e2, _ := New(cfg, rec)
	if err := e2.LoadState(bytes.NewReader(buf.Bytes()), int64(buf.Len())); err != nil {
		t.Fatal(err)
	}
	early := t0 + 50*sec - hr
	for i := range 12 {
		s := decode.Syn{Ts: early + int64(i)*sec, Src: [16]byte{203, 0, 113, byte(i + 1)}, Dst: floodTarget, DstPort: 445, Flags: 2}
		e2.Frame(s.Ts, 60, &s)
	}
	e2.Finish()
	if c := e2.Counters(); c.NewSources != 12 || c.FloodSources != 0 || len(rec.alerts) != 0 {
		t.Errorf("12 new sources an hour before the state: %d new, %d flood sources, alerts %v; want 12, 0, none", c.NewSources, c.FloodSources, rec.alerts)
	}

	// A target a day ahead of the file's clock (the checksum made again).
	st := append([]byte(nil), buf.Bytes()...)
	sect := e1.flood.marshalTargets(nil, e1.now)
	at := len(st) - 4 - len(sect) + 4 + 16 // the first target's stamp
	le := binary.LittleEndian
	le.PutUint64(st[at:], le.Uint64(st[at:])+86400)
	le.PutUint32(st[len(st)-4:], crc32.Checksum(st[:len(st)-4], castagnoli))
	e3, _ := New(cfg, &recorder{})
	if err := e3.LoadState(bytes.NewReader(st), int64(len(st))); !errors.Is(err, ErrStateMismatch) {
		t.Errorf("a target a day ahead of the file's clock: %v, want refused as corrupt", err)
	}
}

// TestStateLeavesOutHeldSources: a state saved while a new source's record
// is still held for the flood decision does not know that source, so a
// sensor killed before the record was written reports it when it comes
// back after the restart (a review: a live sensor's periodic save knew
// it, and its record was never written by either run). Sources whose
// records were written are known.
func TestStateLeavesOutHeldSources(t *testing.T) {
	for _, shards := range []int{0, 2} {
		cfg := small()
		cfg.Growth, cfg.Shards = nil, shards
		early := syn("203.0.113.1", "198.18.0.1")
		early.Ts = t0 + 10*sec
		late := syn("203.0.113.2", "198.18.0.2") // its coming releases the early one's record
		late.Ts = t0 + 40*sec
		rec := &recorder{}
		e, err := New(cfg, rec)
		if err != nil {
			t.Fatal(err)
		}
		e.Start(t0) // live: the clock starts with the capture
		for _, s := range []decode.Syn{early, late} {
			e.Frame(s.Ts, 60, &s)
		}
		var buf bytes.Buffer
		if err := e.SaveState(&buf); err != nil { // a periodic save; then the sensor is killed
			t.Fatal(err)
		}
		if len(rec.sources) != 1 {
			t.Fatalf("shards %d: %d source records written before the save, want the early one only", shards, len(rec.sources))
		}
		rec2 := &recorder{}
		e2, err := New(cfg, rec2)
		if err != nil {
			t.Fatal(err)
		}
		if err := e2.LoadState(bytes.NewReader(buf.Bytes()), int64(buf.Len())); err != nil {
			t.Fatal(err)
		}
		e2.Start(t0 + 50*sec)
		for _, s := range []decode.Syn{early, late} {
			s.Ts += 20 * sec
			e2.Frame(s.Ts, 60, &s)
		}
		e2.Finish()
		var got []string
		for _, r := range rec2.sources {
			got = append(got, sources.SrcOf(&r.Syn).Netip().String())
		}
		if len(got) != 1 || got[0] != "203.0.113.2" {
			t.Errorf("shards %d: after the restart, source records for %v; want 203.0.113.2 only", shards, got)
		}
	}
}

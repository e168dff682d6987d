package engine

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"net/netip"
	"testing"
	"time"

	"github.com/synscope/synscope/pkg/decode"
	"github.com/synscope/synscope/pkg/sources"
	"github.com/synscope/synscope/pkg/srctable"
)

// rememberSteps: 40 sources (10.0.0.x) scan once at the start; other
// frames tick every 30 s; after 35 minutes (three and a half lookbacks of
// small(): the table has forgotten them) they come back, with 40 sources
// never seen (10.1.0.x). Then, past a cap of 60 sources, 80 one-SYN
// sources (10.2.0.x) arrive, evicting some; the first 40 of them come
// back within the lookback.
func rememberSteps() []step {
	var steps []step
	at := t0
	for i := range 40 {
		steps = append(steps, step{at + int64(i)*sec, fmt.Sprintf("10.0.0.%d", i), "198.18.0.1"})
	}
	for k := 1; k <= 70; k++ {
		steps = append(steps, step{at + int64(k)*30*sec, "", ""})
	}
	at += 36 * minute
	for i := range 40 {
		steps = append(steps, step{at + int64(i)*sec, fmt.Sprintf("10.0.0.%d", i), "198.18.0.2"})
		steps = append(steps, step{at + int64(i)*sec + sec/2, fmt.Sprintf("10.1.0.%d", i), "198.18.0.2"})
	}
	at += 2 * minute
	for i := range 80 {
		steps = append(steps, step{at + int64(i)*sec, fmt.Sprintf("10.2.0.%d", i), fmt.Sprintf("198.18.1.%d", i)})
	}
	at += 2 * minute
	for i := range 40 {
		steps = append(steps, step{at + int64(i)*sec, fmt.Sprintf("10.2.0.%d", i), "198.18.0.3"})
	}
	return steps
}

// returningOf counts the source records (and the returning ones) per /24
// in [from, to).
func returningOf(rec *recorder, from, to int64) map[string][2]int {
	out := map[string][2]int{}
	for _, s := range rec.sources {
		if s.Syn.Ts < from || s.Syn.Ts >= to {
			continue
		}
		p := netip.AddrFrom4([4]byte(s.Syn.Src[:4])).String()
		p = p[:len("10.0.0")]
		c := out[p]
		c[0]++
		if s.Returning {
			c[1]++
			if s.PrevLastSeen != 0 {
				c[1] += 1000 // only the memory knew it: no last SYN to tell
			}
		}
		out[p] = c
	}
	return out
}

// TestRememberTellsForgottenSourcesReturning: sources the table forgot
// (after a lookback of silence, evicted, or never kept for want of room)
// are returning when they come back within --remember; sources never
// seen are not; with the memory off the forgotten ones are new, not
// returning, as before it existed. (Which sources a full table keeps
// depends on --shards, so the evicted ones are checked as a class.)
func TestRememberTellsForgottenSourcesReturning(t *testing.T) {
	for _, shards := range []int{0, 2} {
		for _, remember := range []time.Duration{7 * 24 * time.Hour, 0} {
			t.Run(fmt.Sprintf("shards-%d/remember-%v", shards, remember), func(t *testing.T) {
				cfg := small()
				cfg.Shards, cfg.MaxSources, cfg.Remember = shards, 60, remember
				rec := run(t, cfg, rememberSteps())
				got := returningOf(rec, t0+30*minute, t0+38*minute)
				want := map[string][2]int{"10.0.0": {40, 40}, "10.1.0": {40, 0}}
				if remember == 0 {
					want = map[string][2]int{"10.0.0": {40, 0}, "10.1.0": {40, 0}}
				}
				if fmt.Sprint(got) != fmt.Sprint(want) {
					t.Errorf("after the silence, source records (all, returning) per /24: %v, want %v", got, want)
				}
				// Those evicted (or never kept) and back are all returning.
				back := returningOf(rec, t0+40*minute, t0+time.Hour.Nanoseconds())["10.2.0"]
				if back[0] == 0 || (remember != 0) != (back[1] == back[0]) || (remember == 0 && back[1] != 0) {
					t.Errorf("back after eviction: %d source records, %d returning", back[0], back[1])
				}
				var ret uint64
				for _, w := range rec.windows {
					ret += w.ReturningSources
				}
				if w := uint64(want["10.0.0"][1] + back[1]); ret != w {
					t.Errorf("windows count %d returning sources, want %d", ret, w)
				}
			})
		}
	}
}

// TestRememberSurvivesRestart: the memory is saved in the state file and
// loaded back (with as many shards, and with another number); a version 2
// file, without it, still loads, and so do a version 3 file (without the
// growth classifier's section), a version 4 file (without the key) and a
// version 5 file (without the flood detector's targets).
func TestRememberSurvivesRestart(t *testing.T) {
	steps := rememberSteps()[:40+70] // the first scans and the silence
	back := rememberSteps()[40+70 : 40+70+80]
	defer srctable.SetSeed(srctable.Seed())
	for _, c := range []struct{ save, load int }{{0, 0}, {2, 2}, {2, 3}, {0, -1}, {0, -3}, {0, -4}, {0, -5}, {0, -6}} {
		t.Run(fmt.Sprintf("%d-to-%d", c.save, c.load), func(t *testing.T) {
			srctable.SetSeed(0)
			if c.load == -4 {
				// A live sensor's keyed hashes: the file keeps the key, and
				// the next run takes it (the memory's fingerprints were
				// made with it), whatever key it started with.
				srctable.SetSeed(0x5eed)
			}
			cfg := small()
			cfg.Shards, cfg.MaxSources = c.save, 60
			e1, _ := New(cfg, &recorder{})
			for _, st := range steps {
				var m *decode.Syn
				if st.src != "" {
					s := syn(st.src, st.dst)
					m = &s
				}
				e1.Frame(st.at, 60, m)
			}
			var buf bytes.Buffer
			if err := e1.SaveState(&buf); err != nil {
				t.Fatal(err)
			}
			e1.Finish()
			savedKey := srctable.Seed()
			b := buf.Bytes()
			want := 40
			switch c.load {
			case -1: // made a version 2 file: no memory, so not returning
				b, want = asVersion2(t, b), 0
				c.load = 0
			case -3:
				b = asVersion3(t, b)
				c.load = 0
			case -4:
				srctable.SetSeed(0x777) // the next run started with another
				c.load = 0
			case -5:
				b = asVersion4(t, b)
				c.load = 0
			case -6:
				b = asVersion5(t, b)
				c.load = 0
			}
			cfg.Shards = c.load
			rec := &recorder{}
			e2, _ := New(cfg, rec)
			if err := e2.LoadState(bytes.NewReader(b), int64(len(b))); err != nil {
				t.Fatal(err)
			}
			if srctable.Seed() != savedKey {
				t.Errorf("hash key %#x after loading, want the file's, %#x", srctable.Seed(), savedKey)
			}
			for _, st := range back {
				s := syn(st.src, st.dst)
				e2.Frame(st.at, 60, &s)
			}
			e2.Finish()
			if got := returningOf(rec, 0, t0+time.Hour.Nanoseconds())["10.0.0"]; got != [2]int{40, want} {
				t.Errorf("after the restart: %v (sources, returning) of 10.0.0.0/24, want [40 %d]", got, want)
			}
		})
	}
}

// asVersion5 rewrites a state file as version 5 wrote it: without the
// flood detector's section after the growth section.
func asVersion5(t *testing.T, b []byte) []byte {
	le := binary.LittleEndian
	n, np := le.Uint64(b[52:]), le.Uint64(b[60:])
	at := stateHeaderLen + int(n)*sources.SourceRecLen + int(np)*sources.PrefixRecLen
	parts := int(le.Uint32(b[at:]))
	at += 4
	for range parts {
		at += 24 + 4*int(le.Uint64(b[at+8:])+le.Uint64(b[at+16:]))
	}
	at += 8                                                      // the key
	at += 4 + int(le.Uint32(b[at:]))                             // the growth section
	if le.Uint32(b[at:])*targetRecLen+4 != uint32(len(b)-4-at) { // the flood section
		t.Fatalf("the flood section at %d of %d bytes does not end the file", at, len(b))
	}
	out := append([]byte(nil), b[:at]...)
	le.PutUint32(out[16:], 5)
	return le.AppendUint32(out, crc32.Checksum(out, castagnoli))
}

// asVersion3 rewrites a state file without a classifier (its growth
// section empty) and with an unkeyed hash as version 3 wrote it: without
// the hash key and the growth section.
func asVersion3(t *testing.T, b []byte) []byte {
	b = asVersion5(t, b)
	le := binary.LittleEndian
	if le.Uint32(b[len(b)-8:]) != 0 || le.Uint64(b[len(b)-16:]) != 0 {
		t.Fatal("a state with a classifier, or a hash key")
	}
	out := append([]byte(nil), b[:len(b)-16]...)
	le.PutUint32(out[16:], 3)
	return le.AppendUint32(out, crc32.Checksum(out, castagnoli))
}

// asVersion4 rewrites an unkeyed state file as version 4 wrote it:
// without the hash key before the growth section.
func asVersion4(t *testing.T, b []byte) []byte {
	b = asVersion5(t, b)
	le := binary.LittleEndian
	glen := int(le.Uint32(b[len(b)-8:]))
	key := len(b) - 4 - glen - 4 - 8
	if glen != 0 || le.Uint64(b[key:]) != 0 {
		t.Fatal("a state with a classifier, or a hash key")
	}
	out := append(append([]byte(nil), b[:key]...), b[key+8:len(b)-4]...)
	le.PutUint32(out[16:], 4)
	return le.AppendUint32(out, crc32.Checksum(out, castagnoli))
}

// asVersion2 rewrites a state file as version 2 wrote it: no memory.
func asVersion2(t *testing.T, b []byte) []byte {
	le := binary.LittleEndian
	n, np := le.Uint64(b[52:]), le.Uint64(b[60:])
	end := stateHeaderLen + int(n)*40 + int(np)*16
	out := append([]byte(nil), b[:end]...)
	le.PutUint32(out[16:], 2)
	return le.AppendUint32(out, crc32.Checksum(out, castagnoli))
}

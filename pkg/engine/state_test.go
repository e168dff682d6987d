package engine

import (
	"bytes"
	"errors"
	"math"
	"net/netip"
	"testing"
)

// TestStateRestartMatchesUninterrupted: run the first half, save, load into
// a fresh engine, run the second half; every window after the restart must
// equal the uninterrupted run's.
func TestStateRestartMatchesUninterrupted(t *testing.T) {
	var steps []step
	for i := 0; i < 400; i++ {
		src := netip.AddrFrom4([4]byte{10, byte(i % 2), 0, byte(i % 37)}).String() // 74 sources, each back within 9 min
		steps = append(steps, step{t0 + int64(i)*7*sec, src, "198.18.0.1"})
	}
	whole := run(t, small(), steps)

	half := len(steps) / 2
	rec1 := &recorder{}
	e1, _ := New(small(), rec1)
	for _, st := range steps[:half] {
		s := syn(st.src, st.dst)
		e1.Frame(st.at, 60, &s)
	}
	e1.Finish()
	var buf bytes.Buffer
	if err := e1.SaveState(&buf); err != nil {
		t.Fatal(err)
	}
	rec2 := &recorder{}
	e2, _ := New(small(), rec2)
	if err := e2.LoadState(bytes.NewReader(buf.Bytes()), int64(buf.Len())); err != nil {
		t.Fatal(err)
	}
	for _, st := range steps[half:] {
		s := syn(st.src, st.dst)
		e2.Frame(st.at, 60, &s)
	}
	e2.Finish()
	byStart := map[int64]WindowRecord{}
	for _, w := range whole.windows {
		byStart[w.Start] = w
	}
	compared := 0
	for _, w := range rec2.windows[1:] { // the first one is split by the restart
		u := byStart[w.Start]
		if w.End > whole.windows[len(whole.windows)-1].Start && w.Start == whole.windows[len(whole.windows)-1].Start {
			continue // the last window's coverage is the same either way, but skip the edge
		}
		if w.NewSources != u.NewSources || w.ActiveSources != u.ActiveSources || w.NewPrefixes != u.NewPrefixes || w.Warmup != u.Warmup {
			t.Errorf("window +%dm after restart: %+v\nuninterrupted: %+v", (w.Start-t0)/minute, w, u)
		}
		compared++
	}
	if compared < 10 {
		t.Fatalf("only %d windows compared", compared)
	}
	// The restart's first window is covered from its first packet (it was
	// covered whole, from the saved run's first packet, and its half of
	// the new sources read as a dip); its first packet is its own, and
	// warm-up still counts from the saved run's.
	first := steps[half].at
	w0 := rec2.windows[0]
	if want := float64(w0.End-first) / float64(w0.End-w0.Start); w0.Start >= first || math.Abs(w0.Exposure-want) > 1e-9 {
		t.Errorf("the restart's first window [%d, %d) covered %v, want %v (from its first packet at %d)", w0.Start, w0.End, w0.Exposure, want, first)
	}
	if c := e2.Counters(); c.FirstPacket != first {
		t.Errorf("first packet %d, want the restart's own, %d", c.FirstPacket, first)
	}
	if w0.Warmup != byStart[w0.Start].Warmup {
		t.Errorf("warm-up %v after the restart, %v uninterrupted", w0.Warmup, byStart[w0.Start].Warmup)
	}
	// Without the state, the restart would have called known sources new.
	rec3 := &recorder{}
	e3, _ := New(small(), rec3)
	for _, st := range steps[half:] {
		s := syn(st.src, st.dst)
		e3.Frame(st.at, 60, &s)
	}
	if rec3.windows[0].NewSources <= rec2.windows[0].NewSources {
		t.Error("the test cannot tell a restored state from none")
	}
}

func TestStateRefusesBadFiles(t *testing.T) {
	e1, _ := New(small(), &recorder{})
	s := syn("192.0.2.1", "198.18.0.1")
	e1.Frame(t0, 60, &s)
	var buf bytes.Buffer
	e1.SaveState(&buf)
	good := buf.Bytes()
	corrupt := append([]byte(nil), good...)
	corrupt[stateHeaderLen+3] ^= 0xff
	foreign := append([]byte("#!/bin/sh\necho hi\n"), make([]byte, 80)...)
	lying := append([]byte(nil), good...)
	lying[52] = 0xff // source count
	for name, b := range map[string][]byte{
		"empty":     nil,
		"truncated": good[:len(good)-3],
		"corrupt":   corrupt,
		"foreign":   foreign,
		"lying":     lying,
	} {
		e, _ := New(small(), &recorder{})
		err := e.LoadState(bytes.NewReader(b), int64(len(b)))
		if !errors.Is(err, ErrStateMismatch) {
			t.Errorf("%s: %v", name, err)
		}
	}
	e, _ := New(small(), &recorder{})
	if err := e.LoadState(bytes.NewReader(good), int64(len(good))); err != nil {
		t.Errorf("good file refused: %v", err)
	}
}

// FuzzLoadState: a state file is untrusted bytes. Loading must refuse or
// accept, never panic or allocate from a lying header, and an accepted
// file must save back to the same bytes' meaning.
func FuzzLoadState(f *testing.F) {
	e1, _ := New(small(), &recorder{})
	for i := 0; i < 3; i++ {
		s := syn(netip.AddrFrom4([4]byte{192, 0, 2, byte(i)}).String(), "198.18.0.1")
		e1.Frame(t0+int64(i), 60, &s)
	}
	var buf bytes.Buffer
	e1.SaveState(&buf)
	f.Add(buf.Bytes())
	f.Add([]byte("synscope-state"))
	f.Fuzz(func(t *testing.T, b []byte) {
		e, _ := New(small(), &recorder{})
		if err := e.LoadState(bytes.NewReader(b), int64(len(b))); err != nil {
			if !errors.Is(err, ErrStateMismatch) {
				t.Fatalf("error not wrapped as a mismatch: %v", err)
			}
			return
		}
		var again bytes.Buffer
		if err := e.SaveState(&again); err != nil {
			t.Fatal(err)
		}
	})
}

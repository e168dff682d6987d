package engine

import (
	"fmt"
	"reflect"
	"testing"
	"time"
)

// closedWatch records the engine's held-back windows at every window it
// writes, and the records in the order written.
type closedWatch struct {
	recorder
	e       *Engine
	most    int
	written []string
}

func (c *closedWatch) Window(w *WindowRecord) {
	c.most = max(c.most, len(c.e.closed))
	c.written = append(c.written, fmt.Sprintf("window %d new %d", w.Start, w.NewSources))
	c.recorder.Window(w)
}

func (c *closedWatch) Source(s *SourceRecord) {
	c.written = append(c.written, fmt.Sprintf("source %v at %d", s.Syn.Src[:4], s.Syn.Ts))
	c.recorder.Source(s)
}

// TestPauseAfterNewSourcesGoesOut: new sources, then two hours with no
// packet (within --max-gap), with one-second windows. The held new sources
// go out once due and the windows of the pause after them as they close:
// the engine never holds more than the flood span's worth of windows (it
// held all 7,200, a record each copied along at every write: quadratic),
// and the records and their order are those of the same pause broken by a
// packet every second. With shard workers and inline.
func TestPauseAfterNewSourcesGoesOut(t *testing.T) {
	for _, shards := range []int{0, 2} {
		run := func(everySecond bool) *closedWatch {
			cfg := DefaultConfig()
			cfg.Window, cfg.Growth, cfg.Shards = time.Second, nil, shards
			c := &closedWatch{}
			e, err := New(cfg, c)
			if err != nil {
				t.Fatal(err)
			}
			c.e = e
			for i := range 5 {
				s := syn(fmt.Sprintf("203.0.113.%d", i+1), "198.51.100.1")
				e.Frame(t0+int64(i)*300*int64(time.Millisecond), 60, &s)
			}
			end := t0 + 2*hr
			if everySecond {
				for ts := t0 + sec; ts < end; ts += sec {
					e.Frame(ts, 60, nil)
				}
			}
			e.Frame(end, 60, nil)
			s := syn("203.0.113.99", "198.51.100.1")
			e.Frame(end+sec/2, 60, &s)
			e.Finish()
			return c
		}
		paused, ticking := run(false), run(true)
		if len(paused.windows) < 7200 || len(paused.sources) != 6 {
			t.Fatalf("shards %d: %d windows, %d source records", shards, len(paused.windows), len(paused.sources))
		}
		if !reflect.DeepEqual(paused.written, ticking.written) {
			t.Errorf("shards %d: the pause's records (%d) differ from those of a packet a second (%d)", shards, len(paused.written), len(ticking.written))
		}
		if paused.most > 12 {
			t.Errorf("shards %d: %d windows held back at once during the pause", shards, paused.most)
		}
	}
}

// TestAdvanceOverMaxGapIsAGap: the timer's clock stepped 60 days forward
// (a live sensor whose clock was set at boot) is a gap, as a packet
// stamped that far ahead is once confirmed: no window is written for each
// minute of the step.
func TestAdvanceOverMaxGapIsAGap(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Window, cfg.Growth = time.Minute, nil
	c := &recorder{}
	e, err := New(cfg, c)
	if err != nil {
		t.Fatal(err)
	}
	s := syn("203.0.113.1", "198.51.100.1")
	e.Start(t0) // a live sensor starts its clock, then frames come
	e.Frame(t0, 60, &s)
	e.Advance(t0 + 60*24*hr)
	e.Frame(t0+60*24*hr+sec, 60, nil)
	e.Finish()
	if n := len(c.windows); n > 3 {
		t.Errorf("%d windows written for a 60-day step of the clock", n)
	}
	if got := e.Counters().Gaps; got != 1 {
		t.Errorf("%d gaps counted, want 1", got)
	}
	if len(c.sources) != 1 || !c.windows[len(c.windows)-1].GapBefore {
		t.Errorf("%d source records; last window marked after a gap: %v", len(c.sources), c.windows[len(c.windows)-1].GapBefore)
	}
}

package engine

import (
	"bytes"
	"sort"
	"testing"

	"github.com/synscope/synscope/pkg/decode"
)

// runParts runs the parts of a stream one after the other, each by a new
// engine that loads the state the one before saved (capture files rotated
// every few minutes, each analysed with --state), and returns what was
// recorded over all of them and the flood sources counted.
func runParts(t *testing.T, cfg Config, parts ...[]decode.Syn) (*recorder, uint64) {
	t.Helper()
	rec := &recorder{}
	var state []byte
	var floods uint64
	for _, p := range parts {
		e, err := New(cfg, rec)
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
	return rec, floods
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
		whole, wholeFloods := runParts(t, cfg, stream)
		cut := t0 + 50*int64(1e9) // 20 s into the flood
		i := sort.Search(len(stream), func(i int) bool { return stream[i].Ts >= cut })
		split, splitFloods := runParts(t, cfg, stream[:i], stream[i:])
		if len(whole.alerts) != 1 || len(split.alerts) != len(whole.alerts) {
			t.Errorf("shards %d: alerts %v in one run, %v with a restart 20 s into the flood", shards, whole.alerts, split.alerts)
		}
		if splitFloods != wholeFloods {
			t.Errorf("shards %d: %d flood sources with the restart, %d in one run", shards, splitFloods, wholeFloods)
		}
	}
}

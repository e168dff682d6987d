package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/synscope/synscope/internal/scenario"
)

// splitWriter writes packets before a time to one file and the rest to
// another: a sensor that stopped and restarted at that time.
type splitWriter struct {
	at           int64
	before, rest *scenario.FileWriter
}

func (s *splitWriter) WritePacket(ts int64, data []byte, origLen int) error {
	if ts < s.at {
		return s.before.WritePacket(ts, data, origLen)
	}
	return s.rest.WritePacket(ts, data, origLen)
}

func (s *splitWriter) Resolution() time.Duration { return s.before.Resolution() }

// TestStateFileRestart: a run over the second half of a capture, started
// from the state the first half left, reports every later window as an
// uninterrupted run does.
func TestStateFileRestart(t *testing.T) {
	dir := t.TempDir()
	cfg, _ := scenario.Preset("sleepers")
	cfg.Seed, cfg.Duration, cfg.Window, cfg.Lookback = 7, 10*time.Hour, 10*time.Minute, 3*time.Hour
	whole := filepath.Join(dir, "whole.pcap")
	if _, err := scenario.GenerateFile(cfg, whole, scenario.FileOptions{}); err != nil {
		t.Fatal(err)
	}
	a, _ := scenario.CreateFile(filepath.Join(dir, "a.pcap"), scenario.FileOptions{})
	b, _ := scenario.CreateFile(filepath.Join(dir, "b.pcap"), scenario.FileOptions{})
	split := cfg.Start.Add(4*time.Hour + 3*time.Minute).UnixNano()
	if _, err := scenario.Generate(cfg, &splitWriter{at: split, before: a, rest: b}); err != nil {
		t.Fatal(err)
	}
	a.Close()
	b.Close()
	args := []string{"--window", "10m", "--lookback", "3h", "--log-level", "error", "--sensor-id", "s"}
	state := filepath.Join(dir, "sensor.state")
	full, _, code := sensor(t, append([]string{"-r", whole}, args...)...)
	if code != exitOK {
		t.Fatal("uninterrupted run failed")
	}
	if _, stderr, code := sensor(t, append([]string{"-r", filepath.Join(dir, "a.pcap"), "--state-file", state}, args...)...); code != exitOK {
		t.Fatalf("first half: %s", stderr)
	}
	// A run in between that sees no packet (an empty capture) leaves the
	// state as it was: it used to write an empty state over it.
	saved, err := os.ReadFile(state)
	if err != nil {
		t.Fatal(err)
	}
	empty, _ := scenario.CreateFile(filepath.Join(dir, "empty.pcap"), scenario.FileOptions{})
	empty.Close()
	if _, stderr, code := sensor(t, append([]string{"-r", filepath.Join(dir, "empty.pcap"), "--state-file", state}, args...)...); code != exitOK {
		t.Fatalf("empty capture: %s", stderr)
	}
	if after, _ := os.ReadFile(state); string(after) != string(saved) {
		t.Fatalf("a run without packets changed the state file: %d bytes, then %d", len(saved), len(after))
	}
	second, stderr, code := sensor(t, append([]string{"-r", filepath.Join(dir, "b.pcap"), "--state-file", state}, args...)...)
	if code != exitOK {
		t.Fatalf("second half: %s", stderr)
	}
	fresh, _, _ := sensor(t, append([]string{"-r", filepath.Join(dir, "b.pcap")}, args...)...)

	key := func(w map[string]any) string {
		return fmt.Sprintf("new=%v active=%v prefixes=%v warmup=%v", w["new_sources"], w["active_sources"], w["new_prefixes"], w["warmup"])
	}
	want := map[any]string{}
	for _, w := range ofType(records(t, full), "window") {
		want[w["window_start"]] = key(w)
	}
	got := ofType(records(t, second), "window")
	compared := 0
	for _, w := range got[1:] { // the first is cut by the restart
		if key(w) != want[w["window_start"]] {
			t.Errorf("window %v after the restart: %s, uninterrupted: %s", w["window_start"], key(w), want[w["window_start"]])
		}
		compared++
	}
	if compared < 30 {
		t.Fatalf("only %d windows compared", compared)
	}
	newOf := func(jsonl string) float64 {
		return ofType(records(t, jsonl), "summary")[0]["new_sources"].(float64)
	}
	if newOf(fresh) <= newOf(second) {
		t.Errorf("without the state the restart should see more new sources: %v vs %v", newOf(fresh), newOf(second))
	}

	// A damaged state file stops the start with the file's name and what to do.
	raw, _ := os.ReadFile(state)
	os.WriteFile(state, raw[:len(raw)/2], 0o644)
	_, stderr, code = sensor(t, append([]string{"-r", filepath.Join(dir, "b.pcap"), "--state-file", state}, args...)...)
	if code != exitUsage || !strings.Contains(stderr, state) || !strings.Contains(stderr, "--state-reset") {
		t.Errorf("truncated state: exit %d: %s", code, stderr)
	}
	// So refused, the run leaves no output file of its own behind (an
	// empty file to be taken for a run's records), and keeps one that was
	// there as it was.
	made := filepath.Join(dir, "refused.jsonl")
	for _, was := range []bool{false, true} {
		if was {
			os.WriteFile(made, []byte("kept\n"), 0o644)
		}
		if _, stderr, code = sensor(t, append([]string{"-r", filepath.Join(dir, "b.pcap"), "--state-file", state, "-o", made}, args...)...); code != exitUsage {
			t.Errorf("truncated state, -o %s: exit %d: %s", made, code, stderr)
		}
		got, err := os.ReadFile(made)
		if was && string(got) != "kept\n" {
			t.Errorf("refused, the output file that was there holds %q, %v", got, err)
		}
		if !was && !os.IsNotExist(err) {
			t.Errorf("refused, the run left its output file behind (%q, %v)", got, err)
		}
	}
	if _, stderr, code = sensor(t, append([]string{"-r", filepath.Join(dir, "b.pcap"), "--state-file", state, "--state-reset"}, args...)...); code != exitOK {
		t.Errorf("--state-reset: exit %d: %s", code, stderr)
	}

	// A directory as the state file is a setting error at start: its
	// refusal suggested --state-reset, with which the whole run went on
	// and failed at its end ("rename: file exists"), the state lost.
	for _, extra := range [][]string{nil, {"--state-reset"}} {
		_, stderr, code = sensor(t, append(append([]string{"-r", filepath.Join(dir, "b.pcap"), "--state-file", dir}, extra...), args...)...)
		if code != exitUsage || !strings.Contains(stderr, "is a directory") {
			t.Errorf("a directory as --state-file %v: exit %d: %s", extra, code, stderr)
		}
	}
}

// TestStateFromLaterSaysSo: a state saved after the capture's first packet
// (a later part of a capture run before an earlier one) makes sources it
// knew count as seen before; it was loaded without a word (review).
func TestStateFromLaterSaysSo(t *testing.T) {
	state := filepath.Join(t.TempDir(), "s.state")
	if _, stderr, code := sensor(t, "-r", demo, "--state-file", state, "-o", os.DevNull); code != exitOK || strings.Contains(stderr, "saved after") {
		t.Fatalf("first run: exit %d: %s", code, stderr)
	}
	if _, stderr, code := sensor(t, "-r", demo, "--state-file", state, "-o", os.DevNull); code != exitOK || !strings.Contains(stderr, "saved after this capture's first packet") {
		t.Errorf("the same capture again: exit %d, no warning: %s", code, stderr)
	}
}

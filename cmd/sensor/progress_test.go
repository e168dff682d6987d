package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeClock steps a progress report's clock by hand.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time { return c.t }

func newTestProgress(console bool, buf *bytes.Buffer) (*progress, *fakeClock) {
	c := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	p := newProgress("always", console, buf)
	p.now = c.now
	p.start, p.last = c.t, c.t
	p.Track(func() (int64, int64) { return 300 << 20, 1200 << 20 }, loggerTo("info", console, false, p.Writer()))
	return p, c
}

// TestProgressLineAtAnyLogLevel: --progress always with --log-level warn
// still reports progress (it was asked for); a pipe's (no size) says
// packets, not bytes of nothing.
func TestProgressLineAtAnyLogLevel(t *testing.T) {
	var buf bytes.Buffer
	p, c := newTestProgress(false, &buf)
	p.Track(func() (int64, int64) { return 0, 0 }, loggerTo("warn", false, false, p.Writer()))
	p.log.Info().Msg("not at warn")
	c.t = c.t.Add(jsonEvery)
	p.tick(42)
	var m map[string]any
	if err := json.Unmarshal(bytes.TrimSpace(buf.Bytes()), &m); err != nil {
		t.Fatalf("%q: %v", buf.String(), err)
	}
	if m["message"] != "progress" || m["level"] != "info" || m["packets"] != 42.0 {
		t.Fatalf("progress line %v", m)
	}
	if _, ok := m["total_bytes"]; ok {
		t.Fatalf("bytes of a pipe: %v", m)
	}
}

// TestProgressWithJSONLogsIsJSON: with JSON logs (--log-format json
// --progress always, stderr to a file) every line on stderr is one JSON
// object: progress is a log line of its own every few seconds, not a bar
// of carriage returns amid the log lines.
func TestProgressWithJSONLogsIsJSON(t *testing.T) {
	var buf bytes.Buffer
	p, c := newTestProgress(false, &buf)
	c.t = c.t.Add(time.Second)
	p.tick(1000) // too soon for a line
	p.log.Warn().Msg("something to say")
	c.t = c.t.Add(jsonEvery)
	p.tick(2_000_000)
	p.done()
	if bytes.ContainsRune(buf.Bytes(), '\r') {
		t.Fatalf("a bar amid JSON logs: %q", buf.String())
	}
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	if len(lines) != 2 {
		t.Fatalf("want the warning and one progress line, got %q", buf.String())
	}
	for _, l := range lines {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("not a JSON line: %q: %v", l, err)
		}
	}
	var m struct {
		Message  string  `json:"message"`
		Done     int64   `json:"done_bytes"`
		Total    int64   `json:"total_bytes"`
		Percent  float64 `json:"percent"`
		Packets  uint64  `json:"packets"`
		Rate     float64 `json:"packets_per_second"`
		Level    string  `json:"level"`
		LoggedAt string  `json:"time"`
	}
	if err := json.Unmarshal([]byte(lines[1]), &m); err != nil {
		t.Fatal(err)
	}
	if m.Message != "progress" || m.Done != 300<<20 || m.Total != 1200<<20 || m.Percent != 25 || m.Packets != 2_000_000 ||
		m.Rate != float64(int64(2_000_000/(jsonEvery+time.Second).Seconds())) || m.Level != "info" || m.LoggedAt == "" {
		t.Fatalf("progress line %+v", m)
	}
}

// TestProgressBarWipedBeforeALogLine: on a terminal the bar is redrawn in
// place; a log line written while it is drawn (a warning from the run,
// from any goroutine) starts on a clean line, not after the bar.
func TestProgressBarWipedBeforeALogLine(t *testing.T) {
	var buf bytes.Buffer
	p, c := newTestProgress(true, &buf)
	c.t = c.t.Add(time.Second)
	p.tick(1000)
	if !strings.Contains(buf.String(), "Mpkt/s") {
		t.Fatalf("no bar drawn: %q", buf.String())
	}
	p.log.Warn().Msg("something to say")
	segs := strings.Split(buf.String(), "\r")
	last := segs[len(segs)-1]
	if !strings.Contains(last, "something to say") || strings.Contains(last, "Mpkt/s") || strings.TrimSpace(segs[len(segs)-2]) != "" {
		t.Fatalf("the log line shares the bar's line: %q", buf.String())
	}
}

// TestProgressFromManyGoroutines: log lines from other goroutines and the
// bar's redraws take turns (go test -race).
func TestProgressFromManyGoroutines(t *testing.T) {
	var buf bytes.Buffer
	p, c := newTestProgress(true, &buf)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 50 {
				p.log.Info().Int("goroutine", g).Int("i", i).Msg("line")
			}
		}()
	}
	for range 50 {
		c.t = c.t.Add(time.Second)
		p.tick(1)
	}
	wg.Wait()
	p.done()
	for _, seg := range strings.Split(buf.String(), "\r") {
		if strings.Contains(seg, "line") && strings.Contains(seg, "Mpkt/s") {
			t.Fatalf("a log line and the bar on one line: %q", seg)
		}
	}
}

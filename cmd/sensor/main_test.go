package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/synscope/synscope/internal/scenario"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// sensor runs the command in-process and returns stdout, stderr and the exit
// status.
func sensor(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), args, &out, &errb)
	return out.String(), errb.String(), code
}

// records parses JSONL output, failing on any line that is not one object.
func records(t *testing.T, jsonl string) []map[string]any {
	t.Helper()
	var recs []map[string]any
	sc := bufio.NewScanner(strings.NewReader(jsonl))
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("not a JSON object: %q: %v", sc.Text(), err)
		}
		recs = append(recs, m)
	}
	return recs
}

func ofType(recs []map[string]any, typ string) []map[string]any {
	var out []map[string]any
	for _, r := range recs {
		if r["event_type"] == typ {
			out = append(out, r)
		}
	}
	return out
}

const demo = "../../testdata/demo.pcapng"

func TestGoldenDemo(t *testing.T) {
	out, stderr, code := sensor(t, "-r", demo, "--sensor-id", "golden", "--log-level", "error")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	// The summary names the input by the path given; make it stable.
	out = strings.ReplaceAll(out, demo, "testdata/demo.pcapng")
	checkGolden(t, out, "../../testdata/demo.golden.jsonl")
}

// checkGolden compares out with the golden file, or rewrites it with -update.
func checkGolden(t *testing.T, out, golden string) {
	t.Helper()
	if *update {
		if err := os.WriteFile(golden, []byte(out), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if out != string(want) {
		t.Errorf("output differs from %s; if the change is intended, rerun with -update and review the diff", golden)
	}
}

func TestRerunIsByteIdentical(t *testing.T) {
	a, _, _ := sensor(t, "-r", demo, "--sensor-id", "x", "--log-level", "error")
	b, _, _ := sensor(t, "-r", demo, "--sensor-id", "x", "--log-level", "error")
	if a != b || len(a) == 0 {
		t.Error("two runs over the same capture differ")
	}
}

// TestNoInputReadTwiceOrOverwritten: a capture named twice (or a
// directory and a file in it) is read once, its packets counted once, the
// second naming skipped and said; an output that is one of the captures
// is refused (exit 2) with the capture left whole (it was truncated to
// the records of an empty run).
func TestNoInputReadTwiceOrOverwritten(t *testing.T) {
	once, _, _ := sensor(t, "-r", demo, "--sensor-id", "x", "--log-level", "error")
	twice, _, code := sensor(t, "-r", demo, "-r", demo, "--sensor-id", "x", "--log-level", "error")
	if code != exitOK {
		t.Fatalf("exit %d", code)
	}
	sum := func(jsonl string) map[string]any { return ofType(records(t, jsonl), "summary")[0] }
	a, b := sum(once), sum(twice)
	if a["syn_packets"] != b["syn_packets"] || b["skipped_inputs"] != 1.0 {
		t.Errorf("named twice: %v SYNs (once: %v), %v skipped", b["syn_packets"], a["syn_packets"], b["skipped_inputs"])
	}
	dir := t.TempDir()
	capture := filepath.Join(dir, "c.pcapng")
	orig, err := os.ReadFile(demo)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(capture, orig, 0o640)
	_, stderr, code := sensor(t, "-r", dir, "-o", capture)
	if code != exitUsage || !strings.Contains(stderr, "is the capture") {
		t.Errorf("output = input: exit %d: %s", code, stderr)
	}
	if now, _ := os.ReadFile(capture); !bytes.Equal(now, orig) {
		t.Errorf("the capture is now %d bytes, was %d", len(now), len(orig))
	}
	// The capture read from standard input.
	f, err := os.Open(capture)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	saved := os.Stdin
	os.Stdin = f
	defer func() { os.Stdin = saved }()
	if _, stderr, code := sensor(t, "-r", "-", "-o", capture); code != exitUsage || !strings.Contains(stderr, "standard input") {
		t.Errorf("output = standard input's file: exit %d: %s", code, stderr)
	}
	if now, _ := os.ReadFile(capture); !bytes.Equal(now, orig) {
		t.Errorf("the capture read from standard input is now %d bytes, was %d", len(now), len(orig))
	}
	// An earlier run's output (and state) in the directory read is no
	// capture: the rerun skips it, without a word in the records, so that
	// it writes what the first run, which did not find it, wrote (a review:
	// the rerun's summary listed it skipped).
	out, state := filepath.Join(dir, "out.jsonl"), filepath.Join(dir, "state.bin")
	var runs [3][]byte
	for run := range runs {
		if _, stderr, code := sensor(t, "-r", dir, "-o", out, "--state-file", state, "--state-reset"); code != exitOK {
			t.Fatalf("run %d into the directory read: exit %d: %s", run, code, stderr)
		}
		runs[run], _ = os.ReadFile(out)
	}
	if bytes.Contains(runs[2], []byte("out.jsonl")) || bytes.Contains(runs[2], []byte("state.bin")) {
		t.Errorf("the earlier output or state is named in the records")
	}
	if !bytes.Equal(runs[0], runs[1]) || !bytes.Equal(runs[1], runs[2]) {
		t.Errorf("reruns wrote other records: %d, %d and %d bytes", len(runs[0]), len(runs[1]), len(runs[2]))
	}
	// The directory named twice lists them twice: both listings hidden.
	os.Remove(out)
	for run := range runs {
		if _, stderr, code := sensor(t, "-r", dir, "-r", dir, "-o", out, "--state-file", state, "--state-reset"); code != exitOK {
			t.Fatalf("run %d into the directory read twice: exit %d: %s", run, code, stderr)
		}
		runs[run], _ = os.ReadFile(out)
	}
	if !bytes.Equal(runs[0], runs[1]) || !bytes.Equal(runs[1], runs[2]) || bytes.Contains(runs[2], []byte("out.jsonl")) {
		t.Errorf("reruns of the directory read twice wrote other records: %d, %d and %d bytes", len(runs[0]), len(runs[1]), len(runs[2]))
	}
}

// TestWindowsEqualGroundTruth runs generated scenarios through the whole
// command and compares every window with the generator's independent
// ground truth.
func TestWindowsEqualGroundTruth(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		preset   string
		file     string
		duration time.Duration
		window   time.Duration
		lookback time.Duration
	}{
		{"demo", "demo.pcapng", 0, 0, 0},
		{"steady", "steady.pcap", 8 * time.Hour, 5 * time.Minute, 24 * time.Hour},
		{"sleepers", "sleepers.pcap.gz", 12 * time.Hour, 10 * time.Minute, 2 * time.Hour},
		{"churn", "churn.pcapng.gz", 6 * time.Hour, time.Minute, 3 * time.Hour},
		{"flood", "flood.pcap", 4 * time.Hour, 5 * time.Minute, 24 * time.Hour},
		{"bursty", "bursty.pcapng", 6 * time.Hour, 15 * time.Minute, 1 * time.Hour},
	}
	for i, c := range cases {
		t.Run(c.preset, func(t *testing.T) {
			cfg, err := scenario.Preset(c.preset)
			if err != nil {
				t.Fatal(err)
			}
			cfg.Seed = int64(100 + i)
			if c.duration != 0 {
				cfg.Duration, cfg.Window, cfg.Lookback = c.duration, c.window, c.lookback
			}
			path := filepath.Join(dir, c.file)
			truth, err := scenario.GenerateFile(cfg, path, scenario.FileOptions{})
			if err != nil {
				t.Fatal(err)
			}
			out, stderr, code := sensor(t, "-r", path, "--window", cfg.Window.String(), "--lookback", cfg.Lookback.String(), "--log-level", "error")
			if code != exitOK {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			windows := ofType(records(t, out), "window")
			if len(windows) != len(truth.Windows) {
				t.Fatalf("%d windows, truth has %d", len(windows), len(truth.Windows))
			}
			var newSum int64
			for j, w := range windows {
				tw := truth.Windows[j]
				got := fmt.Sprintf("%v syn=%v active=%v new=%v targets=%v warmup=%v",
					w["window_start"], w["syn_packets"], w["active_sources"], w["new_sources"], w["distinct_targets"], w["warmup"])
				want := fmt.Sprintf("%v syn=%v active=%v new=%v targets=%v warmup=%v",
					strings.Replace(tw.WindowStart, "Z", ".000000000Z", 1), tw.SYNPackets, tw.ActiveSources, tw.NewSources, tw.DistinctTargets, tw.Warmup)
				if got != want {
					t.Fatalf("window %d:\n got %s\nwant %s", j, got, want)
				}
				newSum += tw.NewSources
			}
			if newSum == 0 || truth.Totals.SYNPackets == 0 {
				t.Fatalf("scenario has no new sources; the comparison proves nothing")
			}
			// Every new source has a source record or is counted in its
			// window's flood record, and the flood totals agree everywhere.
			recs := records(t, out)
			var flooded, inWindows float64
			for _, f := range ofType(recs, "flood") {
				flooded += f["sources"].(float64)
			}
			for _, w := range windows {
				inWindows += w["flood_new_sources"].(float64)
			}
			if n := len(ofType(recs, "source")); int64(n)+int64(flooded) != newSum {
				t.Errorf("%d source records and %v flood sources, truth has %d new sources", n, flooded, newSum)
			}
			sum := ofType(recs, "summary")[0]
			if inWindows != flooded || sum["flood_new_sources"].(float64) != flooded {
				t.Errorf("flood sources: windows %v, flood records %v, summary %v", inWindows, flooded, sum["flood_new_sources"])
			}
			if c.preset == "flood" && (flooded < float64(truth.Totals.FloodPackets) || flooded > float64(truth.Totals.FloodPackets)*1.01) {
				t.Errorf("%v flood sources, the generator sent %d flood SYNs", flooded, truth.Totals.FloodPackets)
			}
		})
	}
}

func TestBadInputsGoOnAndFail(t *testing.T) {
	dir := t.TempDir()
	notCapture := filepath.Join(dir, "notes.txt")
	os.WriteFile(notCapture, []byte("<html>not a capture</html>"), 0o644)
	empty := filepath.Join(dir, "empty.pcap")
	os.WriteFile(empty, nil, 0o644)
	data, err := os.ReadFile(demo)
	if err != nil {
		t.Fatal(err)
	}
	truncated := filepath.Join(dir, "truncated.pcapng")
	os.WriteFile(truncated, data[:len(data)/2+3], 0o644)

	out, stderr, code := sensor(t, "-r", notCapture, "-r", empty, "-r", truncated, "-r", filepath.Join(dir, "missing.pcap"), "--log-format", "json")
	if code != exitInputFailed {
		t.Errorf("exit %d, want %d", code, exitInputFailed)
	}
	for _, want := range []string{"notes.txt", "not a pcap or pcapng file", "empty.pcap", "truncated.pcapng: packet", "missing.pcap"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr does not say %q:\n%s", want, stderr)
		}
	}
	recs := records(t, out)
	sum := ofType(recs, "summary")
	if len(sum) != 1 {
		t.Fatalf("%d summary records", len(sum))
	}
	if n := sum[0]["packets"].(float64); n < 100 {
		t.Errorf("what the truncated file held before the damage must be analysed: %v packets", n)
	}
	st := ofType(recs, "stats")
	if len(st) != 1 || st[0]["inputs_failed"].(float64) != 4 {
		t.Errorf("stats: %v", st)
	}
}

func TestCommandLine(t *testing.T) {
	if out, _, code := sensor(t, "--help"); code != exitOK || !strings.Contains(out, "--lookback") {
		t.Errorf("--help: %d", code)
	}
	if out, _, code := sensor(t, "--version"); code != exitOK || !strings.HasPrefix(out, "sensor ") {
		t.Errorf("--version: %d %q", code, out)
	}
	if out, _, code := sensor(t, "--print-config", "--ports", "139,445"); code != exitOK || !strings.Contains(out, `ports: "139,445"`) {
		t.Errorf("--print-config: %d %q", code, out)
	}
	if _, stderr, code := sensor(t, "-r", demo, "--window", "soon"); code != exitUsage || !strings.Contains(stderr, "window") {
		t.Errorf("bad window: %d %q", code, stderr)
	}
	if _, stderr, code := sensor(t, "-i", "nosuchif0", "--user", ""); code != exitUsage || !strings.Contains(stderr, "nosuchif0") {
		t.Errorf("live capture on a missing interface: %d %q", code, stderr)
	}
	file := filepath.Join(t.TempDir(), "out.jsonl")
	if out, _, code := sensor(t, "-r", demo, "-o", file, "--log-level", "error"); code != exitOK || out != "" {
		t.Errorf("-o file: exit %d, stdout %d bytes", code, len(out))
	}
	if b, _ := os.ReadFile(file); !bytes.Contains(b, []byte(`"event_type":"summary"`)) {
		t.Error("-o file: no summary in the file")
	}
	if _, stderr, code := sensor(t, "-r", demo, "-o", "/nonexistent/dir/out.jsonl"); code != exitUsage || !strings.Contains(stderr, "/nonexistent/dir does not exist") {
		t.Errorf("unwritable output: %d %q", code, stderr)
	}
}

// TestSchemaDocumentsEveryField keeps docs/schema.md true: every field the
// sensor writes on the demo and on the scanners' capture must be named there.
func TestSchemaDocumentsEveryField(t *testing.T) {
	golden, err := os.ReadFile("../../testdata/demo.golden.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	// The scanners' golden holds the records the demo has none of.
	scans, err := os.ReadFile("../../testdata/scan.golden.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	golden = append(golden, scans...)
	checkDocumented(t, records(t, string(golden)))
}

// checkDocumented fails for every field of recs not named in
// docs/schema.md.
func checkDocumented(t *testing.T, recs []map[string]any) {
	t.Helper()
	doc, err := os.ReadFile("../../docs/schema.md")
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	var walk func(prefix string, v any)
	walk = func(prefix string, v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, e := range x {
				name := k
				if prefix != "" {
					name = prefix + "." + k
				}
				if _, nested := e.(map[string]any); !nested {
					seen[name] = true
				}
				walk(name, e)
			}
		case []any:
			for _, e := range x {
				walk(prefix+"[]", e)
			}
		}
	}
	for _, r := range recs {
		walk("", r)
	}
	for name := range seen {
		short := name[strings.LastIndex(name, ".")+1:]
		if strings.Contains(name, "[]") {
			short = name[strings.LastIndex(name, "]")+2:]
		}
		if !strings.Contains(string(doc), "`"+name+"`") && !strings.Contains(string(doc), "`"+short+"`") && !strings.Contains(string(doc), "`"+name+"[]`") {
			t.Errorf("field %q is written but not documented in docs/schema.md", name)
		}
	}
}

// TestLiveSettingsCheckedBeforeAttaching: an interface that does not exist
// and (as root) a --user that does not exist are setting errors (exit 2)
// found before the capture is attached or the output made; they failed
// later, exit 1, with a root-owned empty output left behind.
func TestLiveSettingsCheckedBeforeAttaching(t *testing.T) {
	o := filepath.Join(t.TempDir(), "l.jsonl")
	if _, stderr, code := sensor(t, "-i", "nosuchif0", "-o", o); code != exitUsage || !strings.Contains(stderr, "--iface nosuchif0: no such interface") {
		t.Errorf("no such interface: exit %d: %s", code, stderr)
	}
	if os.Geteuid() == 0 {
		if _, stderr, code := sensor(t, "-i", "lo", "--capture", "afpacket", "--user", "nosuchuser", "-o", o); code != exitUsage || !strings.Contains(stderr, "--user nosuchuser") {
			t.Errorf("no such user: exit %d: %s", code, stderr)
		}
	}
	if _, err := os.Stat(o); err == nil {
		t.Error("the output was made")
	}
}

// TestEmptyCaptureRerunIsByteIdentical: a capture with no packet writes the
// same bytes on every run (its stats and summary were stamped with the wall
// clock, each at its own moment): the file's modification time.
func TestEmptyCaptureRerunIsByteIdentical(t *testing.T) {
	f := filepath.Join(t.TempDir(), "empty.pcap")
	hdr := []byte{0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 1, 0, 0, 0}
	if err := os.WriteFile(f, hdr, 0o644); err != nil {
		t.Fatal(err)
	}
	a, _, _ := sensor(t, "-r", f, "--sensor-id", "x")
	time.Sleep(2 * time.Millisecond)
	b, _, _ := sensor(t, "-r", f, "--sensor-id", "x")
	if a != b || !strings.Contains(a, `"no_packets":true`) {
		t.Errorf("two runs over an empty capture differ:\n%s\n%s", a, b)
	}
}

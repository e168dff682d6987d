package main

import (
	"bytes"
	"compress/gzip"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"
)

// demoJSONL runs the sensor on the shipped demo capture into a file.
func demoJSONL(t *testing.T, dir string) (path string, windows int) {
	t.Helper()
	path = filepath.Join(dir, "demo.jsonl")
	if _, errs, code := sensor(t, "-r", "../../testdata/demo.pcapng", "--sensor-id", "demo", "-o", path); code != 0 {
		t.Fatalf("sensor: %d %s", code, errs)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return path, strings.Count(string(b), `"event_type":"window"`)
}

func TestReportCommand(t *testing.T) {
	dir := t.TempDir()
	in, windows := demoJSONL(t, dir)
	html := filepath.Join(dir, "r.html")
	if _, errs, code := sensor(t, "report", "-o", html, in); code != 0 {
		t.Fatalf("report: %d %s", code, errs)
	}
	b, _ := os.ReadFile(html)
	if got := strings.Count(string(b), `class="bar new"`); got != windows {
		t.Errorf("%d bars for %d windows", got, windows)
	}
	// a single chart, by extension and by flag; stdin
	for _, c := range []struct {
		args []string
		png  bool
	}{
		{[]string{"report", "-o", filepath.Join(dir, "c.png"), in}, true},
		{[]string{"report", "--format", "svg", "--chart", "verdict", "-o", filepath.Join(dir, "c.svg"), in}, false},
	} {
		if _, errs, code := sensor(t, c.args...); code != 0 {
			t.Fatalf("%v: %d %s", c.args, code, errs)
		}
		f, _ := os.Open(c.args[len(c.args)-2])
		if c.png {
			if _, err := png.Decode(f); err != nil {
				t.Errorf("not a PNG: %v", err)
			}
		}
		f.Close()
	}
	f, _ := os.Open(in)
	stdin = f
	out, errs, code := sensor(t, "report", "--format", "svg", "-")
	stdin = os.Stdin
	f.Close()
	if code != 0 || !strings.HasPrefix(out, "<svg") {
		t.Errorf("stdin: %d %s %.40q", code, errs, out)
	}

	// bad input: nothing usable, a bad flag, a missing file, a bad chart
	bad := filepath.Join(dir, "bad.jsonl")
	os.WriteFile(bad, []byte("{\"event_type\":\"wind\n{\"event_type\":\"gossip\",\"sensor\":\"x\"}\n"), 0o644)
	for _, c := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"report", bad}, exitFatal, "no window records"},
		{[]string{"report", bad}, exitFatal, bad + ":2: unknown event_type"},
		{[]string{"report", "--format", "gif", in}, exitUsage, "must be html, svg or png"},
		{[]string{"report", "--frobnicate", in}, exitUsage, "unknown flag"},
		{[]string{"report"}, exitUsage, "no input"},
		{[]string{"report", filepath.Join(dir, "missing.jsonl")}, exitFatal, "no such file"},
		{[]string{"report", "--chart", "pie", "-o", filepath.Join(dir, "x.svg"), in}, exitUsage, `--chart "pie": must be one of new-sources, verdict`},
		{[]string{"report", "--chart", "pie", filepath.Join(dir, "missing.jsonl")}, exitUsage, "must be one of"}, // before any input is read
		{[]string{"report", "--chart", "verdict", "-o", filepath.Join(dir, "x.html"), in}, exitUsage, "the html page has them all"},
		{[]string{"report", "-o", in, in}, exitUsage, "is the input"},
	} {
		_, errs, code := sensor(t, c.args...)
		if code != c.code || !strings.Contains(errs, c.msg) {
			t.Errorf("%v: exit %d, stderr %q; want %d and %q", c.args, code, errs, c.code, c.msg)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "x.svg")); err == nil {
		t.Error("a failed report left its output file")
	}
}

// TestReportReadsCompressed: the rotated files logrotate compresses
// (sensor.jsonl.2.gz) and zstd ones are read through (gzip was read as
// text: 50 bad lines, then "no window records", a review); one cut short
// gives what it held, says so, and the exit status is 3, as the sensor's
// for an input that could not be read to its end; a missing input among
// others too.
func TestReportReadsCompressed(t *testing.T) {
	dir := t.TempDir()
	in, _ := demoJSONL(t, dir)
	plain, errs, code := sensor(t, "report", in)
	if code != exitOK {
		t.Fatalf("plain: %d %s", code, errs)
	}
	raw, _ := os.ReadFile(in)
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(raw)
	zw.Close()
	zs, _ := zstd.NewWriter(nil)
	// pzstd's files begin with a skippable frame (magic 0x184D2A50, a
	// length, that many bytes).
	skip := append([]byte{0x50, 0x2a, 0x4d, 0x18, 4, 0, 0, 0}, 1, 2, 3, 4)
	files := map[string][]byte{"r.jsonl.gz": gz.Bytes(), "r.jsonl.zst": zs.EncodeAll(raw, nil), "r.jsonl.pzst": zs.EncodeAll(raw, skip)}
	for name, b := range files {
		p := filepath.Join(dir, name)
		os.WriteFile(p, b, 0o644)
		out, errs, code := sensor(t, "report", p)
		// The page names its input: the rest is the same.
		if code != exitOK || strings.ReplaceAll(out, p, in) != plain {
			t.Errorf("%s: exit %d, the page differs from the plain file's; stderr %s", name, code, errs)
		}
	}
	cut := filepath.Join(dir, "cut.jsonl.gz")
	os.WriteFile(cut, gz.Bytes()[:gz.Len()*2/3], 0o644)
	out, errs, code := sensor(t, "report", cut, filepath.Join(dir, "missing.jsonl"))
	if code != exitInputFailed || !strings.Contains(errs, "gzip: unexpected EOF") || !strings.Contains(errs, "no such file") || !strings.Contains(out, "<html") {
		t.Errorf("a gzip file cut short and a missing one: exit %d, stderr %s", code, errs)
	}
	// A directory is not read at all, and said so (it was "partly read").
	_, errs, code = sensor(t, "report", in, dir)
	if code != exitInputFailed || !strings.Contains(errs, "is a directory") || strings.Contains(errs, "what was read before") {
		t.Errorf("a directory among the inputs: exit %d, stderr %s", code, errs)
	}
}

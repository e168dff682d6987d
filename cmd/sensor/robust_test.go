package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/spf13/pflag"

	"github.com/synscope/synscope/pkg/config"
)

// A report that fails (here: no window records) leaves an earlier report
// at the same path as it was, instead of deleting it.
func TestReportFailureKeepsTheOldFile(t *testing.T) {
	dir := t.TempDir()
	good, _ := demoJSONL(t, dir)
	page := filepath.Join(dir, "report.html")
	if _, stderr, code := sensor(t, "report", "-o", page, good); code != exitOK {
		t.Fatalf("first report: exit %d: %s", code, stderr)
	}
	before, _ := os.ReadFile(page)
	bad := filepath.Join(dir, "nowindows.jsonl")
	os.WriteFile(bad, []byte(`{"event_type":"stats","ts":"2009-01-10T00:00:00Z","sensor":"x"}`+"\n"), 0o644)
	_, stderr, code := sensor(t, "report", "-o", page, bad)
	if code != exitFatal || !strings.Contains(stderr, "no window records") {
		t.Fatalf("report of no windows: exit %d: %s", code, stderr)
	}
	after, err := os.ReadFile(page)
	if err != nil || !bytes.Equal(before, after) {
		t.Fatalf("the earlier report was changed or removed: %v (%d bytes, was %d)", err, len(after), len(before))
	}
	if m, _ := filepath.Glob(filepath.Join(dir, ".report.html.tmp*")); len(m) != 0 {
		t.Errorf("temporary files left: %v", m)
	}
}

// A symbolic link at the report's path is refused, and what it points to
// is left alone.
func TestReportRefusesSymlink(t *testing.T) {
	dir := t.TempDir()
	good, _ := demoJSONL(t, dir)
	victim := filepath.Join(dir, "victim")
	os.WriteFile(victim, []byte("keep me\n"), 0o644)
	link := filepath.Join(dir, "report.html")
	os.Symlink(victim, link)
	_, stderr, code := sensor(t, "report", "-o", link, good)
	if code != exitFatal || !strings.Contains(stderr, "symbolic link") {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if b, _ := os.ReadFile(victim); string(b) != "keep me\n" {
		t.Fatalf("the link's target was written: %.60q", b)
	}
}

// The same records read twice (the same file given twice, or overlapping
// files) are counted once.
func TestReportCountsEachRecordOnce(t *testing.T) {
	dir := t.TempDir()
	good, _ := demoJSONL(t, dir)
	once, _, code1 := sensor(t, "report", "--format", "svg", "--chart", "spread", good)
	twice, stderr, code2 := sensor(t, "report", "--format", "svg", "--chart", "spread", good, good)
	if code1 != exitOK || code2 != exitOK {
		t.Fatalf("exit %d, %d: %s", code1, code2, stderr)
	}
	if once != twice {
		t.Errorf("the chart of a file read twice differs from the chart of it read once")
	}
	if !strings.Contains(stderr, "appear more than once") {
		t.Errorf("the repeats are not mentioned: %s", stderr)
	}
	page := filepath.Join(dir, "twice.html")
	if _, stderr, code := sensor(t, "report", "-o", page, good, good); code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	b, _ := os.ReadFile(page)
	// The demo's 2,091 source records, not 4,182: counts standing alone
	// (the page names its inputs, and the temporary directory's random
	// digits held 4182 once in a while: a flaky failure).
	b = bytes.ReplaceAll(b, []byte(dir), nil)
	count := func(n string) *regexp.Regexp { return regexp.MustCompile(`(^|[^0-9.,])` + n + `([^0-9.,]|$)`) }
	if !count(`2,?091`).Match(b) {
		t.Errorf("the page does not show the 2091 new sources once")
	}
	if count(`4,?182`).Match(b) {
		t.Errorf("the page counts the sources twice")
	}
}

// An offline output at a symbolic link is refused; the link's target keeps
// its content.
func TestOutputRefusesSymlink(t *testing.T) {
	dir := t.TempDir()
	victim := filepath.Join(dir, "victim")
	os.WriteFile(victim, []byte("keep me\n"), 0o644)
	link := filepath.Join(dir, "out.jsonl")
	os.Symlink(victim, link)
	_, stderr, code := sensor(t, "-r", demo, "-o", link)
	if code != exitUsage || !strings.Contains(stderr, "symbolic link") {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if b, _ := os.ReadFile(victim); string(b) != "keep me\n" {
		t.Fatalf("the link's target was truncated or written: %.60q", b)
	}
}

// `-r -` reads a capture from standard input, plain, gzip or zstd (as the
// real gzip, zstd and pzstd write them: pzstd starts with a skippable frame).
func TestReadStdin(t *testing.T) {
	want, _, _ := sensor(t, "-r", demo, "--sensor-id", "s", "--log-level", "error")
	for _, gz := range []string{"", "gzip", "zstd", "pzstd"} {
		f, err := os.Open(demo)
		if err != nil {
			t.Fatal(err)
		}
		in := f
		if gz != "" {
			needTool(t, gz)
			var buf bytes.Buffer
			c := exec.Command(gz, "-c")
			c.Stdin, c.Stdout = f, &buf
			if err := c.Run(); err != nil {
				t.Fatalf("%s: %v", gz, err)
			}
			p := filepath.Join(t.TempDir(), "demo."+gz)
			os.WriteFile(p, buf.Bytes(), 0o644)
			in, _ = os.Open(p)
		}
		// A pipe, as from `cat x | sensor -r -`: not mappable, not seekable.
		r, w, _ := os.Pipe()
		go func() { bytesCopy(w, in); w.Close() }()
		saved := os.Stdin
		os.Stdin = r
		got, stderr, code := sensor(t, "-r", "-", "--sensor-id", "s", "--log-level", "error")
		os.Stdin = saved
		r.Close()
		f.Close()
		if code != exitOK {
			t.Fatalf("%q: exit %d: %s", gz, code, stderr)
		}
		// The same records; only the summary's input entry differs.
		if cut(got) != cut(want) {
			t.Errorf("%q: records from stdin differ from the file's", gz)
		}
	}
}

// A capture compressed with a tool the reader does not inflate (xz, as
// the real xz writes it) is refused with the command that decompresses
// it, and the other inputs are read.
func TestCompressedNotReadSaysHow(t *testing.T) {
	needTool(t, "xz")
	p := filepath.Join(t.TempDir(), "demo.pcap.xz")
	out, err := exec.Command("xz", "-c", demo).Output()
	if err != nil {
		t.Fatalf("xz: %v", err)
	}
	if err := os.WriteFile(p, out, 0o644); err != nil {
		t.Fatal(err)
	}
	want, _, _ := sensor(t, "-r", demo, "--sensor-id", "s", "--log-level", "error")
	got, stderr, code := sensor(t, "-r", p, "-r", demo, "--sensor-id", "s", "--log-level", "error")
	if code == exitOK {
		t.Errorf("exit 0 with an input that could not be read")
	}
	msg := "read " + p + ": at offset 0: xz-compressed file, not read directly: decompress it first (xz -dc FILE > FILE.pcap, or xz -dc FILE | sensor -r -)"
	if !strings.Contains(stderr, msg) {
		t.Errorf("stderr does not say %q:\n%s", msg, stderr)
	}
	// The same records but the final stats and the summary, which count
	// the input that failed.
	notFinal := func(jsonl string) string {
		var keep []string
		for _, l := range strings.Split(cut(jsonl), "\n") {
			if !strings.Contains(l, `"final":true`) {
				keep = append(keep, l)
			}
		}
		return strings.Join(keep, "\n")
	}
	if w := notFinal(want); notFinal(got) != w || len(w) < 1000 {
		t.Errorf("the other input's records differ from its own run's")
	}
}

func bytesCopy(w *os.File, r *os.File) {
	b := make([]byte, 1<<16)
	for {
		n, err := r.Read(b)
		if n > 0 {
			if _, err := w.Write(b[:n]); err != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// cut drops the summary record (it names the input).
func cut(jsonl string) string {
	i := strings.Index(jsonl, `{"event_type":"summary"`)
	if i < 0 {
		return jsonl
	}
	return jsonl[:i]
}

// Files in a directory that are not captures (by content: a README, a
// LICENSE, checksums) are skipped and counted, not errors.
func TestDirectorySkipsNonCaptures(t *testing.T) {
	dir := t.TempDir()
	b, _ := os.ReadFile(demo)
	os.WriteFile(filepath.Join(dir, "demo.pcapng"), b, 0o644)
	os.WriteFile(filepath.Join(dir, "README"), []byte("captures of the lab, January\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "LICENSE.pcap"), []byte("CC-BY 4.0: a text file, whatever its name says\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "SHA256SUMS"), nil, 0o644)
	// xz's magic: a compression the reader does not inflate, maybe not a
	// capture at all (named, it is an error: TestCompressedNotReadSaysHow)
	os.WriteFile(filepath.Join(dir, "notes.xz"), []byte("\xfd7zXZ\x00\x00\x04"), 0o644)
	out, stderr, code := sensor(t, "-r", dir, "--log-level", "error")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	sum := ofType(records(t, out), "summary")
	if len(sum) != 1 || sum[0]["skipped_inputs"] != float64(4) || sum[0]["windows"] != float64(72) {
		t.Fatalf("summary: %v", sum)
	}
	// A non-capture named by the user is still an error.
	_, _, code = sensor(t, "-r", filepath.Join(dir, "README"), "--log-level", "error")
	if code != exitInputFailed {
		t.Errorf("a named non-capture: exit %d, want %d", code, exitInputFailed)
	}
}

// A directory with no capture in it (empty, or only other files) is not a
// quiet network: the run says on stderr that it read no packet.
func TestNoCaptureInDirectorySaysSo(t *testing.T) {
	dir := t.TempDir()
	_, stderr, code := sensor(t, "-r", dir, "--log-level", "warn")
	if code != exitOK || !strings.Contains(stderr, `"files":0`) || !strings.Contains(stderr, "no packet read") {
		t.Errorf("empty directory: exit %d, stderr %s", code, stderr)
	}
	os.WriteFile(filepath.Join(dir, "README"), []byte("captures go here\n"), 0o644)
	_, stderr, _ = sensor(t, "-r", dir, "--log-level", "warn")
	if !strings.Contains(stderr, `"files":1,"skipped":1`) || !strings.Contains(stderr, "no packet read") {
		t.Errorf("a directory of one README: stderr %s", stderr)
	}
	out, stderr, _ := sensor(t, "-r", demo, "--log-level", "warn")
	if strings.Contains(stderr, "no packet read") || strings.Contains(stderr, "no frame could be read") || len(out) == 0 {
		t.Errorf("a capture: stderr %s", stderr)
	}
	// Frames of a link type the decoder does not walk (DSA, 253): said,
	// not taken for a quiet network.
	dsa := []byte{0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 253, 0, 0, 0}
	for i := range 3 {
		dsa = append(dsa, byte(i), 0, 0, 0, 0, 0, 0, 0, 4, 0, 0, 0, 4, 0, 0, 0, 1, 2, 3, 4)
	}
	p := filepath.Join(dir, "dsa.pcap")
	os.WriteFile(p, dsa, 0o644)
	if _, stderr, _ = sensor(t, "-r", p, "--log-level", "warn"); !strings.Contains(stderr, "no frame could be read") || !strings.Contains(stderr, `"frames":3`) {
		t.Errorf("a capture of unsupported frames: stderr %s", stderr)
	}
}

// A run that reads no packet writes no window, says so in the summary, and
// stamps its records with the time they were written, not 1970-01-01.
func TestNoPacketNoWindow(t *testing.T) {
	p := filepath.Join(t.TempDir(), "empty.pcap")
	hdr := []byte{0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 1, 0, 0, 0}
	os.WriteFile(p, hdr, 0o644)
	out, stderr, code := sensor(t, "-r", p)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	recs := records(t, out)
	if n := len(ofType(recs, "window")); n != 0 {
		t.Errorf("%d windows from no packet", n)
	}
	sum := ofType(recs, "summary")
	if len(sum) != 1 || sum[0]["no_packets"] != true {
		t.Fatalf("summary: %v", sum)
	}
	for _, r := range recs {
		if ts, _ := r["ts"].(string); strings.HasPrefix(ts, "1970") {
			t.Errorf("%s record stamped %s", r["event_type"], ts)
		}
	}
}

// `sensor help`, `sensor help report` and `sensor completion SHELL` are
// commands, not capture files.
func TestHelpAndCompletion(t *testing.T) {
	out, stderr, code := sensor(t, "help")
	if code != exitOK || !strings.Contains(out, "Usage:") || !strings.Contains(out, "--lookback") || !strings.Contains(out, "--kafka-brokers") {
		t.Errorf("help: exit %d: %.80q %s", code, out, stderr)
	}
	out, _, code = sensor(t, "help", "collect")
	if code != exitOK || !strings.Contains(out, "sensor collect --kafka-brokers") || !strings.Contains(out, "--max-lag") {
		t.Errorf("help collect: exit %d: %.80q", code, out)
	}
	out, _, code = sensor(t, "help", "report")
	if code != exitOK || !strings.HasPrefix(out, "Usage: sensor report") {
		t.Errorf("help report: exit %d: %.80q", code, out)
	}
	if _, _, code := sensor(t, "help", "nonsense"); code != exitUsage {
		t.Errorf("help nonsense: exit %d", code)
	}
	if _, _, code := sensor(t, "completion", "tcsh"); code != exitUsage {
		t.Errorf("completion tcsh: exit %d", code)
	}
	dir := t.TempDir()
	for _, sh := range shells {
		out, stderr, code := sensor(t, "completion", sh)
		if code != exitOK || !strings.Contains(out, "lookback") || !strings.Contains(out, "afpacket") {
			t.Fatalf("completion %s: exit %d: %s", sh, code, stderr)
		}
		os.WriteFile(filepath.Join(dir, sh), []byte(out), 0o644)
	}
	// The scripts, run by the real shells: each completes a flag, a flag's
	// values and a subcommand.
	if _, err := exec.LookPath("bash"); err == nil {
		script := `source "$1"
c() { COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); COMPREPLY=(); _sensor; echo "${COMPREPLY[*]}"; }
c sensor --lookb; c sensor --capture ""; c sensor rep; c sensor report --format ""; c sensor completion f
c sensor coll; c sensor collect --on; c sensor collect --kafka-sasl ""`
		got := shellOut(t, "bash", "-c", script, "x", filepath.Join(dir, "bash"))
		want := "--lookback\nauto ebpf afpacket\nreport\nhtml svg png\nfish\ncollect\n--once\nplain scram-sha-256 scram-sha-512\n"
		if got != want {
			t.Errorf("bash completions:\n%s\nwant:\n%s", got, want)
		}
	} else {
		needShell(t, "bash")
	}
	if _, err := exec.LookPath("fish"); err == nil {
		script := `source $argv[1]; complete -C "sensor --lookb"; complete -C "sensor --capture "; complete -C "sensor report --format "`
		got := shellOut(t, "fish", "-c", script, filepath.Join(dir, "fish"))
		for _, w := range []string{"--lookback\t", "afpacket\t", "ebpf\t", "png\t", "svg\t"} {
			if !strings.Contains(got, w) {
				t.Errorf("fish completions lack %q:\n%s", w, got)
			}
		}
	} else {
		needShell(t, "fish")
	}
	if _, err := exec.LookPath("zsh"); err == nil {
		// zsh completes only in an interactive shell; check that the script
		// parses and registers itself with compinit.
		script := `autoload -U compinit; compinit -u -d "$2/zcompdump"; source "$1"; print -r -- ${_comps[sensor]}`
		if got := shellOut(t, "zsh", "-f", "-c", script, "x", filepath.Join(dir, "zsh"), dir); got != "_sensor\n" {
			t.Errorf("zsh: the completion is not registered: %q", got)
		}
	} else {
		needShell(t, "zsh")
	}
}

func shellOut(t *testing.T, name string, args ...string) string {
	t.Helper()
	c := exec.Command(name, args...)
	c.Dir = t.TempDir() // no file names to complete beside the words
	out, err := c.CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v: %s", name, err, out)
	}
	return string(out)
}

// needTool skips a test whose tool is not installed: a failure under
// CI=true, where the tests' tools are installed.
func needTool(t *testing.T, tool string) {
	t.Helper()
	if _, err := exec.LookPath(tool); err == nil {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s is not installed (scripts/install-bpf-toolchain.sh --test-tools installs it)", tool)
	}
	t.Skipf("%s is not installed", tool)
}

func needShell(t *testing.T, sh string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Errorf("%s is not installed (scripts/install-bpf-toolchain.sh --test-tools installs it)", sh)
		return
	}
	t.Logf("%s not installed: its completion script is not run", sh)
}

// TestRefusedStartKeepsTheOutput: a run that stops before it writes (a
// state file refused) leaves an earlier run's output as it was: it was
// truncated at open, before the state was read (review).
func TestRefusedStartKeepsTheOutput(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "out.jsonl")
	if _, _, code := sensor(t, "-r", demo, "-o", out, "--log-level", "error"); code != exitOK {
		t.Fatalf("exit %d", code)
	}
	before, _ := os.ReadFile(out)
	bad := filepath.Join(dir, "bad.state")
	os.WriteFile(bad, []byte("garbage"), 0o600)
	if _, stderr, code := sensor(t, "-r", demo, "-o", out, "--state-file", bad); code == exitOK || !strings.Contains(stderr, "not a usable state file") {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if after, _ := os.ReadFile(out); !bytes.Equal(before, after) || len(after) == 0 {
		t.Errorf("the earlier output: %d bytes, %d after the refused run", len(before), len(after))
	}
}

// TestStateFileNotAnInputOrTheOutput: --state-file naming a capture read or
// the output is refused (exit 2) before anything is written: with
// --state-reset the state was written over the capture, or the records.
func TestStateFileNotAnInputOrTheOutput(t *testing.T) {
	dir := t.TempDir()
	capture := filepath.Join(dir, "c.pcapng")
	b, _ := os.ReadFile(demo)
	os.WriteFile(capture, b, 0o644)
	out := filepath.Join(dir, "o.jsonl")
	os.WriteFile(out, []byte("{}\n"), 0o644)
	for _, state := range []string{capture, out} {
		_, stderr, code := sensor(t, "-r", capture, "-o", out, "--state-file", state, "--state-reset")
		if code != exitUsage || !strings.Contains(stderr, "name another file for the state") {
			t.Errorf("--state-file %s: exit %d: %s", filepath.Base(state), code, stderr)
		}
	}
	if got, _ := os.ReadFile(capture); !bytes.Equal(got, b) {
		t.Error("the capture was changed")
	}
	if got, _ := os.ReadFile(out); string(got) != "{}\n" {
		t.Errorf("the output was changed: %.40q", got)
	}
	// Neither there yet, the same path: the state was renamed over the
	// records at the end (review).
	same := filepath.Join(dir, "new.out")
	if _, stderr, code := sensor(t, "-r", capture, "-o", same, "--state-file", same, "--state-reset"); code != exitUsage || !strings.Contains(stderr, "is the output") {
		t.Errorf("--state-file = -o, neither there: exit %d: %s", code, stderr)
	}
}

// TestCompletionOffersFilesWhereAFlagTakesOne: a flag whose value is a
// file, a directory or a program completes file names (--benign, --mmdb
// and --alert-exec completed nothing in fish: a review).
func TestCompletionOffersFilesWhereAFlagTakesOne(t *testing.T) {
	for name, fs := range map[string]*pflag.FlagSet{"sensor": config.FlagSet(), "report": newReportFlags().fs, "collect": config.CollectFlagSet()} {
		kinds := map[string]flagKind{}
		for _, c := range compFlags(fs) {
			kinds[c.long] = c.kind
		}
		fs.VisitAll(func(f *pflag.Flag) {
			kind, _ := pflag.UnquoteUsage(f)
			if _, listed := kinds[f.Name]; listed && (kind == "file" || kind == "dir" || kind == "program") && kinds[f.Name] != valFile {
				t.Errorf("%s --%s (a %s): completes no file names", name, f.Name, kind)
			}
		})
	}
}

package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/synscope/synscope/internal/captest"
)

const logrotateExample = "../../scripts/logrotate/synscope"

// TestLogrotateExample runs Debian's logrotate with the shipped example
// (scripts/logrotate/synscope) against a live sensor on a veth in a
// namespace this test makes. Only the log path and the postrotate command
// are changed (a temporary directory; "kill -HUP" to this sensor instead of
// the systemd unit's reload); everything else is the shipped file, user and
// modes included. The directory belongs to the service user, as the unit
// leaves /var/log/synscope.
//
// Three batches of SYNs from distinct sources, a forced rotation between
// each: the first rotation leaves sensor.jsonl.1 (delaycompress), the second
// compresses it to sensor.jsonl.2.gz. Each file must hold whole JSON lines
// only, exactly its batch's sources, windows that continue from one file to
// the next, and the summary only in the live file: nothing lost, nothing
// twice, nothing cut between two files.
func TestLogrotateExample(t *testing.T) {
	captest.NeedRoot(t)
	captest.NeedTools(t, "ip", "logrotate")
	shipped, err := os.ReadFile(logrotateExample)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"daily", "rotate 14", "compress", "delaycompress", "missingok", "notifempty", "sharedscripts", "postrotate"} {
		if !regexp.MustCompile(`(?m)^\s+` + d + `$`).Match(shipped) {
			t.Errorf("the example lacks %q", d)
		}
	}
	su := regexp.MustCompile(`(?m)^\s+su (\S+) (\S+)$`).FindSubmatch(shipped)
	if su == nil {
		t.Fatal(`the example has no "su USER GROUP": logrotate would work as root in a directory the sensor's user can write`)
	}
	svcUser, svcGroup := string(su[1]), string(su[2])
	if !bytes.Contains(shipped, []byte("create 0640 "+svcUser+" "+svcGroup+"\n")) {
		t.Errorf("the example does not create the new file 0640 for %s:%s", svcUser, svcGroup)
	}
	uid, gid := lookupIDs(t, svcUser, svcGroup)

	// A dry run of the file as shipped: logrotate parses it without a word.
	tmp := t.TempDir()
	asShipped := filepath.Join(tmp, "as-shipped")
	os.WriteFile(asShipped, shipped, 0o644)
	if b, err := exec.Command("logrotate", "-d", "-s", filepath.Join(tmp, "dry.state"), asShipped).CombinedOutput(); err != nil ||
		strings.Contains(string(b), "error:") {
		t.Fatalf("logrotate -d on the shipped example: %v\n%s", err, b)
	}

	bin := buildSensor(t)
	p := captest.NewPair(t)
	dir, err := os.MkdirTemp("", "synscope-logrotate")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	out := filepath.Join(dir, "sensor.jsonl")
	stop, proc, _ := liveSensorAt(t, bin, p, out, "--user", svcUser, "--window", "1s", "--lookback", "1h", "--growth=false")
	// As the unit leaves /var/log/synscope: the service user's, 0755
	// (liveSensorAt opened it to everyone).
	if err := os.Chown(dir, uid, gid); err != nil {
		t.Fatal(err)
	}
	os.Chmod(dir, 0o755)

	conf := filepath.Join(tmp, "synscope")
	os.WriteFile(conf, []byte(rewriteExample(t, string(shipped), dir, proc.Pid)), 0o644)
	state := filepath.Join(tmp, "logrotate.state")

	const perBatch = 40
	var batches [][]string
	send := func(n int) {
		frames, srcs := synBatch(t, p, byte(n+1), perBatch)
		captest.Inject(t, p.ScanNS, p.ScanIf, frames)
		batches = append(batches, srcs)
		waitForSources(t, out, srcs, 60*time.Second) // about 12 s when idle: see waitForSources
	}
	rotate := func(want ...string) {
		size := fileSize(out)
		logrotate(t, conf, state, dir)
		if got := dirNames(t, dir); !slices.Equal(got, want) {
			t.Fatalf("after logrotate the directory holds %v, want %v", got, want)
		}
		// The new file, as "create" makes it, with nothing in it until the
		// sensor has reopened it.
		if fi, err := os.Stat(out); err != nil {
			t.Fatal(err)
		} else if st := fi.Sys().(*syscall.Stat_t); fi.Mode().Perm() != 0o640 || int(st.Uid) != uid || int(st.Gid) != gid {
			t.Errorf("the new file is %v %d:%d, want -rw-r----- %d:%d", fi.Mode(), st.Uid, st.Gid, uid, gid)
		}
		if size == 0 {
			t.Fatal("rotated an empty file")
		}
		// The sensor writes a stats record every second: once one is in the
		// new file, the sensor has reopened it.
		deadline := time.Now().Add(10 * time.Second)
		for fileSize(out) == 0 {
			if time.Now().After(deadline) {
				t.Fatal("nothing written to the new file 10 s after logrotate's SIGHUP")
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	start := time.Now()
	send(0)
	rotate("sensor.jsonl", "sensor.jsonl.1")
	send(1)
	rotate("sensor.jsonl", "sensor.jsonl.1", "sensor.jsonl.2.gz")
	send(2)
	_, stderr := stop()
	t.Logf("three batches of %d sources, two rotations: %v", perBatch, time.Since(start).Round(10*time.Millisecond))

	if n := strings.Count(stderr, "output reopened"); n != 2 {
		t.Errorf("the sensor reopened its output %d times, want 2: %s", n, stderr)
	}
	// Oldest first.
	files := []struct {
		name string
		recs []map[string]any
	}{
		{"sensor.jsonl.2.gz", nil}, {"sensor.jsonl.1", nil}, {"sensor.jsonl", nil},
	}
	seen := map[string]string{}
	for i := range files {
		f := &files[i]
		f.recs = strictJSONL(t, f.name, readMaybeGzip(t, filepath.Join(dir, f.name)))
		var got []string
		for _, r := range ofType(f.recs, "source") {
			src := fmt.Sprint(r["src_ip"])
			if prev, dup := seen[src]; dup {
				t.Errorf("source %s written twice: in %s and %s", src, prev, f.name)
			}
			seen[src] = f.name
			got = append(got, src)
		}
		slices.Sort(got)
		if want := slices.Sorted(slices.Values(batches[i])); !slices.Equal(got, want) {
			t.Errorf("%s holds the sources %v, want batch %d's %v", f.name, got, i+1, want)
		}
		if len(ofType(f.recs, "window")) == 0 {
			t.Errorf("%s holds no window", f.name)
		}
		if n, last := len(ofType(f.recs, "summary")), i == len(files)-1; (n == 1) != last || n > 1 {
			t.Errorf("%s holds %d summary records: the one summary belongs in the live file", f.name, n)
		}
	}
	if len(seen) != 3*perBatch {
		t.Errorf("%d source records in all, want the %d sources sent", len(seen), 3*perBatch)
	}
	// The windows go on from one file to the next without a gap or a repeat.
	for i := 1; i < len(files); i++ {
		a, b := ofType(files[i-1].recs, "window"), ofType(files[i].recs, "window")
		if len(a) > 0 && len(b) > 0 && a[len(a)-1]["window_end"] != b[0]["window_start"] {
			t.Errorf("windows from %s to %s: %v then %v", files[i-1].name, files[i].name, a[len(a)-1]["window_end"], b[0]["window_start"])
		}
	}
	live := files[len(files)-1].recs
	if sum := ofType(live, "summary"); len(sum) == 1 {
		if sum[0]["new_sources"] != float64(3*perBatch) || sum[0]["syn_packets"] != float64(2*3*perBatch) {
			t.Errorf("summary: new_sources %v, syn_packets %v; sent %d SYNs from %d sources",
				sum[0]["new_sources"], sum[0]["syn_packets"], 2*3*perBatch, 3*perBatch)
		}
	}
	if st := ofType(live, "stats"); len(st) == 0 || st[len(st)-1]["final"] != true {
		t.Error("the final stats record is not in the live file")
	}
}

// lookupIDs resolves the user and group the example names.
func lookupIDs(t *testing.T, name, group string) (int, int) {
	t.Helper()
	u, err := user.Lookup(name)
	if err != nil {
		captest.Need(t, "needs the user %s the logrotate example rotates as: %v", name, err)
	}
	g, err := user.LookupGroup(group)
	if err != nil {
		captest.Need(t, "needs the group %s the logrotate example rotates as: %v", group, err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(g.Gid)
	return uid, gid
}

// rewriteExample points the example at dir and its postrotate script at
// the sensor with the given pid; every other line stays as shipped.
func rewriteExample(t *testing.T, conf, dir string, pid int) string {
	t.Helper()
	logs := regexp.MustCompile(`(?m)^/var/log/synscope/\*\.jsonl \{$`)
	if n := len(logs.FindAllStringIndex(conf, -1)); n != 1 {
		t.Fatalf("the example has %d stanzas for /var/log/synscope/*.jsonl, want one", n)
	}
	conf = logs.ReplaceAllLiteralString(conf, filepath.Join(dir, "*.jsonl")+" {")
	script := regexp.MustCompile(`(?s)(\n\s*postrotate\n).*?(\n\s*endscript\n)`)
	if n := len(script.FindAllStringIndex(conf, -1)); n != 1 {
		t.Fatalf("the example has %d postrotate scripts, want one", n)
	}
	return script.ReplaceAllString(conf, fmt.Sprintf("${1}\t\tkill -HUP %d${2}", pid))
}

// synBatch makes n SYNs to 445 from n distinct sources 198.19.third.i, each
// sent twice (a retransmission), as the scanner end sends them to the
// sensor's end of the pair; it returns the frames and the sources.
func synBatch(t *testing.T, p *captest.Pair, third byte, n int) ([][]byte, []string) {
	t.Helper()
	dstMAC, err := net.ParseMAC(p.SensorMAC)
	if err != nil {
		t.Fatal(err)
	}
	srcMAC, err := net.ParseMAC(p.ScanMAC)
	if err != nil {
		t.Fatal(err)
	}
	dst := netip.MustParseAddr(captest.SensorAddr).As4()
	var frames [][]byte
	var srcs []string
	for i := 1; i <= n; i++ {
		src := [4]byte{198, 19, third, byte(i)}
		srcs = append(srcs, netip.AddrFrom4(src).String())
		tcp := captest.Syn445()
		tcp.SrcPort = uint16(40000 + i)
		f := captest.Ether(nil, 0x0800, captest.IPv4(captest.V4{Src: src, Dst: dst, TTL: 64, ID: uint16(i), Proto: 6, TotalLen: -1}, captest.TCP(tcp)))
		copy(f[0:6], dstMAC)
		copy(f[6:12], srcMAC)
		frames = append(frames, f, f)
	}
	return frames, srcs
}

// waitForSources waits until path holds a source record for each of srcs:
// new sources are held 10 s of packet time for the flood decision, then
// the live grace and the next flush (11.8 to 12 s measured on an idle
// machine), so a timeout well above that only catches a real stall.
func waitForSources(t *testing.T, path string, srcs []string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		b, _ := os.ReadFile(path)
		if i := bytes.LastIndexByte(b, '\n'); i >= 0 {
			have := map[string]bool{}
			for _, r := range ofType(strictJSONL(t, path, b[:i+1]), "source") {
				have[fmt.Sprint(r["src_ip"])] = true
			}
			if !slices.ContainsFunc(srcs, func(s string) bool { return !have[s] }) {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s lacks some of the sources %v after %v:\n%s", path, srcs, timeout, b)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// logrotate forces a rotation with the given configuration and state file.
func logrotate(t *testing.T, conf, state, dir string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b, err := exec.CommandContext(ctx, "logrotate", "-v", "-f", "-s", state, conf).CombinedOutput()
	if err != nil || strings.Contains(string(b), "error:") {
		hint := ""
		if strings.Contains(string(b), "Permission denied") && strings.Contains(lsDir(dir), " 0:0 ") {
			hint = "\nA file in the directory belongs to root: logrotate works there as the service user (su) and cannot " +
				"read it to compress it. The sensor opens its output as root, before dropping to --user; a file it " +
				"creates must be handed to that user (as logrotate's create does), or every rotation after the " +
				"first fails and the log grows without end."
		}
		t.Fatalf("logrotate -f: %v\n%s\nthe directory:%s%s", err, b, lsDir(dir), hint)
	}
}

// strictJSONL parses b as the sensor's JSONL: every line one JSON object,
// the last one ended by its newline.
func strictJSONL(t *testing.T, name string, b []byte) []map[string]any {
	t.Helper()
	if len(b) > 0 && b[len(b)-1] != '\n' {
		t.Fatalf("%s ends in the middle of a line: %q", name, b[max(0, len(b)-200):])
	}
	var recs []map[string]any
	for n, line := range bytes.SplitAfter(b, []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal(line, &m); err != nil {
			t.Fatalf("%s line %d is not a JSON object: %q: %v", name, n+1, line, err)
		}
		recs = append(recs, m)
	}
	return recs
}

func readMaybeGzip(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(path, ".gz") {
		return b
	}
	z, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	b, err = io.ReadAll(z)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return b
}

func fileSize(path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return fi.Size()
}

func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

// lsDir describes dir's files with their owners and modes, for a failure.
func lsDir(dir string) string {
	ents, _ := os.ReadDir(dir)
	var s strings.Builder
	for _, e := range ents {
		if fi, err := e.Info(); err == nil {
			st := fi.Sys().(*syscall.Stat_t)
			fmt.Fprintf(&s, "\n  %v %d:%d %8d %s", fi.Mode(), st.Uid, st.Gid, fi.Size(), e.Name())
		}
	}
	return s.String()
}

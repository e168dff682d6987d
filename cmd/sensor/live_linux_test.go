package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/synscope/synscope/internal/captest"
)

// buildSensor compiles the command once per test binary run.
func buildSensor(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "sensor")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0") // as the Makefile builds it
	out, err := build.CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v: %s", err, out)
	}
	return bin
}

// liveSensor starts `sensor -i` in the sensor's namespace; stop sends
// SIGINT, waits, and returns the JSONL it wrote and its stderr.
func liveSensor(t *testing.T, bin string, p *captest.Pair, args ...string) (stop func() (string, string)) {
	t.Helper()
	stop, _, _ = liveSensorAt(t, bin, p, filepath.Join(userDir(t), "live.jsonl"), args...)
	return stop
}

// userDir is a directory the sensor can still create files in after it
// drops to nobody (t.TempDir's parent is root's alone, and the sensor
// checks at start that it can write where its output is reopened).
func userDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "synscope-live")
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(dir, 0o777)
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// liveSensorAt is liveSensor writing to out; it also returns the process,
// for signals, and the output path.
func liveSensorAt(t *testing.T, bin string, p *captest.Pair, out string, args ...string) (stop func() (string, string), proc *os.Process, path string) {
	t.Helper()
	os.Chmod(filepath.Dir(out), 0o777) // the sensor drops to nobody: SIGHUP reopening creates files here
	cmd, stderr, done := startLive(t, bin, p, out, append([]string{"--stats-interval", "1s"}, args...)...)
	// Attached when it says so.
	awaitLog(t, stderr, done, `"capturing"`, time.Now().Add(15*time.Second), 50*time.Millisecond)
	return func() (string, string) {
		if err := interrupt(t, cmd, done, stderr); err != nil {
			t.Errorf("sensor exit: %v: %s", err, stderr.String())
		}
		b, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		return string(b), stderr.String()
	}, cmd.Process, out
}

// startLive starts `sensor -i` in the sensor's namespace, JSON logs on
// stderr; done receives its exit.
// interrupt sends SIGINT to a sensor started by startCmd and waits up to
// 15 s for it to exit; it returns its exit error (nil for status 0). A
// sensor still running then fails the test.
func interrupt(t *testing.T, cmd *exec.Cmd, done <-chan error, stderr *syncBuffer) error {
	t.Helper()
	cmd.Process.Signal(syscall.SIGINT)
	select {
	case err := <-done:
		return err
	case <-time.After(15 * time.Second):
		t.Fatalf("the sensor did not stop within 15 s of SIGINT: %s", stderr.String())
		return nil
	}
}

func startLive(t *testing.T, bin string, p *captest.Pair, out string, args ...string) (*exec.Cmd, *syncBuffer, <-chan error) {
	t.Helper()
	full := append([]string{"netns", "exec", p.SensorNS, bin, "-i", p.SensorIf, "-o", out, "--log-format", "json"}, args...)
	return startCmd(t, exec.Command("ip", full...))
}

// startCmd starts cmd, its stderr gathered; done says when it ended. It is
// killed at the test's end.
func startCmd(t *testing.T, cmd *exec.Cmd) (*exec.Cmd, *syncBuffer, <-chan error) {
	t.Helper()
	stderr := &syncBuffer{}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() { cmd.Process.Kill() })
	return cmd, stderr, done
}

// awaitLog waits, polling every poll, until a sensor's stderr holds want;
// it fails the test when the sensor exits first (done) or at deadline.
func awaitLog(t *testing.T, stderr *syncBuffer, done <-chan error, want string, deadline time.Time, poll time.Duration) {
	t.Helper()
	for !strings.Contains(stderr.String(), want) {
		select {
		case err := <-done:
			t.Fatalf("sensor exited before saying %s: %v: %s", want, err, stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("sensor did not say %s in time: %s", want, stderr.String())
		}
		time.Sleep(poll)
	}
}

// syncBuffer is a strings.Builder a child process writes while the test
// reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// sourceSet lists the new sources of a run as "src>dst:port", with the
// direction when withDir.
func sourceSet(t *testing.T, jsonl string, withDir bool) []string {
	var out []string
	for _, r := range ofType(records(t, jsonl), "source") {
		s := fmt.Sprintf("%v>%v:%v", r["src_ip"], r["dst_ip"], r["dst_port"])
		if withDir {
			s += fmt.Sprintf(" %v", r["direction"])
		}
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}

func windowTotals(t *testing.T, jsonl string) string {
	var syn, active, fresh float64
	for _, w := range ofType(records(t, jsonl), "window") {
		syn += w["syn_packets"].(float64)
		active += w["active_sources"].(float64)
		fresh += w["new_sources"].(float64)
	}
	return fmt.Sprintf("syn=%v active=%v new=%v", syn, active, fresh)
}

// TestLiveEqualsOffline drives nmap, hping3 (random sources) and masscan at
// a veth in a namespace this test makes, with the sensor capturing live on
// the other end and tcpdump recording the same interface at the same time;
// the sensor's records must equal what the offline path makes of tcpdump's
// file. Both backends, and a gateway with --home-net whose own host scans
// out.
func TestLiveEqualsOffline(t *testing.T) {
	captest.NeedRoot(t)
	captest.NeedTools(t, "ip", "tcpdump", "nmap", "hping3", "masscan")
	bin := buildSensor(t)
	common := []string{"--ports", "80,445", "--window", "1h", "--lookback", "24h", "--growth=false"}
	for _, c := range []struct {
		name    string
		args    []string
		gateway bool
	}{
		{"ebpf", []string{"--capture", "ebpf"}, false},
		{"afpacket", []string{"--capture", "afpacket"}, false},
		{"ebpf gateway", []string{"--capture", "ebpf", "--home-net", captest.SensorAddr + "/32"}, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := captest.NewPair(t)
			dir := "in"
			if c.gateway {
				dir = "inout"
			}
			pcap := filepath.Join(t.TempDir(), "tcpdump.pcap")
			stopDump := captest.Tcpdump(t, p.SensorNS, p.SensorIf, dir, pcap)
			stop := liveSensor(t, bin, p, append(common, c.args...)...)

			captest.Nmap(t, p.ScanNS, captest.SensorAddr, "22,80,445")
			captest.Hping(t, p.ScanNS, captest.SensorAddr, 445, 20, true)
			captest.Masscan(t, p.ScanNS, p.ScanIf, captest.ScanAddr, p.SensorMAC, "198.18.0.2-198.18.0.5", "445")
			if c.gateway {
				// The gateway's own host scans out: the infected laptop.
				captest.Hping(t, p.SensorNS, captest.ScanAddr, 445, 5, false)
				captest.Masscan(t, p.SensorNS, p.SensorIf, captest.SensorAddr, p.ScanMAC, "198.18.0.10-198.18.0.40", "445")
			}
			time.Sleep(300 * time.Millisecond)
			live, stderr := stop()
			stopDump()

			offArgs := append([]string{"-r", pcap, "-o", "-", "--log-level", "error"}, common...)
			if c.gateway {
				offArgs = append(offArgs, "--home-net", captest.SensorAddr+"/32")
			}
			offline, offErr, code := sensor(t, offArgs...)
			if code != exitOK {
				t.Fatalf("offline run: %d %s", code, offErr)
			}
			// Without --home-net only the live eBPF capture knows directions
			// (inbound: it saw them at ingress); compare them when both know.
			gotSrc, wantSrc := sourceSet(t, live, c.gateway), sourceSet(t, offline, c.gateway)
			if !c.gateway && c.args[1] == "ebpf" {
				for _, r := range ofType(records(t, live), "source") {
					if r["direction"] != "inbound" {
						t.Errorf("eBPF ingress source without direction inbound: %v", r)
						break
					}
				}
			}
			if len(wantSrc) < 20 {
				t.Fatalf("tcpdump's capture holds only %d new sources", len(wantSrc))
			}
			if c.gateway {
				// Live eBPF knows the direction of every SYN; the file
				// does not, but --home-net tells both the same.
				if !strings.Contains(strings.Join(gotSrc, "\n"), "198.18.0.2>198.18.0.1:445 outbound") {
					t.Errorf("the gateway's own host scanning out is not reported as outbound: %v", gotSrc)
				}
				scanners := ofType(records(t, live), "outbound_scanner")
				if len(scanners) != 1 || scanners[0]["src_ip"] != captest.SensorAddr || scanners[0]["direction"] != "outbound" {
					t.Errorf("outbound_scanner records: %v", scanners)
				}
			}
			if strings.Join(gotSrc, "\n") != strings.Join(wantSrc, "\n") {
				t.Errorf("new sources differ\nlive:\n%s\noffline:\n%s", strings.Join(gotSrc, "\n"), strings.Join(wantSrc, "\n"))
			}
			if g, w := windowTotals(t, live), windowTotals(t, offline); g != w {
				t.Errorf("window counts differ: live %s, offline %s", g, w)
			}
			recs := records(t, live)
			if n := len(ofType(recs, "stats")); n < 2 {
				t.Errorf("%d stats records: want periodic ones and a final one", n)
			}
			if !strings.Contains(stderr, "dropped root privileges") {
				t.Errorf("the sensor did not drop root: %s", stderr)
			}
			last := ofType(recs, "stats")
			if st := last[len(last)-1]; st["final"] != true || st["drops"].(map[string]any)["ring_full"].(float64) != 0 {
				t.Errorf("final stats: %v", st)
			}
		})
	}
}

// TestLiveIdleWindowsClose: no traffic at all, and windows still close on
// time (with their growth records).
func TestLiveIdleWindowsClose(t *testing.T) {
	captest.NeedRoot(t)
	captest.NeedTools(t, "ip")
	bin := buildSensor(t)
	p := captest.NewPair(t)
	stop := liveSensor(t, bin, p, "--window", "1s", "--lookback", "10s", "--growth-horizons", "3s", "--growth-min-windows", "3")
	time.Sleep(3500 * time.Millisecond)
	live, _ := stop()
	recs := records(t, live)
	if w := len(ofType(recs, "window")); w < 3 {
		t.Errorf("%d windows in 3.5 s of an idle link with 1 s windows", w)
	}
	if g := len(ofType(recs, "growth")); g != len(ofType(recs, "window")) {
		t.Errorf("%d growth records for %d windows", g, len(ofType(recs, "window")))
	}
	if len(ofType(recs, "summary")) != 1 {
		t.Error("no summary after SIGINT")
	}
}

// TestLiveSIGHUPReopens: logrotate moves the file away and sends SIGHUP;
// the sensor (already running as nobody) goes on in a new file, losing
// nothing between the two.
func TestLiveSIGHUPReopens(t *testing.T) {
	captest.NeedRoot(t)
	captest.NeedTools(t, "ip")
	bin := buildSensor(t)
	p := captest.NewPair(t)
	out := filepath.Join(userDir(t), "s.jsonl")
	stop, proc, _ := liveSensorAt(t, bin, p, out, "--window", "1s", "--lookback", "10s", "--growth=false")
	time.Sleep(1500 * time.Millisecond)
	if err := os.Rename(out, out+".1"); err != nil {
		t.Fatal(err)
	}
	proc.Signal(syscall.SIGHUP)
	time.Sleep(1500 * time.Millisecond)
	second, stderr := stop()
	first, err := os.ReadFile(out + ".1")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stderr, "output reopened") {
		t.Errorf("no reopen in the log: %s", stderr)
	}
	a, b := ofType(records(t, string(first)), "window"), ofType(records(t, second), "window")
	if len(a) == 0 || len(b) == 0 {
		t.Fatalf("windows before %d, after %d: both files must have some", len(a), len(b))
	}
	// Consecutive: the first window of the new file follows the last of the old.
	if a[len(a)-1]["window_end"] != b[0]["window_start"] {
		t.Errorf("a gap across the reopen: %v then %v", a[len(a)-1]["window_end"], b[0]["window_start"])
	}
	if len(ofType(records(t, second), "summary")) != 1 {
		t.Error("the summary belongs in the new file")
	}
}

package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/synscope/synscope/internal/captest"
)

// TestSystemdUnitVerifies runs systemd-analyze verify on the shipped unit
// (pointed at a freshly built sensor), and checks that it grants only the
// capabilities the sensor needs.
func TestSystemdUnitVerifies(t *testing.T) {
	captest.NeedTools(t, "systemd-analyze")
	b, err := os.ReadFile("../../scripts/systemd/synscope-sensor.service")
	if err != nil {
		t.Fatal(err)
	}
	unit := string(b)
	for _, want := range []string{
		"CapabilityBoundingSet=CAP_BPF CAP_PERFMON CAP_NET_ADMIN CAP_NET_RAW CAP_SETUID CAP_SETGID CAP_CHOWN CAP_DAC_OVERRIDE CAP_NET_BIND_SERVICE\n",
		"AmbientCapabilities=\n", "NoNewPrivileges=yes", "KillSignal=SIGINT", "ExecReload=/bin/kill -HUP $MAINPID",
	} {
		if !strings.Contains(unit, want) {
			t.Errorf("the unit lacks %q", want)
		}
	}
	bin := buildSensor(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "synscope-sensor.service")
	os.WriteFile(path, []byte(strings.ReplaceAll(unit, "/usr/local/bin/sensor", bin)), 0o644)
	out, err := exec.Command("systemd-analyze", "verify", path).CombinedOutput()
	if err != nil || len(strings.TrimSpace(string(out))) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
}

// TestLiveUnderTheUnitsCapabilities runs the sensor as the shipped unit
// does: root with only the unit's CapabilityBoundingSet, its output and
// state in directories the unit gives the dropped user (LogsDirectory and
// StateDirectory, chowned to nobody by ExecStartPre), a metrics port below
// 1024, --user nobody. A review found the unit could not start so: root
// without CAP_CHOWN could not give the output file to nobody, nor bind a
// metrics port below 1024; without CAP_DAC_OVERRIDE it could not create
// the output in nobody's directory.
func TestLiveUnderTheUnitsCapabilities(t *testing.T) {
	captest.NeedRoot(t)
	captest.NeedTools(t, "ip", "setpriv")
	b, err := os.ReadFile("../../scripts/systemd/synscope-sensor.service")
	if err != nil {
		t.Fatal(err)
	}
	var bounding []string
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "CapabilityBoundingSet="); ok {
			for _, c := range strings.Fields(v) {
				bounding = append(bounding, "+"+strings.ToLower(strings.TrimPrefix(c, "CAP_")))
			}
		}
	}
	if len(bounding) == 0 {
		t.Fatal("the unit sets no CapabilityBoundingSet")
	}
	bin := buildSensor(t)
	p := captest.NewPair(t)
	var logs, state string
	for _, d := range []*string{&logs, &state} {
		dir, err := os.MkdirTemp("/tmp", "synscope-unit") // where anyone may pass through, as /var/log (not $TMPDIR)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.RemoveAll(dir) })
		os.Chmod(dir, 0o755)
		if err := os.Chown(dir, 65534, 65534); err != nil {
			t.Fatal(err)
		}
		*d = dir
	}
	out := filepath.Join(logs, "sensor.jsonl")
	cmd, stderr, done := startCmd(t, exec.Command("ip", "netns", "exec", p.SensorNS, "setpriv",
		"--bounding-set=-all,"+strings.Join(bounding, ","), "--inh-caps=-all",
		bin, "-i", p.SensorIf, "-o", out, "--state-file", filepath.Join(state, "state"), "--user", "nobody",
		"--metrics-addr", "127.0.0.1:99", "--log-format", "json"))
	awaitLog(t, stderr, done, `"capturing"`, time.Now().Add(15*time.Second), 20*time.Millisecond)
	if err := interrupt(t, cmd, done, stderr); err != nil {
		t.Fatalf("exit: %v: %s", err, stderr.String())
	}
	fi, err := os.Stat(out)
	if err != nil {
		t.Fatal(err)
	}
	if st := fi.Sys().(*syscall.Stat_t); st.Uid != 65534 || fi.Size() == 0 {
		t.Errorf("the output is owned by %d, %d bytes; want nobody's, with records", st.Uid, fi.Size())
	}
	if _, err := os.Stat(filepath.Join(state, "state")); err != nil {
		t.Errorf("no state saved: %v: %s", err, stderr.String())
	}
}

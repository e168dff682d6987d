package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

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
		"CapabilityBoundingSet=CAP_BPF CAP_PERFMON CAP_NET_ADMIN CAP_NET_RAW CAP_SETUID CAP_SETGID\n",
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

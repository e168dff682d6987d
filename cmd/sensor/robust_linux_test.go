package main

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/synscope/synscope/internal/captest"
)

// startOnly runs a live sensor that is expected to refuse to start: it
// returns its exit status and stderr, or fails the test if it is still
// running after 20 s (it started capturing instead of refusing).
func startOnly(t *testing.T, bin string, p *captest.Pair, args ...string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	full := append([]string{"netns", "exec", p.SensorNS, bin, "-i", p.SensorIf, "--log-format", "json"}, args...)
	out, err := exec.CommandContext(ctx, "ip", full...).CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("the sensor did not refuse to start within 20 s: %s", out)
	}
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatal(err)
	}
	if ee != nil {
		return ee.ExitCode(), string(out)
	}
	return 0, string(out)
}

// A live restart continues its output file instead of erasing it.
func TestLiveRestartAppends(t *testing.T) {
	captest.NeedRoot(t)
	captest.NeedTools(t, "ip")
	bin := buildSensor(t)
	p := captest.NewPair(t)
	out := filepath.Join(userDir(t), "s.jsonl")
	for run := 1; run <= 2; run++ {
		stop, _, _ := liveSensorAt(t, bin, p, out, "--window", "1s", "--growth=false")
		time.Sleep(1200 * time.Millisecond)
		jsonl, _ := stop()
		if n := len(ofType(records(t, jsonl), "summary")); n != run {
			t.Fatalf("after run %d the file holds %d summaries, want %d (a restart erased the output?)", run, n, run)
		}
	}
	if fi, _ := os.Stat(out); fi.Mode().Perm() != 0o640 {
		t.Errorf("output mode %v, want 0640", fi.Mode().Perm())
	}
}

// A symbolic link at a live sensor's output path (the log directory is
// writable by the unprivileged user) is refused, and its target untouched.
func TestLiveRefusesSymlinkOutput(t *testing.T) {
	captest.NeedRoot(t)
	captest.NeedTools(t, "ip")
	bin := buildSensor(t)
	p := captest.NewPair(t)
	dir := t.TempDir()
	victim := filepath.Join(dir, "shadow")
	os.WriteFile(victim, []byte("root:secret\n"), 0o600)
	link := filepath.Join(dir, "sensor.jsonl")
	os.Symlink(victim, link)
	code, stderr := startOnly(t, bin, p, "-o", link)
	if code != exitUsage || !strings.Contains(stderr, "symbolic link") {
		t.Errorf("exit %d: %s", code, stderr)
	}
	if b, _ := os.ReadFile(victim); string(b) != "root:secret\n" {
		t.Fatalf("root wrote through the link: %q", b)
	}
}

// A state file (or, live, an output) in a directory that --user cannot
// write is a setting error at start (exit 2), not a failure at the first
// save or the first rotation.
func TestLiveUserMustWriteItsDirectories(t *testing.T) {
	captest.NeedRoot(t)
	captest.NeedTools(t, "ip")
	bin := buildSensor(t)
	p := captest.NewPair(t)
	private := t.TempDir() // 0700, root's
	os.Chmod(private, 0o700)
	open := userDir(t)
	for _, c := range []struct {
		name string
		args []string
		dir  string
	}{
		{"state", []string{"-o", filepath.Join(open, "s.jsonl"), "--state-file", filepath.Join(private, "state.bin")}, private},
		{"output", []string{"-o", filepath.Join(private, "s.jsonl")}, private},
	} {
		code, stderr := startOnly(t, bin, p, append(c.args, "--user", "nobody")...)
		if code != exitUsage || !strings.Contains(stderr, c.dir) || !strings.Contains(stderr, "nobody") {
			t.Errorf("%s in a directory nobody cannot write: exit %d, want %d naming %s: %s", c.name, code, exitUsage, c.dir, stderr)
		}
	}
}

// TestStateNotSavedWhenTheOutputFails: a run whose output fails (a full
// disk) leaves the state as it was: saved, it remembered every source of
// the capture, and a rerun with it, once the disk had room, counted them
// as seen and wrote none of their records (a review).
func TestStateNotSavedWhenTheOutputFails(t *testing.T) {
	if _, err := os.Stat("/dev/full"); err != nil {
		t.Skip("no /dev/full here")
	}
	st := filepath.Join(t.TempDir(), "s.state")
	if _, stderr, code := sensor(t, "-r", demo, "--state-file", st, "-o", "/dev/full", "--log-level", "error"); code != exitFatal || !strings.Contains(stderr, "the state was not saved") {
		t.Fatalf("exit %d, want %d and the state said not saved; stderr: %s", code, exitFatal, stderr)
	}
	if _, err := os.Stat(st); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a state was saved for a run whose records were lost: %v", err)
	}
	// The rerun with the disk fixed writes every source's record, as a
	// run without a state does.
	out, stderr, code := sensor(t, "-r", demo, "--state-file", st, "--log-level", "error")
	if code != exitOK {
		t.Fatalf("rerun: exit %d: %s", code, stderr)
	}
	plain, _, _ := sensor(t, "-r", demo, "--log-level", "error")
	n, want := strings.Count(out, `{"event_type":"source",`), strings.Count(plain, `{"event_type":"source",`)
	if n != want || want == 0 {
		t.Errorf("the rerun wrote %d source records, want the %d of a run without a state", n, want)
	}
}

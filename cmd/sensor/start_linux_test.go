package main

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/synscope/synscope/internal/captest"
)

// TestLiveSIGHUPWhileStarting: a SIGHUP (a log rotation: systemctl reload)
// that comes while a live sensor starts is done once the run exists. It
// was caught only once the capture, the outputs and the state were open:
// before that its default action ended the process (exit by signal,
// nothing logged). The sync point is the drop to --user, after which the
// state file (300,000 sources here) is loaded.
func TestLiveSIGHUPWhileStarting(t *testing.T) {
	captest.NeedRoot(t)
	captest.NeedTools(t, "ip")
	bin := buildSensor(t)
	dir := userDir(t)
	state := filepath.Join(dir, "state")
	// A state of many sources, from an offline run of a capture of them.
	capPath := oneSynEach(t, 300_000, 10, [4]byte{198, 18, 0, 1})
	if out, err := exec.Command(bin, "-r", capPath, "-o", "/dev/null", "--state-file", state, "--growth=false").CombinedOutput(); err != nil {
		t.Fatalf("offline run: %v: %s", err, out)
	}
	os.Chown(state, 65534, 65534)

	p := captest.NewPair(t)
	out := filepath.Join(dir, "live.jsonl")
	cmd, stderr, done := startLive(t, bin, p, out, "--state-file", state, "--user", "nobody", "--growth=false")
	deadline := time.Now().Add(15 * time.Second)
	awaitLog(t, stderr, done, "dropped root privileges", deadline, time.Millisecond)
	cmd.Process.Signal(syscall.SIGHUP) // a SIGHUP while starting ended the sensor
	awaitLog(t, stderr, done, `"capturing"`, deadline, 10*time.Millisecond)
	for !strings.Contains(stderr.String(), "SIGHUP: output reopened") && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	cmd.Process.Signal(syscall.SIGINT)
	select {
	case err := <-done:
		var ee *exec.ExitError
		if err != nil && !errors.As(err, &ee) {
			t.Fatal(err)
		}
		if err != nil {
			t.Fatalf("exit: %v: %s", err, stderr.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatalf("no exit within 15 s of SIGINT: %s", stderr.String())
	}
	if !strings.Contains(stderr.String(), "SIGHUP: output reopened") {
		t.Errorf("the SIGHUP was not done once the run existed: %s", stderr.String())
	}
}

// TestLiveAlertExecRunnableByUser: --alert-exec is checked as root when
// the flags are read, but runs as --user: a program only root may run
// started the sensor, then failed every alert ("permission denied" in the
// log). Now the start is refused (exit 2), naming the flag and the user.
func TestLiveAlertExecRunnableByUser(t *testing.T) {
	captest.NeedRoot(t)
	captest.NeedTools(t, "ip")
	bin := buildSensor(t)
	p := captest.NewPair(t)
	private := t.TempDir() // root's alone (0700)
	os.Chmod(private, 0o700)
	hook := filepath.Join(private, "hook.sh")
	os.WriteFile(hook, []byte("#!/bin/sh\ncat >/dev/null\n"), 0o755)
	out := filepath.Join(userDir(t), "a.jsonl")
	code, stderr := startOnly(t, bin, p, "-o", out, "--user", "nobody", "--alert-exec", hook)
	if code != exitUsage || !strings.Contains(stderr, "--alert-exec") || !strings.Contains(stderr, "nobody") {
		t.Errorf("exit %d: %s", code, stderr)
	}
}

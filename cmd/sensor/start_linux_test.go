package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
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
	if err := interrupt(t, cmd, done, stderr); err != nil {
		t.Fatalf("exit: %v: %s", err, stderr.String())
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

// TestLiveDropsCapabilities: started as another user with the capabilities
// the README allows instead of root, the sensor clears them once attached
// (a review: kept for the whole run, ambient, so every --alert-exec child
// inherited them, while the log said "dropped root privileges").
func TestLiveDropsCapabilities(t *testing.T) {
	captest.NeedRoot(t)
	captest.NeedTools(t, "ip", "setpriv")
	bin := buildSensor(t)
	dir := userDir(t)
	p := captest.NewPair(t)
	out := filepath.Join(dir, "live.jsonl")
	caps := "+bpf,+net_admin,+perfmon,+net_raw"
	cmd, stderr, done := startCmd(t, exec.Command("ip", "netns", "exec", p.SensorNS, "setpriv", "--reuid=65534", "--regid=65534",
		"--clear-groups", "--inh-caps="+caps, "--ambient-caps="+caps, bin, "-i", p.SensorIf, "-o", out, "--log-format", "json"))
	deadline := time.Now().Add(15 * time.Second)
	awaitLog(t, stderr, done, `"capturing"`, deadline, 10*time.Millisecond)
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", cmd.Process.Pid)) // ip and setpriv exec the sensor
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(status), "\n") {
		for _, set := range []string{"CapInh:", "CapPrm:", "CapEff:", "CapAmb:"} {
			if strings.HasPrefix(line, set) && strings.Trim(strings.TrimPrefix(line, set), "\t 0") != "" {
				t.Errorf("still held: %s", line)
			}
		}
	}
	if !strings.Contains(stderr.String(), "dropped capabilities") {
		t.Errorf("the drop is not said: %s", stderr.String())
	}
	if err := interrupt(t, cmd, done, stderr); err != nil {
		t.Errorf("exit: %v: %s", err, stderr.String())
	}
}

// TestLiveStateLinkCheckedWhereSaved: --state-file a symlink, in a
// directory --user may write, to a file in root's own directory: the save
// writes beside the link's target, so that directory is the one checked at
// the start (refused, exit 2, naming it). The link's was checked: the
// sensor started and then failed every save (a review).
func TestLiveStateLinkCheckedWhereSaved(t *testing.T) {
	captest.NeedRoot(t)
	captest.NeedTools(t, "ip")
	bin := buildSensor(t)
	p := captest.NewPair(t)
	private := t.TempDir() // root's alone (0700)
	os.Chmod(private, 0o700)
	nb := userDir(t)
	link := filepath.Join(nb, "state")
	if err := os.Symlink(filepath.Join(private, "state"), link); err != nil {
		t.Fatal(err)
	}
	code, stderr := startOnly(t, bin, p, "-o", filepath.Join(nb, "a.jsonl"), "--user", "nobody", "--state-file", link)
	if code != exitUsage || !strings.Contains(stderr, private) {
		t.Errorf("exit %d, want %d naming %s: %s", code, exitUsage, private, stderr)
	}
}

// TestLiveOutputDevNullAsUser: -o /dev/null with --user nobody starts: a
// device is reopened as it is on SIGHUP, never made anew, so /dev need
// not take files (a review: it was refused, nobody cannot create files
// in /dev).
func TestLiveOutputDevNullAsUser(t *testing.T) {
	captest.NeedRoot(t)
	captest.NeedTools(t, "ip")
	bin := buildSensor(t)
	p := captest.NewPair(t)
	cmd, stderr, done := startLive(t, bin, p, os.DevNull, "--user", "nobody")
	awaitLog(t, stderr, done, `"capturing"`, time.Now().Add(15*time.Second), 50*time.Millisecond)
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("exit: %v: %s", err, stderr.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatal("still running 15 s after SIGTERM")
	}
}

// TestLiveSIGHUPWhileListsAreRead: a SIGHUP while a live sensor still reads
// its --benign list (a FIFO whose writer is late here; a large file alike)
// ended the process (exit 129, nothing logged: SIGHUP was caught only once
// the run began, a review). Now it is held, and done once the run exists.
func TestLiveSIGHUPWhileListsAreRead(t *testing.T) {
	captest.NeedRoot(t)
	captest.NeedTools(t, "ip")
	bin := buildSensor(t)
	dir := userDir(t)
	fifo := filepath.Join(dir, "benign.fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	p := captest.NewPair(t)
	cmd, stderr, done := startLive(t, bin, p, filepath.Join(dir, "live.jsonl"), "--benign", fifo, "--user", "", "--growth=false")
	time.Sleep(300 * time.Millisecond) // waiting for the FIFO's writer
	cmd.Process.Signal(syscall.SIGHUP)
	select {
	case err := <-done:
		t.Fatalf("a SIGHUP while --benign was read ended the sensor: %v: %s", err, stderr.String())
	case <-time.After(300 * time.Millisecond):
	}
	if err := os.WriteFile(fifo, []byte("192.0.2.0/24 a research scanner\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(15 * time.Second)
	awaitLog(t, stderr, done, `"capturing"`, deadline, 10*time.Millisecond)
	for !strings.Contains(stderr.String(), "SIGHUP: output reopened") && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if !strings.Contains(stderr.String(), "SIGHUP: output reopened") {
		t.Errorf("the SIGHUP was not done once the run existed: %s", stderr.String())
	}
	if err := interrupt(t, cmd, done, stderr); err != nil {
		t.Fatalf("exit: %v: %s", err, stderr.String())
	}
}

// TestReportEndsOnSIGHUP: SIGHUP is caught from the start for the runs
// that act on it (live, collect) or go on through it (offline), not for
// `sensor report`, which it ends as before (a review: a report reading a
// pipe outlived its closed terminal).
func TestReportEndsOnSIGHUP(t *testing.T) {
	bin := buildSensor(t)
	cmd := exec.Command(bin, "report", "-o", filepath.Join(t.TempDir(), "r.html"), "-")
	w, err := cmd.StdinPipe() // open: the report waits for more
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	// Offline runs of other tests, in this process, ignore SIGHUP, and a
	// child inherits an ignored signal: caught here while the child
	// starts, it comes to the child with its default action.
	caught := make(chan os.Signal, 1)
	signal.Notify(caught, syscall.SIGHUP)
	err = cmd.Start()
	signal.Stop(caught)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	time.Sleep(300 * time.Millisecond)
	cmd.Process.Signal(syscall.SIGHUP)
	select {
	case err := <-done:
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGHUP {
			t.Errorf("report after SIGHUP: %v, want ended by the signal", err)
		}
	case <-time.After(5 * time.Second):
		cmd.Process.Kill()
		t.Fatal("report still running 5 s after SIGHUP")
	}
}

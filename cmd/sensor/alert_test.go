package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestAlertHooks: every alert record of the demo capture reaches a real
// script (on its stdin) and a real HTTP server on 127.0.0.1 (POSTed), byte
// for byte as in the output, before the run ends.
func TestAlertHooks(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("needs a POSIX shell")
	}
	dir := t.TempDir()
	got := filepath.Join(dir, "alerts")
	hook := filepath.Join(dir, "hook.sh")
	os.WriteFile(hook, []byte("#!/bin/sh\ncat >> "+got+"\n"), 0o755)
	var mu sync.Mutex
	var posted []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		posted = append(posted, string(b))
		mu.Unlock()
	}))
	defer srv.Close()
	out, stderr, code := sensor(t, "-r", demo, "--sensor-id", "x", "--log-level", "error", "--alert-exec", hook, "--alert-webhook", srv.URL+"/alerts")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var want []string
	for _, l := range strings.SplitAfter(out, "\n") {
		if strings.HasPrefix(l, `{"event_type":"alert",`) {
			want = append(want, l)
		}
	}
	if len(want) < 2 {
		t.Fatalf("%d alerts in the demo's output, expected a flood and an exponential one", len(want))
	}
	b, err := os.ReadFile(got)
	if err != nil || string(b) != strings.Join(want, "") {
		t.Errorf("the script got %q (%v), the output has %q", b, err, want)
	}
	mu.Lock()
	defer mu.Unlock()
	if strings.Join(posted, "") != strings.Join(want, "") {
		t.Errorf("the server got %q, the output has %q", posted, want)
	}
}

// TestAlertHookFailuresCounted: a hook that fails is counted in the stats
// record (drops.alert_hooks and alert_hooks.failed), where a SOC watches
// for loss; it was in the log only (a review: 123 warnings, no figure).
func TestAlertHookFailuresCounted(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("needs a POSIX shell")
	}
	hook := filepath.Join(t.TempDir(), "fail.sh")
	os.WriteFile(hook, []byte("#!/bin/sh\ncat >/dev/null\nexit 3\n"), 0o755)
	out, stderr, code := sensor(t, "-r", demo, "--log-level", "error", "--alert-exec", hook)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	alerts := strings.Count(out, `{"event_type":"alert",`)
	var st struct {
		Drops struct {
			AlertHooks *uint64 `json:"alert_hooks"`
		} `json:"drops"`
		AlertHooks *struct {
			Produced, Delivered, Failed uint64
		} `json:"alert_hooks"`
	}
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, `{"event_type":"stats",`) {
			if err := json.Unmarshal([]byte(l), &st); err != nil {
				t.Fatal(err)
			}
		}
	}
	if st.AlertHooks == nil || st.Drops.AlertHooks == nil {
		t.Fatalf("no alert_hooks counts in the stats record (%d alerts)", alerts)
	}
	// The deliveries end before the final stats record: every one counted.
	if h := st.AlertHooks; alerts < 2 || h.Produced != uint64(alerts) || h.Failed != h.Produced || *st.Drops.AlertHooks != h.Failed || h.Delivered != 0 {
		t.Errorf("%d alerts; counts %+v, drops.alert_hooks %d", alerts, *h, *st.Drops.AlertHooks)
	}
}

// TestSignalAfterTheLastPacket: a signal while the end of an offline run
// waits for a slow hook ends that wait within about a second (it ran its
// whole 15 s and the run exited 0, a review), with the signal's exit
// status, and the final stats record counts the delivery cut off (it was
// written before the wait, and left it out).
func TestSignalAfterTheLastPacket(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("needs a POSIX shell")
	}
	hook := filepath.Join(t.TempDir(), "slow.sh")
	os.WriteFile(hook, []byte("#!/bin/sh\ncat >/dev/null\nsleep 20\n"), 0o755)
	ctx, cancel := context.WithCancelCause(context.Background())
	var out, stderr bytes.Buffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"-r", demo, "--log-level", "warn", "--alert-exec", hook}, &out, &stderr)
	}()
	time.Sleep(1500 * time.Millisecond) // the demo is read by then: the end waits for the hook
	start := time.Now()
	cancel(signalled{syscall.SIGTERM})
	var code int
	select {
	case code = <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the run went on waiting for its hook 10 s after the signal")
	}
	if d := time.Since(start); d > 4*time.Second {
		t.Errorf("the run ended %v after the signal, want about 1 s", d.Round(time.Millisecond))
	}
	if want := 128 + int(syscall.SIGTERM); code != want {
		t.Errorf("exit %d, want %d; stderr: %s", code, want, stderr.String())
	}
	var st struct {
		AlertHooks *struct{ Produced, Delivered, Failed, Dropped uint64 } `json:"alert_hooks"`
	}
	for _, l := range strings.Split(out.String(), "\n") {
		if strings.HasPrefix(l, `{"event_type":"stats",`) {
			if err := json.Unmarshal([]byte(l), &st); err != nil {
				t.Fatal(err)
			}
		}
	}
	if h := st.AlertHooks; h == nil || h.Produced == 0 || h.Delivered+h.Failed+h.Dropped != h.Produced {
		t.Errorf("the final stats record's alert_hooks do not add up: %+v", h)
	}
}

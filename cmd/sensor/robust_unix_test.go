//go:build unix

package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Something that is not a regular file at -o (a FIFO here; /dev/null in
// real life) is written in place and never removed or replaced, even when
// the report fails.
func TestReportIntoAFifoKeepsIt(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "pipe")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	got := make(chan []byte, 1)
	go func() { // the reader the FIFO needs, until the writer closes
		b, _ := os.ReadFile(fifo)
		got <- b
	}()
	bad := filepath.Join(dir, "nowindows.jsonl")
	os.WriteFile(bad, []byte("{}\n"), 0o644)
	if _, _, code := sensor(t, "report", "-o", fifo, bad); code != exitFatal {
		t.Fatalf("exit %d, want %d", code, exitFatal)
	}
	<-got
	fi, err := os.Lstat(fifo)
	if err != nil || fi.Mode()&os.ModeNamedPipe == 0 {
		t.Fatalf("the FIFO at -o is gone or replaced: %v %v", fi, err)
	}
}

// A signal ends a run that waits for a FIFO's other end (an output FIFO
// with no reader yet, a config FIFO with no writer yet) with the signal's
// exit status. The open waited on and the first SIGTERM was caught and
// lost: only a second one ended the process.
func TestSignalEndsAWaitForAFIFO(t *testing.T) {
	dir := t.TempDir()
	out, conf, ben, mmdb := filepath.Join(dir, "out"), filepath.Join(dir, "conf"), filepath.Join(dir, "benign"), filepath.Join(dir, "mmdb")
	for _, f := range []string{out, conf, ben, mmdb} {
		if err := syscall.Mkfifo(f, 0o600); err != nil {
			t.Skipf("mkfifo: %v", err)
		}
	}
	for _, c := range []struct {
		name    string
		args    []string
		want    int
		fifo    string
		release int // how the test lets the abandoned open go afterwards
	}{
		{"output FIFO without a reader", []string{"-r", "../../testdata/demo.pcapng", "-o", out}, 128 + int(syscall.SIGTERM), out, os.O_RDONLY},
		{"config FIFO without a writer", []string{"-c", conf, "-r", "../../testdata/demo.pcapng", "-o", os.DevNull}, 128 + int(syscall.SIGTERM), conf, os.O_WRONLY},
		{"--benign FIFO without a writer", []string{"--benign", ben, "-r", "../../testdata/demo.pcapng", "-o", os.DevNull}, 128 + int(syscall.SIGTERM), ben, os.O_WRONLY},
		{"--mmdb FIFO without a writer", []string{"--mmdb", mmdb, "-r", "../../testdata/demo.pcapng", "-o", os.DevNull}, 128 + int(syscall.SIGTERM), mmdb, os.O_WRONLY},
	} {
		ctx, cancel := context.WithCancelCause(context.Background())
		var stderr bytes.Buffer
		done := make(chan int, 1)
		go func() { done <- run(ctx, c.args, io.Discard, &stderr) }()
		time.Sleep(200 * time.Millisecond) // into the open
		cancel(signalled{syscall.SIGTERM})
		select {
		case code := <-done:
			if code != c.want {
				t.Errorf("%s: exit %d, want %d; stderr: %s", c.name, code, c.want, stderr.String())
			}
			if !strings.Contains(stderr.String(), "interrupted while") {
				t.Errorf("%s: stderr does not say what was waited for: %s", c.name, stderr.String())
			}
		case <-time.After(5 * time.Second):
			t.Errorf("%s: a signal did not end the wait for the FIFO's other end", c.name)
		}
		// The abandoned open is still waiting: give it its other end.
		if f, err := os.OpenFile(c.fifo, c.release|syscall.O_NONBLOCK, 0); err == nil {
			f.Close()
		}
	}
}

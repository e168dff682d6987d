//go:build unix

package main

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
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

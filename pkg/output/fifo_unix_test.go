//go:build unix

package output

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// TestOpenFileFIFOReaderGone: a live sensor writing to a FIFO whose reader
// goes away gets an error (EPIPE: the run stops and says why) instead of
// blocking for good, which it did while it held a reader of its own.
func TestOpenFileFIFOReaderGone(t *testing.T) {
	path := filepath.Join(t.TempDir(), "out.fifo")
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		t.Skipf("no FIFO here: %v", err)
	}
	reader := make(chan *os.File, 1)
	go func() {
		r, err := os.Open(path) // waits for the writer
		if err != nil {
			t.Error(err)
		}
		reader <- r
	}()
	f, err := OpenFile(path, true)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := <-reader
	if _, err := f.Write([]byte("{}\n")); err != nil {
		t.Fatalf("with a reader: %v", err)
	}
	buf := make([]byte, 3)
	if _, err := r.Read(buf); err != nil || string(buf) != "{}\n" {
		t.Fatalf("read %q, %v", buf, err)
	}
	r.Close()
	done := make(chan error, 1)
	go func() {
		var err error
		for i := 0; i < 1000 && err == nil; i++ { // more than the pipe holds
			_, err = f.Write(make([]byte, 4096))
		}
		done <- err
	}()
	select {
	case err := <-done:
		if !errors.Is(err, syscall.EPIPE) {
			t.Errorf("writing with the reader gone: %v, want EPIPE", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("writing with the reader gone blocked")
	}
}

// TestFIFONotCreated: a FIFO given as a live run's output (opened without
// O_CREATE, see openFile) was there before: not the run's own.
func TestFIFONotCreated(t *testing.T) {
	path := filepath.Join(t.TempDir(), "out.fifo")
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		t.Skipf("no FIFO here: %v", err)
	}
	go func() {
		if r, err := os.Open(path); err == nil { // the writer's open waits for a reader
			r.Close()
		}
	}()
	d, err := NewFile(path, true)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if d.Created() {
		t.Error("a FIFO that was there counted as created")
	}
}

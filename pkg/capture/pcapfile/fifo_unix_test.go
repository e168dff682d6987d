//go:build unix

package pcapfile

import (
	"encoding/binary"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/synscope/synscope/pkg/capture"
)

// A FIFO named with -r is let go when its input fails or the Reader is
// closed: its writer's writes fail (EPIPE) instead of blocking on a pipe
// no one reads. It was closed only at the end of its data (a review: a
// failed -r <(ssh probe tcpdump -w -) stalled that tcpdump until the run
// ended).
func TestFIFOLetGo(t *testing.T) {
	for _, c := range []struct {
		name string
		tail []byte // written after a valid packet
	}{
		{"input failed", []byte("garbage that is no record header, long enough to be read as one")},
		{"reader closed", nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "cap")
			if err := syscall.Mkfifo(path, 0o600); err != nil {
				t.Skipf("mkfifo: %v", err)
			}
			w := make(chan *os.File, 1)
			go func() {
				f, err := os.OpenFile(path, os.O_WRONLY, 0)
				if err != nil {
					t.Error(err)
					w <- nil
					return
				}
				f.Write(pcapBytes(binary.LittleEndian, false, 1, rec{sec: 1, data: make([]byte, 60)}))
				f.Write(c.tail)
				w <- f // kept open: a capture still running
			}()
			r, err := Open([]string{path})
			if err != nil {
				t.Fatal(err)
			}
			var p capture.Packet
			if err := r.Next(&p); err != nil {
				t.Fatal(err)
			}
			wf := <-w
			if wf == nil {
				return
			}
			defer wf.Close()
			if c.tail != nil {
				if err := r.Next(&p); err == nil {
					t.Fatal("the garbage was read as a packet")
				}
			}
			r.Close()
			// The FIFO is closed at once, even while its read waits on
			// an idle writer: the writer's next write fails.
			time.Sleep(100 * time.Millisecond)
			wf.SetWriteDeadline(time.Now().Add(time.Second))
			if _, err := wf.Write([]byte{0}); !errors.Is(err, syscall.EPIPE) {
				t.Errorf("the writer's first write after the input ended: %v, want EPIPE", err)
			}
			// The writer goes on writing, bounded in time: its writes
			// must fail soon (the pipe's buffer may take some first).
			chunk := make([]byte, 64<<10)
			deadline := time.Now().Add(5 * time.Second)
			var werr error
			for time.Now().Before(deadline) {
				wf.SetWriteDeadline(time.Now().Add(200 * time.Millisecond))
				if _, werr = wf.Write(chunk); werr != nil && !errors.Is(werr, os.ErrDeadlineExceeded) {
					break
				}
			}
			if !errors.Is(werr, syscall.EPIPE) {
				t.Errorf("the writer's writes did not fail with EPIPE once the FIFO's input was over: %v", werr)
			}
		})
	}
}

// A FIFO's modification time is its node's, not its data's: a run of
// FIFOs alone has none (0: the records of a run that read no packet take
// the wall clock, as with standard input).
func TestFIFOHasNoModTime(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cap")
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	old := time.Now().Add(-72 * time.Hour)
	os.Chtimes(path, old, old)
	r, err := Open([]string{path})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if got := r.NewestModTime(); got != 0 {
		t.Errorf("NewestModTime %v, want 0 for a FIFO", time.Unix(0, got))
	}
}

// A socket named with -r is refused as one, with the way to read it; it
// failed at its first read as "no such device or address" (a review).
func TestSocketRefusedAsOne(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s")
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Skipf("no unix socket here: %v", err)
	}
	defer l.Close()
	r, err := Open([]string{path})
	if err == nil {
		var p capture.Packet
		err = r.Next(&p)
		r.Close()
	}
	if err == nil || !strings.Contains(err.Error(), "is a socket") || !strings.Contains(err.Error(), "nc -U") {
		t.Errorf("a socket read: %v", err)
	}
}

//go:build unix

package pcapfile

import (
	"os"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// stdinStream is standard input as a file whose blocked read Interrupt can
// end: a pipe, FIFO or socket is put in non-blocking mode and
// opened again as a file of Go's poller (a read then parks its goroutine
// rather than a thread, and a read deadline ends it); one that is a
// poller's file already (os.Pipe's) is taken as it is. A regular file, or
// one whose mode cannot be changed, is os.Stdin as it is, and nil is
// returned for the stream (a file's reads do not block for long).
func stdinStream() (in *os.File, stream *os.File) {
	fi, err := os.Stdin.Stat()
	if err != nil || fi.Mode()&(os.ModeNamedPipe|os.ModeSocket) == 0 {
		// A file, or a terminal (its mode is the shell's too).
		return os.Stdin, nil
	}
	// (Before Fd, which puts a poller's file back in blocking mode.)
	if os.Stdin.SetReadDeadline(time.Time{}) == nil {
		return os.Stdin, os.Stdin
	}
	stdinMu.Lock()
	defer stdinMu.Unlock()
	if stdinOf == os.Stdin {
		if unix.SetNonblock(stdinFD, true) != nil {
			return os.Stdin, nil
		}
		return stdinPolled, stdinPolled
	}
	fd := int(os.Stdin.Fd())
	if fi.Mode()&os.ModeNamedPipe != 0 {
		growPipe(fd)
	}
	if unix.SetNonblock(fd, true) != nil {
		return os.Stdin, nil
	}
	// Made once for the process and kept: a second file of the same
	// descriptor would be refused by the poller, and a file collected
	// closes its descriptor (0, then reused by another file).
	stdinOf, stdinPolled, stdinFD = os.Stdin, os.NewFile(uintptr(fd), "/dev/stdin"), fd
	return stdinPolled, stdinPolled
}

var (
	stdinMu     sync.Mutex
	stdinOf     *os.File // the os.Stdin stdinPolled was made from
	stdinPolled *os.File
	stdinFD     int
)

// restoreStdin ends a deadline set by Interrupt (a later reader of the
// same standard input, in the same process, reads on) and puts a
// descriptor stdinStream made non-blocking back as it was.
func restoreStdin(f *os.File) {
	f.SetReadDeadline(time.Time{})
	stdinMu.Lock()
	defer stdinMu.Unlock()
	if f == stdinPolled {
		unix.SetNonblock(stdinFD, false)
	}
}

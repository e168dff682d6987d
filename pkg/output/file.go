package output

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// File is the driver for a JSONL file. It owns its path and its mode (a
// live run appends, an offline run starts afresh), and reopens the same path
// when log rotation has moved the file away (SIGHUP): the records after
// that go to a new file of the same name, with the same checks as the first
// open.
type File struct {
	path     string
	appendTo bool
	f        *os.File
	created  bool
	// truncate: the file starts afresh at the first write, not at the
	// open, so a run that stops before it writes anything (a state file
	// refused, a bad setting found after the outputs opened) leaves an
	// earlier run's records where they were.
	truncate bool
}

// NewFile opens the file driver for path (see OpenFile).
func NewFile(path string, appendTo bool) (*File, error) {
	f, created, err := openFile(path, appendTo, false, true)
	if err != nil {
		return nil, err
	}
	d := &File{path: path, appendTo: appendTo, f: f, created: created}
	if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() && !appendTo {
		d.truncate = true
	}
	return d, nil
}

// Created reports whether the first open created the file. A live sensor
// opens its output as root, before privileges go, and then hands a file it
// created to the user it will run as (who rotates it later).
func (d *File) Created() bool { return d.created }

// Untouched reports whether the file at the driver's path is still the one
// it opened (not renamed away, not replaced) and still empty: what a run
// refused at start may remove when it created it.
func (d *File) Untouched() bool {
	held, err := d.f.Stat()
	if err != nil || held.Size() != 0 {
		return false
	}
	at, err := os.Lstat(d.path)
	return err == nil && os.SameFile(held, at)
}

func (d *File) Write(p []byte) (int, error) {
	if d.truncate {
		if err := d.f.Truncate(0); err != nil {
			return 0, fmt.Errorf("open output: %w", err)
		}
		d.truncate = false
	}
	return d.f.Write(p)
}

// Reopen opens the path again and closes the old file once the new one is
// open, so a failure leaves the driver writing where it was.
//
// The lock goes from the old file to the new one: when both are the same
// file (a rotation that copied and truncated it), the old one's lock would
// refuse the new one's.
func (d *File) Reopen() (bool, error) {
	f, _, err := openFile(d.path, d.appendTo, true, false)
	if err != nil {
		return false, err
	}
	old := d.f
	unlockFile(old)
	if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() && !lockFile(f) {
		f.Close()
		lockFile(old)
		return false, fmt.Errorf("output %s: %w", d.path, ErrOutputInUse)
	}
	d.f = f
	old.Close() // the writer flushed to it before asking; that flush reported any loss
	return true, nil
}

func (d *File) Close() error   { return d.f.Close() }
func (d *File) String() string { return d.path }

// FileMode is the mode of a JSONL file the sensor creates: the records name
// the hosts that probe the network, which is not for every local user.
const FileMode fs.FileMode = 0o640

// OpenFile opens path for JSONL records. An offline run (appendTo false)
// starts the file afresh, so rerunning a capture gives the same bytes; a
// live run appends, so a restart (a crash loop under Restart=on-failure)
// continues the file instead of erasing what the last run wrote.
//
// A symbolic link at path is refused rather than followed: a live sensor
// opens its output as root, in a directory its unprivileged user can write
// (for SIGHUP reopening), so following a link planted there would let that
// user make root truncate any file. A regular file with other hard links is
// refused for the same reason. Devices and pipes (/dev/null, a FIFO) are
// written as they are.
//
// A regular file is locked (flock, exclusive) while it is written: a
// second sensor given the same output is refused (ErrOutputInUse), as it
// is the same state file; two writing one file interleaved their records
// mid-line (a review). A file system without locks is written unlocked.
func OpenFile(path string, appendTo bool) (*os.File, error) {
	f, _, err := openFile(path, appendTo, true, true)
	return f, err
}

// beforeOpen, when set (tests), runs just before openFile opens the path.
var beforeOpen func(path string)

// ErrOutputInUse: another process holds the output's lock.
var ErrOutputInUse = errors.New("another process (another sensor?) is writing it: give each run its own output")

// openFile is OpenFile, and says whether this open created the file;
// without truncate, a file that is not appended to is left for the caller
// to start afresh; without lock, it is not locked.
func openFile(path string, appendTo, truncate, lock bool) (f *os.File, created bool, err error) {
	// Appending reads the last byte (see endLine). Truncation waits until
	// the checks below pass, so a refused file is left as it was.
	flags := os.O_WRONLY | os.O_CREATE | oNoFollow
	if appendTo {
		flags = os.O_RDWR | os.O_APPEND | os.O_CREATE | oNoFollow
		if fi, err := os.Lstat(path); err == nil && fi.Mode()&fs.ModeNamedPipe != 0 {
			// A FIFO is opened for writing only, waiting for its reader
			// as a shell's redirection does: read-write, the sensor held
			// a reader itself, so the open never waited and, once the
			// consumer was gone, the writes blocked for good instead of
			// failing (EPIPE, which stops the run).
			flags = os.O_WRONLY | os.O_APPEND | oNoFollow
		}
	}
	symlink := fmt.Errorf("output %s is a symbolic link: refusing to follow it (give the path of a real file, or - for standard output)", path)
	if isSymlink(path) { // O_NOFOLLOW closes the race where there is one
		return nil, false, symlink
	}
	// Created or not is what the kernel says (O_EXCL), not a look before
	// the open: a file made by someone else in between would be taken for
	// the run's own (handed to --user, removed when the start is refused).
	// (Only with O_CREATE: without it, O_EXCL is not a question the
	// kernel answers, and a FIFO opened for appending was "created".)
	if beforeOpen != nil {
		beforeOpen(path)
	}
	err = fs.ErrExist
	if flags&os.O_CREATE != 0 {
		f, err = os.OpenFile(path, flags|os.O_EXCL, FileMode)
		created = err == nil
	}
	if errors.Is(err, fs.ErrExist) {
		f, err = os.OpenFile(path, flags, FileMode)
	}
	if err != nil {
		if isSymlink(path) {
			return nil, false, symlink
		}
		if errors.Is(err, fs.ErrNotExist) {
			return nil, false, fmt.Errorf("open output %s: the directory %s does not exist (create it, or give another path, or - for standard output): %w", path, filepath.Dir(path), fs.ErrNotExist)
		}
		return nil, false, fmt.Errorf("open output: %w", err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, false, fmt.Errorf("open output: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return f, created, nil
	}
	if n := linkCount(fi); n > 1 {
		f.Close()
		return nil, false, fmt.Errorf("output %s has %d hard links: refusing to write a file that is also reachable under another name (remove it, or give another path)", path, n)
	}
	if lock && !lockFile(f) {
		f.Close()
		return nil, false, fmt.Errorf("output %s: %w", path, ErrOutputInUse)
	}
	if !appendTo {
		if !truncate {
			return f, created, nil
		}
		if err := f.Truncate(0); err != nil {
			f.Close()
			return nil, false, fmt.Errorf("open output: %w", err)
		}
		return f, created, nil
	}
	if err := endLine(f, fi.Size()); err != nil {
		f.Close()
		return nil, false, fmt.Errorf("open output %s: %w", path, err)
	}
	return f, created, nil
}

// endLine ends a last line that a killed run left without its newline, so
// the first record appended after a restart starts a line of its own: the
// cut record stays one bad line instead of spoiling the next one too.
func endLine(f *os.File, size int64) error {
	if size == 0 {
		return nil
	}
	var last [1]byte
	if _, err := f.ReadAt(last[:], size-1); err != nil {
		if errors.Is(err, io.EOF) {
			return nil // shrank meanwhile: nothing to end
		}
		return err
	}
	if last[0] == '\n' {
		return nil
	}
	_, err := f.Write([]byte{'\n'})
	return err
}

func isSymlink(path string) bool {
	fi, err := os.Lstat(path)
	return err == nil && fi.Mode()&fs.ModeSymlink != 0
}

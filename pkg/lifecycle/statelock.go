package lifecycle

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
)

// ErrStateInUse marks a state file another sensor holds (its lock is
// taken): a setting to change, or a sensor to stop, before the run starts.
var ErrStateInUse = errors.New("state file in use")

// StateLock is a run's hold on its state file (LockState): a second sensor
// given the same --state-file would load the same memory and, at its end,
// save its own over the first's (the last to save wins, the other's
// sources lost without a word).
type StateLock struct{ f *os.File }

// Close lets the state file go; a nil or closed lock is a no-op.
func (l *StateLock) Close() {
	if l != nil && l.f != nil {
		l.f.Close()
		l.f = nil
	}
}

// LockState takes the lock of the state file at path ("" : none): an
// flock(2) on PATH.lock beside it (the path's symlinks resolved first, so
// two names of one file are one lock), held until Close or the process
// ends, however it ends. The file stays; it holds the pid of its last
// writer and is readable by all, so that a sensor running as another user
// (--user, after a run as root) can take it too. Another holder refuses
// the run (ErrStateInUse, naming it); a lock that cannot be taken for any
// other reason (no permission, a file system without locks, a platform
// without flock) is said and not taken, as before there was one. Take it
// before the outputs are opened: a refused run must touch nothing.
func LockState(path string, log Log) (*StateLock, error) {
	if path == "" {
		return nil, nil
	}
	path = StatePath(path)
	f, err := lockFile(path)
	if err != nil && !errors.Is(err, ErrStateInUse) {
		log.say(Warn, err, "the state file's lock was not taken: another sensor given the same --state-file would not be refused", "state_file", path)
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	removeStaleTemps(path, log)
	return &StateLock{f: f}, nil
}

// StatePath is the file a state path names, its symlinks resolved (a
// dangling one's target too, through links of links): the lock is taken
// beside it, the save renames onto it, and the start checks its directory.
// The save renamed onto the link itself, replacing it with a file while
// the lock followed it (a review: the next run given the link's target
// loaded the old state, and two sensors were no longer refused).
func StatePath(path string) string {
	if path == "" {
		return ""
	}
	if r, err := filepath.EvalSymlinks(path); err == nil {
		return r
	}
	// A dangling link (or no file yet): the directory resolved first,
	// then each link followed from it, as the kernel would.
	for range 40 { // the kernel's own bound on links followed
		dir, base := filepath.Split(path)
		if dir == "" {
			dir = "."
		}
		if r, err := filepath.EvalSymlinks(dir); err == nil {
			dir = r
		}
		path = filepath.Join(dir, base)
		t, err := os.Readlink(path)
		if err != nil {
			return path // not a link: the file to create
		}
		if !filepath.IsAbs(t) {
			t = filepath.Join(dir, t)
		}
		path = t
	}
	return path
}

// removeStaleTemps removes the temporary files of saves of the state at
// path that a kill cut short (a save writes .NAME.tmpDIGITS, then renames
// it; killed before the rename, the file stayed, as large as the state,
// one more each time: a review). Called with the lock held: no other
// sensor saves this state now.
func removeStaleTemps(path string, log Log) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	prefix := "." + base + ".tmp"
	for _, e := range ents {
		n := e.Name()
		if !strings.HasPrefix(n, prefix) || len(n) == len(prefix) || strings.Trim(n[len(prefix):], "0123456789") != "" || !e.Type().IsRegular() {
			continue
		}
		if err := os.Remove(filepath.Join(dir, n)); err == nil {
			log.say(Info, nil, "removed the temporary file of a state save that was cut short", "file", filepath.Join(dir, n))
		}
	}
}

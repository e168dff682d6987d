package lifecycle

import (
	"errors"
	"os"
	"path/filepath"
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
	if r, err := filepath.EvalSymlinks(path); err == nil {
		path = r
	} else if dir, derr := filepath.EvalSymlinks(filepath.Dir(path)); derr == nil {
		path = filepath.Join(dir, filepath.Base(path))
	}
	f, err := lockFile(path)
	if err != nil && !errors.Is(err, ErrStateInUse) {
		log.say(Warn, err, "the state file's lock was not taken: another sensor given the same --state-file would not be refused", "state_file", path)
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &StateLock{f: f}, nil
}

package lifecycle

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/synscope/synscope/pkg/engine"
)

// ErrStateRefused marks a state file refused for what it holds (damaged,
// another format, too large for the settings), not for an I/O error: a
// setting to change before the run can start.
var ErrStateRefused = errors.New("state file refused")

// marked is an error that is also mark (ErrStateRefused, ErrStateInUse),
// its text its own.
type marked struct {
	error
	mark error
}

func (e marked) Unwrap() error        { return e.error }
func (e marked) Is(target error) bool { return target == e.mark }

// loadState restores the engine's memory from path, when there is a file
// and reset is not asked for. A file that is there but unusable stops the
// start: silently starting afresh would call every known scanner new.
func loadState(eng *engine.Engine, path string, reset bool, log Log) error {
	if path == "" {
		return nil
	}
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		log.say(Info, nil, "no state file yet: starting afresh", "state_file", path)
		return nil
	}
	if err != nil {
		return fmt.Errorf("state file %s: %w", path, err)
	}
	defer f.Close()
	if reset {
		log.say(Warn, nil, "--state-reset: ignoring the saved state; it will be overwritten", "state_file", path)
		return nil
	}
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("state file %s: %w", path, err)
	}
	if err := eng.LoadState(f, fi.Size()); err != nil {
		switch {
		case errors.Is(err, engine.ErrStateMismatch):
			return marked{fmt.Errorf("state file %s: %w; move it away or pass --state-reset to start afresh", path, err), ErrStateRefused}
		case errors.Is(err, engine.ErrStateTooBig):
			return marked{fmt.Errorf("state file %s: %w", path, err), ErrStateRefused}
		}
		return fmt.Errorf("state file %s: %w", path, err)
	}
	log.say(Info, nil, "state loaded", "state_file", path, "bytes", fi.Size())
	return nil
}

// saveState writes the engine's memory to path atomically: a temporary
// file in the same directory (so the rename stays on one file system),
// synced, then renamed over the old one, and the directory synced, so a
// crash leaves the old state or the new, never half of one. The file is
// created 0600 (os.CreateTemp's mode): it names every source the sensor
// remembers.
func saveState(eng *engine.Engine, path string) error {
	if path == "" || eng.StatePending() {
		// No packet came since the state was loaded from path: the file
		// holds all there is (saving would write an empty state over it).
		return nil
	}
	path = StatePath(path) // onto a symlink's target, not over the link
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("save state: %w", err)
	}
	defer os.Remove(tmp.Name()) // after a successful rename there is nothing to remove
	if err := eng.SaveState(tmp); err != nil {
		tmp.Close()
		return fmt.Errorf("save state %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("save state %s: sync: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("save state %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("save state: %w", err)
	}
	// The rename is durable only once the directory is; a failure here
	// leaves a state that is complete, just perhaps not yet on disk.
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

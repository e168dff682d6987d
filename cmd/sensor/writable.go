package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/synscope/synscope/pkg/lifecycle"
)

// checkWritable makes sure the user the sensor now runs as can create files
// in the directories it will write to later: the state file's (saved by a
// rename from a temporary file beside it) and, live, the output's (a new
// file on SIGHUP after rotation). Finding out at the first save or the first
// rotation would lose the state or the records; finding out now is a clear
// error at start. It tries for real, so read-only mounts and ACLs count.
func checkWritable(stateFile, output string, live bool, user string) error {
	type need struct{ path, why, key string }
	var needs []need
	if fi, err := os.Stat(stateFile); stateFile != "" && err == nil && !fi.Mode().IsRegular() {
		// --state-reset would not help: the save is a rename over it.
		if fi.IsDir() {
			return settingError{fmt.Errorf("--state-file %s is a directory: name a file (e.g. %s)", stateFile, filepath.Join(stateFile, "state"))}
		}
		return settingError{fmt.Errorf("--state-file %s is not a regular file: name a file", stateFile)}
	}
	if stateFile != "" {
		// Where the save writes: a symlink's target's directory (a
		// review: the link's own was checked, and every save failed).
		needs = append(needs, need{lifecycle.StatePath(stateFile), "the state file is saved there", "--state-file"})
	}
	if fi, err := os.Stat(output); live && output != "-" && (err != nil || fi.Mode().IsRegular()) {
		// A device or a FIFO (/dev/null) is reopened as it is, never
		// made anew: its directory need not take files (a review:
		// -o /dev/null was refused for /dev).
		needs = append(needs, need{output, "the output is reopened there on SIGHUP", "--output"})
	}
	as := "the sensor"
	if user != "" && os.Geteuid() != 0 {
		as = "user " + user
	}
	for _, n := range needs {
		dir := filepath.Dir(n.path)
		f, err := os.CreateTemp(dir, ".synscope-probe-*")
		if err != nil {
			var pe *os.PathError
			if errors.As(err, &pe) {
				err = pe.Err
			}
			if systemDir(dir) { // no chown makes /proc or /sys a place for files
				return settingError{fmt.Errorf("%s %s: %s cannot create files in %s (%v), and %s: choose another path",
					n.key, n.path, as, dir, err, n.why)}
			}
			return settingError{fmt.Errorf("%s %s: %s cannot create files in %s (%v), and %s: make the directory writable (e.g. chown %s %s) or choose another path",
				n.key, n.path, as, dir, err, n.why, ownerHint(user), dir)}
		}
		f.Close()
		os.Remove(f.Name())
	}
	return nil
}

// systemDir says whether dir is in a kernel's file system (/proc, /sys,
// /dev), where files are not made by chown and write access.
func systemDir(dir string) bool {
	for _, d := range []string{"/proc", "/sys", "/dev"} {
		if dir == d || strings.HasPrefix(dir, d+"/") {
			return true
		}
	}
	return false
}

func ownerHint(user string) string {
	if user == "" {
		return "$USER"
	}
	return user
}

// checkRunnable makes sure the user the sensor now runs as can run the
// --alert-exec program: the flag was checked as root, and a program (or a
// directory on its way) only root may enter would fail every alert later
// ("permission denied" in the log, the run going on as if delivered).
func checkRunnable(program, user string) error {
	if program == "" {
		return nil
	}
	if _, err := exec.LookPath(program); err != nil {
		as := "the sensor"
		if user != "" {
			as = "user " + user
		}
		if u := errors.Unwrap(err); u != nil {
			err = u
		}
		return settingError{fmt.Errorf("--alert-exec %s: %s cannot run it (%v): make it (and the directories on its way) executable for %s, or choose another program",
			program, as, err, ownerHint(user))}
	}
	return nil
}

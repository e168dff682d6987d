//go:build unix

package lifecycle

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// lockState takes the state file's lock, STATE.lock beside it: a second
// sensor given the same --state-file would load the same memory and, at
// its end, write its own over the first's (the last to save wins, the
// other's sources lost without a word). The lock is flock(2) on that
// file, held while the run lives and let go when the process ends, however
// it ends; the file stays, holding the pid of the last holder (for the
// message) and readable by all, so that a sensor running as another user
// (--user, a state file chowned to it after a run as root) can lock it
// too. Only another holder refuses the start: a lock that cannot be taken
// for any other reason (no permission, a file system without locks) is
// not taken, as before there was one.
func lockState(path string) (*os.File, error) {
	if path == "" {
		return nil, nil
	}
	name := path + ".lock"
	writable := true
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		writable = false
		if f, err = os.Open(name); err != nil {
			return nil, nil
		}
	}
	switch err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); {
	case errors.Is(err, unix.EWOULDBLOCK):
		who := "another sensor"
		if b, rerr := os.ReadFile(name); rerr == nil {
			if pid, perr := strconv.Atoi(strings.TrimSpace(string(b))); perr == nil && pid > 0 {
				who = fmt.Sprintf("another sensor (pid %d)", pid)
			}
		}
		f.Close()
		return nil, stateInUse{fmt.Errorf("state file %s is in use by %s (%s is locked): give each sensor its own --state-file, or stop the other first", path, who, name)}
	case err != nil:
		f.Close()
		return nil, nil
	}
	if writable {
		if err := f.Truncate(0); err == nil {
			f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
		}
	}
	return f, nil
}

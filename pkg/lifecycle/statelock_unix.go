//go:build unix && !aix

package lifecycle

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// lockFile opens and locks PATH.lock. It never follows a symlink there nor
// writes a file with another name (the directory is --user's: a link
// planted there to a file of root's would have been emptied by a run as
// root), and it writes its pid only into a regular file of one link.
func lockFile(path string) (*os.File, error) {
	name := path + ".lock"
	writable := true
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE|syscall.O_NOFOLLOW, 0o644)
	if err != nil {
		writable = false
		first := err
		if f, err = os.OpenFile(name, os.O_RDONLY|syscall.O_NOFOLLOW, 0); err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				err = first // not there to read because it could not be made: say why (it said "no such file")
			}
			return nil, fmt.Errorf("open %s: %w", name, err)
		}
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !fi.Mode().IsRegular() || (ok && st.Nlink != 1) {
		f.Close()
		return nil, fmt.Errorf("%s is not a regular file of one link: remove it", name)
	}
	switch err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); {
	case errors.Is(err, unix.EWOULDBLOCK):
		who := "another sensor"
		if pid := holder(f, fi, ok, st); pid > 0 {
			who = fmt.Sprintf("another sensor (pid %d)", pid)
		}
		f.Close()
		return nil, marked{fmt.Errorf("state file %s is in use by %s (%s is locked): give each sensor its own --state-file, or stop the other first", path, who, name), ErrStateInUse}
	case err != nil:
		f.Close()
		return nil, fmt.Errorf("flock %s: %w", name, err)
	}
	if writable {
		// Readable by all whatever the umask (it holds a pid): a run as
		// another user opens it read-only to lock it.
		if uint32(st.Uid) == uint32(os.Geteuid()) {
			f.Chmod(0o644)
		}
		if err := f.Truncate(0); err == nil {
			f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
		}
	}
	return f, nil
}

// holder is the pid that holds the lock: from /proc/locks where there is
// one (the file's pid is its last writer's, and a holder that opened it
// read-only wrote none), else the file's, else 0.
func holder(f *os.File, fi os.FileInfo, ok bool, st *syscall.Stat_t) int {
	if ok {
		if pl, err := os.Open("/proc/locks"); err == nil {
			defer pl.Close()
			// "1: FLOCK  ADVISORY  WRITE 4242 08:01:1234567 0 EOF"
			want := ":" + strconv.FormatUint(uint64(st.Ino), 10)
			sc := bufio.NewScanner(pl)
			for sc.Scan() {
				fs := strings.Fields(sc.Text())
				if len(fs) >= 6 && fs[1] == "FLOCK" && strings.HasSuffix(fs[5], want) &&
					devOf(fs[5]) == uint64(st.Dev) {
					if pid, err := strconv.Atoi(fs[4]); err == nil && pid > 0 {
						return pid
					}
				}
			}
			return 0
		}
	}
	b := make([]byte, 32)
	n, _ := f.ReadAt(b, 0)
	if pid, err := strconv.Atoi(strings.TrimSpace(string(b[:n]))); err == nil && pid > 0 {
		return pid
	}
	return 0
}

// devOf is the device of /proc/locks' "MAJ:MIN:INODE" (hex major and
// minor) as stat(2) encodes it; ^0 when it does not parse.
func devOf(s string) uint64 {
	p := strings.Split(s, ":")
	if len(p) != 3 {
		return ^uint64(0)
	}
	maj, err1 := strconv.ParseUint(p[0], 16, 32)
	min, err2 := strconv.ParseUint(p[1], 16, 32)
	if err1 != nil || err2 != nil {
		return ^uint64(0)
	}
	return unix.Mkdev(uint32(maj), uint32(min))
}

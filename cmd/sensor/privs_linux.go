package main

import (
	"errors"
	"fmt"
	"os"
	"os/user"
	"strconv"
	"syscall"
	"unsafe"
)

// dropPrivileges switches every thread to the user's uid and gid with no
// supplementary groups. Going from root to another uid clears every
// capability, so nothing is kept that the capture, already attached, does
// not need. It checks that root cannot be regained. Started as another
// user with capabilities (CAP_BPF, CAP_NET_ADMIN, CAP_PERFMON or
// CAP_NET_RAW, as the README allows), it clears them instead, on every
// thread (a review: they were kept for the whole run, ambient, so
// inherited by every --alert-exec child, while the log said they were
// dropped). It says what it dropped ("" for nothing).
func dropPrivileges(name string) (string, error) {
	if syscall.Geteuid() != 0 {
		return dropCapabilities()
	}
	uid, gid, err := lookupUser(name)
	if err != nil {
		return "", err
	}
	if uid == 0 {
		return "", nil
	}
	if err := syscall.Setgroups(nil); err != nil {
		return "", fmt.Errorf("drop privileges: setgroups: %w", err)
	}
	if err := syscall.Setgid(gid); err != nil {
		return "", fmt.Errorf("drop privileges: setgid %d: %w", gid, err)
	}
	if err := syscall.Setuid(uid); err != nil {
		return "", fmt.Errorf("drop privileges: setuid %d: %w", uid, err)
	}
	if syscall.Setuid(0) == nil {
		return "", fmt.Errorf("drop privileges: root could be regained after setuid %d", uid)
	}
	return "root privileges", nil
}

// dropCapabilities empties the effective, permitted and inheritable
// capability sets of every thread (the ambient set, a subset of the
// permitted, goes with them), and says so when there were any.
func dropCapabilities() (string, error) {
	hdr := struct{ version, pid uint32 }{0x20080522, 0} // _LINUX_CAPABILITY_VERSION_3, this thread
	var data [2]struct{ effective, permitted, inheritable uint32 }
	if _, _, e := syscall.RawSyscall(syscall.SYS_CAPGET, uintptr(unsafe.Pointer(&hdr)), uintptr(unsafe.Pointer(&data[0])), 0); e != 0 {
		return "", fmt.Errorf("drop capabilities: capget: %w", e)
	}
	if data[0].permitted|data[1].permitted|data[0].inheritable|data[1].inheritable == 0 {
		return "", nil
	}
	data = [2]struct{ effective, permitted, inheritable uint32 }{}
	if _, _, e := syscall.AllThreadsSyscall(syscall.SYS_CAPSET, uintptr(unsafe.Pointer(&hdr)), uintptr(unsafe.Pointer(&data[0])), 0); e != 0 {
		if e == syscall.ENOTSUP { // a binary linked with cgo: not on every thread
			return "", errors.New("drop capabilities: a binary built with cgo cannot drop them from every thread: build it with CGO_ENABLED=0 (as the Makefile does), or start it as root with --user")
		}
		return "", fmt.Errorf("drop capabilities: capset: %w", e)
	}
	return "capabilities", nil
}

// checkUser says, before anything is attached or created, whether the
// sensor can become user name: a setting error (exit 2) when no such user
// exists (it failed after the capture was attached and the output made).
func checkUser(name string) error {
	if name == "" || syscall.Geteuid() != 0 {
		return nil
	}
	if _, _, err := lookupUser(name); err != nil {
		return settingError{err}
	}
	return nil
}

func lookupUser(name string) (uid, gid int, err error) {
	u, err := user.Lookup(name)
	if err != nil {
		return 0, 0, fmt.Errorf("--user %s: %w (name an existing user, or --user \"\" to keep root)", name, err)
	}
	uid, err1 := strconv.Atoi(u.Uid)
	gid, err2 := strconv.Atoi(u.Gid)
	if err1 != nil || err2 != nil {
		return 0, 0, fmt.Errorf("--user %s: uid %q gid %q are not numbers", name, u.Uid, u.Gid)
	}
	return uid, gid, nil
}

// giveToUser hands a file root has just created (the live output, opened
// before privileges go) to the user the sensor will run as, as logrotate's
// create does: that user rotates and compresses it later (the logrotate
// example rotates as the service user), and cannot read a root-owned file.
// Lchown: never through a link.
func giveToUser(path, name string) error {
	if syscall.Geteuid() != 0 || name == "" {
		return nil
	}
	uid, gid, err := lookupUser(name)
	if err != nil {
		return err
	}
	if err := os.Lchown(path, uid, gid); err != nil {
		return fmt.Errorf("output %s: give it to --user %s: %w", path, name, err)
	}
	return nil
}

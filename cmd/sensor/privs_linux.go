package main

import (
	"fmt"
	"os"
	"os/user"
	"strconv"
	"syscall"
)

// dropPrivileges switches every thread to the user's uid and gid with no
// supplementary groups. Going from root to another uid clears every
// capability, so nothing is kept that the capture, already attached, does
// not need. It checks that root cannot be regained.
func dropPrivileges(name string) error {
	if syscall.Geteuid() != 0 {
		return nil // not root: nothing to drop
	}
	uid, gid, err := lookupUser(name)
	if err != nil {
		return err
	}
	if uid == 0 {
		return nil
	}
	if err := syscall.Setgroups(nil); err != nil {
		return fmt.Errorf("drop privileges: setgroups: %w", err)
	}
	if err := syscall.Setgid(gid); err != nil {
		return fmt.Errorf("drop privileges: setgid %d: %w", gid, err)
	}
	if err := syscall.Setuid(uid); err != nil {
		return fmt.Errorf("drop privileges: setuid %d: %w", uid, err)
	}
	if syscall.Setuid(0) == nil {
		return fmt.Errorf("drop privileges: root could be regained after setuid %d", uid)
	}
	return nil
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

package main

import (
	"fmt"
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
	u, err := user.Lookup(name)
	if err != nil {
		return fmt.Errorf("--user %s: %w (name an existing user, or --user \"\" to keep root)", name, err)
	}
	uid, err1 := strconv.Atoi(u.Uid)
	gid, err2 := strconv.Atoi(u.Gid)
	if err1 != nil || err2 != nil {
		return fmt.Errorf("--user %s: uid %q gid %q are not numbers", name, u.Uid, u.Gid)
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

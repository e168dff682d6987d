//go:build unix

package alert

import (
	"os/exec"
	"syscall"
)

// ownGroup starts the program in a process group of its own and makes its
// kill (at the timeout, or at the end of the run) the whole group's: a
// script's children (a sleep, a curl) would otherwise outlive it.
func ownGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
}

// killGroup kills what is left of the process group pid led.
func killGroup(pid int) { syscall.Kill(-pid, syscall.SIGKILL) }

// groupAlive says whether the process group pid led has members left.
func groupAlive(pid int) bool { return syscall.Kill(-pid, 0) == nil }

//go:build linux

package captest

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// A holder is the test binary run again as a child that opens a capture
// source and keeps it open until it is killed: what the kernel gives back
// when a sensor dies without closing anything can only be seen from a
// process that really dies.

const holderEnv = "SYNSCOPE_CAPTEST_HOLD" // "namespace/interface"

// RunHolder makes this process the holder StartHolder asked for, if it is
// one: it opens a source with open inside the namespace, says "open" on
// stdout and sleeps until killed. Otherwise it returns at once. Call it
// first in TestMain.
func RunHolder(open func(iface string) (io.Closer, error)) {
	spec := os.Getenv(holderEnv)
	if spec == "" {
		return
	}
	ns, iface, _ := strings.Cut(spec, "/")
	err := InNS(ns, func() error {
		_, err := open(iface) // kept open: the kernel closes it when we die
		return err
	})
	if err != nil {
		fmt.Printf("error: %v\n", err)
		os.Exit(1)
	}
	fmt.Println("open")
	for {
		time.Sleep(time.Hour)
	}
}

// StartHolder starts a holder of a source on iface in ns and returns once
// the source is open. kill sends it SIGKILL and reaps it; the test's
// cleanup does so too if the test did not.
func StartHolder(t testing.TB, ns, iface string) (kill func()) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), holderEnv+"="+ns+"/"+iface)
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start holder: %v", err)
	}
	killed := false
	kill = func() {
		if killed {
			return
		}
		killed = true
		_ = cmd.Process.Signal(syscall.SIGKILL)
		_ = cmd.Wait()
	}
	t.Cleanup(kill)
	line := make(chan string, 1)
	go func() {
		l, _ := bufio.NewReader(stdout).ReadString('\n')
		line <- strings.TrimSpace(l)
		_, _ = io.Copy(io.Discard, stdout)
	}()
	select {
	case l := <-line:
		if l != "open" {
			kill()
			t.Fatalf("holder did not open the source: %q", l)
		}
	case <-time.After(20 * time.Second):
		kill()
		t.Fatal("holder silent for 20 s")
	}
	return kill
}

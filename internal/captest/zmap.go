//go:build linux

package captest

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// Zmap scans targets (a CIDR) on port at 500 packets/s, at most n
// addresses, sending out iface from srcAddr straight to routerMAC (the other
// end of the veth). Debian's zmap reads a blocklist of the reserved ranges
// (198.18.0.0/15 among them) from its configuration: it is given an empty
// configuration and an empty blocklist instead, so it scans the test's own
// addresses and nothing else (the targets are on the veth only).
func Zmap(t testing.TB, ns, iface, srcAddr, routerMAC, targets string, port, n int) {
	t.Helper()
	NeedTools(t, "zmap")
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	Run(t, ns, 60*time.Second, "zmap", "-C", empty, "-b", empty, "--disable-syslog", "-q",
		"-i", iface, "-S", srcAddr, "-G", routerMAC, "-p", fmt.Sprint(port), "-r", "500",
		"-n", fmt.Sprint(n), "-c", "1", "-o", filepath.Join(dir, "out"), targets)
}

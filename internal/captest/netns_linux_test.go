//go:build linux

package captest

import (
	"os/exec"
	"strings"
	"testing"
	"time"
)

// A namespace name another process holds already (go test runs packages
// as parallel processes, each making pairs) is neither shared nor a
// reason to skip: NewPair takes another id.
func TestNewPairNameTaken(t *testing.T) {
	NeedRoot(t)
	NeedTools(t, "ip")
	taken := randomID()
	// The sensor namespace is made second: the clash comes after the
	// scanner namespace of the same id exists, which must not leak.
	other := nsPrefixSensor + taken
	if out, err := exec.Command("ip", "netns", "add", other).CombinedOutput(); err != nil {
		Need(t, "needs network namespaces (root): ip netns add: %v: %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", other).Run() })
	ids := []string{taken}
	newID = func() string {
		if len(ids) > 0 {
			id := ids[0]
			ids = ids[1:]
			return id
		}
		return randomID()
	}
	t.Cleanup(func() { newID = randomID })

	p := NewPair(t)
	if p.SensorNS == other || strings.Contains(p.ScanNS, taken) {
		t.Fatalf("pair %+v shares the taken id %s", p, taken)
	}
	for _, ifc := range []string{p.ScanIf, p.SensorIf} {
		if len(ifc) > 15 {
			t.Errorf("interface name %q is longer than IFNAMSIZ-1", ifc)
		}
	}
	// The pair is whole: a frame sent from one end arrives at the other.
	Inject(t, p.ScanNS, p.ScanIf, [][]byte{V4SYN(Syn445())})
	if n := RxPackets(t, p.SensorNS, p.SensorIf); n != 1 {
		t.Errorf("%s received %d frames, want the 1 sent", p.SensorIf, n)
	}
}

// Pairs are quiet: with IPv6 off the kernel sends nothing on a new link
// by itself (no MLD reports, no DAD), so a source opened at any moment
// after NewPair sees only the test's own traffic.
func TestNewPairQuiet(t *testing.T) {
	p := NewPair(t)
	time.Sleep(time.Second) // MLD and DAD would have started by now
	for _, side := range []struct{ ns, ifc string }{{p.ScanNS, p.ScanIf}, {p.SensorNS, p.SensorIf}} {
		if n := RxPackets(t, side.ns, side.ifc); n != 0 {
			t.Errorf("%s received %d frames nobody sent", side.ifc, n)
		}
	}
}

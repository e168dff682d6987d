//go:build linux

package captest

import (
	"fmt"
	"io"
	"net"
	"testing"
	"time"
)

// NeedLive is how every live test of a capture backend starts: it needs
// root, ip, tcpdump and the named tools (a skip locally, a failure under
// CI=true) and returns a fresh veth pair between two namespaces.
func NeedLive(t testing.TB, tools ...string) *Pair {
	t.Helper()
	NeedRoot(t)
	NeedTools(t, append([]string{"ip", "tcpdump"}, tools...)...)
	return NewPair(t)
}

// OpenIn opens a source on the sensor end of p, from inside the sensor's
// namespace, with open given that interface's name, and closes it when the
// test ends (a Close error fails the test). An error from open is returned
// for the caller to judge: a backend's tests decide whether it means a
// missing privilege or a failure.
func OpenIn[S io.Closer](t testing.TB, p *Pair, open func(iface string) (S, error)) (S, error) {
	t.Helper()
	var src S
	err := InNS(p.SensorNS, func() error {
		var err error
		src, err = open(p.SensorIf)
		return err
	})
	if err != nil {
		return src, err
	}
	t.Cleanup(func() {
		if err := src.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return src, nil
}

// LoopbackSYNs brings the sensor namespace's loopback interface up and has
// n connection attempts made to 127.0.0.1:port inside it (nothing listens:
// each is one SYN, answered by a RST); open, called on "lo" first, is the
// source under test.
func LoopbackSYNs[S io.Closer](t testing.TB, p *Pair, n int, port int, open func(iface string) (S, error)) S {
	t.Helper()
	Run(t, p.SensorNS, 5*time.Second, "ip", "link", "set", "lo", "up")
	var src S
	err := InNS(p.SensorNS, func() error {
		var err error
		src, err = open("lo")
		return err
	})
	if err != nil {
		t.Fatalf("open on lo: %v", err)
	}
	t.Cleanup(func() { src.Close() })
	err = InNS(p.SensorNS, func() error {
		for range n {
			if c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), 2*time.Second); err == nil {
				c.Close()
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return src
}

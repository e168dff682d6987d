//go:build linux

package captest

import (
	"io"
	"testing"
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

package kafka

import (
	"net"
	"sync"
)

// gate is a broker's listener that a test can shut and open again: a
// broker unreachable for a while behind a network that drops its packets.
// Shut, it closes every connection it handed over, and holds new ones
// without an answer (a blackhole: the clients time out) until it opens.
// (A connection closed at once would look to franz-go like a TLS mismatch,
// which it does not retry: not what an outage looks like.) kfake takes it
// through kfake.ListenFn.
type gate struct {
	net.Listener
	mu    sync.Mutex
	shut  bool
	conns []net.Conn
	held  []net.Conn
}

func (g *gate) listen(network, addr string) (net.Listener, error) {
	ln, err := net.Listen(network, addr)
	if err != nil {
		return nil, err
	}
	g.Listener = ln
	return g, nil
}

func (g *gate) Accept() (net.Conn, error) {
	for {
		c, err := g.Listener.Accept()
		if err != nil {
			return nil, err
		}
		g.mu.Lock()
		if g.shut {
			g.held = append(g.held, c)
			g.mu.Unlock()
			continue
		}
		g.conns = append(g.conns, c)
		g.mu.Unlock()
		return c, nil
	}
}

// close shuts the gate: the broker is unreachable until open.
func (g *gate) close() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.shut = true
	for _, c := range g.conns {
		c.Close()
	}
	g.conns = nil
}

func (g *gate) open() {
	g.mu.Lock()
	g.shut = false
	for _, c := range g.held {
		c.Close()
	}
	g.held = nil
	g.mu.Unlock()
}

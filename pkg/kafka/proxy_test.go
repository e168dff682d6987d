package kafka

import (
	"net"
	"sync"
)

// gate is a broker's listener that a test can shut (every connection
// closed, new ones closed at once) and open again: a broker unreachable for
// a while, at the same address, as the clients see it. kfake takes it
// through kfake.ListenFn.
type gate struct {
	net.Listener
	mu    sync.Mutex
	shut  bool
	conns []net.Conn
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
			g.mu.Unlock()
			c.Close()
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
	g.mu.Unlock()
}

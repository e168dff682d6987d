//go:build !linux

package afpacket

import (
	"errors"

	"github.com/synscope/synscope/pkg/capture"
	"github.com/synscope/synscope/pkg/ports"
)

var errNotLinux = errors.New("afpacket: AF_PACKET capture works on Linux only; use capture files")

// Config says where to capture and what (see the Linux build).
type Config struct {
	Iface          string
	Ports          *ports.Set
	Promisc        bool
	BlockSize      int
	NumBlocks      int
	IgnoreOutgoing bool
	FanoutID       uint16
}

// Source is not available on this platform.
type Source struct{}

// Open always fails off Linux.
func Open(Config) (*Source, error) { return nil, errNotLinux }

func (*Source) Next(*capture.Packet) error           { return errNotLinux }
func (*Source) Close() error                         { return nil }
func (*Source) Stop() error                          { return nil }
func (*Source) CaptureStats() (capture.Stats, error) { return capture.Stats{}, errNotLinux }

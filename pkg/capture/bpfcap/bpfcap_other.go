//go:build !linux

package bpfcap

import (
	"errors"

	"github.com/synscope/synscope/pkg/capture"
	"github.com/synscope/synscope/pkg/ports"
)

var errNotLinux = errors.New("bpfcap: eBPF capture works on Linux only; use capture files")

// Config says where to capture and what (see the Linux build).
type Config struct {
	Iface    string
	Ports    *ports.Set
	Egress   bool
	RingSize int
	Ingress  IngressMode
	Promisc  bool
	Warn     func(msg string)
}

// IngressMode chooses where the ingress program goes (see the Linux build).
type IngressMode int

// Source is not available on this platform.
type Source struct{}

// Supported always fails off Linux.
func Supported() error { return errNotLinux }

// Open always fails off Linux.
func Open(Config) (*Source, error) { return nil, errNotLinux }

func (*Source) Next(*capture.Packet) error           { return errNotLinux }
func (*Source) Close() error                         { return nil }
func (*Source) CaptureStats() (capture.Stats, error) { return capture.Stats{}, errNotLinux }

// Hook names a place a program is attached (see the Linux build).
type Hook string

// IngressHook: nothing is attached off Linux.
func (*Source) IngressHook() Hook { return "" }

// EgressHook: nothing is attached off Linux.
func (*Source) EgressHook() Hook { return "" }

// Package afpacket is the AF_PACKET capture source: a TPACKET_V3 ring
// (github.com/gopacket/gopacket/afpacket, pure Go) on one interface, with a
// classic BPF filter built here from the watched ports (Filter) so the
// kernel copies only TCP SYNs to watched ports. It works wherever the eBPF
// source cannot (older kernels, no CAP_BPF: CAP_NET_RAW is enough) and
// yields Ethernet frames (capture.LinkEthernet) for pkg/decode.
//
// It owns the socket, the filter, promiscuous mode and the socket
// statistics. It imports gopacket's afpacket and golang.org/x/net/bpf; it
// must not import the decoder, the engine or a logger.
package afpacket

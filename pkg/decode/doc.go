// Package decode turns one captured frame into a fixed-size Syn record when,
// and only when, it is a TCP SYN (SYN set, ACK clear) to a watched port.
//
// It walks the headers by hand over the frame's bytes: Ethernet with
// 802.1Q/802.1ad tags, MPLS and PPPoE sessions, Linux SLL and SLL2, NFLOG,
// BSD NULL/loopback and raw IP; IPv4 with options and IPv6 with extension
// headers; IP-in-IP, IPv6-in-IP and GRE tunnels to a bounded depth. Every read
// is bounds-checked, every loop bounded, nothing is allocated.
//
// It is on the hot path: it imports no logger, no gopacket and nothing from
// the engine. What it could not decode it says through the Result, and the
// caller counts.
package decode

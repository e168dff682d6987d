// Package sources owns what the sensor remembers of each source address:
// the compact per-source table (a source's first and last SYN, its SYN
// count, its direction) in two generations rotated once per lookback, each
// source's reach (distinct destinations and ports, in stages: reach.go) and
// its scanner verdict, the /24 and /48 prefixes, the eviction policy
// that keeps the table bounded under spoofed floods, the list of the
// busiest sources, the home-net direction of a SYN, each source's active
// periods and sleeps (activity.go), the memory of the sources it forgot
// (remember.go), and the encoding of its part of the state file. One Table is one shard's share of the address
// space; the engine owns the shards, the clock and the windows.
//
// Addresses have one type, Addr (IPv4 in its IPv4-mapped IPv6 form), with
// the conversions to and from the decoder's Syn layout and netip.Addr as
// its functions and methods.
//
// It is on the hot path: it imports no logger and allocates nothing per
// SYN once its tables have grown. It must not import the engine, capture
// backends, gopacket, viper or output sinks.
package sources

// Package bpfcap is the eBPF capture source (Linux 5.18 or later): it loads
// bpf/synscope.c through the bindings in package bpf, attaches it to one
// interface (XDP on ingress, falling back to generic XDP and then to TC;
// TCX on egress, falling back to a clsact qdisc and a tc filter made over
// netlink) and reads the SYN records the program writes into a BPF ring
// buffer. Packets reach user space only as those fixed-size records
// (capture.LinkSynRecord), which pkg/decode parses. Timestamps are the
// program's CLOCK_BOOTTIME readings moved to wall clock by an offset
// measured at Open and again every second (clock_linux.go).
//
// Test support shared with afpacket's and cmd/sensor's tests lives in
// internal/captest.
//
// The programs never drop or alter a packet, and nothing stays attached
// after Close or after the process dies: XDP and TCX are bpf_links owned by
// the process and never pinned. (The legacy tc fallback is the exception: a
// tc filter outlives a killed process; see Source.EgressHook.) With
// Config.Promisc the interface is held in promiscuous mode by an AF_PACKET
// socket that receives nothing: promiscuity is a kernel reference held by
// an open socket; if the sensor is killed, the kernel closes the socket and
// the count drops.
//
// It owns attaching, detaching, promiscuous mode, ring reading, the
// kernel-to-wall-clock conversion and the kernel counters. It imports cilium/ebpf and package
// bpf; it must not import the decoder, the engine or a logger (the record
// offsets it needs come from the generated struct).
package bpfcap

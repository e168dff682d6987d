// Package fingerprint names the tool and the stack behind one SYN: the
// scanners that build their packets by hand (ZMap, Masscan, Mirai and its
// kin, Nmap) leave marks in fields a kernel fills otherwise, and kernels
// leave theirs in the initial TTL, the window and the order of the TCP
// options (p0f's idea). Every rule, with where it comes from, is in
// docs/fingerprints.md; the tests hold them to captures of the real tools.
//
// The guesses are made for records (a new source, a scanner), never per
// packet; they allocate nothing. The package imports only decode.
package fingerprint

import "github.com/synscope/synscope/pkg/decode"

// Tool is the program that built a SYN, when it leaves a mark.
type Tool uint8

// Tools, in the order rules are tried (the most specific mark first).
const (
	Unknown Tool = iota
	Mirai        // TCP sequence number = destination address
	Masscan      // IP ID = (destination address ^ destination port ^ sequence) mod 2^16
	ZMap         // IP ID 54321 and window 65535
	Nmap         // raw SYN scan: one MSS option of 1460, window 1024/2048/3072/4096, TTL at most 64
	NumTools
)

var toolNames = [NumTools]string{"unknown", "mirai", "masscan", "zmap", "nmap"}

// String is the tool's name in records.
func (t Tool) String() string { return toolNames[t] }

// Tools lists every tool, Unknown first, for per-tool counts.
func Tools() [NumTools]Tool { return [NumTools]Tool{Unknown, Mirai, Masscan, ZMap, Nmap} }

// TCP option kinds (RFC 793, 1323, 2018).
const (
	optEOL  = 0
	optNOP  = 1
	optMSS  = 2
	optWS   = 3
	optSOK  = 4
	optTS   = 8
	zmapID  = 54321
	zmapWin = 65535
)

// ToolOf names the tool that built s.
func ToolOf(s *decode.Syn) Tool {
	if !s.V6 {
		dst := uint32(s.Dst[0])<<24 | uint32(s.Dst[1])<<16 | uint32(s.Dst[2])<<8 | uint32(s.Dst[3])
		// Mirai's scanner (bot/scanner.c) puts the target's address in
		// the sequence number and recognises the SYN-ACK by it.
		if s.Seq == dst {
			return Mirai
		}
		// Masscan (src/templ-pkt.c, template_set_target) derives the IP
		// ID from the target, the port and its SYN cookie.
		if s.IPID == (dst^uint32(s.DstPort)^s.Seq)&0xffff {
			return Masscan
		}
		// ZMap up to 3.x (src/probe_modules/packet.c, make_ip_header and
		// make_tcp_header): a fixed IP ID and the largest window.
		if s.IPID == zmapID && s.Window == zmapWin {
			return ZMap
		}
	}
	// Nmap's raw SYN scan (tcpip.cc build_tcp_raw, scan_engine_raw.cc):
	// only an MSS option of 1460, a small window of a few fixed sizes, and
	// an initial TTL drawn from 37..58, so at most 64 when it arrives.
	if s.NOpts == 1 && s.Opts[0] == optMSS && s.MSS == 1460 && s.TTL <= 64 {
		switch s.Window {
		case 1024, 2048, 3072, 4096:
			return Nmap
		}
	}
	return Unknown
}

// OS is a guess at the stack that sent a SYN.
type OS uint8

// Stacks.
const (
	OSUnknown OS = iota
	Linux
	Windows
	MacOS
	FreeBSD
	NumOS
)

var osNames = [NumOS]string{"unknown", "linux", "windows", "macos", "freebsd"}

// String is the stack's name in records.
func (o OS) String() string { return osNames[o] }

// Option layouts, in wire order, of the stacks told apart (p0f 3's
// p0f.fp, the "tcp:request" signatures).
var layouts = []struct {
	os   OS
	ittl uint8
	opts []uint8
}{
	{Linux, 64, []uint8{optMSS, optSOK, optTS, optNOP, optWS}},                         // Linux 2.6 and later
	{Linux, 64, []uint8{optMSS, optNOP, optNOP, optSOK, optNOP, optWS}},                // Linux without timestamps
	{Windows, 128, []uint8{optMSS, optNOP, optWS, optNOP, optNOP, optSOK}},             // Windows 7 and later
	{Windows, 128, []uint8{optMSS, optNOP, optNOP, optSOK}},                            // Windows XP
	{Windows, 128, []uint8{optMSS, optNOP, optWS, optSOK, optTS}},                      // Windows 10 and later with timestamps on
	{MacOS, 64, []uint8{optMSS, optNOP, optWS, optNOP, optNOP, optTS, optSOK, optEOL}}, // macOS, iOS (p0f's eol+1: the options end at the first EOL, the byte after it is padding)
	{FreeBSD, 64, []uint8{optMSS, optNOP, optWS, optSOK, optTS}},                       // FreeBSD 9 and later
}

// initialTTL is the usual initial TTL a received TTL came down from: the
// next of 64, 128, 255 (hops rarely number more than 30).
func initialTTL(ttl uint8) uint8 {
	switch {
	case ttl <= 64:
		return 64
	case ttl <= 128:
		return 128
	}
	return 255
}

// OSOf guesses the stack that sent s from its initial TTL and the order
// of its TCP options; a hand-built SYN matches none.
func OSOf(s *decode.Syn) OS {
	ittl := initialTTL(s.TTL)
	opts := s.Opts[:min(int(s.NOpts), len(s.Opts))]
	for _, l := range layouts {
		if l.ittl == ittl && string(l.opts) == string(opts) {
			return l.os
		}
	}
	return OSUnknown
}

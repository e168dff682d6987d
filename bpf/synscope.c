//go:build ignore

// SPDX-License-Identifier: (MIT OR GPL-2.0-only)
//
// synscope's kernel half: one parser, three attach points (XDP ingress, TC
// ingress as a fallback for XDP, TC egress). For every TCP SYN (SYN set, ACK
// clear) to a watched port it writes one fixed-size struct syn_record into a
// BPF ring buffer. Every other packet only bumps a counter.
//
// The program never drops, delays or alters a packet: XDP returns XDP_PASS,
// TC returns TC_ACT_UNSPEC (which TCX calls TCX_NEXT), so programs after this
// one in the chain still run. It never writes packet memory.
//
// The parser mirrors pkg/decode (decode.go) on purpose, down to which header
// lengths are trusted, so the user-space decoder and this program agree field
// by field on every frame both understand; the tests in pkg/capture/bpfcap
// hold them to that. It does not walk tunnels, MPLS or PPPoE (user space
// does): such SYNs are not reported by eBPF capture.

#include "include/uapi.h"
#include "include/bpf_helpers.h"
#include "include/bpf_endian.h"

char __license[] SEC("license") = "Dual MIT/GPL";

// Bounds on loops driven by packet bytes; the same as pkg/decode.
#define MAX_VLAN_TAGS 4
#define MAX_EXT_HEADERS 8
#define MAX_OPT_BYTES 40
#define MAX_OPT_KINDS 12
// Offsets past this are not followed (keeps packet pointers provably small).
#define MAX_OFF 0x3fff

enum direction {
	DIR_INGRESS = 0,
	DIR_EGRESS = 1,
};

// One record per matched SYN. Shared with Go through bpf2go -type; the
// offsets are fixed (no implicit padding) and pkg/decode/record.go reads
// them; a test in pkg/capture/bpfcap checks that the three agree. Multi-byte
// integers are in host byte order (little-endian on every BPF target we
// build); addresses are raw network bytes, IPv4 in the first 4 and zeros
// after.
struct syn_record {
	__u64 ts_ns;        // bpf_ktime_get_boot_ns(): CLOCK_BOOTTIME
	__u8 saddr[16];     // source address
	__u8 daddr[16];     // destination address
	__u16 sport;        // TCP source port
	__u16 dport;        // TCP destination port
	__u32 seq;          // TCP sequence number
	__u32 ip_id;        // IPv4 identification, or IPv6 flow label
	__u32 pkt_len;      // packet length (XDP: frame, TC: skb->len)
	__u16 window;       // TCP window, unscaled
	__u16 mss;          // MSS option value, 0 when absent
	__u16 vlan;         // outermost non-zero 802.1Q VLAN id, 0 untagged
	__u8 ttl;           // IPv4 TTL or IPv6 hop limit
	__u8 wscale;        // window-scale option value, 0xff when absent
	__u8 tcp_flags;     // TCP flags byte
	__u8 ip_version;    // 4 or 6
	__u8 direction;     // enum direction
	__u8 nopts;         // number of option kinds in opts
	__u8 opts[MAX_OPT_KINDS]; // TCP option kinds in wire order
};

// Indexes of the per-CPU counters.
enum counter {
	COUNTER_PACKETS = 0,  // packets the programs saw
	COUNTER_MATCHED,      // SYNs to a watched port
	COUNTER_RING_FULL,    // records lost: ring buffer full
	COUNTER_PARSE_ERRORS, // truncated or malformed headers
	COUNTER_MAX,
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 22); // Go sets the size at load time
} events SEC(".maps");

// One bit per TCP port, set from Go; a map rather than a constant so the
// watched set can change without reloading the program.
struct port_bitmap {
	__u64 bits[1024];
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct port_bitmap);
} watched_ports SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, COUNTER_MAX);
	__type(key, __u32);
	__type(value, __u64);
} counters SEC(".maps");

// Parse outcomes. Only PARSE_ERROR is counted; PARSE_SKIP covers every frame
// that is fine but not of interest (not IP, not TCP, not a SYN, other port,
// non-first fragment).
enum parse_result {
	PARSE_SKIP = 0,
	PARSE_ERROR,
	PARSE_MATCH,
};

static __always_inline void count(__u32 idx)
{
	__u64 *v = bpf_map_lookup_elem(&counters, &idx);
	if (v)
		*v += 1; // per-CPU: no other writer
}

static __always_inline int port_watched(__u16 port)
{
	__u32 zero = 0;
	struct port_bitmap *pb = bpf_map_lookup_elem(&watched_ports, &zero);
	if (!pb)
		return 0;
	return (pb->bits[(port >> 6) & 1023] >> (port & 63)) & 1;
}

// Where the headers are, as offsets from the start of the frame. The end of
// the frame is data_end (checked on pointers, as the verifier wants); limit
// is where the IP header says the packet ends, NO_LIMIT when it does not say.
// The decoder's end, min(frame, IP length), is both checks together.
struct layout {
	__u32 l3;    // IP header
	__u32 l4;    // TCP header
	__u32 limit; // end of the IP packet by its length field
	__u16 vlan;
	__u8 v6;
};

#define NO_LIMIT 0xffffffffu

static __always_inline __u16 load_be16(const __u8 *p)
{
	return ((__u16)p[0] << 8) | p[1];
}

static __always_inline __u32 load_be32(const __u8 *p)
{
	return ((__u32)p[0] << 24) | ((__u32)p[1] << 16) | ((__u32)p[2] << 8) | p[3];
}

// tcp checks the TCP header at lo->l4: flags first, then the port, so the
// common non-SYN packet costs a few loads.
static __always_inline int tcp(void *data, void *data_end, struct layout *lo)
{
	__u32 l4 = lo->l4;
	if (l4 > MAX_OFF)
		return PARSE_ERROR;
	__u8 *th = data + l4;
	if (l4 + 14 > lo->limit || (void *)(th + 14) > data_end)
		return PARSE_ERROR;
	if ((th[13] & 0x12) != 0x02) // SYN set, ACK clear
		return PARSE_SKIP;
	if (l4 + 20 > lo->limit || (void *)(th + 20) > data_end)
		return PARSE_ERROR;
	if (!port_watched(load_be16(th + 2)))
		return PARSE_SKIP;
	if ((th[12] >> 4) < 5)
		return PARSE_ERROR;
	return PARSE_MATCH;
}

static __always_inline int ipv4(void *data, void *data_end, struct layout *lo)
{
	__u32 l3 = lo->l3;
	if (l3 > MAX_OFF)
		return PARSE_ERROR;
	__u8 *ip = data + l3;
	if ((void *)(ip + 20) > data_end)
		return PARSE_ERROR;
	if ((ip[0] >> 4) != 4)
		return PARSE_ERROR;
	__u32 ihl = (ip[0] & 0x0f) * 4;
	if (ihl < 20)
		return PARSE_ERROR;
	if ((void *)(ip + ihl) > data_end)
		return PARSE_ERROR;
	lo->limit = NO_LIMIT;
	__u32 total = load_be16(ip + 2);
	// A total length of 0 is what TSO packets look like on the sending
	// host: trust the frame length then.
	if (total != 0) {
		if (total < ihl)
			return PARSE_ERROR;
		lo->limit = l3 + total;
	}
	if (load_be16(ip + 6) & 0x1fff) // non-first fragment
		return PARSE_SKIP;
	if (ip[9] != 6)
		return PARSE_SKIP;
	lo->l4 = l3 + ihl;
	return tcp(data, data_end, lo);
}

static __always_inline int ipv6(void *data, void *data_end, struct layout *lo)
{
	__u32 l3 = lo->l3;
	if (l3 > MAX_OFF)
		return PARSE_ERROR;
	__u8 *ip = data + l3;
	if ((void *)(ip + 40) > data_end)
		return PARSE_ERROR;
	if ((ip[0] >> 4) != 6)
		return PARSE_ERROR;
	__u32 limit = NO_LIMIT;
	__u32 plen = load_be16(ip + 4);
	if (plen != 0) // 0: jumbogram or TSO
		limit = l3 + 40 + plen;
	lo->limit = limit;
	lo->v6 = 1;

	__u8 next = ip[6];
	__u32 off = l3 + 40;
#pragma clang loop unroll(disable)
	for (int i = 0; i <= MAX_EXT_HEADERS; i++) {
		__u32 hlen;
		if (off > MAX_OFF)
			return PARSE_ERROR;
		__u8 *eh = data + off;
		switch (next) {
		case 0:   // hop-by-hop
		case 43:  // routing
		case 60:  // destination options
		case 135: // mobility
		case 139: // HIP
		case 140: // shim6
			if (off + 8 > limit || (void *)(eh + 8) > data_end)
				return PARSE_ERROR;
			hlen = ((__u32)eh[1] + 1) * 8;
			break;
		case 44: // fragment
			if (off + 8 > limit || (void *)(eh + 8) > data_end)
				return PARSE_ERROR;
			if (load_be16(eh + 2) & 0xfff8)
				return PARSE_SKIP;
			hlen = 8;
			break;
		case 51: // authentication header
			if (off + 8 > limit || (void *)(eh + 8) > data_end)
				return PARSE_ERROR;
			hlen = ((__u32)eh[1] + 2) * 4;
			break;
		case 6:
			lo->l4 = off;
			return tcp(data, data_end, lo);
		default:
			return PARSE_SKIP;
		}
		if (i == MAX_EXT_HEADERS)
			return PARSE_ERROR;
		next = eh[0];
		off += hlen;
		if (off > limit || off > MAX_OFF || (void *)(data + off) > data_end)
			return PARSE_ERROR;
	}
	return PARSE_ERROR;
}

// parse walks Ethernet and up to MAX_VLAN_TAGS tags to the IP header.
// hw_vlan is a tag the NIC or stack already took out of the frame (TC's
// skb->vlan_tci); it is the outermost.
static __always_inline int parse(void *data, void *data_end, struct layout *lo, __u16 hw_vlan)
{
	__u8 *eth = data;
	if ((void *)(eth + 14) > data_end)
		return PARSE_ERROR;
	__u16 et = load_be16(eth + 12);
	__u16 vlan = hw_vlan;
	__u32 off = 14;
#pragma clang loop unroll(disable)
	for (int i = 0; i <= MAX_VLAN_TAGS; i++) {
		if (et != 0x8100 && et != 0x88a8 && et != 0x9100)
			break;
		if (i == MAX_VLAN_TAGS)
			return PARSE_ERROR;
		if (off > MAX_OFF)
			return PARSE_ERROR;
		__u8 *tag = data + off;
		if ((void *)(tag + 4) > data_end)
			return PARSE_ERROR;
		if (vlan == 0)
			vlan = load_be16(tag) & 0x0fff;
		et = load_be16(tag + 2);
		off += 4;
	}
	lo->l3 = off;
	lo->vlan = vlan;
	if (et == 0x0800)
		return ipv4(data, data_end, lo);
	if (et == 0x86dd)
		return ipv6(data, data_end, lo);
	return PARSE_SKIP;
}

// options records the option kinds and the MSS and window-scale values, as
// pkg/decode's parseOptions does: a truncated or lying option ends the walk
// and what was read stays.
static __always_inline void options(void *data, void *data_end, __u32 off, __u32 end, struct syn_record *r)
{
	__u32 n = 0;
#pragma clang loop unroll(disable)
	for (int i = 0; i < MAX_OPT_BYTES; i++) {
		if (off >= end || off > MAX_OFF)
			break;
		__u8 *o = data + off;
		if ((void *)(o + 1) > data_end)
			break;
		__u8 kind = o[0];
		if (n < MAX_OPT_KINDS) {
			r->opts[n] = kind;
			n++;
		}
		if (kind == 0)
			break;
		if (kind == 1) {
			off++;
			continue;
		}
		if (off + 1 >= end || (void *)(o + 2) > data_end)
			break;
		__u32 ln = o[1];
		if (ln < 2 || off + ln > end)
			break;
		if (kind == 2 && ln == 4) {
			if ((void *)(o + 4) > data_end)
				break;
			r->mss = load_be16(o + 2);
		} else if (kind == 3 && ln == 3) {
			if ((void *)(o + 3) > data_end)
				break;
			r->wscale = o[2];
		}
		off += ln;
	}
	r->nopts = n;
}

// emit writes the record of a matched SYN; lo says where the headers are.
static __always_inline void emit(void *data, void *data_end, struct layout *lo, __u32 pkt_len, __u8 dir)
{
	__u32 l3 = lo->l3, l4 = lo->l4;
	if (l3 > MAX_OFF || l4 > MAX_OFF)
		return;
	__u8 *ip = data + l3;
	__u8 *th = data + l4;
	if ((void *)(th + 20) > data_end)
		return;

	struct syn_record *r = bpf_ringbuf_reserve(&events, sizeof(*r), 0);
	if (!r) {
		count(COUNTER_RING_FULL);
		return;
	}
	__builtin_memset(r, 0, sizeof(*r));
	r->ts_ns = bpf_ktime_get_boot_ns();
	if (lo->v6) {
		if ((void *)(ip + 40) > data_end) {
			bpf_ringbuf_discard(r, 0);
			return;
		}
		__builtin_memcpy(r->saddr, ip + 8, 16);
		__builtin_memcpy(r->daddr, ip + 24, 16);
		r->ttl = ip[7];
		r->ip_id = load_be32(ip) & 0x000fffff;
		r->ip_version = 6;
	} else {
		if ((void *)(ip + 20) > data_end) {
			bpf_ringbuf_discard(r, 0);
			return;
		}
		__builtin_memcpy(r->saddr, ip + 12, 4);
		__builtin_memcpy(r->daddr, ip + 16, 4);
		r->ttl = ip[8];
		r->ip_id = load_be16(ip + 4);
		r->ip_version = 4;
	}
	r->sport = load_be16(th);
	r->dport = load_be16(th + 2);
	r->seq = load_be32(th + 4);
	r->tcp_flags = th[13];
	r->window = load_be16(th + 14);
	r->vlan = lo->vlan;
	r->pkt_len = pkt_len;
	r->direction = dir;
	r->wscale = 0xff;

	__u32 doff = (th[12] >> 4) * 4;
	__u32 end = l4 + doff;
	if (end > lo->limit)
		end = lo->limit;
	options(data, data_end, l4 + 20, end, r);
	bpf_ringbuf_submit(r, 0);
}

// handle is the whole per-packet path; the result says whether to retry
// with more of the packet in the linear area (TC only).
static __always_inline int handle(void *data, void *data_end, __u32 pkt_len, __u16 hw_vlan, __u8 dir, int final)
{
	struct layout lo = {};
	int res = parse(data, data_end, &lo, hw_vlan);
	if (res == PARSE_ERROR && !final)
		return res;
	switch (res) {
	case PARSE_MATCH:
		count(COUNTER_MATCHED);
		emit(data, data_end, &lo, pkt_len, dir);
		break;
	case PARSE_ERROR:
		count(COUNTER_PARSE_ERRORS);
		break;
	}
	return res;
}

SEC("xdp")
int xdp_ingress(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	count(COUNTER_PACKETS);
	handle(data, data_end, bpf_xdp_get_buff_len(ctx), 0, DIR_INGRESS, 1);
	return XDP_PASS;
}

// Headers a SYN needs at most in the linear area: Ethernet, tags, IPv6 with
// a few extension headers, TCP with options.
#define PULL_LEN 256

static __always_inline int tc(struct __sk_buff *skb, __u8 dir)
{
	count(COUNTER_PACKETS);
	__u16 hw_vlan = skb->vlan_present ? (skb->vlan_tci & 0x0fff) : 0;
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	__u32 want = skb->len < PULL_LEN ? skb->len : PULL_LEN;
	// Final unless the headers may continue in paged data.
	int final = (void *)(data + want) <= data_end;
	if (handle(data, data_end, skb->len, hw_vlan, dir, final) != PARSE_ERROR || final)
		return TC_ACT_UNSPEC;
	// The headers end in paged data. Pulling them into the linear area
	// changes no byte of the packet; then parse again.
	if (bpf_skb_pull_data(skb, want) < 0) {
		count(COUNTER_PARSE_ERRORS);
		return TC_ACT_UNSPEC;
	}
	data = (void *)(long)skb->data;
	data_end = (void *)(long)skb->data_end;
	handle(data, data_end, skb->len, hw_vlan, dir, 1);
	return TC_ACT_UNSPEC;
}

SEC("tc")
int tc_ingress(struct __sk_buff *skb)
{
	return tc(skb, DIR_INGRESS);
}

SEC("tc")
int tc_egress(struct __sk_buff *skb)
{
	return tc(skb, DIR_EGRESS);
}

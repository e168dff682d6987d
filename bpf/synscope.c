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

char __license[] SEC("license") = "Dual MIT/GPL";

// Bounds on loops driven by packet bytes; the same as pkg/decode.
#define MAX_VLAN_TAGS 4
#define MAX_EXT_HEADERS 8
#define MAX_OPT_BYTES 40
#define MAX_OPT_KINDS 12

// Waking the reader for every record costs an interrupt in the kernel and
// a system call or two in the sensor per SYN. Records are submitted
// without a wakeup; the reader is woken once this much is waiting, and
// otherwise finds the records when its poll interval ends (it reads the
// ring after every timeout).
#define WAKEUP_BYTES (64 * 1024)
#define RB_NO_WAKEUP 1
#define RB_FORCE_WAKEUP 2
#define RB_AVAIL_DATA 0
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
	// Not passed to the kernel (ring buffers have no value type); it puts
	// the record's layout in the BTF, where bpf2go finds it.
	__type(value, struct syn_record);
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

// Parse outcomes. PARSE_ERROR and PARSE_SHORT are counted as parse errors;
// PARSE_SKIP covers every frame that is fine but not of interest (not IP,
// not TCP, not a SYN, other port, non-first fragment). PARSE_SHORT: the
// headers run past the bytes at hand (data_end), which TC can pull in from
// paged data; PARSE_ERROR: they are malformed or past the packet's own
// lengths, which no pull mends.
enum parse_result {
	PARSE_SKIP = 0,
	PARSE_ERROR,
	PARSE_MATCH,
	PARSE_SHORT,
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

#define NO_LIMIT 0xffffffffu

static __always_inline __u16 load_be16(const __u8 *p)
{
	return ((__u16)p[0] << 8) | p[1];
}

static __always_inline __u32 load_be32(const __u8 *p)
{
	return ((__u32)p[0] << 24) | ((__u32)p[1] << 16) | ((__u32)p[2] << 8) | p[3];
}

// Offsets below are from the start of the frame. The end of the frame is
// data_end (checked on pointers, as the verifier wants); limit is where the
// IP header says the packet ends, NO_LIMIT when it does not say. The
// decoder's end, min(frame, IP length), is both checks together.
//
// The walk is split into global (noinline) functions at the Ethernet/IP
// and IP/TCP boundaries: the verifier checks a global function once, with
// unknown arguments, instead of once for every path that reaches it (tag
// counts x IP version x extension headers), which would be far beyond its
// budget of a million instructions.

// TCP option bytes copied out of the packet, and what options() makes of
// them. The buffer is larger than the 40 option bytes TCP allows so that
// an index masked with OPT_MASK is always in it.
#define OPT_BUF 64
#define OPT_MASK (OPT_BUF - 1)

struct opt_walk {
	__u8 buf[OPT_BUF];
	__u32 len;                 // option bytes in buf
	__u8 kinds[MAX_OPT_KINDS]; // out: kinds in wire order
	__u8 nkinds;               // out
	__u8 wscale;               // out, 0xff when absent
	__u16 mss;                 // out, 0 when absent
};

// options records the option kinds and the MSS and window-scale values, as
// pkg/decode's parseOptions does: a truncated or lying option ends the walk
// and what was read stays.
__attribute__((noinline)) int options(struct opt_walk *w)
{
	if (!w)
		return 0;
	__u32 len = w->len;
	if (len > MAX_OPT_BYTES)
		len = MAX_OPT_BYTES;
	__u32 off = 0, n = 0;
	w->wscale = 0xff;
	w->mss = 0;
#pragma clang loop unroll(disable)
	while (off < len) {
		// The compiler knows off < 40 and would drop a mask; the verifier
		// does not, so the mask is made opaque to the compiler.
		__u32 i = off;
		barrier_var(i);
		i &= OPT_MASK;
		__u8 kind = w->buf[i];
		if (n < MAX_OPT_KINDS) {
			w->kinds[n] = kind;
			n++;
		}
		if (kind == 0)
			break;
		if (kind == 1) {
			off++;
			continue;
		}
		if (off + 1 >= len)
			break;
		__u32 ln = w->buf[(i + 1) & OPT_MASK];
		if (ln < 2 || off + ln > len)
			break;
		if (kind == 2 && ln == 4)
			w->mss = ((__u16)w->buf[(i + 2) & OPT_MASK] << 8) | w->buf[(i + 3) & OPT_MASK];
		else if (kind == 3 && ln == 3)
			w->wscale = w->buf[(i + 2) & OPT_MASK];
		off += ln;
	}
	w->nkinds = n;
	return 0;
}

// tcp checks the TCP header at l4, flags first and then the port, so the
// common non-SYN packet costs a few loads; for a match it writes the
// record. Every header field is read into a record on the stack before the
// helper calls that follow (option copy, ring reserve).
static __always_inline int tcp(void *ctx, int is_xdp, void *data, void *data_end, __u32 l3, __u32 l4, __u32 limit,
			       __u32 v6, __u32 vlan, __u32 pkt_len, __u32 dir)
{
	// barrier_var: the pointers must be built from the values just
	// checked, not from copies the compiler kept from before the check.
	barrier_var(l3);
	barrier_var(l4);
	if (l3 > MAX_OFF || l4 > MAX_OFF)
		return PARSE_ERROR;
	__u8 *ip = data + l3;
	__u8 *th = data + l4;
	if (l4 + 14 > limit)
		return PARSE_ERROR;
	if ((void *)(th + 14) > data_end)
		return PARSE_SHORT;
	if ((th[13] & 0x12) != 0x02) // SYN set, ACK clear
		return PARSE_SKIP;
	if (l4 + 20 > limit)
		return PARSE_ERROR;
	if ((void *)(th + 20) > data_end)
		return PARSE_SHORT;
	if (!port_watched(load_be16(th + 2)))
		return PARSE_SKIP;
	// The look-up was a helper call: packet pointers kept across it lose
	// their checked range, so they are built and checked again.
	barrier_var(l3);
	barrier_var(l4);
	if (l3 > MAX_OFF || l4 > MAX_OFF)
		return PARSE_ERROR;
	ip = data + l3;
	th = data + l4;
	if ((void *)(th + 20) > data_end)
		return PARSE_SHORT;

	struct syn_record rec = {};
	if (v6) {
		if ((void *)(ip + 40) > data_end)
			return PARSE_SHORT;
		__builtin_memcpy(rec.saddr, ip + 8, 16);
		__builtin_memcpy(rec.daddr, ip + 24, 16);
		rec.ttl = ip[7];
		rec.ip_id = load_be32(ip) & 0x000fffff;
		rec.ip_version = 6;
	} else {
		if ((void *)(ip + 20) > data_end)
			return PARSE_SHORT;
		__builtin_memcpy(rec.saddr, ip + 12, 4);
		__builtin_memcpy(rec.daddr, ip + 16, 4);
		rec.ttl = ip[8];
		rec.ip_id = load_be16(ip + 4);
		rec.ip_version = 4;
	}
	rec.sport = load_be16(th);
	rec.dport = load_be16(th + 2);
	rec.seq = load_be32(th + 4);
	rec.tcp_flags = th[13];
	rec.window = load_be16(th + 14);
	rec.vlan = vlan;
	rec.pkt_len = pkt_len;
	// The length on the wire: a tag the stack moved into the skb's
	// metadata is not in skb->len (66 bytes under TC for a 70-byte tagged
	// frame XDP counted whole: a review). pkt_len itself stays the
	// skb's: it bounds the bytes read below.
	if (!is_xdp && ((struct __sk_buff *)ctx)->vlan_present)
		rec.pkt_len += 4;
	rec.direction = dir;
	__u32 doff = (th[12] >> 4) * 4;
	if (doff < 20)
		return PARSE_ERROR;

	// Option bytes: up to the data offset, the IP length and the frame.
	struct opt_walk w = {};
	__u32 end = l4 + doff;
	if (end > limit)
		end = limit;
	if (end > pkt_len)
		end = pkt_len;
	__u32 optlen = end > l4 + 20 ? end - (l4 + 20) : 0;
	if (optlen > MAX_OPT_BYTES)
		optlen = MAX_OPT_BYTES;
	if (optlen > 0) {
		long err = is_xdp ? bpf_xdp_load_bytes(ctx, l4 + 20, w.buf, optlen)
				  : bpf_skb_load_bytes(ctx, l4 + 20, w.buf, optlen);
		if (err < 0)
			optlen = 0;
	}
	w.len = optlen;
	options(&w);
	rec.mss = w.mss;
	rec.wscale = w.wscale;
	rec.nopts = w.nkinds;
	__builtin_memcpy(rec.opts, w.kinds, MAX_OPT_KINDS);

	rec.ts_ns = bpf_ktime_get_boot_ns();
	struct syn_record *r = bpf_ringbuf_reserve(&events, sizeof(*r), 0);
	if (!r) {
		count(COUNTER_RING_FULL);
		return PARSE_MATCH;
	}
	__builtin_memcpy(r, &rec, sizeof(rec));
	__u64 waiting = bpf_ringbuf_query(&events, RB_AVAIL_DATA);
	bpf_ringbuf_submit(r, waiting + sizeof(rec) >= WAKEUP_BYTES ? RB_FORCE_WAKEUP : RB_NO_WAKEUP);
	return PARSE_MATCH;
}

// ip walks an IPv4 or IPv6 header at l3 (et is the EtherType that
// announced it) to the TCP header, then hands over to tcp.
static __always_inline int ip(void *ctx, int is_xdp, void *data, void *data_end, __u32 l3, __u32 et, __u32 vlan,
			      __u32 pkt_len, __u32 dir)
{
	barrier_var(l3);
	if (l3 > MAX_OFF)
		return PARSE_ERROR;
	__u8 *iph = data + l3;
	if (et == 0x0800) {
		if ((void *)(iph + 20) > data_end)
			return PARSE_SHORT;
		if ((iph[0] >> 4) != 4)
			return PARSE_ERROR;
		__u32 ihl = (iph[0] & 0x0f) * 4;
		if (ihl < 20)
			return PARSE_ERROR;
		if ((void *)(iph + ihl) > data_end)
			return PARSE_SHORT;
		__u32 limit = NO_LIMIT;
		__u32 total = load_be16(iph + 2);
		// A total length of 0 is what TSO packets look like on the
		// sending host: trust the frame length then.
		if (total != 0) {
			if (total < ihl)
				return PARSE_ERROR;
			limit = l3 + total;
		}
		if (load_be16(iph + 6) & 0x1fff) // non-first fragment
			return PARSE_SKIP;
		if (iph[9] != 6)
			return PARSE_SKIP;
		return tcp(ctx, is_xdp, data, data_end, l3, l3 + ihl, limit, 0, vlan, pkt_len, dir);
	}

	if ((void *)(iph + 40) > data_end)
		return PARSE_SHORT;
	if ((iph[0] >> 4) != 6)
		return PARSE_ERROR;
	__u32 limit = NO_LIMIT;
	__u32 plen = load_be16(iph + 4);
	if (plen != 0) // 0: jumbogram or TSO
		limit = l3 + 40 + plen;
	__u8 next = iph[6];
	__u32 off = l3 + 40;
	// Find the TCP header first; tcp is reached from one place only.
#pragma clang loop unroll(disable)
	for (int i = 0;; i++) {
		__u32 hlen;
		if (next == 6)
			break;
		barrier_var(off);
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
			if (off + 8 > limit)
				return PARSE_ERROR;
			if ((void *)(eh + 8) > data_end)
				return PARSE_SHORT;
			hlen = ((__u32)eh[1] + 1) * 8;
			break;
		case 44: // fragment
			if (off + 8 > limit)
				return PARSE_ERROR;
			if ((void *)(eh + 8) > data_end)
				return PARSE_SHORT;
			if (load_be16(eh + 2) & 0xfff8)
				return PARSE_SKIP;
			hlen = 8;
			break;
		case 51: // authentication header
			if (off + 8 > limit)
				return PARSE_ERROR;
			if ((void *)(eh + 8) > data_end)
				return PARSE_SHORT;
			hlen = ((__u32)eh[1] + 2) * 4;
			break;
		default:
			return PARSE_SKIP;
		}
		if (i >= MAX_EXT_HEADERS)
			return PARSE_ERROR;
		next = eh[0];
		off += hlen;
		if (off > limit || off > MAX_OFF)
			return PARSE_ERROR;
		if ((void *)(data + off) > data_end)
			return PARSE_SHORT;
	}
	return tcp(ctx, is_xdp, data, data_end, l3, off, limit, 1, vlan, pkt_len, dir);
}

// One global function per context type: its arguments are scalars, so the
// verifier checks it once. (Five arguments at most: vlan and direction
// share one, vlan in the low 16 bits.)
__attribute__((noinline)) int ip_xdp(struct xdp_md *ctx, __u32 l3, __u32 et, __u32 vlan_dir)
{
	if (!ctx)
		return PARSE_SKIP;
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	return ip(ctx, 1, data, data_end, l3, et, vlan_dir & 0xffff, bpf_xdp_get_buff_len(ctx), vlan_dir >> 16);
}

__attribute__((noinline)) int ip_tc(struct __sk_buff *skb, __u32 l3, __u32 et, __u32 vlan_dir)
{
	if (!skb)
		return PARSE_SKIP;
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	return ip(skb, 0, data, data_end, l3, et, vlan_dir & 0xffff, skb->len, vlan_dir >> 16);
}

// ether walks Ethernet and up to MAX_VLAN_TAGS tags to the IP header.
// hw_tag is a tag the NIC or stack already took out of the frame (TC's
// skb->vlan_tci, HW_TAG set when there is one): it is the outermost and
// counts against the limit, as it would in the frame. On PARSE_MATCH (here:
// "go on") *l3, *et and *vlan say what comes next.
#define HW_TAG 0x10000

static __always_inline int ether(void *data, void *data_end, __u32 hw_tag, __u32 *l3, __u32 *et_out, __u32 *vlan_out)
{
	__u8 *eth = data;
	if ((void *)(eth + 14) > data_end)
		return PARSE_SHORT;
	__u16 et = load_be16(eth + 12);
	__u16 vlan = hw_tag & 0x0fff;
	int max_tags = hw_tag & HW_TAG ? MAX_VLAN_TAGS - 1 : MAX_VLAN_TAGS;
	__u32 off = 14;
#pragma clang loop unroll(disable)
	for (int i = 0; i <= MAX_VLAN_TAGS; i++) {
		if (et != 0x8100 && et != 0x88a8 && et != 0x9100)
			break;
		if (i >= max_tags)
			return PARSE_ERROR;
		__u8 *tag = data + off;
		if ((void *)(tag + 4) > data_end)
			return PARSE_SHORT;
		if (vlan == 0)
			vlan = load_be16(tag) & 0x0fff;
		et = load_be16(tag + 2);
		off += 4;
	}
	if (et != 0x0800 && et != 0x86dd)
		return PARSE_SKIP;
	*l3 = off;
	*et_out = et;
	*vlan_out = vlan;
	return PARSE_MATCH;
}

// count_result keeps the per-CPU counters of one parse.
static __always_inline void count_result(int res)
{
	if (res == PARSE_MATCH)
		count(COUNTER_MATCHED);
	else if (res == PARSE_ERROR || res == PARSE_SHORT)
		count(COUNTER_PARSE_ERRORS);
}

/* xdp.frags: the program takes multi-buffer frames (it reads past the
 * first buffer only through bpf_xdp_load_bytes), so attaching it leaves
 * the interface's MTU free: declared "xdp", a veth with it attached
 * refused an MTU of 9000, and a jumbo-MTU link got generic XDP only (a
 * review). Multi-buffer XDP came with bpf_xdp_load_bytes (5.18), which the
 * program needed already. */
SEC("xdp.frags")
int xdp_ingress(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u32 l3 = 0, et = 0, vlan = 0;
	count(COUNTER_PACKETS);
	int res = ether(data, data_end, 0, &l3, &et, &vlan);
	if (res == PARSE_MATCH)
		res = ip_xdp(ctx, l3, et, vlan | DIR_INGRESS << 16);
	count_result(res);
	return XDP_PASS;
}

// Headers a SYN needs in the linear area: Ethernet, tags, IPv6 with a few
// extension headers, TCP with options, within PULL_LEN; the parser reads up
// to MAX_OFF plus a TCP header with options (MAX_PULL), which a SYN padded
// with extension headers can need (a NIC that splits headers into 256
// bytes, or a packet socket's large frames, leave the rest paged).
#define PULL_LEN 256
#define MAX_PULL (MAX_OFF + 60)

static __always_inline int tc(struct __sk_buff *skb, __u32 dir)
{
	count(COUNTER_PACKETS);
	__u32 hw_tag = skb->vlan_present ? HW_TAG | (skb->vlan_tci & 0x0fff) : 0;
	__u32 len = skb->len;
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	__u32 want = len < PULL_LEN ? len : PULL_LEN;
	__u32 l3 = 0, et = 0, vlan = 0;
	int res = ether(data, data_end, hw_tag, &l3, &et, &vlan);
	if (res == PARSE_MATCH)
		res = ip_tc(skb, l3, et, vlan | dir << 16);
	// Short of the headers with part of the packet paged: whatever the
	// linear area holds (a NIC that splits headers into 256 bytes, with a
	// SYN padded by extension headers past them, was not pulled: a
	// review).
	if (res == PARSE_SHORT && (__u32)(data_end - data) < len) {
		// The headers go on in paged data. Pulling them into the linear
		// area changes no byte of the packet; then parse again: PULL_LEN
		// first, and all the parser may read when that was not enough.
		if (bpf_skb_pull_data(skb, want) == 0) {
			data = (void *)(long)skb->data;
			data_end = (void *)(long)skb->data_end;
			res = ether(data, data_end, hw_tag, &l3, &et, &vlan);
			if (res == PARSE_MATCH)
				res = ip_tc(skb, l3, et, vlan | dir << 16);
		}
		__u32 more = len < MAX_PULL ? len : MAX_PULL;
		if (res == PARSE_SHORT && more > want && bpf_skb_pull_data(skb, more) == 0) {
			data = (void *)(long)skb->data;
			data_end = (void *)(long)skb->data_end;
			res = ether(data, data_end, hw_tag, &l3, &et, &vlan);
			if (res == PARSE_MATCH)
				res = ip_tc(skb, l3, et, vlan | dir << 16);
		}
	}
	count_result(res);
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

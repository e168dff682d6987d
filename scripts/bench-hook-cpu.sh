#!/usr/bin/env bash
# The kernel CPU each capture backend spends per *background* packet (frames
# that are not SYNs to a watched port), attributed by perf: a background-only
# capture is replayed with tcpreplay into a veth pair between two network
# namespaces while `perf record -a -g` samples both CPUs; the CPU time under
# the capture's hook (the sensor's eBPF program for eBPF, tpacket_rcv with
# its classic BPF filter for AF_PACKET) is divided by the packets replayed.
# The sensor process itself is measured too (utime+stime from /proc): a
# background packet never reaches it with either backend.
#
#   sudo scripts/bench-hook-cpu.sh            # 200k packets/s, eBPF (TC, XDP) and AF_PACKET
#   RATE=100000 sudo scripts/bench-hook-cpu.sh
#
# Needs root, perf, tcpreplay/tcprewrite, jq. Sends only into the namespaces it
# makes (198.18.0.0/24), bounded by the capture's length.
set -euo pipefail
cd "$(dirname "$0")/.."
RATE="${RATE:-200000}"
FREQ="${FREQ:-4999}"
die() { echo "bench-hook-cpu: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "needs root (namespaces, veth, BPF, perf -a)"
for t in perf tcpreplay tcprewrite jq ip; do command -v "$t" >/dev/null || die "needs $t"; done

mkdir -p bin testdata/bench
CGO_ENABLED=0 go build -o bin/sensor ./cmd/sensor
CGO_ENABLED=0 go build -o bin/pcapgen ./cmd/pcapgen
SCAN_MAC=02:53:59:4e:00:01
SENS_MAC=02:53:59:4e:00:02
cap=testdata/bench/background-1h.pcap
if [ ! -s "$cap" ]; then
	# The bench preset's background, no scanning population: SYNs to other
	# ports, SYN-ACKs, data, RSTs, UDP, ICMP, ARP, fragments, VLANs.
	bin/pcapgen -scenario bench -model none -seed 3 -duration 1h -background 300 -snaplen 128 -o "${cap%.pcap}.raw.pcap" -q
	tcprewrite --enet-dmac="$SENS_MAC" --enet-smac="$SCAN_MAC" -i "${cap%.pcap}.raw.pcap" -o "$cap" 2>/dev/null
	rm -f "${cap%.pcap}.raw.pcap"
fi
packets=$(bin/sensor -r "$cap" --log-level error | jq -r 'select(.event_type=="stats") | .packets')
matched=$(bin/sensor -r "$cap" --log-level error | jq -r 'select(.event_type=="stats") | .syn_matched')
[ "$matched" = 0 ] || die "$cap holds $matched SYNs to 445: not background only"

id=$$
NS_SCAN=synscope-hk-scan-$id
NS_SENS=synscope-hk-sens-$id
IF_SCAN=hka$id
IF_SENS=hkb$id
tmp=$(mktemp -d /tmp/bench-hook-cpu.XXXXXX)
SPID=""
cleanup() {
	[ -n "$SPID" ] && kill -KILL "$SPID" 2>/dev/null || true
	ip netns del "$NS_SCAN" 2>/dev/null || true
	ip netns del "$NS_SENS" 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT
ip netns add "$NS_SCAN"
ip netns add "$NS_SENS"
ip link add "$IF_SCAN" netns "$NS_SCAN" address "$SCAN_MAC" type veth peer name "$IF_SENS" netns "$NS_SENS" address "$SENS_MAC"
ip -n "$NS_SCAN" addr add 198.18.0.1/24 dev "$IF_SCAN"
ip -n "$NS_SENS" addr add 198.18.0.2/24 dev "$IF_SENS"
for ns in "$NS_SCAN" "$NS_SENS"; do ip -n "$ns" link set lo up; done
ip -n "$NS_SCAN" link set "$IF_SCAN" up
ip -n "$NS_SENS" link set "$IF_SENS" up

ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)
dur=$(awk "BEGIN { print int($packets / $RATE) + 3 }")

echo "capture: $cap, $packets background packets (0 SYNs to 445), replayed at $RATE packets/s; perf -a -F $FREQ"
printf '%-10s %-34s %10s %12s %14s %12s\n' backend "hook (perf symbol, with children)" "samples %" "hook ns/pkt" "sensor ns/pkt" "drops"
for backend in ebpf-tc ebpf-xdp afpacket; do
	case $backend in
	ebpf-tc) args=(--capture ebpf --ingress-hook tc --egress=false); sym='bpf_prog_[0-9a-f]*_tc_ingress' ;;
	ebpf-xdp) args=(--capture ebpf --ingress-hook xdp --egress=false); sym='bpf_prog_[0-9a-f]*_xdp_ingress' ;;
	afpacket) args=(--capture afpacket); sym='tpacket_rcv' ;;
	esac
	ip netns exec "$NS_SENS" taskset -c 1 bin/sensor -i "$IF_SENS" "${args[@]}" --user "" -o "$tmp/$backend.jsonl" \
		--log-level warn --stats-interval 1s --growth=false &
	SPID=$!
	sleep 2
	t0=$(ticks "$SPID")
	perf record -a -F "$FREQ" -g -o "$tmp/$backend.perf" -- sleep "$dur" >/dev/null 2>&1 &
	PP=$!
	sleep 0.5
	timeout $((dur + 30)) ip netns exec "$NS_SCAN" taskset -c 0 tcpreplay -i "$IF_SCAN" -K --no-flow-stats --pps "$RATE" "$cap" >"$tmp/rep" 2>&1
	wait "$PP"
	t1=$(ticks "$SPID")
	kill -INT "$SPID"
	wait "$SPID" || true
	SPID=""
	total=$(perf report -i "$tmp/$backend.perf" --stdio 2>/dev/null | awk '/^# Event count/ && !n++ {print $NF}' || true)
	pct=$(perf report -i "$tmp/$backend.perf" --children --sort sym --stdio 2>/dev/null |
		awk -v re="$sym" '$0 ~ re && $1 ~ /%$/ && !n++ { sub("%", "", $1); print $1 }' || true)
	pct=${pct:-0}
	hook=$(awk "BEGIN { printf \"%.1f\", $pct / 100 * $total / $packets }")
	sens=$(awk "BEGIN { printf \"%.1f\", ($t1 - $t0) / $hz * 1e9 / $packets }")
	drops=$(jq -r 'select(.event_type=="stats" and .final) | "\(.drops.kernel)/\(.drops.ring_full)"' "$tmp/$backend.jsonl")
	printf '%-10s %-34s %10s %12s %14s %12s\n' "$backend" "$sym" "$pct" "$hook" "$sens" "$drops"
done
echo "(hook ns/pkt: the sampled CPU time under the hook's symbol, children included, divided by the packets"
echo " replayed; sensor ns/pkt: the sensor process's utime+stime over the replay, in 1/$hz s ticks)"

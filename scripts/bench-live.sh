#!/usr/bin/env bash
# Live capture benchmark: replays a generated capture (mostly background,
# ~5 % SYNs to 445) with tcpreplay into a veth pair between two network
# namespaces this script makes, at rising rates, with the sensor capturing
# on the far end, once per backend (eBPF, AF_PACKET) and once with no
# sensor at all (the baseline of the kernel's own receive cost). Per run it
# reports what tcpreplay sent and at what rate, the SYN records the sensor
# wrote against the SYNs sent, every drop counter and the sensor's CPU time
# per replayed packet. At topspeed the sender's CPU (tcpreplay is pinned to
# it) is saturated and also runs the whole receive path (veth, XDP or the
# AF_PACKET tap, the IP stack) in softirq, so 1/achieved rate is the CPU
# per packet there; its excess over the no-sensor baseline is what the
# capture costs in the kernel, which the sensor's own CPU time never shows.
#
#   sudo scripts/bench-live.sh
#   sudo RATES="100000 top" BACKENDS=ebpf BASELINE=0 scripts/bench-live.sh   # a quick look
#
# Settings (environment):
#   RATES        requested packets/s, "top" for --topspeed (default "50000 100000 200000 400000 800000 top")
#   BACKENDS     sensor backends (default "ebpf afpacket")
#   BASELINE     1: also replay with no sensor attached (default 1)
#   TOP_LOOPS    how many times the file is replayed at topspeed, for a steadier rate (default 3)
#   DURATION, SCEN_RATE, SEED   the pcapgen capture: -scenario bench -duration DURATION -rate SCEN_RATE
#                (default 3h, 300 new sources/h, seed 1: about 1.15 M packets, 4.4 % SYNs to 445)
#   SENDER_CPU, SENSOR_CPU      CPUs tcpreplay and the sensor are pinned to (default 0 and 1; PIN=0 to not pin)
#   RESULTS      where the Markdown table is also written (default testdata/bench/live-results.md)
#
# Needs root (namespaces, veth, BPF, raw sockets). Traffic stays inside the
# two namespaces (addresses in 198.18.0.0/15); the host's interfaces are
# never touched. Everything it made is removed on exit, whatever happens.
set -euo pipefail
cd "$(dirname "$0")/.."

RATES="${RATES:-50000 100000 200000 400000 800000 top}"
BACKENDS="${BACKENDS:-ebpf afpacket}"
BASELINE="${BASELINE:-1}"
TOP_LOOPS="${TOP_LOOPS:-3}"
DURATION="${DURATION:-3h}"
SCEN_RATE="${SCEN_RATE:-300}"
SEED="${SEED:-1}"
PIN="${PIN:-1}"
SENDER_CPU="${SENDER_CPU:-0}"
SENSOR_CPU="${SENSOR_CPU:-1}"
RESULTS="${RESULTS:-testdata/bench/live-results.md}"

die() { echo "bench-live: $*" >&2; exit 1; }
log() { echo "bench-live: $*" >&2; }
calc() { awk "BEGIN { print ($*) }"; }

[ "$(id -u)" = 0 ] || die "needs root (network namespaces, veth, BPF, raw sockets)"
[ "$(nproc)" -ge 2 ] || PIN=0

# Tools. tcpreplay (and tcprewrite) from Debian's package; jq for the JSONL.
need=()
command -v tcpreplay >/dev/null && command -v tcprewrite >/dev/null || need+=(tcpreplay)
command -v jq >/dev/null || need+=(jq)
command -v ip >/dev/null || need+=(iproute2)
command -v taskset >/dev/null || need+=(util-linux)
if [ "${#need[@]}" -gt 0 ]; then
	command -v apt-get >/dev/null || die "missing ${need[*]} and no apt-get to install them"
	log "installing ${need[*]}"
	apt-get -qq update >/dev/null
	DEBIAN_FRONTEND=noninteractive apt-get -qq install -y "${need[@]}" >/dev/null
fi

mkdir -p bin testdata/bench
CGO_ENABLED=0 go build -o bin/sensor ./cmd/sensor
CGO_ENABLED=0 go build -o bin/pcapgen ./cmd/pcapgen

# Fixed, locally administered MACs on the veth ends, so the capture is
# rewritten once: every frame goes to the sensor's end (PACKET_HOST for
# AF_PACKET, no promiscuous mode needed) from the scanner's end.
SCAN_MAC=02:53:59:4e:00:01
SENS_MAC=02:53:59:4e:00:02
SCAN_ADDR=198.18.0.1
SENS_ADDR=198.18.0.2

# The capture, generated and rewritten once (testdata/bench/ is git-ignored).
base="testdata/bench/live-$DURATION-r$SCEN_RATE-s$SEED"
raw="$base.raw.pcap"
cap="$base.pcap"
if [ ! -s "$cap" ] || [ ! -s "$base.syn" ]; then
	log "generating $cap (once)"
	bin/pcapgen -scenario bench -seed "$SEED" -duration "$DURATION" -rate "$SCEN_RATE" -o "$raw" -truth "$base.truth.json" >&2
	# (It warns that the file's snap length is 128: the preset cuts frames
	# there, as the captures of bench.sh are; every header is whole.)
	tcprewrite --enet-dmac="$SENS_MAC" --enet-smac="$SCAN_MAC" -i "$raw" -o "$cap.tmp" 2> "$base.rewrite.log" ||
		{ cat "$base.rewrite.log" >&2; die "tcprewrite failed"; }
	mv "$cap.tmp" "$cap"
	rm -f "$raw"
	# The SYNs to 445 in the file as replayed, by the offline sensor; the
	# generator's truth must agree.
	bin/sensor -r "$cap" --ports 445 -o - --log-level error --growth=false |
		jq -r 'select(.event_type=="summary") | .syn_packets' > "$base.syn.tmp"
	mv "$base.syn.tmp" "$base.syn"
fi
syn_file=$(cat "$base.syn")
syn_truth=$(jq -r '.totals.syn_packets' "$base.truth.json")
packets_file=$(jq -r '.totals.packets' "$base.truth.json")
[ "$syn_file" = "$syn_truth" ] || log "warning: offline sensor counts $syn_file SYNs in $cap, the truth says $syn_truth"
cat "$cap" > /dev/null # page cache (tcpreplay preloads it anyway)

# Namespaces, veth, processes: all removed on exit.
id=$$
NS_SCAN="synscope-bench-scan-$id"
NS_SENS="synscope-bench-sens-$id"
IF_SCAN="sba$id"
IF_SENS="sbb$id"
tmp=$(mktemp -d /tmp/bench-live.XXXXXX)
SPID=""
RPID=""
cleanup() {
	local rc=$?
	for p in $SPID $RPID; do
		kill -KILL "$p" 2>/dev/null || true
	done
	for ns in "$NS_SCAN" "$NS_SENS"; do
		[ -e "/run/netns/$ns" ] && { ip netns del "$ns" || echo "bench-live: ip netns del $ns failed" >&2; }
	done
	rm -rf "$tmp"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ip netns add "$NS_SCAN"
ip netns add "$NS_SENS"
ip link add "$IF_SCAN" netns "$NS_SCAN" address "$SCAN_MAC" type veth peer name "$IF_SENS" netns "$NS_SENS" address "$SENS_MAC"
for side in "$NS_SCAN $IF_SCAN $SCAN_ADDR" "$NS_SENS $IF_SENS $SENS_ADDR"; do
	set -- $side
	# No IPv6 on the pair: no router solicitations or MLD reports in the
	# measurement (IPv6 frames still reach both capture hooks).
	ip netns exec "$1" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
	ip -n "$1" addr add "$3/24" dev "$2"
	ip -n "$1" link set "$2" up
	ip -n "$1" link set lo up
done

# pin CPU: "taskset -c CPU" when pinning
pin() { [ "$PIN" = 1 ] && echo "taskset -c $1"; true; }
sensor_ticks() { sed 's/^.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 }'; }
# veth counter: NS IF rx|tx packets|dropped
vstat() { ip -n "$1" -s -j link show dev "$2" | jq -r ".[0].stats64.$3.$4"; }
TCK=$(getconf CLK_TCK)

# start_sensor BACKEND OUT ERR: the sensor on the sensor's veth end, pinned,
# root kept (so /proc/PID/stat stays readable and nothing changes owner);
# returns once its log says it is capturing.
start_sensor() {
	: > "$3"
	$(pin "$SENSOR_CPU") ip netns exec "$NS_SENS" bin/sensor -i "$IF_SENS" --capture "$1" --user "" \
		--ports 445 --stats-interval 1s --log-format json -o "$2" 2> "$3" &
	SPID=$!
	local i
	for i in $(seq 150); do
		grep -q '"capturing"' "$3" && break
		kill -0 "$SPID" 2>/dev/null || { cat "$3" >&2; die "sensor ($1) exited before capturing"; }
		sleep 0.1
	done
	grep -q '"capturing"' "$3" || { cat "$3" >&2; die "sensor ($1) not capturing after 15 s"; }
	[ "$(cat "/proc/$SPID/comm")" = sensor ] || die "pid $SPID is $(cat "/proc/$SPID/comm"), not the sensor"
}

# stop_sensor: SIGINT, at most 20 s to write its last records; its exit
# status in SRC (killed: 137).
SRC=0
stop_sensor() {
	local i
	SRC=0
	kill -INT "$SPID" 2>/dev/null || log "sensor already gone before SIGINT"
	for i in $(seq 200); do
		kill -0 "$SPID" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$SPID" 2>/dev/null; then
		log "sensor did not stop within 20 s of SIGINT: killed"
		kill -KILL "$SPID"
	fi
	wait "$SPID" || SRC=$?
	SPID=""
}

# rows.tsv: one line per run, tab-separated:
# backend req reqnum achieved sent veth_lost syn_exp syn_rcv drops_k drops_r cap_seen cpu_s ns_pkt status hook
rows="$tmp/rows.tsv"
: > "$rows"

run_one() { # BACKEND RATE
	local backend=$1 rate=$2 out="$tmp/$1-$2.jsonl" err="$tmp/$1-$2.log" rep="$tmp/$1-$2.replay"
	local rargs reqnum hook="-" loops=1
	if [ "$rate" = top ]; then loops=$TOP_LOOPS; rargs=(-t "--loop=$loops"); reqnum=0; else rargs=("--pps=$rate"); reqnum=$rate; fi
	if [ "$backend" != none ]; then
		start_sensor "$backend" "$out" "$err"
		hook=$(jq -R -r 'fromjson? | select(.message=="capturing") | .capture' "$err" | head -1 || true)
		sleep 0.5
	fi
	local c0=0 c1=0 rx0 rx1
	[ -n "$SPID" ] && c0=$(sensor_ticks "$SPID")
	rx0=$(vstat "$NS_SENS" "$IF_SENS" rx packets)
	# Bounded: the whole file at the requested rate, twice over, plus 60 s.
	local limit=$((reqnum > 0 ? 2 * packets_file / reqnum + 60 : 60 + 10 * loops))
	timeout "$limit" $(pin "$SENDER_CPU") ip netns exec "$NS_SCAN" \
		tcpreplay -i "$IF_SCAN" -K --no-flow-stats "${rargs[@]}" "$cap" > "$rep" 2>&1 &
	RPID=$!
	local rrc=0
	wait "$RPID" || rrc=$?
	RPID=""
	[ "$rrc" = 0 ] || { cat "$rep" >&2; log "tcpreplay exited $rrc ($backend $rate)"; }
	sleep 1 # let the sensor drain its ring
	# (A sensor that died during the replay leaves its CPU unknown: 0.)
	[ -n "$SPID" ] && { c1=$(sensor_ticks "$SPID" 2>/dev/null) || c1=$c0; }
	rx1=$(vstat "$NS_SENS" "$IF_SENS" rx packets)

	local sent achieved failed
	sent=$(awk '/Actual:/ { print $2; exit }' "$rep"); sent=${sent:-0}
	achieved=$(awk '/Rated:/ { for (i = 1; i <= NF; i++) if ($i ~ /^pps/) { print $(i-1); exit } }' "$rep"); achieved=${achieved:-0}
	failed=$(awk '/Failed packets:/ { print $3; exit }' "$rep"); failed=${failed:-0}
	[ "$failed" = 0 ] || log "tcpreplay: $failed packets failed to send ($backend $rate)"
	# Frames sent that never reached a capture hook: the receiving end
	# counts a frame once it is queued to its receive path (its XDP ring, or
	# the CPU's backlog); what the sending end could not queue there is lost
	# before XDP and AF_PACKET alike. (rx_dropped is no use: it also counts
	# frames no protocol took, after both hooks.)
	local lost=$((sent - (rx1 - rx0)))
	[ "$lost" -ge 0 ] || lost=0
	local syn_exp=$((syn_file * loops))

	local syn_rcv="-" dk="-" dr="-" seen="-" cpu_s="-" ns_pkt="-" status="-"
	if [ "$backend" != none ]; then
		stop_sensor
		status=$SRC
		local st
		st=$(jq -c 'select(.event_type=="stats" and .final==true)' "$out" | tail -1)
		if [ -n "$st" ]; then
			syn_rcv=$(jq -r '.syn_matched' <<< "$st")
			dk=$(jq -r '[.drops.kernel, (.capture.kernel_drops // 0)] | max' <<< "$st")
			dr=$(jq -r '[.drops.ring_full, (.capture.ring_full // 0)] | max' <<< "$st")
			seen=$(jq -r '.capture.packets // "-"' <<< "$st")
		else
			syn_rcv=0
			log "no final stats record ($backend $rate): exit $status; log:"; tail -5 "$err" >&2
		fi
		cpu_s=$(calc "($c1 - $c0) / $TCK")
		ns_pkt=$(calc "$sent > 0 ? ($c1 - $c0) * 1e9 / $TCK / $sent : 0")
		grep -E '"level":"(warn|error|fatal|panic)"' "$err" | head -3 | sed "s/^/bench-live: sensor ($backend $rate): /" >&2 || true
	fi
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$backend" "$rate" "$reqnum" "$achieved" "$sent" \
		"$lost" "$syn_exp" "$syn_rcv" "$dk" "$dr" "$seen" "$cpu_s" "$ns_pkt" "$status" "$hook" >> "$rows"
	log "$(printf '%-8s %-7s achieved %9s pps, sent %s, lost on veth %s, SYNs %s/%s, drops kernel %s ring %s, sensor CPU %s s (%s ns/pkt), exit %s' \
		"$backend" "$rate" "$achieved" "$sent" "$lost" "$syn_rcv" "$syn_exp" "$dk" "$dr" "$cpu_s" "$ns_pkt" "$status")"
}

started=$(date +%s)
log "capture $cap: $packets_file packets, $syn_file SYNs to 445; rates: $RATES; backends: $BACKENDS; no-sensor baseline: $BASELINE"
order=()
[ "$BASELINE" = 1 ] && order+=(none)
order+=($BACKENDS)
for b in "${order[@]}"; do
	for r in $RATES; do
		run_one "$b" "$r"
	done
done
elapsed=$(($(date +%s) - started))

report() {
	echo "Live capture benchmark, $(date -u +%Y-%m-%dT%H:%MZ): $(nproc) cores ($(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)), Linux $(uname -r), $(tcpreplay --version 2>&1 | awk 'NR == 1 { print $1, $3 }')."
	echo "Capture \`$cap\`: $packets_file packets, $syn_file SYNs to 445 (topspeed: replayed $TOP_LOOPS times). Pinned: $([ "$PIN" = 1 ] && echo "tcpreplay to CPU $SENDER_CPU, sensor to CPU $SENSOR_CPU" || echo no). Hooks: $(awk -F'\t' '$1 != "none" && !s[$1]++ { printf "%s%s: %s", (n++ ? "; " : ""), $1, $15 }' "$rows"). Run time ${elapsed} s."
	echo
	echo "| backend | requested pps | achieved pps | packets sent | lost on veth | SYNs expected | SYNs received | sensor drops kernel/ring | capture saw | sensor CPU s | sensor CPU ns/packet |"
	echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
	awk -F'\t' '{
		none = ($1 == "none")
		rcv = $8
		if (!none && $8 != $7) rcv = "**" $8 "**"
		printf "| %s | %s | %.0f | %s | %s | %s | %s | %s | %s | %s | %s |\n", (none ? "none (baseline)" : $1), ($2 == "top" ? "topspeed" : $2),
			$4, $5, $6, (none ? "-" : $7), (none ? "-" : rcv), (none ? "-" : $9 "/" $10), $11,
			(none ? "-" : sprintf("%.2f", $12)), (none ? "-" : sprintf("%.0f", $13))
	}' "$rows"
	echo
	awk -F'\t' '
	function fmt(x) { return sprintf("%.0f", x) }
	{ n++; b[n] = $1; req[n] = $2; reqn[n] = $3; ach[n] = $4; want[n] = $7; rcv[n] = $8; ns[n] = $13; st[n] = $14 }
	$2 == "top" && $4 > 0 { top[$1] = 1e9 / $4; topach[$1] = $4; topok[$1] = ($8 == $7); topns[$1] = $13 }
	END {
		# Per backend: the highest achieved rate with every SYN received,
		# and any run that lost some.
		for (i = 1; i <= n; i++) if (b[i] != "none") {
			k = b[i]; bk[k] = 1
			if (rcv[i] == want[i]) { if (ach[i] > best[k]) best[k] = ach[i] }
			else lostat[k] = lostat[k] (lostat[k] ? ", " : "") (req[i] == "top" ? "topspeed" : req[i]) " (" rcv[i] "/" want[i] ")"
			if (st[i] != 0) bad[k] = bad[k] (bad[k] ? ", " : "") req[i] ": exit " st[i]
		}
		for (k in bk) {
			printf "- %s: highest rate with no SYN record lost: %s", k, (k in best) ? fmt(best[k]) " packets/s (achieved)" : "none"
			if (lostat[k]) printf "; SYNs lost at %s", lostat[k]
			if (bad[k]) printf "; abnormal exits: %s", bad[k]
			printf ".\n"
		}
		# Highest fixed rate both backends were run at and reached (within 5 %).
		common = 0
		for (i = 1; i <= n; i++) if (b[i] == "ebpf" && reqn[i] > 0 && ach[i] >= 0.95 * reqn[i])
			for (j = 1; j <= n; j++) if (b[j] == "afpacket" && req[j] == req[i] && ach[j] >= 0.95 * reqn[j] && reqn[i] > common) { common = reqn[i]; ei = i; ai = j }
		if (common == 0) print "- No fixed rate reached by both eBPF and AF_PACKET: no CPU ratio there."
		else {
			printf "- Sensor process CPU per replayed packet at %s packets/s (the highest fixed rate both backends reached): eBPF %s ns, AF_PACKET %s ns", common, fmt(ns[ei]), fmt(ns[ai])
			if (ns[ai] > 0) { r = ns[ei] / ns[ai]; printf ", ratio eBPF/AF_PACKET **%.2f**: target (at most 0.25) **%s**.\n", r, (r <= 0.25) ? "met" : "not met" }
			else printf ": AF_PACKET below the clock-tick resolution, no ratio.\n"
		}
		# Topspeed: the pinned sender CPU is saturated and runs the receive
		# path too, so 1e9/achieved is its ns per packet; the excess over the
		# baseline is the capture'\''s in-kernel cost.
		if ("none" in top && "ebpf" in top && "afpacket" in top) {
			ke = top["ebpf"] - top["none"]; ka = top["afpacket"] - top["none"]
			printf "- Sender CPU per packet at topspeed (tcpreplay plus the receive path, in softirq on the same CPU): no sensor %s ns, eBPF %s ns (%+.0f), AF_PACKET %s ns (%+.0f).\n", fmt(top["none"]), fmt(top["ebpf"]), fmt(ke), fmt(top["afpacket"]), fmt(ka)
			te = ke + topns["ebpf"]; ta = ka + topns["afpacket"]
			printf "- Whole capture cost per packet at topspeed (that kernel excess plus the sensor process): eBPF %s ns, AF_PACKET %s ns", fmt(te), fmt(ta)
			if (ta > 0) printf ", ratio **%.2f**: target (at most 0.25) **%s**.\n", te / ta, (te / ta <= 0.25) ? "met" : "not met"; else printf ".\n"
		}
		for (k in bk) if (k in topach)
			printf "- %s at topspeed (%s packets/s achieved): %s.\n", k, fmt(topach[k]), topok[k] ? "no SYN lost: target met" : "SYNs lost: target **not met**"
	}' "$rows"
}

report | tee "$RESULTS"
log "table also in $RESULTS"

#!/usr/bin/env bash
# Whole-file throughput: synscope's sensor against tcpdump on the same
# generated capture, several runs each, medians and the ratio.
#
#   scripts/bench.sh                 # default: the "bench" preset, about 10 M packets
#   DURATION=3h RUNS=3 scripts/bench.sh   # a smaller capture for a quick look
#
# The capture is generated once into testdata/bench/ (git-ignored) and reused.
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS="${RUNS:-5}"
DURATION="${DURATION:-}"
SEED="${SEED:-1}"
dir=testdata/bench
mkdir -p "$dir" bin
name="bench${DURATION:+-$DURATION}-s$SEED"
cap="$dir/$name.pcap"

CGO_ENABLED=0 go build -o bin/sensor ./cmd/sensor
CGO_ENABLED=0 go build -o bin/pcapgen ./cmd/pcapgen
if [ ! -s "$cap" ]; then
	echo "generating $cap (once)" >&2
	bin/pcapgen -scenario bench -seed "$SEED" ${DURATION:+-duration "$DURATION"} -o "$cap" >&2
fi
if ! command -v tcpdump >/dev/null; then
	if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
		apt-get -qq update >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get -qq install -y tcpdump >/dev/null
	fi
fi

packets=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['totals']['packets'])" "${cap%.pcap}.truth.json" 2>/dev/null ||
	grep -o '"packets": *[0-9]*' "${cap%.pcap}.truth.json" | tail -1 | grep -o '[0-9]*$')
size=$(stat -c %s "$cap")
cat "$cap" > /dev/null # warm the page cache

calc() { awk "BEGIN { print $* }"; }

# median of the wall-clock seconds of RUNS runs of a command
median() {
	local times=()
	for _ in $(seq "$RUNS"); do
		local s e
		s=$(date +%s.%N)
		"$@" > /dev/null 2>&1 || true
		e=$(date +%s.%N)
		times+=("$(calc "$e - $s")")
	done
	printf '%s\n' "${times[@]}" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'
}

out=$(mktemp)
trap 'rm -f "$out"' EXIT
echo "capture: $cap, $packets packets, $((size >> 20)) MiB; $RUNS runs each; $(nproc) cores"
s_all=$(median bin/sensor -r "$cap" -o "$out" --log-level error)
s_one=$(GOMAXPROCS=1 median bin/sensor -r "$cap" -o "$out" --log-level error)
printf '%-40s %8.3f s  %6.2f M pkt/s\n' "sensor (all cores)" "$s_all" "$(calc "$packets / $s_all / 1000000")"
printf '%-40s %8.3f s  %6.2f M pkt/s\n' "sensor (GOMAXPROCS=1)" "$s_one" "$(calc "$packets / $s_one / 1000000")"
if command -v tcpdump >/dev/null; then
	t=$(median tcpdump -n -r "$cap" -w /dev/null 'tcp[tcpflags] & (tcp-syn|tcp-ack) == tcp-syn and tcp dst port 445')
	printf '%-40s %8.3f s  %6.2f M pkt/s\n' "tcpdump -w /dev/null (filter)" "$t" "$(calc "$packets / $t / 1000000")"
	printf 'ratio sensor/tcpdump packets per second: all cores %.2fx, GOMAXPROCS=1 %.2fx\n' \
		"$(calc "$t / $s_all")" "$(calc "$t / $s_one")"
else
	echo "tcpdump not installed: no peer figure (apt-get install tcpdump)"
fi

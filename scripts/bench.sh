#!/usr/bin/env bash
# Whole-file throughput: synscope's sensor against tcpdump on the same
# generated capture, several runs each, medians and the ratio; beside them
# two floors of this machine (cat, and a C loop over a memory mapping that
# only counts SYNs); then heap per source and allocations per packet from
# the Go benchmarks.
#
#   scripts/bench.sh                 # default: the "bench" preset, about 10 M packets, 5.4 GB
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
name="bench-v2${DURATION:+-$DURATION}-s$SEED" # v2: whole frames
cap="$dir/$name.pcap"

CGO_ENABLED=0 go build -o bin/sensor ./cmd/sensor
CGO_ENABLED=0 go build -o bin/pcapgen ./cmd/pcapgen
gcc -O2 -o bin/floor scripts/floor.c
if [ ! -s "$cap" ]; then
	echo "generating $cap (once)" >&2
	bin/pcapgen -scenario bench -seed "$SEED" ${DURATION:+-duration "$DURATION"} -o "$cap" >&2
fi
if ! command -v tcpdump >/dev/null; then
	if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
		apt-get -qq update >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get -qq install -y tcpdump >/dev/null
	fi
fi

# packets: from the sensor's own final stats record (this run also warms the page cache)
packets=$(bin/sensor -r "$cap" --log-level error | grep '"event_type":"stats"' | tail -1 | sed 's/.*"final":true,"packets":\([0-9]*\).*/\1/')
size=$(stat -c %s "$cap")

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
row() { printf '%-44s %8.3f s  %6.2f M pkt/s\n' "$1" "$2" "$(calc "$packets / $2 / 1000000")"; }
s_all=$(median bin/sensor -r "$cap" -o "$out" --log-level error)
s_one=$(GOMAXPROCS=1 median bin/sensor -r "$cap" -o "$out" --log-level error)
f_cat=$(median sh -c "cat '$cap' > /dev/null")
f_c=$(median bin/floor "$cap")
row "sensor (all cores, --shards auto)" "$s_all"
row "sensor (GOMAXPROCS=1)" "$s_one"
row "floor: cat FILE > /dev/null" "$f_cat"
row "floor: C loop over mmap counting SYNs" "$f_c"
if command -v tcpdump >/dev/null; then
	t=$(median tcpdump -n -r "$cap" -w /dev/null 'tcp[tcpflags] & (tcp-syn|tcp-ack) == tcp-syn and tcp dst port 445')
	row "tcpdump -r FILE -w /dev/null (filter)" "$t"
	printf 'ratio sensor/tcpdump packets per second: all cores %.2fx, GOMAXPROCS=1 %.2fx (C floor %.2fx)\n' \
		"$(calc "$t / $s_all")" "$(calc "$t / $s_one")" "$(calc "$t / $f_c")"
else
	echo "tcpdump not installed: no peer figure (apt-get install tcpdump)"
fi

echo
echo "heap per source and allocations per packet (go test -bench):"
go test ./pkg/engine -run '^$' -bench 'HeapPerSource' -benchtime 1x | grep -E '^Benchmark'
go test ./pkg/pipeline -run '^$' -bench 'Pipeline' -benchtime 3x | grep -E '^Benchmark'

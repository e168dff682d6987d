#!/usr/bin/env bash
# Whole-file throughput: synscope's sensor against tcpdump on the same
# generated captures, in the same run, several runs each, medians and the
# ratios; beside them the floors of this machine: ../shared/tools/minscan.c
# (a C loop that only counts SYNs to 445: over a memory mapping with
# software prefetch, and with -r over read(2) into a 1 MiB buffer, the
# faster of the two here) and scripts/floor.c (the mapping without
# prefetch); then heap per source and allocations per packet from the Go
# benchmarks.
#
#   scripts/bench.sh                     # both captures, RUNS=5
#   DURATION=3h RUNS=3 scripts/bench.sh  # smaller captures for a quick look
#   CAPTURES=bench scripts/bench.sh      # only the first capture
#   PAGECACHE=keep scripts/bench.sh      # time the page cache as it is
#
# Page cache: by default each capture's cached pages are dropped and read
# back in once (sync, dd iflag=nocache, cat) before the timed runs, so every
# program reads the page cache a file read from disk gets: on this kernel
# and ext4, large folios that a mapping takes 2 MiB at a time. A capture
# just written (by pcapgen) sits in small folios instead; the sensor then
# reads through pread windows (see docs/performance.md). The share of the
# file mapped in 2 MiB pages is printed (thp_file_mapped in /proc/vmstat
# around a mapped walk). Reading several 5 GB captures one after the other
# fragments memory, and a later capture then gets fewer large folios (the
# logistic capture once 47 %, its minscan 0.67 s instead of 0.18): so as
# root the kernel compacts memory before each capture is read back in.
#
# Captures (generated once into testdata/bench/, git-ignored, and reused):
#   bench   the "bench" preset: 26 h, about 10 M whole frames, 5.4 GB, 5.2 % SYNs to 445
#   bench2  the same preset with fewer probes and more background: 10 M frames, 5.6 GB, 2.1 % SYNs
#   syn10   not in the default set: the bench preset with twice the probes, 10 % SYNs to 445
#   logistic  not in the default set (CAPTURES="bench bench2 syn10 logistic"): a logistic epidemic over 36 h,
#           11.6 M frames, 5.9 GB: 432 windows at 27 k frames each, where the growth classifier's
#           work per window is a larger share (see the --growth=false row)
#   snap128 not in the default set: the bench preset cut to 128 bytes a frame (a header-only capture, as
#           span-port sensors often keep), 10.1 M frames, 1.1 GB: every frame is cheap to read,
#           so the classifier's fixed work per window weighs most
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS="${RUNS:-5}"
PAGECACHE="${PAGECACHE:-reread}"
DURATION="${DURATION:-}"
CAPTURES="${CAPTURES:-bench bench2}"
MINSCAN="${MINSCAN:-../shared/tools/minscan.c}"
dir=testdata/bench
mkdir -p "$dir" bin

CGO_ENABLED=0 go build -o bin/sensor ./cmd/sensor
CGO_ENABLED=0 go build -o bin/pcapgen ./cmd/pcapgen
gcc -O2 -o bin/floor scripts/floor.c
have_minscan=false
if [ -f "$MINSCAN" ]; then
	gcc -O2 -o bin/minscan "$MINSCAN" && have_minscan=true
fi
if ! command -v tcpdump >/dev/null; then
	if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
		apt-get -qq update >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get -qq install -y tcpdump >/dev/null
	fi
fi

capture() { # name -> path, generated once
	local name=$1 path flags
	case $name in
	bench) path="$dir/bench-v2${DURATION:+-$DURATION}-s1.pcap" flags="-seed 1" ;;
	bench2) path="$dir/bench2${DURATION:+-$DURATION}-s2.pcap" flags="-seed 2 -ppm 0.17 -background 106" ;;
	syn10) path="$dir/syn10${DURATION:+-$DURATION}-s4.pcap" flags="-seed 4 -ppm 0.95" ;;
	logistic) path="$dir/logistic${DURATION:+-$DURATION}-s3.pcap"
		flags="-seed 3 -model logistic -capacity 3000 -doubling 4h -rate 10 -ppm 0.4 -background 80 -duration 36h" ;;
	snap128) path="$dir/snap128${DURATION:+-$DURATION}-s6.pcap" flags="-seed 6 -snaplen 128" ;;
	*) echo "unknown capture $name" >&2; exit 2 ;;
	esac
	if [ ! -s "$path" ]; then
		echo "generating $path (once)" >&2
		# shellcheck disable=SC2086
		bin/pcapgen -q -scenario bench $flags ${DURATION:+-duration "$DURATION"} -o "$path" >&2
	fi
	echo "$path"
}

calc() { awk "BEGIN { print $* }"; }
tf=$(mktemp)
out=$(mktemp)
trap 'rm -f "$tf" "$out"' EXIT

# median of RUNS runs of a command: "wall cpu" (seconds; cpu = user + system)
median() {
	for _ in $(seq "$RUNS"); do
		/usr/bin/time -f "%e %U %S" -o "$tf" "$@" > /dev/null 2>&1 || true
		awk '{ printf "%s %.3f\n", $1, $2 + $3 }' "$tf"
	done | sort -g | awk '{w[NR]=$1; c[NR]=$2} END {m=int((NR+1)/2); print w[m], c[m]}'
}

row() { # label, "wall cpu", packets
	set -- "$1" $2 "$3"
	printf '  %-40s %7.3f s wall %7.3f s CPU  %6.2f M pkt/s\n' "$1" "$2" "$3" "$(calc "$4 / $2 / 1000000")"
}

filter='tcp[tcpflags] & (tcp-syn|tcp-ack) == tcp-syn and tcp dst port 445'
echo "$RUNS runs each, medians; $(nproc) cores"
for name in $CAPTURES; do
	cap=$(capture "$name")
	if [ "$PAGECACHE" = reread ]; then
		sync "$cap"
		dd if="$cap" iflag=nocache count=0 status=none
		if [ -w /proc/sys/vm/compact_memory ]; then
			echo 1 > /proc/sys/vm/compact_memory
		fi
		cat "$cap" > /dev/null
	fi
	huge=n/a
	if [ -r /proc/vmstat ] && $have_minscan; then
		before=$(awk '$1 == "thp_file_mapped" { print $2 }' /proc/vmstat)
		bin/minscan "$cap" > /dev/null
		after=$(awk '$1 == "thp_file_mapped" { print $2 }' /proc/vmstat)
		huge="$(calc "int(100 * ($after - $before) * 2097152 / $(stat -c %s "$cap"))") %"
	fi
	# packets: from the sensor's own final stats record (this run also warms the page cache)
	packets=$(bin/sensor -r "$cap" --log-level error | grep '"event_type":"stats"' | tail -1 | sed 's/.*"final":true,"packets":\([0-9]*\).*/\1/')
	echo "$name: $cap, $packets packets, $(($(stat -c %s "$cap") >> 20)) MiB, page cache ($PAGECACHE) mapped in 2 MiB pages: $huge"
	t=$(median tcpdump -n -r "$cap" -w /dev/null "$filter")
	s_all=$(median bin/sensor -r "$cap" -o "$out" --log-level error)
	s_one=$(GOMAXPROCS=1 median bin/sensor -r "$cap" -o "$out" --log-level error)
	s_ng=$(GOMAXPROCS=1 median bin/sensor -r "$cap" -o "$out" --log-level error --growth=false)
	f_c=$(median bin/floor "$cap")
	row "tcpdump -r FILE -w /dev/null (SYN/445)" "$t" "$packets"
	row "sensor (all cores)" "$s_all" "$packets"
	row "sensor (GOMAXPROCS=1)" "$s_one" "$packets"
	row "sensor (GOMAXPROCS=1, --growth=false)" "$s_ng" "$packets"
	row "floor: scripts/floor.c (no prefetch)" "$f_c" "$packets"
	if $have_minscan; then
		f_m=$(median bin/minscan "$cap")
		f_r=$(median bin/minscan -r "$cap")
		row "floor: minscan.c (prefetch)" "$f_m" "$packets"
		row "floor: minscan.c -r (read)" "$f_r" "$packets"
	fi
	tw=${t%% *}
	printf '  wall ratio tcpdump/x: sensor all cores %.2fx, GOMAXPROCS=1 %.2fx, floor.c %.2fx' \
		"$(calc "$tw / ${s_all%% *}")" "$(calc "$tw / ${s_one%% *}")" "$(calc "$tw / ${f_c%% *}")"
	if $have_minscan; then printf ', minscan %.2fx, minscan -r %.2fx' "$(calc "$tw / ${f_m%% *}")" "$(calc "$tw / ${f_r%% *}")"; fi
	echo
done

echo
echo "heap per source and allocations per packet (go test -bench):"
go test ./pkg/engine -run '^$' -bench 'HeapPerSource' -benchtime 1x | grep -E '^Benchmark'
go test ./pkg/pipeline -run '^$' -bench 'Pipeline' -benchtime 3x | grep -E '^Benchmark'

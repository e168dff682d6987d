#!/usr/bin/env bash
# Spoofed floods against the sensor, offline, with the default settings:
#   - peak RSS with 10 M spoofed one-SYN sources, IPv4 and IPv6;
#   - a flood of 5 M spoofed sources against the same number of SYNs from
#     returning sources: output size, CPU and wall time, several runs each;
#     the flood again with --max-sources 1000000, so that the table is at its
#     cap for four fifths of it and every new source evicts one.
#
#   scripts/bench-flood.sh            # RUNS=3 by default
#
# The captures are generated once into testdata/bench/ (git-ignored; about
# 2.7 GB) and reused.
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS="${RUNS:-3}"
dir=testdata/bench
mkdir -p "$dir" bin
CGO_ENABLED=0 go build -o bin/sensor ./cmd/sensor
CGO_ENABLED=0 go build -o bin/pcapgen ./cmd/pcapgen

gen() { # name, pcapgen flags...
	local f="$dir/$1.pcap"
	shift
	[ -s "$f" ] || bin/pcapgen -q -o "$f" "$@"
}
gen flood10m-v4 -scenario flood -seed 1 -duration 2h -flood-at 30m -flood-count 10000000 -flood-span 20m -background 50
gen flood10m-v6 -scenario flood -seed 1 -duration 2h -flood-at 30m -flood-count 10000000 -flood-span 20m -background 50 -flood-ipv6 1
gen flood5m -scenario flood -seed 3 -duration 1h -flood-at 10m -flood-count 5000000 -flood-span 20m -background 50
gen return5m -scenario flat -seed 3 -duration 1h -population 20000 -ppm 4.2 -background 50

out=$(mktemp)
trap 'rm -f "$out"' EXIT
# one run (a capture, then any flags): wall, user+system CPU seconds, peak
# RSS in MB, output bytes
run() {
	local f="$1"
	shift
	/usr/bin/time -f "%e %U %S %M" -o "$out.t" bin/sensor -r "$f" -o "$out" --log-level error "$@"
	read -r wall user sys rss < "$out.t"
	printf '%s %.2f %d %d\n' "$wall" "$(awk "BEGIN{print $user+$sys}")" $((rss / 1024)) "$(stat -c %s "$out")"
}
median() { sort -g | awk '{a[NR]=$0} END {print a[int((NR+1)/2)]}'; }

echo "peak RSS, 10 M spoofed one-SYN sources, default settings (--max-sources 10000000):"
for f in flood10m-v4 flood10m-v6; do
	r=$(run "$dir/$f.pcap")
	printf '  %-12s wall %6.2f s  CPU %6.2f s  peak RSS %5d MB  output %d bytes\n' "$f" $r
done

echo "5 M spoofed sources against 5 M SYNs of 20,000 returning sources (median of $RUNS by CPU):"
# name, capture, flags: the capped flood is flood5m with the table's cap at
# a million sources, the 4 M after them each evicting one.
for c in "flood5m flood5m" "return5m return5m" "capped flood5m --max-sources 1000000"; do
	set -- $c
	name=$1 f=$2
	shift 2
	r=$(for _ in $(seq "$RUNS"); do run "$dir/$f.pcap" "$@" | awk '{print $2, $1, $3, $4}'; done | median)
	set -- $r
	printf '  %-12s CPU %6.2f s  wall %6.2f s  peak RSS %5d MB  output %d bytes\n' "$name" "$1" "$2" "$3" "$4"
	eval "cpu_$name=$1"
done
printf 'flood/returning CPU: %.2fx; capped flood/returning: %.2fx\n' \
	"$(awk "BEGIN{print $cpu_flood5m/$cpu_return5m}")" "$(awk "BEGIN{print $cpu_capped/$cpu_return5m}")"

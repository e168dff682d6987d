#!/usr/bin/env bash
# Instructions the engine executes per SYN on BenchmarkMix's streams
# (normal, hostile, capped), counted by valgrind's callgrind: everything
# the benchmark's feed runs (all the stream's frames, the SYNs and the
# others, and the end), over the stream's SYNs; inline shard, one
# iteration.
# Unlike time, the count barely moves from run to run (only the prefetch
# tuner, which reads the clock, varies it, by about 1 %), so it shows a
# change of a few percent that the VM's noise hides; the engine is bound by
# instructions, not by waiting for memory (docs/performance.md, "Tables
# kept across a gap").
#
#   scripts/instr-mix.sh                # all three streams
#   MIXES="capped" scripts/instr-mix.sh
#
# Needs valgrind (apt-get install valgrind). Some seconds to a minute a
# stream (under valgrind the engine runs some fifty times slower).
set -euo pipefail
cd "$(dirname "$0")/.."
command -v valgrind >/dev/null || { echo "instr-mix.sh: needs valgrind (apt-get install valgrind)" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go test -c -o "$tmp/engine.test" ./pkg/engine
for mix in ${MIXES:-normal hostile capped}; do
	# Go's preemption signals trip callgrind: off, one thread. Counted
	# only within the benchmark's feed (the engine's Prefetch, Frame and
	# Finish), not while the streams are built. Now and then callgrind
	# loses the toggle (a goroutine's stack moved under it?) and counts a
	# hundredth of the run: such a count (under 100 M) is taken again, up
	# to three times.
	for try in 1 2 3; do
		(cd pkg/engine && GODEBUG=asyncpreemptoff=1 GOMAXPROCS=1 valgrind --tool=callgrind \
			--toggle-collect='github.com/synscope/synscope/pkg/engine.feed' \
			--callgrind-out-file="$tmp/$mix.out" "$tmp/engine.test" -test.run '^$' \
			-test.bench "^BenchmarkMix\$/$mix/shards-0\$" -test.benchtime 1x >"$tmp/$mix.txt" 2>&1)
		total=$(callgrind_annotate "$tmp/$mix.out" 2>/dev/null | awk '/PROGRAM TOTALS/ { gsub(",", "", $1); print $1 }')
		[ "${total:-0}" -ge 100000000 ] && break
		echo "instr-mix.sh: $mix: only ${total:-0} instructions counted (callgrind lost the toggle), again" >&2
	done
	# The stream's SYNs, from the benchmark's own figures (1,000,000
	# frames; ns/pkt over ns/syn is the SYNs' share).
	syns=$(awk '$1 ~ /^BenchmarkMix/ { for (i = 2; i < NF; i++) { if ($(i + 1) == "ns/pkt") p = $i; if ($(i + 1) == "ns/syn") s = $i } }
		END { if (p && s) printf "%.0f", 1e6 * p / s }' "$tmp/$mix.txt")
	awk -v mix="$mix" -v syns="$syns" -v total="$total" 'BEGIN { printf "%-8s %6.0f instructions a SYN (%d SYNs)\n", mix, total / syns, syns }'
done

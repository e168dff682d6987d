#!/usr/bin/env bash
# The engine's cost per SYN on the normal and the hostile mix, and the
# hostile one without its clock jumps ("capped", BenchmarkMix), beside the
# floor for the same work (BenchmarkMixFloor, scripts/mixfloor.c), the
# same test binary, rounds alternating; prints the medians and the
# ratios the issue asks about (hostile/normal, capped/normal) for each.
#
#   scripts/bench-mix.sh           # ROUNDS=5 by default
#
# Needs a C compiler (CC, else cc) and an AVX-512 machine for the floor
# (scripts/mixfloor.c); without them BenchmarkMixFloor skips and the script
# stops with that reason.
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS="${ROUNDS:-5}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go test -c -o "$tmp/engine.test" ./pkg/engine
# The floor is built from ../../scripts/mixfloor.c, relative to the package.
for i in $(seq "$ROUNDS"); do
	(cd pkg/engine && "$tmp/engine.test" -test.run '^$' -test.bench 'Mix' -test.benchtime 3x) |
		grep '^BenchmarkMix' >>"$tmp/out"
done
awk -v rounds="$ROUNDS" '
function median(name,   n, i, j, t, a) {
	n = split(vals[name], a, " ")
	for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
	return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}
/^BenchmarkMix\// {
	split($1, p, "/")
	if (p[3] ~ /^shards-[0-9]+-[0-9]+$/) sub(/-[0-9]+$/, "", p[3]) # the -GOMAXPROCS suffix (none with one CPU)
	for (i = 2; i < NF; i++) if ($(i + 1) == "ns/syn") vals["engine " p[2] " " p[3]] = vals["engine " p[2] " " p[3]] " " $i
}
/^BenchmarkMixFloor/ {
	for (i = 2; i < NF; i++) {
		if ($(i + 1) == "normal-ns/syn") vals["floor normal"] = vals["floor normal"] " " $i
		if ($(i + 1) == "hostile-ns/syn") vals["floor hostile"] = vals["floor hostile"] " " $i
		if ($(i + 1) == "capped-ns/syn") vals["floor capped"] = vals["floor capped"] " " $i
	}
}
END {
	printf "medians of %d rounds, ns per SYN\n", rounds
	en0 = median("engine normal shards-0"); eh0 = median("engine hostile shards-0")
	en2 = median("engine normal shards-2"); eh2 = median("engine hostile shards-2")
	ec0 = median("engine capped shards-0"); ec2 = median("engine capped shards-2")
	fn = median("floor normal"); fh = median("floor hostile"); fc = median("floor capped")
	if (!en0 || !eh0 || !en2 || !eh2 || !ec0 || !ec2 || !fn || !fh || !fc) {
		print "bench-mix.sh: a benchmark gave no figure (the floor needs a C compiler and AVX-512; see the test output)" > "/dev/stderr"
		exit 1
	}
	printf "%-28s %8s %8s %8s %15s %14s\n", "", "normal", "hostile", "capped", "hostile/normal", "capped/normal"
	printf "%-28s %8.1f %8.1f %8.1f %14.2fx %13.2fx\n", "engine, inline", en0, eh0, ec0, eh0 / en0, ec0 / en0
	printf "%-28s %8.1f %8.1f %8.1f %14.2fx %13.2fx\n", "engine, two shards", en2, eh2, ec2, eh2 / en2, ec2 / en2
	printf "%-28s %8.1f %8.1f %8.1f %14.2fx %13.2fx\n", "floor (scripts/mixfloor.c)", fn, fh, fc, fh / fn, fc / fn
	printf "engine inline / floor: normal %.2fx, hostile %.2fx, capped %.2fx\n", en0 / fn, eh0 / fh, ec0 / fc
}' "$tmp/out"

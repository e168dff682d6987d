#!/usr/bin/env bash
# Regenerates the eBPF bindings (bpf/synscope_bpfel.go and .o) from
# bpf/synscope.c in a temporary directory, with the exact bpf2go command of
# bpf/gen.go, and compares them byte for byte with the committed ones.
#
# The object is reproducible: bpf2go compiles with -fno-ident (no compiler
# version string), maps the source directory to "." in the debug info and
# strips DWARF (llvm-strip -g), keeping only BTF, whose line info names the
# file relatively; the headers are vendored, so the installed kernel
# headers do not matter. What can still change the bytes is another clang
# version: the committed files were made with Debian bookworm's clang 14
# (see bpf/gen.go). On a mismatch the script shows a disassembly diff.
#
# Exit status: 0 identical, 1 different, 2 could not regenerate.
set -euo pipefail
cd "$(dirname "$0")/.."

command -v clang >/dev/null && command -v llvm-strip >/dev/null || {
	echo "needs clang and llvm-strip: run scripts/install-bpf-toolchain.sh" >&2
	exit 2
}

line=$(grep -m1 '^//go:generate go tool bpf2go ' bpf/gen.go) || {
	echo "no bpf2go line in bpf/gen.go" >&2
	exit 2
}
args=${line#//go:generate go tool bpf2go }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go build -o "$tmp/bpf2go" github.com/cilium/ebpf/cmd/bpf2go
mkdir "$tmp/bpf"
cp -R bpf/. "$tmp/bpf/"
rm -f "$tmp"/bpf/*_bpfel.go "$tmp"/bpf/*_bpfel.o
(cd "$tmp/bpf" && GOPACKAGE=bpf GOFILE=gen.go eval "\"$tmp/bpf2go\" $args") || exit 2

echo "$(clang --version | head -n 1)"
status=0
for f in synscope_bpfel.go synscope_bpfel.o; do
	if cmp -s "bpf/$f" "$tmp/bpf/$f"; then
		echo "bpf/$f: up to date"
		continue
	fi
	status=1
	echo "bpf/$f: differs from what bpf/synscope.c generates"
	case "$f" in
	*.go) diff -u "bpf/$f" "$tmp/bpf/$f" | head -n 60 || true ;;
	*.o)
		diff -u <(llvm-objdump -d --no-show-raw-insn "bpf/$f" | tail -n +3) \
			<(llvm-objdump -d --no-show-raw-insn "$tmp/bpf/$f" | tail -n +3) | head -n 60 || true
		;;
	esac
done
if [ "$status" != 0 ]; then
	echo "run 'go generate ./bpf' and commit the result (or use the clang named in bpf/gen.go)" >&2
fi
exit "$status"

#!/usr/bin/env bash
# Installs, when missing, what regenerating the eBPF bindings needs (clang,
# llvm-strip from llvm, libbpf-dev for refreshing the vendored headers) and,
# with --test-tools, what the privileged capture tests drive (iproute2,
# tcpdump, nmap, hping3, masscan, zmap) and the report and metrics tests use
# (chromium, prometheus), the log rotation example (logrotate), the
# compressed-capture tests (zstd, xz) and the shell completion scripts (zsh, fish). Debian/Ubuntu, via apt-get; idempotent:
# installs nothing when everything is there.
#
#   scripts/install-bpf-toolchain.sh               # go generate ./bpf
#   scripts/install-bpf-toolchain.sh --test-tools  # + go test ./pkg/capture/...
set -euo pipefail

test_tools=false
for a in "$@"; do
	case "$a" in
	--test-tools) test_tools=true ;;
	-h | --help) sed -n '2,10p' "$0"; exit 0 ;;
	*) echo "unknown argument $a (try --help)" >&2; exit 2 ;;
	esac
done

need=()
command -v clang >/dev/null || need+=(clang)
command -v llvm-strip >/dev/null || need+=(llvm)
[ -f /usr/include/bpf/bpf_helpers.h ] || need+=(libbpf-dev)
if $test_tools; then
	command -v ip >/dev/null || need+=(iproute2)
	command -v tcpdump >/dev/null || need+=(tcpdump)
	# the live tests check that capture leaves the interfaces' offloads as they were
	command -v ethtool >/dev/null || [ -x /usr/sbin/ethtool ] || need+=(ethtool)
	command -v nmap >/dev/null || need+=(nmap)
	command -v hping3 >/dev/null || [ -x /usr/sbin/hping3 ] || need+=(hping3)
	command -v masscan >/dev/null || need+=(masscan)
	# the tool fingerprints are checked on captures of the real scanners
	command -v zmap >/dev/null || [ -x /usr/sbin/zmap ] || need+=(zmap)
	# the report is rendered in a real browser, the metrics scraped by a real Prometheus
	command -v chromium >/dev/null || need+=(chromium)
	command -v prometheus >/dev/null || need+=(prometheus)
	command -v curl >/dev/null || need+=(curl)
	command -v tcpreplay >/dev/null || need+=(tcpreplay)
	command -v systemd-analyze >/dev/null || need+=(systemd)
	command -v logrotate >/dev/null || [ -x /usr/sbin/logrotate ] || need+=(logrotate)
	# compressed captures as the real tools write them
	command -v zstd >/dev/null && command -v pzstd >/dev/null || need+=(zstd) # pzstd too
	command -v xz >/dev/null || need+=(xz-utils)
	# the shell completion scripts are run by the real shells
	command -v zsh >/dev/null || need+=(zsh)
	command -v fish >/dev/null || need+=(fish)
fi

if ((${#need[@]})); then
	sudo=()
	[ "$(id -u)" = 0 ] || sudo=(sudo)
	echo "installing: ${need[*]}" >&2
	"${sudo[@]}" apt-get update -qq
	DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
clang --version | head -n 1

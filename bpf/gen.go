// Package bpf holds synscope's eBPF program (synscope.c: XDP ingress, TC
// ingress and egress, one shared parser), the headers it is compiled with
// (include/, vendored with their licences) and the Go bindings bpf2go
// generates from it: synscope_bpfel.go and synscope_bpfel.o, committed so
// that building synscope needs no clang.
//
// The bindings live here, next to the C they come from, so that one
// directory is regenerated and diffed (scripts/check-generated.sh). Only
// pkg/capture/bpfcap imports this package: it loads the objects, attaches
// the programs and reads the ring buffer. The generated SynscopeSynRecord is
// the Go mirror of struct syn_record; pkg/decode parses the same bytes at
// fixed offsets, and a test in bpfcap checks that the two agree.
//
// Regenerate with `go generate ./bpf` (needs clang and llvm-strip;
// scripts/install-bpf-toolchain.sh installs them).
package bpf

//go:generate go tool bpf2go -tags linux -target bpfel -type syn_record -go-package bpf Synscope synscope.c -- -O2 -Wall -Werror -Iinclude

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
// scripts/install-bpf-toolchain.sh installs them); scripts/check-generated.sh
// regenerates into a temporary directory and compares. The committed files
// were made with Debian bookworm's clang 14.0.6: the output is byte for
// byte reproducible with the same clang, whatever the directory or the
// installed kernel headers (see that script); another clang version may
// emit different (equally valid) code.
//
// Flags: -target bpfel only (the record is parsed as little-endian, so
// big-endian hosts are not supported); -mcpu=v3 (32-bit ALU and jumps,
// Linux 5.1+; ring buffers need 5.8 anyway) gives code the verifier
// follows with far fewer instructions than bpf2go's default v1.
package bpf

//go:generate go tool bpf2go -tags linux -target bpfel -type syn_record -go-package bpf Synscope synscope.c -- -O2 -mcpu=v3 -Wall -Werror -Iinclude

//go:build !linux

package main

import "github.com/synscope/synscope/pkg/capture/bpfcap"

// ingressMode: eBPF capture is Linux only; the other builds' Config has
// no ingress choice.
func ingressMode(string) bpfcap.IngressMode { return 0 }

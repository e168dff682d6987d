package main

import "github.com/synscope/synscope/pkg/capture/bpfcap"

// ingressMode maps --ingress-hook to the eBPF source's choice.
func ingressMode(s string) bpfcap.IngressMode {
	switch s {
	case "xdp":
		return bpfcap.IngressXDPNative
	case "xdp-generic":
		return bpfcap.IngressXDPGeneric
	case "tc":
		return bpfcap.IngressTC
	}
	return bpfcap.IngressAuto
}

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"

	"github.com/rs/zerolog"

	"github.com/synscope/synscope/pkg/capture"
	"github.com/synscope/synscope/pkg/capture/afpacket"
	"github.com/synscope/synscope/pkg/capture/bpfcap"
	"github.com/synscope/synscope/pkg/config"
	"github.com/synscope/synscope/pkg/decode"
	"github.com/synscope/synscope/pkg/lifecycle"
	"github.com/synscope/synscope/pkg/metrics"
	"github.com/synscope/synscope/pkg/output"
)

// openLive opens the capture backend the configuration asks for. With
// "auto" it tries eBPF and falls back to AF_PACKET, saying so once.
func openLive(cfg *config.Config, log zerolog.Logger) (capture.Source, string, error) {
	ifc, err := net.InterfaceByName(cfg.Iface)
	if err != nil {
		return nil, "", fmt.Errorf("interface %q: %w (list them with 'ip link')", cfg.Iface, err)
	}
	down := ifc.Flags&net.FlagUp == 0
	if down && cfg.Capture != "afpacket" {
		log.Warn().Str("iface", cfg.Iface).Msg("the interface is down: no packets until it is brought up ('ip link set " + cfg.Iface + " up')")
	}
	openEBPF := func() (capture.Source, string, error) {
		s, err := bpfcap.Open(bpfcap.Config{Iface: cfg.Iface, Ports: cfg.Ports, Egress: cfg.Egress, Ingress: ingressMode(cfg.IngressHook), Promisc: cfg.Promisc,
			Warn: func(msg string) { log.Warn().Str("iface", cfg.Iface).Msg(msg) }})
		if err != nil {
			return nil, "", err
		}
		hooks := "ebpf " + string(s.IngressHook())
		if eh := s.EgressHook(); eh != "" {
			hooks += "+" + string(eh) + " egress"
		}
		return s, hooks, nil
	}
	openAF := func() (capture.Source, string, error) {
		if down {
			return nil, "", fmt.Errorf("interface %q is down, and AF_PACKET cannot wait on a down interface: bring it up with 'ip link set %s up'", cfg.Iface, cfg.Iface)
		}
		s, err := afpacket.Open(afpacket.Config{Iface: cfg.Iface, Ports: cfg.Ports, Promisc: cfg.Promisc, IgnoreOutgoing: !cfg.Egress})
		if err != nil {
			return nil, "", err
		}
		return s, "afpacket", nil
	}
	switch cfg.Capture {
	case "ebpf":
		return openEBPF()
	case "afpacket":
		return openAF()
	}
	if err := bpfcap.Supported(); err != nil {
		log.Warn().Err(err).Msg("eBPF capture not available here; falling back to AF_PACKET")
		return openAF()
	}
	src, how, err := openEBPF()
	if err == nil {
		return src, how, nil
	}
	log.Warn().Err(err).Msg("eBPF capture failed; falling back to AF_PACKET")
	return openAF()
}

// runLive captures from cfg.Iface until ctx is done, then writes the last
// window, stats and summary. The order is the privileges': what needs root
// (the capture, the output's first open, a low metrics port) comes before
// they are dropped; the rest runs as --user.
func runLive(ctx context.Context, cfg *config.Config, lists lookups, stdout io.Writer, log zerolog.Logger) (output.Stats, error) {
	// SIGHUP reopens the output file, for logrotate, and reloads the
	// network databases; the run does it between records. It is caught
	// from the first moment and until everything is closed: its default
	// action ends the process, and a rotation (systemctl reload) can come
	// while the capture, the outputs or a large state file are opened, or
	// while the Kafka output is flushed at the end. One that comes before
	// the run exists is done when it does.
	sig, stopHup := hupSignals()
	defer stopHup()
	// Settings that can be checked before anything is attached or
	// created are (exit 2).
	if err := checkUser(cfg.User); err != nil {
		return output.Stats{}, err
	}
	if _, err := net.InterfaceByName(cfg.Iface); err != nil {
		return output.Stats{}, settingError{fmt.Errorf("--iface %s: no such interface (ip link lists them): %w", cfg.Iface, err)}
	}
	src, how, err := openLive(cfg, log)
	if err != nil {
		return output.Stats{}, err
	}
	defer func() {
		// Detaching needs CAP_NET_ADMIN, dropped with --user: where TCX
		// is missing (Linux before 6.6) the legacy tc filters cannot be
		// removed then, and this says so (it was silent; a review).
		if err := src.Close(); err != nil {
			log.Error().Err(err).Str("iface", cfg.Iface).Msg("the capture did not close cleanly: something may stay attached (tc filter show dev IFACE ingress; tc filter del dev IFACE ingress prio 23644)")
		}
	}()
	// The state file is one sensor's: its lock is taken before the
	// outputs are opened (a Kafka spool shared with the running sensor),
	// as root; the descriptor holds it after the drop to --user.
	lock, err := lifecycle.LockState(cfg.StateFile, runLog(log))
	if err != nil {
		return output.Stats{}, settingError{err}
	}
	defer lock.Close()
	out, err := openOutputs(ctx, cfg, true, stdout, log)
	if err != nil {
		return output.Stats{}, err
	}
	defer out.Close()
	started := false
	defer removeIfRefused(out, cfg.Output, &started, log)
	if f := output.FileOf(out); f != nil && f.Created() {
		if err := giveToUser(cfg.Output, cfg.User); err != nil {
			return output.Stats{}, err
		}
	}
	// The metrics endpoint listens before privileges go (a low port needs
	// root) and fails the start when its port is taken.
	var met *metrics.Metrics
	if cfg.MetricsAddr != "" {
		met = metrics.New(version())
		srv, err := met.Serve(cfg.MetricsAddr)
		if err != nil {
			return output.Stats{}, settingError{err} // a port taken: nothing read yet, exit 2 as the README says
		}
		defer srv.Close()
		log.Info().Str("addr", "http://"+srv.Addr+"/metrics").Msg("serving Prometheus metrics")
	}
	if cfg.User != "" {
		dropped, err := dropPrivileges(cfg.User)
		if err != nil {
			return output.Stats{}, err
		}
		if dropped != "" {
			log.Info().Str("user", cfg.User).Msg("dropped " + dropped)
		}
	}
	if err := checkWritable(cfg.StateFile, cfg.Output, true, cfg.User); err != nil {
		return output.Stats{}, err
	}
	if err := checkRunnable(cfg.AlertExec, cfg.User); err != nil {
		return output.Stats{}, err
	}

	rc := runConfig(cfg, true, met, lists)
	rc.StateLock = lock
	r, err := lifecycle.New(rc, out, runLog(log))
	if errors.Is(err, lifecycle.ErrStateRefused) {
		return output.Stats{}, settingError{err} // nothing captured yet: a setting to change
	} else if err != nil {
		return output.Stats{}, err
	}
	started = true
	go func() {
		for range sig {
			r.Reopen()
		}
	}()
	log.Info().Str("iface", cfg.Iface).Str("capture", how).Str("ports", cfg.Ports.String()).
		Stringer("window", cfg.Window).Stringer("lookback", cfg.Lookback).Msg("capturing")
	st, err := r.Drive(ctx, lifecycle.Input{
		Source: src,
		Describe: func(st *output.Stats) []output.Input {
			return []output.Input{{Path: cfg.Iface, Format: how, Packets: st.Engine.Packets}}
		},
	})
	log.Info().Uint64("packets", st.Engine.Packets).Uint64("syn_matched", st.Results[decode.Matched]).
		Uint64("new_sources", st.Engine.NewSources).Uint64("kernel_drops", st.KernelDrops).
		Uint64("ring_full", st.RingFull).Msg("stopped")
	return st, err
}

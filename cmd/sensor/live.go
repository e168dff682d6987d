package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/rs/zerolog"

	"github.com/synscope/synscope/pkg/capture"
	"github.com/synscope/synscope/pkg/capture/afpacket"
	"github.com/synscope/synscope/pkg/capture/bpfcap"
	"github.com/synscope/synscope/pkg/config"
	"github.com/synscope/synscope/pkg/decode"
	"github.com/synscope/synscope/pkg/metrics"
	"github.com/synscope/synscope/pkg/output"
	"github.com/synscope/synscope/pkg/pipeline"
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
		log.Warn().Str("iface", cfg.Iface).Msg("the interface is down: no packets until it is brought up ('ip link set IFACE up')")
	}
	openEBPF := func() (capture.Source, string, error) {
		s, err := bpfcap.Open(bpfcap.Config{Iface: cfg.Iface, Ports: cfg.Ports, Egress: cfg.Egress, Ingress: ingressMode(cfg.IngressHook), Promisc: cfg.Promisc})
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
		s, err := afpacket.Open(afpacket.Config{Iface: cfg.Iface, Ports: cfg.Ports, Promisc: cfg.Promisc})
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
// window, stats and summary.
func runLive(ctx context.Context, cfg *config.Config, stdout io.Writer, log zerolog.Logger) (output.Stats, error) {
	src, how, err := openLive(cfg, log)
	if err != nil {
		return output.Stats{}, err
	}
	defer src.Close()
	_, statErr := os.Lstat(cfg.Output)
	out, closeOut, err := openOutput(cfg.Output, true, stdout)
	if err != nil {
		return output.Stats{}, err
	}
	if cfg.Output != "-" && errors.Is(statErr, fs.ErrNotExist) {
		if err := giveToUser(cfg.Output, cfg.User); err != nil {
			return output.Stats{}, err
		}
	}
	defer func() { closeOut() }()
	// The metrics endpoint listens before privileges go (a low port needs
	// root) and fails the start when its port is taken.
	var met *metrics.Metrics
	if cfg.MetricsAddr != "" {
		met = metrics.New(version())
		srv, err := met.Serve(cfg.MetricsAddr)
		if err != nil {
			return output.Stats{}, err
		}
		defer srv.Close()
		log.Info().Str("addr", "http://"+srv.Addr+"/metrics").Msg("serving Prometheus metrics")
	}
	if cfg.User != "" {
		if err := dropPrivileges(cfg.User); err != nil {
			return output.Stats{}, err
		}
		log.Info().Str("user", cfg.User).Msg("dropped root privileges")
	}
	if err := checkWritable(cfg.StateFile, cfg.Output, true, cfg.User); err != nil {
		return output.Stats{}, err
	}

	w, eng, err := newAnalysis(cfg, true, out, log)
	if err != nil {
		return output.Stats{}, err
	}
	// SIGHUP reopens the output file, for logrotate.
	var hup atomic.Bool
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGHUP)
	defer signal.Stop(sig)
	go func() {
		for range sig {
			hup.Store(true)
		}
	}()
	live := &pipeline.Live{
		Grace:      time.Second,
		StatsEvery: cfg.StatsEvery,
		Reopen:     func() bool { return hup.Swap(false) && cfg.Output != "-" },
		SaveEvery:  cfg.StateEvery,
		Save: func() {
			if cfg.StateFile == "" {
				return
			}
			if err := saveState(eng, cfg.StateFile); err != nil {
				log.Error().Err(err).Msg("state not saved; will try again")
			}
		},
		Reopened: func(w *output.Writer) {
			f, err := output.OpenFile(cfg.Output, true)
			if err != nil {
				log.Error().Err(err).Str("output", cfg.Output).Msg("SIGHUP: cannot reopen the output; going on with the old file")
				return
			}
			if err := w.Reset(f); err != nil {
				log.Warn().Err(err).Msg("SIGHUP: flushing the old output failed")
			}
			closeOut()
			closeOut = func() { f.Close() }
			log.Info().Str("output", cfg.Output).Msg("SIGHUP: output reopened")
		},
	}
	if met != nil {
		live.Metrics = func(st *output.Stats) { met.Set(snapshot(st, eng)) }
	}
	log.Info().Str("iface", cfg.Iface).Str("capture", how).Str("ports", cfg.Ports.String()).
		Stringer("window", cfg.Window).Stringer("lookback", cfg.Lookback).Msg("capturing")
	dec := &decode.Decoder{Ports: cfg.Ports}
	st, runErr := pipeline.Run(ctx, src, dec, eng, w, pipeline.Hooks{Live: live})
	if errors.Is(runErr, context.Canceled) {
		runErr = nil // a signal: the normal way a live sensor stops
	}
	sum := output.Summary{Engine: eng.Counters(), Top: eng.Top(), Ports: cfg.Ports.String(), Window: cfg.Window, Lookback: cfg.Lookback}
	sum.Inputs = []output.Input{{Path: cfg.Iface, Format: how, Packets: st.Engine.Packets}}
	w.Summary(&sum)
	if err := w.Flush(); err != nil && runErr == nil {
		runErr = fmt.Errorf("write %s: %w", cfg.Output, err)
	}
	if err := saveState(eng, cfg.StateFile); err != nil && runErr == nil {
		runErr = err
	}
	log.Info().Uint64("packets", st.Engine.Packets).Uint64("syn_matched", st.Results[decode.Matched]).
		Uint64("new_sources", st.Engine.NewSources).Uint64("kernel_drops", st.KernelDrops).
		Uint64("ring_full", st.RingFull).Msg("stopped")
	return st, runErr
}

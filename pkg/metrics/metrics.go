// Package metrics serves the live sensor's counters to Prometheus. The
// pipeline hands it a snapshot about once a second (Set); a scrape reads
// the latest snapshot, so nothing on the packet path touches it. Counters
// the sensor already keeps are exported as such (client_golang's const
// metrics); no label carries an address.
package metrics

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"runtime"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Snapshot is what the metrics show.
type Snapshot struct {
	Packets, Bytes, SynMatched, DecodeErrors uint64
	CapturePackets                           uint64            // the capture's own count; 0 when it keeps none
	Frames                                   map[string]uint64 // by decode result
	Drops                                    map[string]uint64 // by cause
	SourcesTracked, SourcesExpired           uint64
	NewSources, Windows                      uint64
	NewSourcesLastWindow                     uint64
	Model                                    string // "" before the first verdict
	GrowthRatePerHour, Confidence            float64
	SteadyRatePerHour                        float64
}

// Metrics holds the latest snapshot behind a registry.
type Metrics struct {
	mu   sync.Mutex
	snap Snapshot
	reg  *prometheus.Registry
}

const ns = "synscope"

var (
	dPackets    = prometheus.NewDesc(ns+"_packets_total", "Frames the analysis saw (the stats record's packets: with a kernel filter, only what passed it).", nil, nil)
	dCapture    = prometheus.NewDesc(ns+"_capture_packets_total", "Frames the capture itself counted: every frame for eBPF (in the kernel), those that passed the filter for AF_PACKET.", nil, nil)
	dBytes      = prometheus.NewDesc(ns+"_bytes_total", "Bytes of the frames seen.", nil, nil)
	dSyn        = prometheus.NewDesc(ns+"_syn_matched_total", "SYNs without ACK to a watched port.", nil, nil)
	dDecodeErr  = prometheus.NewDesc(ns+"_decode_errors_total", "Frames the decoder could not walk (truncated, malformed, unsupported link), in user space or, with eBPF, in the kernel.", nil, nil)
	dFrames     = prometheus.NewDesc(ns+"_frames_total", "Frames by what the decoder made of them.", []string{"result"}, nil)
	dDrops      = prometheus.NewDesc(ns+"_drops_total", "What was lost, by cause: kernel (AF_PACKET), ring_full (eBPF ring buffer), shard_ring_full (a shard worker's ring), untracked_sources and evicted_sources (the full source table), reach_full (a source's reach not grown: the side slabs full), remember_full (forgotten sources the --remember memory had no room for), kafka (records the Kafka output could not deliver: buffer and spool full, refused, spool damaged), alert_hooks (alert deliveries that failed or were dropped), decoy_alerts (decoy touches past 64 a window, not alerted).", []string{"cause"}, nil)
	dTracked    = prometheus.NewDesc(ns+"_sources_tracked", "Sources remembered now (seen within the lookback).", nil, nil)
	dExpired    = prometheus.NewDesc(ns+"_sources_expired_total", "Sources forgotten after a lookback of silence.", nil, nil)
	dNew        = prometheus.NewDesc(ns+"_new_sources_total", "New sources: no SYN from them in the lookback before.", nil, nil)
	dWindows    = prometheus.NewDesc(ns+"_windows_total", "Windows closed.", nil, nil)
	dNewLast    = prometheus.NewDesc(ns+"_new_sources_last_window", "New sources in the last closed window (floods included).", nil, nil)
	dModel      = prometheus.NewDesc(ns+"_growth_model_info", "The growth classifier's current verdict, as a label (value 1).", []string{"model"}, nil)
	dRate       = prometheus.NewDesc(ns+"_growth_rate_per_hour", "The fitted growth rate of new sources (log scale, per hour) of the current verdict.", nil, nil)
	dSteady     = prometheus.NewDesc(ns+"_steady_rate_per_hour", "The fitted steady rate of new sources per hour of the current verdict.", nil, nil)
	dConfidence = prometheus.NewDesc(ns+"_growth_confidence", "The confidence (0..1) of the current verdict.", nil, nil)
)

// New builds the metrics with build info for version.
func New(version string) *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry()}
	m.reg.MustRegister(m,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: ns, Name: "build_info", Help: "Build information (value 1).",
			ConstLabels: prometheus.Labels{"version": version, "goversion": runtime.Version()},
		}, func() float64 { return 1 }),
	)
	return m
}

// Set replaces the snapshot.
func (m *Metrics) Set(s Snapshot) {
	m.mu.Lock()
	m.snap = s
	m.mu.Unlock()
}

// Describe implements prometheus.Collector.
func (m *Metrics) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{dPackets, dCapture, dBytes, dSyn, dDecodeErr, dFrames, dDrops, dTracked, dExpired,
		dNew, dWindows, dNewLast, dModel, dRate, dSteady, dConfidence} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (m *Metrics) Collect(ch chan<- prometheus.Metric) {
	m.mu.Lock()
	s := m.snap
	m.mu.Unlock()
	c := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	g := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	c(dPackets, s.Packets)
	c(dCapture, s.CapturePackets)
	c(dBytes, s.Bytes)
	c(dSyn, s.SynMatched)
	c(dDecodeErr, s.DecodeErrors)
	for k, v := range s.Frames {
		c(dFrames, v, k)
	}
	for k, v := range s.Drops {
		c(dDrops, v, k)
	}
	g(dTracked, float64(s.SourcesTracked))
	c(dExpired, s.SourcesExpired)
	c(dNew, s.NewSources)
	c(dWindows, s.Windows)
	g(dNewLast, float64(s.NewSourcesLastWindow))
	if s.Model != "" {
		g(dModel, 1, s.Model)
		g(dRate, s.GrowthRatePerHour)
		g(dSteady, s.SteadyRatePerHour)
		g(dConfidence, s.Confidence)
	}
}

// Addr turns --metrics-addr into a listen address: a bare port binds to
// localhost only.
func Addr(s string) (string, error) {
	if p, err := strconv.Atoi(s); err == nil {
		if p < 1 || p > 65535 {
			return "", fmt.Errorf("port %d: must be 1 to 65535", p)
		}
		return net.JoinHostPort("127.0.0.1", s), nil
	}
	_, port, err := net.SplitHostPort(s)
	if err != nil {
		return "", fmt.Errorf("%q: want a port, or host:port: %v", s, err)
	}
	// A port of 0 or none (":0", "localhost:") would listen on one the
	// kernel picks, where no scraper looks; letters or one out of range
	// failed only once a live start got there (a review).
	p, err := strconv.Atoi(port)
	if err != nil {
		p, err = net.LookupPort("tcp", port) // a service name, as the listener takes it (localhost:http)
	}
	if err != nil || p < 1 || p > 65535 {
		return "", fmt.Errorf("%q: the port %q is not a number from 1 to 65535 nor a service's name", s, port)
	}
	return s, nil
}

// Serve listens on addr now (so a busy port fails at start, with a clear
// message) and serves /metrics until Close.
func (m *Metrics) Serve(addr string) (*Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		if errors.Is(err, syscall.EADDRINUSE) {
			return nil, fmt.Errorf("metrics: %s is already in use by another program: pick another --metrics-addr", addr)
		}
		// (the flag named, as for a busy port: a review)
		return nil, fmt.Errorf("metrics: --metrics-addr %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg}))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		fmt.Fprintln(w, "synscope sensor: metrics at /metrics")
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second, WriteTimeout: 10 * time.Second}
	go srv.Serve(ln)
	return &Server{srv: srv, Addr: ln.Addr().String()}, nil
}

// Server is a running metrics endpoint.
type Server struct {
	srv  *http.Server
	Addr string // the address it listens on
}

// Close stops it.
func (s *Server) Close() error { return s.srv.Close() }

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/synscope/synscope/internal/captest"
)

// TestMetricsScrapedByPrometheus: a live sensor on a veth in a namespace
// this test makes, with --metrics-addr on that namespace's localhost, sees
// the demo capture replayed into the veth by tcpreplay; Debian's
// prometheus, in the same namespace, scrapes it every second. Once the
// replay is over and the counts stand still, Prometheus's HTTP API must
// return, for every counter, the value of the sensor's own latest stats
// record. A second sensor asking for the same port must fail at start,
// saying so.
func TestMetricsScrapedByPrometheus(t *testing.T) {
	captest.NeedRoot(t)
	captest.NeedTools(t, "ip", "tcpreplay", "prometheus", "curl")
	p := captest.NewPair(t)
	bin := buildSensor(t)
	dir := userDir(t)
	const sensorAddr, promAddr = "127.0.0.1:19464", "127.0.0.1:19465"
	out := filepath.Join(dir, "live.jsonl")
	stop, _, _ := liveSensorAt(t, bin, p, out, "--metrics-addr", sensorAddr, "--promisc", "--capture", "afpacket")

	// The port is taken: a second sensor refuses to start.
	second := exec.Command("ip", "netns", "exec", p.SensorNS, bin, "-i", p.SensorIf, "--metrics-addr", sensorAddr, "-o", filepath.Join(dir, "second.jsonl"))
	msg, err := second.CombinedOutput()
	if err == nil || !strings.Contains(string(msg), sensorAddr+" is already in use") || second.ProcessState.ExitCode() != exitUsage {
		t.Errorf("a second sensor on the same metrics port: %v: %s (exit 2 wanted: a setting, nothing read)", err, msg)
	}
	if _, err := os.Stat(filepath.Join(dir, "second.jsonl")); !os.IsNotExist(err) {
		t.Errorf("the refused sensor left its output file behind: %v", err)
	}

	cfg := filepath.Join(dir, "prometheus.yml")
	os.WriteFile(cfg, []byte(fmt.Sprintf("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n  - job_name: synscope\n    static_configs:\n      - targets: ['%s']\n", sensorAddr)), 0o644)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	prom := exec.CommandContext(ctx, "ip", "netns", "exec", p.SensorNS, "prometheus", "--config.file="+cfg,
		"--storage.tsdb.path="+filepath.Join(dir, "tsdb"), "--web.listen-address="+promAddr)
	plog := &syncBuffer{}
	prom.Stdout, prom.Stderr = plog, plog
	if err := prom.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { prom.Process.Signal(syscall.SIGTERM); prom.Wait() }()

	// Replay the demo capture (10,060 frames) at 2,000 frames a second.
	rep := exec.CommandContext(ctx, "ip", "netns", "exec", p.ScanNS, "tcpreplay", "-i", p.ScanIf, "--pps", "2000", "--no-flow-stats", "../../testdata/demo.pcapng")
	if b, err := rep.CombinedOutput(); err != nil {
		t.Fatalf("tcpreplay: %v: %s", err, b)
	}

	// Prometheus's API answers inside the namespace: ask through a helper
	// that runs there.
	query := func(q string) (float64, bool) {
		u := "http://" + promAddr + "/api/v1/query?query=" + url.QueryEscape(q)
		b, err := exec.Command("ip", "netns", "exec", p.SensorNS, "curl", "-s", "--max-time", "3", u).Output()
		if err != nil {
			return 0, false
		}
		var r struct {
			Status string
			Data   struct {
				Result []struct {
					Value [2]any
				}
			}
		}
		if json.Unmarshal(b, &r) != nil || r.Status != "success" || len(r.Data.Result) != 1 {
			return 0, false
		}
		v, err := strconv.ParseFloat(fmt.Sprint(r.Data.Result[0].Value[1]), 64)
		return v, err == nil
	}
	// The stats record to compare with: the latest, once two in a row agree
	// (the replay is over and the sensor has drained).
	latestStats := func() map[string]any {
		b, _ := os.ReadFile(out)
		var last map[string]any
		for _, r := range ofType(records(t, string(b)), "stats") {
			last = r
		}
		return last
	}
	want := map[string]func(map[string]any) float64{
		"synscope_packets_total":                          func(s map[string]any) float64 { return s["packets"].(float64) },
		"synscope_bytes_total":                            func(s map[string]any) float64 { return s["bytes"].(float64) },
		"synscope_syn_matched_total":                      func(s map[string]any) float64 { return s["syn_matched"].(float64) },
		"synscope_decode_errors_total":                    func(s map[string]any) float64 { return s["decode_errors"].(float64) },
		`synscope_drops_total{cause="kernel"}`:            func(s map[string]any) float64 { return s["drops"].(map[string]any)["kernel"].(float64) },
		`synscope_drops_total{cause="ring_full"}`:         func(s map[string]any) float64 { return s["drops"].(map[string]any)["ring_full"].(float64) },
		`synscope_drops_total{cause="untracked_sources"}`: func(s map[string]any) float64 { return s["drops"].(map[string]any)["untracked_sources"].(float64) },
		`synscope_frames_total{result="other_port"}`:      func(s map[string]any) float64 { return s["frames"].(map[string]any)["other_port"].(float64) },
		"synscope_sources_tracked":                        func(s map[string]any) float64 { return s["sources_tracked"].(float64) },
		"synscope_capture_packets_total":                  func(s map[string]any) float64 { return s["capture"].(map[string]any)["packets"].(float64) },
	}
	var stats map[string]any
	deadline := time.Now().Add(60 * time.Second)
	for {
		if time.Now().After(deadline) {
			t.Fatalf("Prometheus never agreed with the sensor's stats record %v\nprometheus log:\n%s", stats, plog.String())
		}
		time.Sleep(time.Second)
		s1 := latestStats()
		time.Sleep(2500 * time.Millisecond) // two more stats records, two more scrapes
		stats = latestStats()
		if s1 == nil || stats == nil || s1["packets"] != stats["packets"] {
			continue
		}
		agree := true
		for q, f := range want {
			if v, ok := query(q); !ok || v != f(stats) {
				agree = false
			}
		}
		if agree {
			break
		}
	}
	if stats["syn_matched"].(float64) < 7000 {
		t.Errorf("the sensor matched %v SYNs of the demo's 7,908", stats["syn_matched"])
	}
	for q, f := range want {
		v, _ := query(q)
		t.Logf("%-50s prometheus %12.0f  stats record %12.0f", q, v, f(stats))
	}
	if v, ok := query(`synscope_build_info`); !ok || v != 1 {
		t.Errorf("build_info: %v %v", v, ok)
	}
	if b, _ := exec.Command("ip", "netns", "exec", p.SensorNS, "curl", "-s", "http://"+sensorAddr+"/metrics").Output(); strings.Contains(string(b), "src_ip") ||
		strings.Contains(string(b), "198.18.") {
		t.Error("a metric carries an address")
	}
	stop()
}

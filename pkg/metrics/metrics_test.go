package metrics

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

func TestAddr(t *testing.T) {
	for in, want := range map[string]string{"9464": "127.0.0.1:9464", "0.0.0.0:9464": "0.0.0.0:9464", "[::1]:9464": "[::1]:9464", ":9464": ":9464",
		"localhost:http": "localhost:http"} {
		if got, err := Addr(in); err != nil || got != want {
			t.Errorf("%q: %q %v, want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"0", "70000", "localhost", "host:port:x", "127.0.0.1:0", ":0", "localhost:", ":abc", "127.0.0.1:99999", "x:-5"} {
		if _, err := Addr(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// TestServeAndBusyPort: the exposition holds the counters, drops by cause,
// the verdict as an info metric and build info; a second listener on the
// same port fails with a message that says so.
func TestServeAndBusyPort(t *testing.T) {
	m := New("v-test")
	m.Set(Snapshot{Packets: 10, SynMatched: 4, Drops: map[string]uint64{"kernel": 2}, Frames: map[string]uint64{"matched": 4},
		SourcesTracked: 3, NewSourcesLastWindow: 1, Model: "linear", GrowthRatePerHour: 0.01, Confidence: 0.97})
	srv, err := m.Serve("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	resp, err := http.Get("http://" + srv.Addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	body := string(b)
	for _, want := range []string{
		"synscope_packets_total 10", "synscope_syn_matched_total 4", `synscope_drops_total{cause="kernel"} 2`,
		`synscope_frames_total{result="matched"} 4`, "synscope_sources_tracked 3", "synscope_new_sources_last_window 1",
		`synscope_growth_model_info{model="linear"} 1`, "synscope_growth_confidence 0.97",
		`synscope_build_info{goversion="go`, `version="v-test"} 1`, "# TYPE synscope_packets_total counter",
		"# TYPE synscope_sources_tracked gauge", "process_cpu_seconds_total", "go_goroutines",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("the exposition lacks %q", want)
		}
	}
	if _, err := m.Serve(srv.Addr); err == nil || !strings.Contains(err.Error(), "already in use") {
		t.Errorf("a second listener on %s: %v", srv.Addr, err)
	}
	// Any other failure to listen names the flag too (a review).
	if srv2, err := m.Serve("127.0.0.1:99999"); err == nil || !strings.Contains(err.Error(), "--metrics-addr 127.0.0.1:99999") {
		t.Errorf("a port out of range: %v", err)
		if srv2 != nil {
			srv2.Close()
		}
	}
}

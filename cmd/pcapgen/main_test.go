package main

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/synscope/synscope/internal/scenario"
)

func TestParseArgs(t *testing.T) {
	ok := []struct {
		name  string
		args  []string
		check func(*testing.T, *options)
	}{
		{"defaults", []string{"-o", "x/demo.pcapng"}, func(t *testing.T, o *options) {
			if o.cfg.Name != "demo" || o.cfg.Seed != 1 || o.truth != "x/demo.truth.json" {
				t.Errorf("got %q seed %d truth %q", o.cfg.Name, o.cfg.Seed, o.truth)
			}
			if o.cfg.FloodCount != 2000 || o.cfg.Model != scenario.ModelExponential {
				t.Errorf("demo preset not applied: %+v", o.cfg)
			}
		}},
		{"overrides", []string{"-scenario", "steady", "-seed", "9", "-o", "a.pcap.gz", "-truth", "t.json",
			"-duration", "2h", "-rate", "3.5", "-model", "exponential", "-doubling", "90m", "-daynight", "0.3",
			"-overdispersion", "0.5", "-churn", "0.2", "-flood-at", "1h", "-flood-count", "100", "-flood-span", "2s",
			"-ipv6", "0.25", "-vlan", "0.5", "-background", "3", "-window", "1m", "-lookback", "2h",
			"-ports", "445,139", "-nanosecond", "-scan", "10m", "-sleep", "1h", "-ppm", "4", "-snaplen", "200",
			"-start", "2009-02-01T12:00:00Z", "-population", "5", "-max-sources", "77", "-retransmit", "0.5"},
			func(t *testing.T, o *options) {
				c := o.cfg
				if c.Name != "steady" || c.Seed != 9 || o.truth != "t.json" || !o.nanosecond {
					t.Errorf("names: %+v", o)
				}
				if c.Duration != 2*time.Hour || c.Rate0 != 3.5 || c.Model != scenario.ModelExponential ||
					c.Doubling != 90*time.Minute || c.DayNight != 0.3 || c.Overdispersion != 0.5 || c.Churn != 0.2 ||
					c.FloodAt != time.Hour || c.FloodCount != 100 || c.FloodSpan != 2*time.Second ||
					c.IPv6Fraction != 0.25 || c.VLANFraction != 0.5 || c.Background != 3 ||
					c.Window != time.Minute || c.Lookback != 2*time.Hour || !slices.Equal(c.Ports, []uint16{445, 139}) ||
					c.ScanDuration != 10*time.Minute || c.SleepDuration != time.Hour || c.ProbesPerMinute != 4 ||
					c.SnapLen != 200 || !c.Start.Equal(time.Date(2009, 2, 1, 12, 0, 0, 0, time.UTC)) ||
					c.Population != 5 || c.MaxSources != 77 || c.RetransmitProb != 0.5 {
					t.Errorf("overrides not applied: %+v", c)
				}
			}},
		{"zero override", []string{"-scenario", "demo", "-flood-count", "0", "-background", "0", "-o", "d.pcap"},
			func(t *testing.T, o *options) {
				if o.cfg.FloodCount != 0 || o.cfg.Background != 0 {
					t.Errorf("explicit zeros ignored: %+v", o.cfg)
				}
			}},
		{"list", []string{"-list"}, func(t *testing.T, o *options) {
			if !o.list {
				t.Error("list not set")
			}
		}},
	}
	for _, k := range ok {
		t.Run(k.name, func(t *testing.T) {
			var stderr bytes.Buffer
			o, err := parseArgs(k.args, &stderr)
			if err != nil {
				t.Fatalf("%v (stderr %q)", err, stderr.String())
			}
			k.check(t, o)
		})
	}

	bad := map[string][]string{
		"unknown flag":     {"-o", "a.pcap", "-bogus"},
		"no output":        {"-scenario", "demo"},
		"bad extension":    {"-o", "a.cap"},
		"unknown scenario": {"-scenario", "nope", "-o", "a.pcap"},
		"daynight > 1":     {"-o", "a.pcap", "-daynight", "2"},
		"bad model":        {"-o", "a.pcap", "-model", "linear"},
		"bad ports":        {"-o", "a.pcap", "-ports", "0"},
		"bad start":        {"-o", "a.pcap", "-start", "yesterday"},
		"zero ppm":         {"-o", "a.pcap", "-ppm", "0"},
		"negative window":  {"-o", "a.pcap", "-window", "-5m"},
		"zero duration":    {"-o", "a.pcap", "-duration", "0"},
		"flood past end":   {"-o", "a.pcap", "-flood-at", "7h"},
		"bad number":       {"-o", "a.pcap", "-rate", "fast"},
		"extra argument":   {"-o", "a.pcap", "extra"},
		"truth is output":  {"-o", "a.pcap", "-truth", "a.pcap"},
	}
	for name, args := range bad {
		t.Run(name, func(t *testing.T) {
			_, err := parseArgs(args, &bytes.Buffer{})
			var ue usageError
			if !errors.As(err, &ue) {
				t.Errorf("got %v, want a usage error", err)
			}
		})
	}
	if _, err := parseArgs([]string{"-h"}, &bytes.Buffer{}); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("-h: %v", err)
	}
}

func TestRun(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "small.pcapng.gz")
	var stdout, stderr bytes.Buffer
	code := run([]string{"-scenario", "flood", "-seed", "2", "-duration", "30m", "-flood-at", "10m", "-o", out}, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	tr, err := scenario.ReadTruthFile(filepath.Join(dir, "small.truth.json"))
	if err != nil {
		t.Fatal(err)
	}
	if tr.Scenario != "flood" || tr.Seed != 2 || tr.Totals.FloodPackets != 5000 || len(tr.Windows) != 6 {
		t.Errorf("truth: %s seed %d %+v, %d windows", tr.Scenario, tr.Seed, tr.Totals, len(tr.Windows))
	}
	if !strings.Contains(stdout.String(), "5000") && !strings.Contains(stdout.String(), "packets") {
		t.Errorf("summary: %q", stdout.String())
	}
	if st, err := os.Stat(out); err != nil || st.Size() == 0 {
		t.Errorf("capture: %v", err)
	}

	stdout.Reset()
	stderr.Reset()
	if code := run([]string{"-o", "a.pcap", "-daynight", "3"}, &stdout, &stderr); code != 2 ||
		!strings.Contains(stderr.String(), "day/night") {
		t.Errorf("bad flag: exit %d, stderr %q", code, stderr.String())
	}
	stderr.Reset()
	if code := run([]string{"-duration", "1m", "-flood-count", "0", "-o", filepath.Join(dir, "missing", "x.pcap")}, &stdout, &stderr); code != 1 ||
		!strings.Contains(stderr.String(), "pcapgen:") {
		t.Errorf("unwritable: exit %d, stderr %q", code, stderr.String())
	}
	stdout.Reset()
	if code := run([]string{"-list"}, &stdout, &stderr); code != 0 || !strings.Contains(stdout.String(), "bench") {
		t.Errorf("list: exit %d, %q", code, stdout.String())
	}
	if code := run([]string{"-h"}, &stdout, &stderr); code != 0 {
		t.Errorf("-h: exit %d", code)
	}
}

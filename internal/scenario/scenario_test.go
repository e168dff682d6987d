package scenario

import (
	"bytes"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

type discard struct{ n int64 }

func (d *discard) WritePacket(int64, []byte, int) error { d.n++; return nil }

func mustPreset(t *testing.T, name string) Config {
	t.Helper()
	c, err := Preset(name)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func generate(t *testing.T, c Config) *Truth {
	t.Helper()
	tr, err := Generate(c, &discard{})
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

func TestPresetsValid(t *testing.T) {
	names := PresetNames()
	for _, want := range []string{"demo", "steady", "exponential", "daynight", "bursty", "churn",
		"flat", "decline", "logistic", "flood", "sleepers", "bench"} {
		if !strings.Contains(" "+strings.Join(names, " ")+" ", " "+want+" ") {
			t.Errorf("preset %q missing", want)
		}
	}
	for _, n := range names {
		c := mustPreset(t, n)
		if err := c.Validate(); err != nil {
			t.Errorf("preset %s: %v", n, err)
		}
		if c.Name != n {
			t.Errorf("preset %s has name %q", n, c.Name)
		}
	}
	if _, err := Preset("nope"); err == nil {
		t.Error("unknown preset accepted")
	}
}

func TestValidate(t *testing.T) {
	base := Config{Model: ModelSteady, Rate0: 1}
	cases := map[string]func(*Config){
		"negative duration":  func(c *Config) { c.Duration = -time.Hour },
		"daynight > 1":       func(c *Config) { c.DayNight = 1.5 },
		"ipv6 < 0":           func(c *Config) { c.IPv6Fraction = -0.1 },
		"vlan NaN":           func(c *Config) { c.VLANFraction = math.NaN() },
		"exp no doubling":    func(c *Config) { c.Model = ModelExponential },
		"logistic no cap":    func(c *Config) { c.Model, c.Doubling = ModelLogistic, time.Hour },
		"flat no population": func(c *Config) { c.Model = ModelFlat },
		"bad model":          func(c *Config) { c.Model = "linear" },
		"port 0":             func(c *Config) { c.Ports = []uint16{0} },
		"flood after end":    func(c *Config) { c.FloodCount, c.FloodAt = 10, 7*time.Hour },
		"scan without sleep": func(c *Config) { c.ScanDuration = time.Hour },
		"tiny snaplen":       func(c *Config) { c.SnapLen = 60 },
		"negative rate":      func(c *Config) { c.Rate0 = -1 },
	}
	if err := base.Normalize().Validate(); err != nil {
		t.Fatalf("base: %v", err)
	}
	for name, mod := range cases {
		c := base
		mod(&c)
		if err := c.Normalize().Validate(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestPathsAndFormats(t *testing.T) {
	for in, want := range map[string]string{
		"testdata/demo.pcapng":  "testdata/demo.truth.json",
		"a/b.pcap":              "a/b.truth.json",
		"x.pcap.gz":             "x.truth.json",
		"x.PCAPNG.gz":           "x.truth.json",
		"dir.v2/file.pcapng.gz": "dir.v2/file.truth.json",
		"weird":                 "weird.truth.json",
	} {
		if got := TruthPath(in); got != want {
			t.Errorf("TruthPath(%q) = %q, want %q", in, got, want)
		}
	}
	for _, p := range []string{"a.pcap", "a.pcapng", "a.pcap.gz", "a.pcapng.gz"} {
		if _, _, err := FormatOf(p); err != nil {
			t.Errorf("FormatOf(%q): %v", p, err)
		}
	}
	for _, p := range []string{"a.cap", "a.gz", "a.pcap.zst", "a"} {
		if _, _, err := FormatOf(p); err == nil {
			t.Errorf("FormatOf(%q) accepted", p)
		}
	}
	if _, err := ParsePorts("445, 139,445"); err != nil {
		t.Error(err)
	}
	for _, bad := range []string{"", "0", "65536", "x", "44 5", "-1"} {
		if _, err := ParsePorts(bad); err == nil {
			t.Errorf("ParsePorts(%q) accepted", bad)
		}
	}
}

func TestDeterminism(t *testing.T) {
	dir := t.TempDir()
	c := mustPreset(t, "demo")
	c.Duration = 90 * time.Minute
	c.FloodAt = time.Hour
	c.Background = 1
	for _, ext := range []string{".pcapng.gz", ".pcap"} {
		gen := func(seed int64, name string) []byte {
			c.Seed = seed
			p := filepath.Join(dir, name+ext)
			if _, err := GenerateFile(c, p, FileOptions{}); err != nil {
				t.Fatal(err)
			}
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			return b
		}
		a, b, other := gen(7, "a"), gen(7, "b"), gen(8, "c")
		if !bytes.Equal(a, b) {
			t.Errorf("%s: same seed, different bytes", ext)
		}
		if bytes.Equal(a, other) {
			t.Errorf("%s: different seeds, same bytes", ext)
		}
	}
}

// TestTruthRecount reads generated files back with pcapgo and gopacket
// layers, recomputes every window with an independent implementation of the
// contract, and requires exact agreement.
func TestTruthRecount(t *testing.T) {
	type tc struct {
		name, preset, ext string
		opts              FileOptions
		mod               func(*Config)
		check             func(*testing.T, *Truth, fileSummary)
	}
	cases := []tc{
		{name: "demo", preset: "demo", ext: ".pcapng", check: func(t *testing.T, tr *Truth, s fileSummary) {
			if tr.Totals.IPv6SYNPackets == 0 || tr.Totals.VLANFrames == 0 || tr.Totals.FloodPackets != 2000 {
				t.Errorf("demo lacks IPv6, VLAN or its flood: %+v", tr.Totals)
			}
			if tr.Totals.Windows != 72 {
				t.Errorf("demo windows = %d, want 72", tr.Totals.Windows)
			}
		}},
		{name: "flood-micro", preset: "flood", ext: ".pcap", mod: func(c *Config) {
			c.Duration, c.FloodAt = 2*time.Hour, time.Hour+150*time.Second
		}},
		{name: "sleepers-short-lookback", preset: "sleepers", ext: ".pcap.gz", opts: FileOptions{Nanosecond: true},
			mod: func(c *Config) {
				c.Duration, c.Lookback = 8*time.Hour, time.Hour
				c.ScanDuration, c.SleepDuration, c.Rate0 = 20*time.Minute, 70*time.Minute, 20
			},
			check: func(t *testing.T, tr *Truth, s fileSummary) {
				if tr.Totals.NewSources <= tr.Totals.Infections {
					t.Errorf("no source came back as new: new %d, infections %d", tr.Totals.NewSources, tr.Totals.Infections)
				}
				post := 0
				for _, w := range tr.Windows {
					if !w.Warmup {
						post++
					}
				}
				if post == 0 {
					t.Error("no post-warmup window")
				}
			}},
		{name: "lookback-shorter-than-window", preset: "steady", ext: ".pcapng.gz", mod: func(c *Config) {
			c.Duration, c.Lookback, c.ProbesPerMinute, c.Rate0 = 3*time.Hour, 90*time.Second, 0.5, 30
		}},
		{name: "churn-odd-window", preset: "churn", ext: ".pcapng", mod: func(c *Config) {
			c.Duration, c.Churn, c.Window = 4*time.Hour, 1, 7*time.Minute
			c.Start = time.Date(2009, 1, 10, 0, 3, 17, 123456789, time.UTC)
			c.Ports = []uint16{445, 139}
			c.IPv6Fraction, c.VLANFraction = 0.2, 0.3
		}},
		{name: "bench-snaplen", preset: "bench", ext: ".pcap", mod: func(c *Config) {
			c.Duration, c.Background = 5*time.Minute, 100
			c.Population, c.SnapLen = 200, 128
		}, check: func(t *testing.T, tr *Truth, s fileSummary) {
			if s.truncated == 0 || s.maxCapLen > 128 {
				t.Errorf("snaplen not applied: %d truncated, max caplen %d", s.truncated, s.maxCapLen)
			}
		}},
		{name: "logistic-daynight-bursty", preset: "logistic", ext: ".pcapng", mod: func(c *Config) {
			c.Duration, c.Doubling, c.Capacity, c.Rate0 = 12*time.Hour, time.Hour, 400, 3
			c.DayNight, c.Overdispersion, c.Lookback = 0.5, 1, 6*time.Hour
		}},
	}
	dir := t.TempDir()
	for _, k := range cases {
		t.Run(k.name, func(t *testing.T) {
			c := mustPreset(t, k.preset)
			c.Seed = 3
			if k.mod != nil {
				k.mod(&c)
			}
			p := filepath.Join(dir, k.name+k.ext)
			tr, err := GenerateFile(c, p, k.opts)
			if err != nil {
				t.Fatal(err)
			}
			if tr.Totals.SYNPackets == 0 {
				t.Fatal("no watched SYN")
			}
			s := checkTruth(t, p, tr)
			if k.check != nil {
				k.check(t, tr, s)
			}
			// The truth survives its JSON round trip.
			tp := TruthPath(p)
			if err := WriteTruthFile(tp, tr); err != nil {
				t.Fatal(err)
			}
			back, err := ReadTruthFile(tp)
			if err != nil {
				t.Fatal(err)
			}
			if len(back.Windows) != len(tr.Windows) || back.Totals != tr.Totals {
				t.Error("truth JSON round trip differs")
			}
		})
	}
}

func TestDemoSmall(t *testing.T) {
	c := mustPreset(t, "demo")
	c.Seed = 1
	p := filepath.Join(t.TempDir(), "demo.pcapng")
	if _, err := GenerateFile(c, p, FileOptions{}); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if st.Size() > 1_500_000 {
		t.Errorf("demo.pcapng is %d bytes, want < 1.5 MB", st.Size())
	}
}

// perHour sums new sources over whole hours from the scenario start.
func perHour(tr *Truth, start time.Time) []float64 {
	var h []float64
	for _, w := range tr.Windows {
		i := int((w.StartNS - start.UnixNano()) / int64(time.Hour))
		if i < 0 {
			continue
		}
		for len(h) <= i {
			h = append(h, 0)
		}
		h[i] += float64(w.NewSources)
	}
	return h
}

func TestSteadyRate(t *testing.T) {
	c := Config{Seed: 11, Model: ModelSteady, Rate0: 60, Duration: 48 * time.Hour, ProbesPerMinute: 0.05}
	tr := generate(t, c)
	mean := float64(tr.Totals.NewSources) / 48
	if math.Abs(mean-60)/60 > 0.05 {
		t.Errorf("mean new sources per hour = %.2f, want 60 +- 5%%", mean)
	}
	if tr.Totals.NewSources != tr.Totals.Infections {
		t.Errorf("new sources %d != infections %d", tr.Totals.NewSources, tr.Totals.Infections)
	}
	// Poisson: the variance of per-window counts is close to their mean.
	if r := dispersion(tr); r < 0.8 || r > 1.25 {
		t.Errorf("variance/mean of per-window new sources = %.2f, want about 1", r)
	}
	for _, w := range tr.Windows {
		if w.ExpectedRate != 60 {
			t.Fatalf("expected rate %v, want 60", w.ExpectedRate)
		}
	}
}

func dispersion(tr *Truth) float64 {
	var s, s2, n float64
	for _, w := range tr.Windows {
		x := float64(w.NewSources)
		s += x
		s2 += x * x
		n++
	}
	m := s / n
	return (s2/n - m*m) / m
}

func TestExponentialDoubles(t *testing.T) {
	c := Config{Seed: 5, Model: ModelExponential, Rate0: 10, Doubling: 4 * time.Hour,
		Duration: 20 * time.Hour, ProbesPerMinute: 0.02}
	tr := generate(t, c.Normalize())
	h := perHour(tr, c.Normalize().Start)
	// Least squares of log(count) against the hour.
	var sx, sy, sxx, sxy, n float64
	for i, v := range h {
		if v == 0 {
			continue
		}
		x, y := float64(i)+0.5, math.Log(v)
		sx, sy, sxx, sxy, n = sx+x, sy+y, sxx+x*x, sxy+x*y, n+1
	}
	slope := (n*sxy - sx*sy) / (n*sxx - sx*sx)
	doubling := math.Ln2 / slope
	if math.Abs(doubling-4)/4 > 0.15 {
		t.Errorf("fitted doubling time %.2f h, want 4 h +- 15%% (hourly counts %v)", doubling, h)
	}
	// Expected counts: integral of 10 * 2^(t/4) over 20 h.
	want := 10 * 4 / math.Ln2 * (math.Exp2(5) - 1)
	if got := float64(tr.Totals.Infections); math.Abs(got-want)/want > 0.08 {
		t.Errorf("infections %v, want %.0f +- 8%%", got, want)
	}
}

func TestLogisticAndDecline(t *testing.T) {
	c := Config{Seed: 9, Model: ModelLogistic, Rate0: 2, Doubling: time.Hour, Capacity: 500,
		Duration: 30 * time.Hour, ProbesPerMinute: 0.01}
	tr := generate(t, c)
	i0 := 2 / math.Ln2
	if got, want := float64(tr.Totals.Infections), 500-i0; math.Abs(got-want)/want > 0.1 {
		t.Errorf("logistic infections %v, want about %.0f", got, want)
	}
	h := perHour(tr, c.Normalize().Start)
	if h[len(h)-1] > 3 {
		t.Errorf("logistic still growing at the end: %v", h)
	}

	d := Config{Seed: 9, Model: ModelDecline, Rate0: 200, Doubling: 2 * time.Hour,
		Duration: 8 * time.Hour, ProbesPerMinute: 0.01}
	tr = generate(t, d)
	h = perHour(tr, d.Normalize().Start)
	first, last := h[0]+h[1], h[6]+h[7]
	// Rate ratio over 6 h with a 2 h half-life: 8.
	if r := first / last; r < 5 || r > 13 {
		t.Errorf("decline ratio first/last two hours = %.1f, want about 8 (%v)", r, h)
	}
}

func TestDayNight(t *testing.T) {
	c := Config{Seed: 2, Model: ModelSteady, Rate0: 60, DayNight: 0.8, Duration: 72 * time.Hour, ProbesPerMinute: 0.01}
	tr := generate(t, c)
	var day, night float64
	for _, w := range tr.Windows {
		hr := time.Unix(0, w.StartNS).UTC().Hour()
		switch {
		case hr >= 12 && hr < 16:
			day += float64(w.NewSources)
		case hr >= 0 && hr < 4:
			night += float64(w.NewSources)
		}
	}
	// Mean factor over 12-16 h is about 1.74, over 0-4 h about 0.26.
	if r := day / night; r < 4.5 || r > 9 {
		t.Errorf("day/night ratio %.2f, want about 6.7", r)
	}
}

func TestOverdispersion(t *testing.T) {
	c := Config{Seed: 4, Model: ModelSteady, Rate0: 120, Overdispersion: 1, Duration: 48 * time.Hour, ProbesPerMinute: 0.01}
	tr := generate(t, c)
	// Negative binomial: variance/mean = 1 + d*mu with mu = 10 per window.
	if r := dispersion(tr); r < 5 || r > 18 {
		t.Errorf("variance/mean = %.2f, want about 11", r)
	}
	mean := float64(tr.Totals.NewSources) / 48
	if math.Abs(mean-120)/120 > 0.15 {
		t.Errorf("mean per hour %.1f, want 120 +- 15%%", mean)
	}
}

func TestChurnAndFlat(t *testing.T) {
	c := Config{Seed: 6, Model: ModelFlat, Population: 200, Duration: 10 * time.Hour, ProbesPerMinute: 2}
	tr := generate(t, c)
	var late int64
	for _, w := range tr.Windows[2:] {
		late += w.NewSources
	}
	if late != 0 || tr.Totals.NewSources != 200 {
		t.Errorf("flat without churn: %d new sources, %d after 10 min; want 200, 0", tr.Totals.NewSources, late)
	}
	c.Churn = 0.5
	tr = generate(t, c)
	want := 200 * 0.5 * 10.0
	if got := float64(tr.Totals.ChurnEvents); math.Abs(got-want)/want > 0.1 {
		t.Errorf("churn events %v, want about %v", got, want)
	}
	// Each move is a never-seen address; it shows as new once it probes.
	if got := tr.Totals.NewSources - 200; got > tr.Totals.ChurnEvents || float64(got) < 0.9*float64(tr.Totals.ChurnEvents) {
		t.Errorf("new sources from churn %d, churn events %d", got, tr.Totals.ChurnEvents)
	}
}

func TestFloodWindow(t *testing.T) {
	c := mustPreset(t, "flood")
	c.Seed = 1
	c.Duration = 4 * time.Hour
	tr := generate(t, c)
	at := c.Start.Add(c.FloodAt).UnixNano()
	var found bool
	for _, w := range tr.Windows {
		if at >= w.StartNS && at < w.StartNS+tr.WindowNS {
			found = true
			if w.FloodPackets != 5000 || w.NewSources < 5000 || w.ActiveSources < 5000 {
				t.Errorf("flood window: %+v", w)
			}
			if w.DistinctTargets > 5000/10 {
				t.Errorf("flood window has %d targets, the flood hits one", w.DistinctTargets)
			}
		} else if w.FloodPackets != 0 {
			t.Errorf("flood packets outside the flood window: %+v", w)
		}
	}
	if !found || tr.Totals.FloodPackets != 5000 {
		t.Errorf("flood not found: %+v", tr.Totals)
	}
}

func TestEmptyScenario(t *testing.T) {
	tr := generate(t, Config{Model: ModelNone, Duration: time.Hour})
	if tr.Totals.Packets != 0 || len(tr.Windows) != 0 {
		t.Errorf("empty scenario produced %+v", tr.Totals)
	}
	// Background only: every window present, zero SYNs.
	tr = generate(t, Config{Model: ModelNone, Duration: time.Hour, Background: 5})
	if tr.Totals.SYNPackets != 0 || len(tr.Windows) != 12 {
		t.Errorf("background only: %+v, %d windows", tr.Totals, len(tr.Windows))
	}
}

func TestMaxSources(t *testing.T) {
	tr := generate(t, Config{Model: ModelExponential, Rate0: 100, Doubling: time.Hour, Duration: 6 * time.Hour,
		MaxSources: 150, ProbesPerMinute: 0.01})
	if tr.Totals.Infections != 150 {
		t.Errorf("infections %d, want the cap 150", tr.Totals.Infections)
	}
}

func BenchmarkGenerate(b *testing.B) {
	c := mustPresetB(b, "bench")
	c.Duration = 10 * time.Minute
	var d discard
	for b.Loop() {
		if _, err := Generate(c, &d); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(d.n)/float64(b.N), "packets/op")
}

func mustPresetB(b *testing.B, name string) Config {
	c, err := Preset(name)
	if err != nil {
		b.Fatal(err)
	}
	return c
}

// TestCommittedDemo keeps testdata/demo.pcapng and its truth in step with
// the generator. After an intended change of the output, regenerate them:
//
//	go run ./cmd/pcapgen -scenario demo -seed 1 -o testdata/demo.pcapng
func TestCommittedDemo(t *testing.T) {
	const capture = "../../testdata/demo.pcapng"
	want, err := os.ReadFile(capture)
	if os.IsNotExist(err) {
		t.Skip("testdata/demo.pcapng not present")
	}
	if err != nil {
		t.Fatal(err)
	}
	c := mustPreset(t, "demo")
	c.Seed = 1
	p := filepath.Join(t.TempDir(), "demo.pcapng")
	tr, err := GenerateFile(c, p, FileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	const hint = "; regenerate with: go run ./cmd/pcapgen -scenario demo -seed 1 -o testdata/demo.pcapng"
	if !bytes.Equal(got, want) {
		t.Fatal("testdata/demo.pcapng differs from the generator's output" + hint)
	}
	committed, err := ReadTruthFile(TruthPath(capture))
	if err != nil {
		t.Fatal(err)
	}
	if committed.Totals != tr.Totals || len(committed.Windows) != len(tr.Windows) {
		t.Fatal("testdata/demo.truth.json differs from the generator's truth" + hint)
	}
	for i := range tr.Windows {
		if committed.Windows[i] != tr.Windows[i] {
			t.Fatalf("testdata/demo.truth.json window %d differs%s", i, hint)
		}
	}
	checkTruth(t, capture, committed)
}

package config

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/synscope/synscope/pkg/output"
)

func TestDefaults(t *testing.T) {
	c, err := Load([]string{"-r", "a.pcap"})
	if err != nil {
		t.Fatal(err)
	}
	if c.Ports.String() != "445" || c.Window != 5*time.Minute || c.Lookback != 24*time.Hour ||
		c.Output != "-" || len(c.Read) != 1 || c.SensorID == "" || c.LogLevel != "info" {
		t.Errorf("defaults: %+v", c)
	}
}

func TestPrecedenceFlagsEnvFile(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "sensor.yaml")
	yaml := "ports: \"139,445\"\nwindow: 10m\nlookback: 2d\nsensor-id: from-file\nread:\n  - x.pcap\n  - y.pcap\nhome-net: [10.0.0.0/8]\n"
	if err := os.WriteFile(file, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("SENSOR_WINDOW", "15m")
	t.Setenv("SENSOR_SENSOR_ID", "from-env")
	c, err := Load([]string{"--config", file, "--sensor-id", "from-flag"})
	if err != nil {
		t.Fatal(err)
	}
	if c.SensorID != "from-flag" {
		t.Errorf("flag must win: %q", c.SensorID)
	}
	if c.Window != 15*time.Minute {
		t.Errorf("environment must win over the file: %v", c.Window)
	}
	if c.Lookback != 48*time.Hour || c.Ports.String() != "139,445" {
		t.Errorf("file values: %v %v", c.Lookback, c.Ports)
	}
	if strings.Join(c.Read, ",") != "x.pcap,y.pcap" || len(c.HomeNet) != 1 {
		t.Errorf("lists from the file: %v %v", c.Read, c.HomeNet)
	}
}

func TestReadFlagsAndPositional(t *testing.T) {
	c, err := Load([]string{"-r", "a,b.pcap", "--read", "c.pcap", "d.pcap"})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(c.Read, "|"); got != "a,b.pcap|c.pcap|d.pcap" {
		t.Errorf("read list %q: a comma in a file name must survive", got)
	}
}

// TestPositionalFilesReplaceTheFilesList: files after the flags are -r's
// files: they replace a config file's read list, as -r does (they were
// added to it, so a run read the file's captures as well).
func TestPositionalFilesReplaceTheFilesList(t *testing.T) {
	file := filepath.Join(t.TempDir(), "c.yaml")
	os.WriteFile(file, []byte("read: [a.pcap]\n"), 0o600)
	for args, want := range map[string]string{
		"-c " + file + " b.pcap":           "b.pcap",
		"-c " + file + " -r x.pcap b.pcap": "x.pcap|b.pcap",
		"-c " + file + " -r x.pcap":        "x.pcap",
		"-c " + file:                       "a.pcap",
	} {
		c, err := Load(strings.Fields(args))
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Join(c.Read, "|"); got != want {
			t.Errorf("%s: read %q, want %q", args, got, want)
		}
	}
}

// TestGrowthSettingsOnlyWhenGrowthIsOn: a window too long for the default
// horizons is refused with what to set, unless growth is off (the check
// refused --window 1d --growth=false, which classifies nothing).
func TestGrowthSettingsOnlyWhenGrowthIsOn(t *testing.T) {
	if _, err := Load([]string{"-r", "x.pcap", "--window", "1d", "--growth=false"}); err != nil {
		t.Errorf("--window 1d with growth off: %v", err)
	}
	if _, err := Load([]string{"-r", "x.pcap", "--window", "3h"}); err == nil || !strings.Contains(err.Error(), "set --growth-horizons") {
		t.Errorf("--window 3h with the default horizons: %v, want what to set", err)
	}
	if _, err := Load([]string{"-r", "x.pcap", "--window", "3h", "--growth-horizons", "12h,1d"}); err != nil {
		t.Errorf("--window 3h with horizons of 12h and 1d: %v", err)
	}
	if _, err := Load([]string{"-r", "x.pcap", "--growth=false", "--growth-horizons", "soon"}); err == nil {
		t.Error("a malformed horizon accepted because growth is off")
	}
}

func TestInvalidValuesNameTheKey(t *testing.T) {
	cases := []struct {
		args []string
		env  [2]string
		want string
	}{
		{[]string{"-r", "a", "--ports", "445,70000"}, [2]string{}, "ports"},
		{[]string{"-r", "a", "--window", "5 minutes"}, [2]string{}, "window"},
		{[]string{"-r", "a", "--window", "-5m"}, [2]string{}, "window"},
		{[]string{"-r", "a", "--lookback", "1m", "--window", "5m"}, [2]string{}, "lookback"},
		{[]string{"-r", "a", "--home-net", "10.0.0.0/33"}, [2]string{}, "home-net"},
		{[]string{"-r", "a", "--log-level", "loud"}, [2]string{}, "log-level"},
		{[]string{"-r", "a", "--max-sources", "0"}, [2]string{}, "max-sources"},
		{[]string{"-r", "a", "--max-sources", "3", "--shards", "4"}, [2]string{}, "lower --shards or raise --max-sources"},
		{[]string{"-r", "a", "--stats-interval", "1ns"}, [2]string{}, "stats-interval"},
		{[]string{"-r", "a", "--state-interval", "500ms"}, [2]string{}, "state-interval"},
		{[]string{"-r", "a", "--scan-hosts", "1"}, [2]string{}, "scan-hosts"},
		{[]string{"-r", "a", "--decoys", "198.18.0.1"}, [2]string{}, "decoys"},
		{[]string{"-r", "a", "--decoys", "198.18.0.0/24,198.18.0.5/32"}, [2]string{}, "decoys"},
		{[]string{"-r", "a", "--dark-net", "10.0.0.0/8,10.1.0.0/16"}, [2]string{}, "dark-net"},
		{[]string{"-r", "a", "--scan-hosts", "65"}, [2]string{}, "scan-hosts"},
		{[]string{"-r", "a", "--scan-ports", "x"}, [2]string{}, "scan-ports"},
		{[]string{"-r", "a", "--scan-interval", "0s"}, [2]string{}, "scan-interval"},
		// an id the fleet's collector could not read: every record of
		// the sensor bad there, the sensor missing (a review)
		{[]string{"-r", "a", "--sensor-id", `dc\east`}, [2]string{}, "sensor-id"},
		{[]string{"-r", "a", "--sensor-id", "gw\x01"}, [2]string{}, "sensor-id"},
		{[]string{"-r", "a"}, [2]string{"SENSOR_SENSOR_ID", `a"b`}, "sensor-id"},
		// one interface a sensor: the first was left out, unsaid (a review)
		{[]string{"-i", "eth0", "-i", "lo"}, [2]string{}, "iface"},
		// a bound of 2.5e12 an hour: every verdict insufficient_data (a review)
		{[]string{"-r", "a", "--growth-min-doubling", "1ns"}, [2]string{}, "growth-min-doubling"},
		{[]string{"-r", "a", "--growth-min-doubling", "4m"}, [2]string{}, "growth-min-doubling"},
		// bins kept short by the shortest horizon: 86,400 windows fitted
		// for each (a review: 172 s for an 8-hour capture)
		{[]string{"-r", "a", "--window", "1s", "--growth-horizons", "5s,24h"}, [2]string{}, "lengthen the shortest horizon to at least"},
		{[]string{"-r", "a", "--growth-horizons", "15m,2160h"}, [2]string{}, "growth-horizons"},
		{[]string{"-r", "a", "--growth-horizons", "6h,2160h", "--growth-min-windows", "73"}, [2]string{}, "growth-horizons"},
		{[]string{"-r", "a", "--growth-min-doubling", "24h", "--window", "48h", "--lookback", "96h", "--growth-horizons", "144h,288h"}, [2]string{}, "growth-min-doubling"},
		{[]string{"-r", "a"}, [2]string{"SENSOR_PORTS", "smb"}, "ports"},
		{[]string{"-r", "a"}, [2]string{"SENSOR_FLOOD_SOURCES", "maybe"}, "flood-sources"},
		{[]string{"-r", "a", "--flood-threshold", "1"}, [2]string{}, "flood-threshold"},
		{[]string{"-r", "a", "--growth-cycle-amplitude", "1"}, [2]string{}, "growth-cycle-amplitude"},
		{[]string{"-r", "a"}, [2]string{"SENSOR_GROWTH_CYCLE_AMPLITUDE", "strong"}, "growth-cycle-amplitude"},
		{[]string{"-r", "a", "--growth-linear-confidence", "0.3"}, [2]string{}, "growth-linear-confidence"},
		{[]string{"-r", "a", "--growth-linear-confidence", "1"}, [2]string{}, "growth-linear-confidence"},
		{[]string{"-r", "a", "--alert-exec", "/nonexistent/hook"}, [2]string{}, "alert-exec"},
		{[]string{"-r", "a", "--alert-webhook", "ftp://x/y"}, [2]string{}, "alert-webhook"},
		{[]string{"-r", "a", "--bogus"}, [2]string{}, "unknown flag"},
		{[]string{}, [2]string{}, "nothing to read"},
		{[]string{"-r", "a", "-i", "eth0"}, [2]string{}, "not both"},
	}
	for _, c := range cases {
		if c.env[0] != "" {
			t.Setenv(c.env[0], c.env[1])
		}
		_, err := Load(c.args)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v %v: error %v, want one naming %q", c.args, c.env, err, c.want)
		}
		if c.env[0] != "" {
			os.Unsetenv(c.env[0])
		}
	}
}

// The range an error gives is the one the sensor takes: its lower end is
// accepted, the value just under it refused with that range (a review:
// --flood-threshold 0 said "from 1", and 1 was then refused; the
// confidences and amplitudes said "0 to 1", and 1 was refused).
func TestRefusedValueGivesTheRealRange(t *testing.T) {
	for _, c := range []struct {
		key, low, under, say string
	}{
		{"flood-threshold", "2", "1", "from 2 to"},
		{"growth-min-windows", "3", "2", "from 3 to"},
		{"scan-hosts", "2", "1", "from 2 to"},
		{"scan-ports", "2", "1", "from 2 to"},
		{"growth-confidence", "0.5", "0.49", "from 0.5 up to (not including) 1"},
		{"growth-linear-confidence", "0.5", "1", "from 0.5 up to (not including) 1"},
		{"growth-diurnal-amplitude", "0", "1", "from 0 up to (not including) 1"},
		{"growth-cycle-amplitude", "0", "1", "from 0 up to (not including) 1"},
	} {
		if _, err := Load([]string{"-r", "a", "--" + c.key, c.low}); err != nil {
			t.Errorf("--%s %s refused: %v", c.key, c.low, err)
		}
		_, err := Load([]string{"-r", "a", "--" + c.key, c.under})
		if err == nil || !strings.Contains(err.Error(), c.say) {
			t.Errorf("--%s %s: error %v, want one saying %q", c.key, c.under, err, c.say)
		}
	}
}

func TestConfigFileErrors(t *testing.T) {
	dir := t.TempDir()
	typo := filepath.Join(dir, "typo.yaml")
	os.WriteFile(typo, []byte("windw: 5m\n"), 0o644)
	broken := filepath.Join(dir, "broken.yaml")
	os.WriteFile(broken, []byte("window: [5m\n"), 0o644)
	for path, want := range map[string]string{
		typo:                            `unknown key "windw"`,
		broken:                          "not valid YAML",
		filepath.Join(dir, "none.yaml"): "no such file",
	} {
		_, err := Load([]string{"-r", "a", "--config", path})
		if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), path) {
			t.Errorf("%s: %v, want the path and %q", path, err, want)
		}
	}
}

func TestPrintConfigRoundTrips(t *testing.T) {
	c, err := Load([]string{"-r", "a.pcap", "--ports", "1-3,445", "--lookback", "7d", "--home-net", "10.0.0.0/8", "--growth-cycle-amplitude", "0.6",
		"--growth-linear-confidence", "0.95"})
	if err != nil {
		t.Fatal(err)
	}
	if c.Growth.CycleAmplitude != 0.6 || c.Growth.LinearConfidence != 0.95 {
		t.Fatalf("--growth-cycle-amplitude 0.6 read as %v, --growth-linear-confidence 0.95 as %v", c.Growth.CycleAmplitude, c.Growth.LinearConfidence)
	}
	var b strings.Builder
	if err := c.WriteYAML(&b); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "c.yaml")
	os.WriteFile(file, []byte(b.String()), 0o644)
	d, err := Load([]string{"--config", file})
	if err != nil {
		t.Fatalf("printed config does not load: %v\n%s", err, b.String())
	}
	var b2 strings.Builder
	d.WriteYAML(&b2)
	if d.Growth.CycleAmplitude != 0.6 || d.Growth.LinearConfidence != 0.95 {
		t.Errorf("growth-cycle-amplitude or growth-linear-confidence did not survive the round trip: %v, %v", d.Growth.CycleAmplitude, d.Growth.LinearConfidence)
	}
	if b.String() != b2.String() {
		t.Errorf("round trip differs:\n%s\n---\n%s", b.String(), b2.String())
	}
}

func TestParseDuration(t *testing.T) {
	for in, want := range map[string]time.Duration{"7d": 7 * 24 * time.Hour, "90s": 90 * time.Second, "1h30m": 90 * time.Minute} {
		if got, err := ParseDuration(in); err != nil || got != want {
			t.Errorf("%s: %v %v", in, got, err)
		}
	}
}

// TestExampleConfigIsTrue keeps docs/sensor.example.yaml loadable, complete
// and equal to the defaults it claims.
func TestExampleConfigIsTrue(t *testing.T) {
	path := "../../docs/sensor.example.yaml"
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range fileKeys {
		if !strings.Contains(string(raw), "\n"+k+":") {
			t.Errorf("the example config does not document %q", k)
		}
	}
	fromFile, err := Load([]string{"--config", path, "-r", "x.pcap"})
	if err != nil {
		t.Fatalf("the example config does not load: %v", err)
	}
	defaults, _ := Load([]string{"-r", "x.pcap"})
	var a, b strings.Builder
	fromFile.WriteYAML(&a)
	defaults.WriteYAML(&b)
	if a.String() != b.String() {
		t.Errorf("the example's values differ from the defaults:\n%s\n---\n%s", a.String(), b.String())
	}
}

// TestOnOffValues: an on/off key is true or false in the file, the
// environment and the flags alike; "yes", "on" or a typo is refused naming
// the key (read as false before: `kafka-tls: yes` meant plaintext Kafka,
// `promisc: on` no promiscuous mode).
func TestOnOffValues(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		yaml, env, want string
		ok              bool
	}{
		{yaml: "promisc: true\negress: false\n", ok: true},
		{yaml: "promisc: yes\n", want: "promisc"},
		{yaml: "promisc: on\n", want: "promisc"},
		{yaml: "state-reset: yes\n", want: "state-reset"},
		{yaml: "growth: off\n", want: "growth"},
		{yaml: "kafka-tls: yes\nkafka-brokers: [b:9092]\n", want: "kafka-tls"},
		{env: "maybe", want: "egress"},
	} {
		file := filepath.Join(dir, "c.yaml")
		if err := os.WriteFile(file, []byte(c.yaml+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		if c.env != "" {
			t.Setenv("SENSOR_EGRESS", c.env)
		}
		cfg, err := Load([]string{"-r", "a.pcap", "--config", file})
		if c.env != "" {
			os.Unsetenv("SENSOR_EGRESS")
		}
		switch {
		case c.ok && err != nil:
			t.Errorf("%q: %v", c.yaml, err)
		case c.ok && !cfg.Promisc:
			t.Errorf("%q: promisc %v", c.yaml, cfg.Promisc)
		case !c.ok && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%q %q: %v, want an error naming %s", c.yaml, c.env, err, c.want)
		}
	}
}

// TestLeadingZeroNumbers: a plain number with a leading zero in the file,
// which YAML reads as octal (`ports: 0445` watched port 293), is refused
// naming the key; quoted, it is the flag's value.
func TestLeadingZeroNumbers(t *testing.T) {
	dir := t.TempDir()
	for yaml, want := range map[string]string{
		"ports: 0445\n":        "ports",
		"max-targets: 010\n":   "max-targets",
		"sensor-id: 0123\n":    "", // text, taken as written (TestTextValuesAsWritten)
		"ports: [139, 0445]\n": "ports",
		"ports: \"0445\"\n":    "",
		"ports: [445]\n":       "",
		"max-targets: 10\n":    "",
		"window: 05m\n":        "",
		"flood-threshold: 0\n": "flood-threshold", // refused as a value, not for its zero
		"ports: 0_445\n":       "ports",           // octal too, the underscore dropped: port 293
		"max-targets: 0_10\n":  "max-targets",
		"ports: 0x1bd\n":       "ports", // hex
		"ports: 0o445\n":       "ports",
		"max-targets: 1_000\n": "max-targets", // not what the command line takes
		// an explicit tag took the quoted text as octal (port 293, 16)
		"ports: !!int \"0445\"\n":   "ports",
		"max-targets: !!int 0x10\n": "max-targets",
	} {
		file := filepath.Join(dir, "c.yaml")
		if err := os.WriteFile(file, []byte(yaml), 0o644); err != nil {
			t.Fatal(err)
		}
		c, err := Load([]string{"-r", "a.pcap", "--config", file})
		switch {
		case want == "" && err != nil:
			t.Errorf("%q: %v", yaml, err)
		case want == "" && strings.HasPrefix(yaml, "ports") && c.Ports.String() != "445":
			t.Errorf("%q: ports %v", yaml, c.Ports)
		case want != "" && (err == nil || !strings.Contains(err.Error(), want)):
			t.Errorf("%q: %v, want an error naming %s", yaml, err, want)
		}
	}
}

// TestEmptyEnvironmentVariable: a SENSOR_* variable set to nothing wins
// over the file, as any other value does (it was ignored: SENSOR_USER=
// kept nobody, SENSOR_METRICS_ADDR= could not turn the file's endpoint
// off).
func TestEmptyEnvironmentVariable(t *testing.T) {
	file := filepath.Join(t.TempDir(), "s.yaml")
	os.WriteFile(file, []byte("metrics-addr: 127.0.0.1:9464\n"), 0o600)
	t.Setenv("SENSOR_USER", "")
	t.Setenv("SENSOR_METRICS_ADDR", "")
	c, err := Load([]string{"-i", "eth0", "--config", file})
	if err != nil {
		t.Fatal(err)
	}
	if c.User != "" || c.MetricsAddr != "" {
		t.Errorf("user %q, metrics %q", c.User, c.MetricsAddr)
	}
}

// TestPortsRepeated: --ports given twice watches both lists (the last
// alone was watched, without a word), as --home-net and -r add up.
func TestPortsRepeated(t *testing.T) {
	c, err := Load([]string{"-r", "x.pcap", "--ports", "445", "--ports", "139,3389"})
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Ports.String(); got != "139,445,3389" {
		t.Errorf("ports %q, want 139,445,3389", got)
	}
}

// TestValueShapesInTheFile: a list where one value goes, or a list of lists,
// is refused naming the key (`window: [1, 2]` was reported as an empty
// window, `read: [[a, b]]` read nothing; review); lists of plain values
// where lists go are taken.
func TestValueShapesInTheFile(t *testing.T) {
	dir := t.TempDir()
	for body, want := range map[string]string{
		"window: [1, 2]\n":             "window: a list, where one value goes",
		"read: [[a.pcap, b.pcap]]\n":   "read: a list of lists",
		"sensor-id: {name: gw1}\n":     "sensor-id: a mapping, where a value goes",
		"ports: [139, 445]\n":          "",
		"home-net: [10.0.0.0/8]\n":     "",
		"growth-horizons: [6h, 24h]\n": "",
		"Ports: [445]\n":               "", // keys are read case-blind, lists too
		"Home-Net: [10.0.0.0/8]\n":     "",
	} {
		file := filepath.Join(dir, "c.yaml")
		os.WriteFile(file, []byte(body), 0o644)
		_, err := Load([]string{"-r", "a.pcap", "--config", file})
		if want == "" && err != nil || want != "" && (err == nil || !strings.Contains(err.Error(), want)) {
			t.Errorf("%q: %v, want %q", body, err, want)
		}
	}
}

// FuzzConfigFile: a config file is input from outside. It loads, or is
// refused with an error that names it; one that loads prints
// (--print-config) to a file that loads to the same settings, printed the
// same again.
func FuzzConfigFile(f *testing.F) {
	for _, s := range []string{
		"ports: \"139,445\"\nwindow: 10m\nlookback: 2d\nsensor-id: gw1\nread:\n  - x.pcap\n  - y.pcap\nhome-net: [10.0.0.0/8]\n",
		"decoys: [192.0.2.1/32]\ndark-net: [198.18.0.0/15]\nmax-targets: 10\n",
		"ports: 445\nshards: auto\ngrowth: true\n",
		"ports: 0_445\n",
		"window: [1, 2]\n",
	} {
		f.Add([]byte(s))
	}
	if b, err := os.ReadFile("../../docs/sensor.example.yaml"); err == nil {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		dir := t.TempDir()
		file := filepath.Join(dir, "c.yaml")
		if err := os.WriteFile(file, b, 0o600); err != nil {
			t.Fatal(err)
		}
		c, err := Load([]string{"--config", file, "-r", "x.pcap"})
		if err != nil {
			if !strings.Contains(err.Error(), file) && !strings.Contains(err.Error(), ": ") {
				t.Fatalf("an error that names neither the file nor the key: %v", err)
			}
			return
		}
		var first strings.Builder
		if err := c.WriteYAML(&first); err != nil {
			t.Fatal(err)
		}
		printed := filepath.Join(dir, "printed.yaml")
		os.WriteFile(printed, []byte(first.String()), 0o600)
		d, err := Load([]string{"--config", printed})
		if err != nil {
			t.Fatalf("the printed settings do not load: %v\ninput %q\nprinted:\n%s", err, b, first.String())
		}
		var second strings.Builder
		d.WriteYAML(&second)
		if first.String() != second.String() {
			t.Fatalf("printed again differently for %q:\n%s\n---\n%s", b, first.String(), second.String())
		}
	})
}

// TestRefusedValueSaysWhereItCameFrom: a value refused names its source,
// the flag, the environment variable or the config file (SENSOR_PORTS=
// and a file's `window: -5m` were reported as if from the command line).
func TestRefusedValueSaysWhereItCameFrom(t *testing.T) {
	file := filepath.Join(t.TempDir(), "c.yaml")
	if err := os.WriteFile(file, []byte("window: -5m\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// Values the engine's and the classifier's checks refuse (their
	// messages begin with the key) say where they came from too.
	long := filepath.Join(t.TempDir(), "long.yaml")
	os.WriteFile(long, []byte("window: 169h\n"), 0o644)
	horizons := filepath.Join(t.TempDir(), "h.yaml")
	os.WriteFile(horizons, []byte("growth-horizons: \"24h,6h\"\n"), 0o644)
	t.Setenv("SENSOR_CONFIG", "")
	for _, c := range []struct {
		args      []string
		env, want string
	}{
		{[]string{"--window", "-5m"}, "", "(flag --window)"},
		{[]string{"-c", file}, "", "(config file " + file + ")"},
		{nil, "SENSOR_PORTS=", "(environment variable SENSOR_PORTS)"},
		{[]string{"-c", file, "--window", "0"}, "", "(flag --window)"}, // the flag wins
		{[]string{"-c", long}, "", "must be at most 168h (config file " + long + ")"},
		{nil, "SENSOR_LOOKBACK=1m", "must be at least one window (5m0s) (environment variable SENSOR_LOOKBACK)"},
		{[]string{"-c", horizons}, "", "(config file " + horizons + ")"},
		// The lookback refused for the window's sake is the default, not
		// the file's (it does not name it).
		{[]string{"-c", long, "--window", "48h"}, "", "must be at least one window (48h0m0s) (the default)"},
	} {
		t.Run(strings.Join(c.args, " ")+c.env, func(t *testing.T) {
			if k, v, ok := strings.Cut(c.env, "="); ok {
				t.Setenv(k, v)
			}
			_, err := Load(c.args)
			if err == nil || !strings.HasSuffix(err.Error(), c.want) {
				t.Errorf("%v, want it to end %q", err, c.want)
			}
		})
	}
	_, err := LoadCollect([]string{"--kafka-brokers", "x:9092", "--window", "-1s"})
	if err == nil || !strings.HasSuffix(err.Error(), "(flag --window)") {
		t.Errorf("collect: %v", err)
	}
	// The Kafka checks' and collect's engine check's refusals named no
	// place (a review).
	kafka := filepath.Join(t.TempDir(), "k.yaml")
	os.WriteFile(kafka, []byte("kafka-brokers: [k:9092]\nkafka-buffer: 1K\n"), 0o644)
	if _, err := Load([]string{"-r", "a.pcap", "-c", kafka}); err == nil || !strings.HasSuffix(err.Error(), "(config file "+kafka+")") {
		t.Errorf("kafka-buffer from a file: %v", err)
	}
	os.WriteFile(long, []byte("kafka-brokers: [k:9092]\nwindow: 169h\n"), 0o644)
	if _, err := LoadCollect([]string{"-c", long}); err == nil || !strings.HasSuffix(err.Error(), "(config file "+long+")") {
		t.Errorf("collect, window from a file: %v", err)
	}
}

// TestTextValuesAsWritten: YAML reads an unquoted 1.10 as a number and
// 2001-01-01 as a date; a key whose value is text takes it as written, as
// the flags do (sensor-id 1.10 was "1.1", output 1e2 the file "100").
func TestTextValuesAsWritten(t *testing.T) {
	file := filepath.Join(t.TempDir(), "c.yaml")
	os.WriteFile(file, []byte("sensor-id: 1.10\noutput: 1e2\nstate-file: 2.50\nuser: .5\nread: [1.0, 0x10]\n"+
		"kafka-brokers: [k:9092]\nkafka-topic: 1e3\nkafka-user: 12345678901234567890123\nkafka-password: 1.50\nkafka-sasl: plain\n"), 0o644)
	c, err := Load([]string{"-c", file})
	if err != nil {
		t.Fatal(err)
	}
	got := []string{c.SensorID, c.Output, c.StateFile, c.User, strings.Join(c.Read, ","), c.Kafka.Topic, c.Kafka.User, c.Kafka.Password}
	want := []string{"1.10", "1e2", "2.50", ".5", "1.0,0x10", "1e3", "12345678901234567890123", "1.50"}
	if !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
	// A tag written in the file is its word (!!binary was read as text:
	// a review of the first version).
	os.WriteFile(file, []byte("output: !!binary Zm9vLmpzb25s\nsensor-id: !!str 7\n"), 0o644)
	if c, err = Load([]string{"-r", "a.pcap", "-c", file}); err != nil || c.Output != "foo.jsonl" || c.SensorID != "7" {
		t.Errorf("tagged values: %v %+v", err, c)
	}
	os.WriteFile(file, []byte("sensor-id: 2001-01-01\nuser:\nmax-targets: 10\noutput: 0123\n"), 0o644)
	if c, err = Load([]string{"-r", "a.pcap", "-c", file}); err != nil || c.SensorID != "2001-01-01" || c.User != "nobody" || c.MaxTargets != 10 || c.Output != "0123" {
		t.Errorf("a date as the id, a null user (not set), a number: %v %+v", err, c)
	}
}

// TestOneModeFromTheHighestPlace: iface and read given in two places
// (flags, environment, file): the higher one is taken, so a gateway's
// config file with its interface serves an offline run with -r (it was
// refused, blamed on the flags); given in one place both are refused,
// naming it.
func TestOneModeFromTheHighestPlace(t *testing.T) {
	dir := t.TempDir()
	iface := filepath.Join(dir, "i.yaml")
	os.WriteFile(iface, []byte("iface: eth0\n"), 0o644)
	read := filepath.Join(dir, "r.yaml")
	os.WriteFile(read, []byte("read: [a.pcap]\n"), 0o644)
	both := filepath.Join(dir, "b.yaml")
	os.WriteFile(both, []byte("iface: eth0\nread: [a.pcap]\n"), 0o644)
	t.Setenv("SENSOR_CONFIG", "")
	for _, tc := range []struct {
		args             []string
		env              string
		iface, read, err string
	}{
		{[]string{"-c", iface, "-r", "x.pcap"}, "", "", "x.pcap", ""},
		{[]string{"-c", iface, "x.pcap"}, "", "", "x.pcap", ""},
		{[]string{"-c", read, "-i", "lo"}, "", "lo", "", ""},
		{[]string{"-r", "x.pcap"}, "SENSOR_IFACE=eth1", "", "x.pcap", ""},
		{[]string{"-c", read}, "SENSOR_IFACE=eth1", "eth1", "", ""},
		{[]string{"-c", iface}, "SENSOR_READ=y.pcap", "", "y.pcap", ""},
		{[]string{"-c", both}, "", "", "", "config file " + both + " gives both"},
		{[]string{"-i", "lo", "-r", "x.pcap"}, "", "", "", "both -i and -r"},
	} {
		t.Run(strings.Join(tc.args, " ")+tc.env, func(t *testing.T) {
			if k, v, ok := strings.Cut(tc.env, "="); ok {
				t.Setenv(k, v)
			}
			c, err := Load(tc.args)
			switch {
			case tc.err != "":
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Errorf("%v, want %q", err, tc.err)
				}
			case err != nil:
				t.Error(err)
			case c.Iface != tc.iface || strings.Join(c.Read, ",") != tc.read:
				t.Errorf("iface %q read %q, want %q %q", c.Iface, c.Read, tc.iface, tc.read)
			}
		})
	}
}

// TestEmptyConfigFlagReadsNoFile: -c ” wins over SENSOR_CONFIG as any
// flag wins over the environment; empty list elements are none.
// TestLongWindowsKeepTheDefaultBound: windows longer than a day start
// with the default --growth-min-doubling (24 h) below them, as they did;
// only a value given below the window is refused (a review: the check
// refused its own default).
func TestLongWindowsKeepTheDefaultBound(t *testing.T) {
	if _, err := Load([]string{"-r", "a", "--window", "48h", "--lookback", "96h", "--growth-horizons", "144h,288h"}); err != nil {
		t.Error(err)
	}
	// Short windows with the default horizons are binned, as before.
	for _, w := range []string{"1s", "10s", "1m"} {
		if _, err := Load([]string{"-r", "a", "--window", w}); err != nil {
			t.Errorf("--window %s: %v", w, err)
		}
	}
	if _, err := Load([]string{"-r", "a", "--window", "1s", "--growth-horizons", "1h,24h"}); err != nil {
		t.Errorf("--window 1s, horizons 1h and 24h: %v", err)
	}
}

func TestEmptyConfigFlagReadsNoFile(t *testing.T) {
	file := filepath.Join(t.TempDir(), "c.yaml")
	os.WriteFile(file, []byte("window: 10m\n"), 0o644)
	t.Setenv("SENSOR_CONFIG", file)
	if c, err := Load([]string{"-r", "a.pcap"}); err != nil || c.Window != 10*time.Minute {
		t.Errorf("SENSOR_CONFIG: %v %v", err, c)
	}
	if c, err := Load([]string{"-r", "a.pcap", "-c", ""}); err != nil || c.Window != 5*time.Minute || c.ConfigFile != "" {
		t.Errorf("-c '': %v %+v", err, c)
	}
	os.WriteFile(file, []byte("read: [\"\", ~]\n"), 0o644)
	if _, err := Load(nil); err == nil || !strings.Contains(err.Error(), "nothing to read") {
		t.Errorf("read: [\"\", ~]: %v", err)
	}
}

// TestConfigFileRefusals: keys repeated in another case (one was taken at
// random), settings in a second YAML document (ignored), a directory, and
// a file too large to be one of settings are refused, naming the file; an
// empty second document is not a second set of settings.
func TestConfigFileRefusals(t *testing.T) {
	dir := t.TempDir()
	for body, want := range map[string]string{
		"ports: \"445\"\nPorts: \"139\"\n":     "Ports (line 2): the key ports of line 1 again",
		"window: 10m\n---\nwindow: 20m\n":      "more than one YAML document",
		"window: 10m\n---\n: : [\n":            "not valid YAML after its first document",
		"---\nwindow: 10m\n---\n":              "",
		"window: 10m\n...\n":                   "",
		"# comments only\n":                    "",
		strings.Repeat("# padding\n", 120_000): "not a file of settings",
	} {
		file := filepath.Join(dir, "c.yaml")
		os.WriteFile(file, []byte(body), 0o644)
		_, err := Load([]string{"-r", "a.pcap", "--config", file})
		if want == "" && err != nil || want != "" && (err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), file)) {
			t.Errorf("%.40q: %v, want %q", body, err, want)
		}
	}
	if _, err := Load([]string{"-r", "a.pcap", "--config", dir}); err == nil || !strings.Contains(err.Error(), "is a directory") {
		t.Errorf("a directory: %v", err)
	}
}

// TestPrintConfigSensorIDAsGiven: no sensor-id (the host name) is printed
// as none, so the file copied to other sensors does not give them all this
// one's name; one given is printed.
func TestPrintConfigSensorIDAsGiven(t *testing.T) {
	for args, want := range map[string]string{"": `sensor-id: ""`, "--sensor-id=gw1": `sensor-id: "gw1"`} {
		c, err := Load(append([]string{"-r", "a.pcap"}, strings.Fields(args)...))
		if err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		if err := c.WriteYAML(&b); err != nil || !strings.Contains(b.String(), want+"\n") {
			t.Errorf("%q: %v, want %s in\n%s", args, err, want, b.String())
		}
	}
}

// TestPrintConfigNotUTF8: a setting that is not UTF-8 (a Latin-1 file
// name) cannot be written to YAML, which read Go's \xe9 as é: refused,
// naming the setting, where it printed a file that loaded another path.
func TestPrintConfigNotUTF8(t *testing.T) {
	c, err := Load([]string{"-r", "caf\xe9.pcap"})
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	if err := c.WriteYAML(&b); !errors.Is(err, ErrNotUTF8) || !strings.Contains(err.Error(), "read") {
		t.Errorf("%v; printed %q", err, b.String())
	}
}

// TestSensorIDBounded: a sensor id is in every record, and the fleet's
// collector takes a record with a longer one as bad: longer than
// output.MaxSensorID bytes is refused at start, saying the bound.
func TestSensorIDBounded(t *testing.T) {
	ok := strings.Repeat("g", output.MaxSensorID)
	if c, err := Load([]string{"-r", "a", "--sensor-id", ok}); err != nil || c.SensorID != ok {
		t.Errorf("an id of %d bytes: %v", len(ok), err)
	}
	_, err := Load([]string{"-r", "a", "--sensor-id", ok + "x"})
	if err == nil || !strings.Contains(err.Error(), "--sensor-id") || !strings.Contains(err.Error(), "at most 256") {
		t.Errorf("an id of %d bytes: %v", len(ok)+1, err)
	}
}

package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The Kafka keys come from flags, SENSOR_* variables and the YAML file like
// every other key; the printed configuration leaves the password out.
func TestKafkaKeys(t *testing.T) {
	t.Setenv("SENSOR_KAFKA_PASSWORD", "s3cret")
	file := filepath.Join(t.TempDir(), "c.yaml")
	os.WriteFile(file, []byte("kafka-brokers: [k1:9092, k2:9092]\nkafka-sasl: scram-sha-512\nkafka-user: sensor\nkafka-buffer: 8MiB\nkafka-spool: /var/spool/synscope\nkafka-refresh: 15m\n"), 0o600)
	c, err := Load([]string{"-r", "x.pcap", "--config", file, "--kafka-compression", "lz4"})
	if err != nil {
		t.Fatal(err)
	}
	k := c.Kafka
	if strings.Join(k.Brokers, ",") != "k1:9092,k2:9092" || k.SASL != "scram-sha-512" || k.User != "sensor" || k.Password != "s3cret" ||
		k.Buffer != 8<<20 || k.SpoolDir != "/var/spool/synscope" || k.Compression != "lz4" || k.Refresh != 15*time.Minute || k.Topic != "synscope" {
		t.Errorf("%+v", k)
	}
	var b strings.Builder
	c.WriteYAML(&b)
	if strings.Contains(b.String(), "s3cret") || !strings.Contains(b.String(), "kafka-sasl: \"scram-sha-512\"") {
		t.Errorf("printed:\n%s", b.String())
	}
}

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{"65536": 65536, "64KiB": 64 << 10, "64MiB": 64 << 20, "1G": 1 << 30, "2gb": 2 << 30} {
		if got, err := ParseSize(in); err != nil || got != want {
			t.Errorf("%s: %d %v", in, got, err)
		}
	}
	for _, bad := range []string{"", "MiB", "-1", "1.5G", "1TiB", "lots"} {
		if _, err := ParseSize(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// sensor collect reads the same Kafka keys, its own, and a sensor's file.
func TestLoadCollect(t *testing.T) {
	file := filepath.Join(t.TempDir(), "c.yaml")
	os.WriteFile(file, []byte("kafka-brokers: [k1:9092]\nwindow: 10m\nports: \"445\"\n"), 0o600)
	c, err := LoadCollect([]string{"--config", file, "--once", "--max-lag", "30m"})
	if err != nil {
		t.Fatal(err)
	}
	if c.Kafka.Brokers[0] != "k1:9092" || c.Window != 10*time.Minute || !c.Once || c.MaxLag != 30*time.Minute || c.SensorID != "fleet" {
		t.Errorf("%+v", c)
	}
	// The sensors' file: collect takes its Kafka keys, window and
	// lookback, and its own keys, never the sensors' output, id, growth
	// or logging (with --once it wrote the fleet's records over the
	// sensors' output file). The file is checked as the sensors' is.
	sensors := filepath.Join(t.TempDir(), "sensor.yaml")
	os.WriteFile(sensors, []byte("kafka-brokers: [k1:9092]\noutput: /var/log/synscope/sensor.jsonl\nsensor-id: gw1\n"+
		"growth: false\nlog-level: error\nmax-lag: 20m\ngroup: g2\n"), 0o600)
	c, err = LoadCollect([]string{"--config", sensors})
	if err != nil {
		t.Fatal(err)
	}
	if c.Output != "-" || c.SensorID != "fleet" || c.GrowthOff || c.LogLevel != "info" || c.MaxLag != 20*time.Minute || c.Group != "g2" {
		t.Errorf("from the sensors' file: output %q id %q growth off %v log %q max-lag %v group %q", c.Output, c.SensorID, c.GrowthOff, c.LogLevel, c.MaxLag, c.Group)
	}
	if c, err := LoadCollect([]string{"--kafka-brokers", "[::1]:9092,k2:19092"}); err != nil || len(c.Kafka.Brokers) != 2 {
		t.Errorf("an IPv6 broker and a named one: %v", err)
	}
	if c, err = LoadCollect([]string{"--config", sensors, "--max-lag", "1h"}); err != nil || c.MaxLag != time.Hour {
		t.Errorf("a flag over the file: %v %v", c, err)
	}
	for body, want := range map[string]string{
		"kafka-brokers: [k1:9092]\nkafka-buffer: 0100000000\n": "octal",
		"kafka-brokers: [k1:9092]\nmax-lags: 10m\n":            "unknown key",
	} {
		os.WriteFile(sensors, []byte(body), 0o600)
		if _, err := LoadCollect([]string{"--config", sensors}); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %s", body, err, want)
		}
	}
	for args, want := range map[string]string{
		"":                                      "kafka-brokers",
		"--kafka-brokers k:1 --max-lag never":   "max-lag",
		"--kafka-brokers k:1 --kafka-sasl kerb": "kafka-sasl",
		"--kafka-brokers k:1 --window 1h --lookback 30m": "lookback",
		"--kafka-brokers k:1 extra":                      "no arguments",
		// a port of letters or out of range failed only at the first
		// connection, after --kafka-timeout (a review)
		"--kafka-brokers k:abc":   "kafka-brokers",
		"--kafka-brokers k:99999": "kafka-brokers",
		"--kafka-brokers k:0":     "kafka-brokers",
		"--kafka-brokers :9092":   "kafka-brokers",
		// every sensor silent between its records (a review)
		"--kafka-brokers k:1 --max-lag 1ns": "max-lag",
		"--kafka-brokers k:1 --max-lag 4m":  "max-lag",
		"--kafka-brokers ::1":               "kafka-brokers",
	} {
		if _, err := LoadCollect(strings.Fields(args)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %s named", args, err, want)
		}
	}
}

// TestCollectTakesOnlyItsKeysFromTheEnvironment: as from a config file,
// collect takes from SENSOR_* only the keys it shares with the sensors and
// its own; SENSOR_OUTPUT, the sensors' file in an environment both read,
// was the file collect truncated.
func TestCollectTakesOnlyItsKeysFromTheEnvironment(t *testing.T) {
	t.Setenv("SENSOR_OUTPUT", "/var/log/synscope/sensor.jsonl")
	t.Setenv("SENSOR_SENSOR_ID", "gw1")
	t.Setenv("SENSOR_KAFKA_BROKERS", "k1:9092")
	t.Setenv("SENSOR_WINDOW", "10m")
	c, err := LoadCollect(nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Output != "-" || c.SensorID != "fleet" || c.Kafka.Brokers[0] != "k1:9092" || c.Window != 10*time.Minute {
		t.Errorf("output %q id %q brokers %v window %v", c.Output, c.SensorID, c.Kafka.Brokers, c.Window)
	}
	t.Setenv("SENSOR_WINDOW", "3h")
	if _, err := LoadCollect(nil); err == nil || !strings.Contains(err.Error(), "set --growth-horizons") {
		t.Errorf("window 3h with the default horizons: %v", err)
	}
	if c, err := LoadCollect([]string{"--growth-horizons", "18h,2d"}); err != nil || c.Growth.Horizons[0] != 18*time.Hour {
		t.Errorf("window 3h, horizons 18h and 2d: %v", err)
	}
	if _, err := LoadCollect([]string{"--growth=false"}); err != nil {
		t.Errorf("window 3h, growth off: %v", err)
	}
	// The horizons fitted to the sensors' window come with it, from the
	// environment or their file (collect refused a file with window 3h
	// and its horizons: a review).
	t.Setenv("SENSOR_GROWTH_HORIZONS", "12h,2d")
	if c, err := LoadCollect(nil); err != nil || c.Growth.Horizons[0] != 12*time.Hour {
		t.Errorf("window and horizons from the environment: %v", err)
	}
	os.Unsetenv("SENSOR_GROWTH_HORIZONS")
	os.Unsetenv("SENSOR_WINDOW")
	file := filepath.Join(t.TempDir(), "s.yaml")
	os.WriteFile(file, []byte("kafka-brokers: [k1:9092]\nwindow: 3h\ngrowth-horizons: [18h, 3d]\n"), 0o600)
	if c, err := LoadCollect([]string{"-c", file}); err != nil || c.Growth.Horizons[1] != 72*time.Hour || c.Window != 3*time.Hour {
		t.Errorf("window and horizons from the sensors' file: %v", err)
	}
}

// TestKafkaTLSFilesReadAtStart: a missing or bad TLS file is a setting
// error when the flags are read (exit status 2); it surfaced only when the
// output was opened, as a failed run (1).
func TestKafkaTLSFilesReadAtStart(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "ca.pem")
	os.WriteFile(bad, []byte("not a certificate"), 0o600)
	for _, args := range [][]string{
		{"--kafka-tls-ca", "/nonexistent/ca.pem"},
		{"--kafka-tls-ca", bad},
		{"--kafka-tls-cert", "/nonexistent/c.pem", "--kafka-tls-key", "/nonexistent/k.pem"},
	} {
		_, err := Load(append([]string{"-r", "x.pcap", "--kafka-brokers", "127.0.0.1:9092"}, args...))
		if err == nil || !strings.Contains(err.Error(), "kafka-tls") {
			t.Errorf("%v: %v", args, err)
		}
	}
}

// TestCollectRefusesPublishingFlags: collect hides the flags of a sensor's
// publishing (compression, buffer, spool, refresh) and refuses them on
// its command line, where they did nothing; a config file shared with
// the sensors may still set them.
func TestCollectRefusesPublishingFlags(t *testing.T) {
	fs := CollectFlagSet()
	for _, k := range kafkaPublishOnly {
		if f := fs.Lookup(k); f == nil || !f.Hidden {
			t.Errorf("collect's --%s: %v, want hidden", k, f)
		}
		if _, err := LoadCollect([]string{"--kafka-brokers", "k1:9092", "--" + k, "5m"}); err == nil || !strings.Contains(err.Error(), "only reads") {
			t.Errorf("collect given --%s: %v, want refused", k, err)
		}
	}
	file := filepath.Join(t.TempDir(), "sensor.yaml")
	os.WriteFile(file, []byte("kafka-brokers: [k1:9092]\nkafka-spool: /var/spool/synscope\nkafka-compression: lz4\n"), 0o600)
	if _, err := LoadCollect([]string{"-c", file}); err != nil {
		t.Errorf("a sensors' config file with publishing keys: %v", err)
	}
}

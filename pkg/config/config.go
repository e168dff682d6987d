// Package config turns flags, SENSOR_* environment variables and a YAML file
// into one validated Config, in that order of precedence, through one local
// viper instance (never viper's global). Every invalid value is refused with
// a message that names the key and says what is allowed. Only this package
// and cmd import viper.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"
	"github.com/spf13/viper"
	"go.yaml.in/yaml/v3"

	"github.com/synscope/synscope/pkg/alert"
	"github.com/synscope/synscope/pkg/engine"
	"github.com/synscope/synscope/pkg/growth"
	"github.com/synscope/synscope/pkg/metrics"
	"github.com/synscope/synscope/pkg/output"
	"github.com/synscope/synscope/pkg/ports"
	"github.com/synscope/synscope/pkg/sources"
)

// Config is the sensor's effective configuration.
type Config struct {
	Read           []string
	Iface          string
	Ports          *ports.Set
	Window         time.Duration
	Lookback       time.Duration
	Output         string
	HomeNet        []netip.Prefix
	Decoys         []netip.Prefix // decoy addresses: any SYN there is a scan
	DarkNet        []netip.Prefix // unused ranges, the same way
	Benign         string         // file of known benign scanners (read by cmd)
	ExcludeBenign  bool           // keep benign scanners out of the growth counts
	SensorID       string
	SensorIDAuto   bool // SensorID is the host name, none given (--print-config writes "", not this machine's name)
	LogLevel       string
	LogFormat      string
	Progress       string
	MaxSources     int
	Shards         int  // shard workers; "auto" in files and flags is the number of cores
	ShardsAuto     bool // Shards came from "auto" (--print-config writes auto, not this machine's cores)
	MaxTargets     int
	TopSources     int
	FloodThreshold int
	FloodSources   bool // a source record for every flood source too
	ActivityEvery  time.Duration
	Remember       time.Duration
	AlertExec      string // program run with each alert record on stdin
	AlertWebhook   string // URL each alert record is POSTed to
	Capture        string // auto, ebpf, afpacket
	IngressHook    string // auto, xdp, xdp-generic, tc
	Promisc        bool
	Egress         bool
	User           string // "" keeps the privileges
	StatsEvery     time.Duration
	ScannerTargets int
	ScanHosts      int
	ScanPorts      int
	ScanInterval   time.Duration
	MMDB           []string // MaxMind DB files naming networks and countries (opened by cmd)
	MaxGap         time.Duration
	StateFile      string
	StateReset     bool
	StateEvery     time.Duration
	MetricsAddr    string // "" = off; host:port to listen on (a bare port: 127.0.0.1)
	Growth         growth.Config
	GrowthOff      bool
	ConfigFile     string
	PrintConfig    bool
	Version        bool
	Help           bool
	Kafka          Kafka // on when Kafka.Brokers is set
}

// Engine returns the engine settings.
func (c *Config) Engine() engine.Config {
	return engine.Config{
		Window:         c.Window,
		Lookback:       c.Lookback,
		MaxSources:     c.MaxSources,
		MaxTargets:     c.MaxTargets,
		TopSources:     c.TopSources,
		FloodThreshold: c.FloodThreshold,
		// the engine's name says what it writes
		FloodSourceRecords:  c.FloodSources,
		HomeNet:             c.HomeNet,
		ScannerTargets:      c.ScannerTargets,
		ScanHosts:           c.ScanHosts,
		ScanPorts:           c.ScanPorts,
		ScanInterval:        c.ScanInterval,
		Decoys:              c.Decoys,
		DarkNet:             c.DarkNet,
		GrowthExcludeBenign: c.ExcludeBenign,
		MaxGap:              c.MaxGap,
		Shards:              c.Shards,
		ActivityInterval:    c.ActivityEvery,
		Remember:            c.Remember,
	}
}

// key names, shared by flags, environment (SENSOR_ + upper case, '-' as
// '_') and the YAML file.
const (
	kRead       = "read"
	kIface      = "iface"
	kPorts      = "ports"
	kWindow     = "window"
	kLookback   = "lookback"
	kOutput     = "output"
	kHomeNet    = "home-net"
	kSensorID   = "sensor-id"
	kLogLevel   = "log-level"
	kLogFormat  = "log-format"
	kProgress   = "progress"
	kMaxSources = "max-sources"
	kShards     = "shards"
	kMaxTargets = "max-targets"
	kTopSources = "top-sources"
	kFlood      = "flood-threshold"
	kFloodSrc   = "flood-sources"
	kAlertExec  = "alert-exec"
	kAlertHook  = "alert-webhook"
	kCapture    = "capture"
	kIngress    = "ingress-hook"
	kPromisc    = "promisc"
	kEgress     = "egress"
	kUser       = "user"
	kStatsEvery = "stats-interval"
	kScanner    = "scanner-targets"
	kScanHosts  = "scan-hosts"
	kScanPorts  = "scan-ports"
	kScanEvery  = "scan-interval"
	kMMDB       = "mmdb"
	kDecoys     = "decoys"
	kDarkNet    = "dark-net"
	kBenign     = "benign"
	kExclBenign = "growth-exclude-benign"
	kMaxGap     = "max-gap"
	kStateFile  = "state-file"
	kStateReset = "state-reset"
	kStateEvery = "state-interval"
	kMetrics    = "metrics-addr"
	kGrowth     = "growth"
	kHorizons   = "growth-horizons"
	kConfidence = "growth-confidence"
	kLinConf    = "growth-linear-confidence"
	kMinDouble  = "growth-min-doubling"
	kMinWindows = "growth-min-windows"
	kMinEvents  = "growth-min-events"
	kDiurnal    = "growth-diurnal"
	kAmplitude  = "growth-diurnal-amplitude"
	kCycle      = "growth-cycle-amplitude"
	kActivity   = "activity-interval"
	kRemember   = "remember"
)

// fileKeys are the keys a config file may set.
var fileKeys = []string{kRead, kIface, kPorts, kWindow, kLookback, kOutput, kHomeNet, kSensorID,
	kLogLevel, kLogFormat, kProgress, kMaxSources, kShards, kMaxTargets, kTopSources, kFlood, kFloodSrc, kAlertExec, kAlertHook,
	kCapture, kIngress, kPromisc, kEgress, kUser, kStatsEvery, kScanner, kScanHosts, kScanPorts, kScanEvery, kMMDB, kDecoys, kDarkNet, kBenign, kExclBenign, kMaxGap, kStateFile, kStateReset, kStateEvery, kMetrics,
	kActivity, kRemember, kGrowth, kHorizons, kConfidence, kLinConf, kMinDouble, kMinWindows, kMinEvents, kDiurnal, kAmplitude, kCycle}

func init() { fileKeys = append(fileKeys, kafkaKeys...) }

// FlagSet builds the command-line flags, tcpdump style where tcpdump has one.
func FlagSet() *pflag.FlagSet {
	d := engine.DefaultConfig()
	fs := pflag.NewFlagSet("sensor", pflag.ContinueOnError)
	fs.SortFlags = false
	fs.StringArrayP(kRead, "r", nil, "read packets from capture `file`s, directories or quoted patterns (pcap, pcapng, gzip, zstd); repeatable, or list them after the flags")
	fs.VarP(&onceValue{}, kIface, "i", "capture live from `interface` (needs root, or CAP_BPF+CAP_NET_ADMIN+CAP_PERFMON / CAP_NET_RAW)")
	fs.String(kCapture, "auto", "live capture backend: auto (eBPF where the kernel allows, else AF_PACKET), ebpf, afpacket")
	fs.String(kIngress, "auto", "eBPF ingress hook: auto (TCX; before Linux 6.6 native XDP, else generic XDP, else TC), xdp, xdp-generic, tc")
	fs.Bool(kPromisc, false, "put the interface in promiscuous mode (span ports and taps)")
	fs.Bool(kEgress, true, "also watch SYNs leaving the interface (eBPF: TCX egress), to catch our own hosts scanning out")
	fs.String(kUser, "nobody", "after attaching, drop root and run as this `user` (\"\" keeps the privileges)")
	fs.String(kStatsEvery, "1m", "live: write a stats record this `often` (at least 1s)")
	fs.String(kScanner, strconv.Itoa(d.ScannerTargets), "report one of our own hosts (--home-net, or seen leaving the interface) as an outbound scanner once its SYNs reach this many targets")
	fs.String(kScanHosts, strconv.Itoa(d.ScanHosts), "report any source as a scanner (kind address_scan) once its SYNs reach this many distinct hosts within --scan-interval (2 to 64)")
	fs.String(kScanPorts, strconv.Itoa(d.ScanPorts), "report any source as a scanner (kind port_scan) once its SYNs reach this many distinct ports on one host within --scan-interval (2 to 64)")
	fs.String(kScanEvery, d.ScanInterval.String(), "the `interval` (aligned to the Unix epoch) within which --scan-hosts and --scan-ports must be reached (1s to 240h)")
	fs.StringArray(kMMDB, nil, "name the network (asn, as_org) and country of new sources and scanners from this MaxMind DB `file` (GeoLite2 Country or ASN, DB-IP Lite, IPinfo Lite); repeatable, the first that knows a field answers; reloaded on SIGHUP")
	fs.StringSlice(kDecoys, nil, "decoy addresses as `CIDR`s, where nothing listens: a source's first SYN there is an alert (kind decoy)")
	fs.StringSlice(kDarkNet, nil, "unused address ranges as `CIDR`s: a source's first SYN there is an alert (kind decoy, space dark); decoys inside win")
	fs.String(kBenign, "", "known benign scanners (Censys, Shodan, research projects): a `file` of lines \"CIDR name\"; their records carry benign: name")
	fs.Bool(kExclBenign, false, "keep the new sources of --benign scanners out of the growth classifier's counts")
	fs.String(kMaxGap, "7d", "a packet stamped more than this after the clock is a bad timestamp (analysed at the clock, counted) unless 64 in a row agree; then the windows resume after the gap")
	fs.String(kStateFile, "", "keep the lookback's memory of sources in this `file`: loaded at start, saved at the end (and live, every --state-interval)")
	fs.Bool(kStateReset, false, "start afresh, ignoring (and then overwriting) an existing --state-file")
	fs.String(kStateEvery, "5m", "live: save the --state-file this `often` (at least 1s)")
	fs.String(kMetrics, "", "live: serve Prometheus metrics at http://`ADDR`/metrics (a bare port listens on 127.0.0.1 only; off when empty)")
	fs.StringSlice(kPorts, []string{"445"}, "watched TCP destination `ports`: list and ranges, e.g. 139,445,3389 or 1-1024; repeatable")
	fs.String(kWindow, d.Window.String(), "window `length`, aligned to the Unix epoch (e.g. 5m, 1h; at most 168h)")
	fs.String(kLookback, d.Lookback.String(), "a source silent this `long` is new again (e.g. 24h, 7d; at most 240h, at least the window)")
	fs.StringP(kOutput, "o", "-", "write JSON Lines to `file` ('-' is stdout)")
	fs.StringSlice(kHomeNet, nil, "your own networks as `CIDR`s: new sources are then inbound, outbound (ours scanning out), internal or external")
	fs.String(kSensorID, "", "sensor `id` written in every record (default: the host name)")
	fs.String(kLogLevel, "info", "log `level`: debug, info, warn, error")
	fs.String(kLogFormat, "auto", "log `format` on stderr: console, json, or auto (console on a terminal)")
	fs.String(kProgress, "auto", "progress on stderr (a bar, or with JSON logs a log line every 5s): auto (when stderr is a terminal), always, never")
	fs.String(kMaxSources, strconv.Itoa(d.MaxSources), "most sources remembered at once; beyond it a new source takes the place of a stale or one-SYN one (counted as evicted) or is counted but not remembered (untracked)")
	fs.String(kShards, "auto", "shard workers that own the per-source state, each on its own goroutine behind a lock-free ring (auto: one per core the Go runtime uses, GOMAXPROCS; 0: none, all on the capture goroutine)")
	fs.String(kMaxTargets, strconv.Itoa(d.MaxTargets), "most distinct targets counted per window")
	fs.String(kTopSources, strconv.Itoa(d.TopSources), "how many of the busiest sources the summary lists")
	fs.String(kFlood, strconv.Itoa(d.FloodThreshold), "a target that gets the first SYNs of this many new sources within 10 s is flooded: those sources are counted apart (never growth) and summarized in one flood record per window")
	fs.String(kAlertExec, "", "run `program` once per alert record (growth turned exponential or stood down, a flood started, a decoy was touched), the record's JSON on its stdin; killed after 10 s, never blocking capture (live, it runs as --user)")
	fs.String(kAlertHook, "", "POST each alert record's JSON to this http(s) `URL` (10 s per attempt, 3 attempts), never blocking capture")
	fs.Bool(kFloodSrc, false, "also write a source record for every flood source (by default one flood record per window summarizes them)")
	fs.String(kActivity, "1h", "write an activity record (sources active, sleepers, active and sleep lengths) this `often` (rounded up to whole windows, aligned to the Unix epoch), and one for the run at the end")
	fs.String(kRemember, "7d", "remember sources the table forgot (a lookback of silence, or evicted) at least this `long` in a compact memory (about 6 bytes each), so they are told as returning when they come back (rounded up to whole lookbacks; 0: off)")
	g := growth.DefaultConfig()
	fs.Bool(kGrowth, true, "write a growth record after every window (--growth=false to skip)")
	fs.String(kHorizons, durations(g.Horizons), "growth fit horizons, shortest first (e.g. 6h,24h)")
	fs.String(kConfidence, strconv.FormatFloat(g.Confidence, 'g', -1, 64), "one-sided confidence needed to name a growth model, in [0.5, 1)")
	fs.String(kLinConf, strconv.FormatFloat(g.LinearConfidence, 'g', -1, 64), "one-sided confidence needed to call the growth linear (no faster than the bound either way), in [0.5, 1)")
	fs.String(kMinDouble, g.MinDoubling.String(), "growth slower than doubling once per this long is not exponential")
	fs.String(kMinWindows, strconv.Itoa(g.MinWindows), "fewest windows in a horizon for a verdict (bins, where windows shorter than a 288th of the longest horizon are merged)")
	fs.String(kMinEvents, strconv.Itoa(g.MinEvents), "fewest new sources in a horizon for a verdict")
	fs.String(kDiurnal, g.Diurnal, "day/night term in the growth fit: auto, on, off")
	fs.String(kAmplitude, strconv.FormatFloat(g.DiurnalAmplitude, 'g', -1, 64), "day/night amplitude, in [0, 1), that horizons under a day must not mistake for growth")
	fs.String(kCycle, strconv.FormatFloat(g.CycleAmplitude, 'g', -1, 64), "strongest day/night cycle, in [0, 1), an exponential verdict without a day/night term must beat; 0 (or under 0.05): off")
	addKafkaFlags(fs)
	fs.StringP("config", "c", "", "read settings from YAML `file` (flags and SENSOR_* variables win over it)")
	fs.Bool("print-config", false, "print the effective configuration as YAML and exit")
	fs.BoolP("version", "V", false, "print the version and exit")
	fs.BoolP("help", "h", false, "show this help")
	return fs
}

// Load parses args (without the program name), the environment and the
// config file into a validated Config.
func Load(args []string) (*Config, error) {
	fs := FlagSet()
	fs.SetOutput(io.Discard)
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	c := &Config{}
	c.Help, _ = fs.GetBool("help")
	c.Version, _ = fs.GetBool("version")
	c.PrintConfig, _ = fs.GetBool("print-config")
	if c.Help || c.Version {
		return c, nil
	}
	v := viper.New()
	v.SetEnvPrefix("SENSOR")
	v.SetEnvKeyReplacer(strings.NewReplacer("-", "_"))
	v.AutomaticEnv()
	v.AllowEmptyEnv(true) // SENSOR_USER= keeps root, SENSOR_METRICS_ADDR= turns the endpoint off: set is set, even to nothing
	for _, k := range fileKeys {
		if err := v.BindPFlag(k, fs.Lookup(k)); err != nil {
			return nil, err
		}
	}
	c.ConfigFile, _ = fs.GetString("config")
	if !fs.Changed("config") { // (-c '' reads no file, whatever SENSOR_CONFIG says)
		c.ConfigFile = os.Getenv("SENSOR_CONFIG")
	}
	if c.ConfigFile != "" {
		if err := readFile(v, c.ConfigFile, fileKeys); err != nil {
			return nil, err
		}
	}
	if args := fs.Args(); len(args) > 0 && !fs.Changed(kRead) {
		// Files after the flags are -r's files: they replace a config
		// file's (or the environment's) read list, as -r does.
		v.Set(kRead, args)
	} else if len(args) > 0 {
		v.Set(kRead, append(stringList(v, kRead), args...))
	}
	if err := oneMode(v, fs, c.ConfigFile); err != nil {
		return nil, err
	}
	if err := c.fill(v); err != nil {
		return nil, sourced(err, fs, c.ConfigFile, v.InConfig)
	}
	return c, nil
}

// oneMode keeps one of the two ways to run, live (iface) or offline
// (read): given in two places, the one with the higher precedence
// (flags, then the environment, then the config file) is taken and the
// other left out, so a gateway's config file with its interface serves
// an offline run with -r as well (it was refused: "both --iface and
// --read given", a review). Given in the same place, both are refused,
// naming it.
func oneMode(v *viper.Viper, fs *pflag.FlagSet, file string) error {
	rank := func(k string) (int, string) {
		env := "SENSOR_" + strings.ToUpper(k)
		switch {
		case fs.Changed(k) || k == kRead && fs.NArg() > 0:
			return 3, "the command line"
		case os.Getenv(env) != "":
			return 2, "environment variable " + env
		case file != "" && v.InConfig(k):
			return 1, "config file " + file
		}
		return 0, ""
	}
	if strings.TrimSpace(v.GetString(kIface)) == "" || len(stringList(v, kRead)) == 0 {
		return nil
	}
	ri, where := rank(kIface)
	rr, _ := rank(kRead)
	switch {
	case ri > rr:
		v.Set(kRead, []string{})
	case rr > ri:
		v.Set(kIface, "")
	case ri == 3:
		return errors.New("both -i and -r given: capture live or read files, not both")
	default:
		return fmt.Errorf("%s gives both iface and read: capture live or read files, not both (give one; -i or -r on the command line takes its place)", where)
	}
	return nil
}

// maxConfigBytes bounds a config file: a YAML file of settings is a few
// kilobytes (a device or a pipe that never ends is not one).
const maxConfigBytes = 1 << 20

// readFile reads the config file at path into v, once: a pipe or a
// process substitution (-c <(...)) can be read once only, and its second
// and third reads (the unknown-key and octal checks) found it empty and
// passed what they should have refused (a review: `ports: 0445` was port
// 293 from a pipe, refused from a file).
func readFile(v *viper.Viper, path string, known []string) error {
	raw, err := readConfigBytes(path)
	if err != nil {
		return err
	}
	v.SetConfigType("yaml")
	if err := v.ReadConfig(bytes.NewReader(raw)); err != nil {
		return fmt.Errorf("config file %s: not valid YAML: %w", path, err)
	}
	// YAML reads a plain number with a leading zero as octal: `ports: 0445`
	// watched port 293, `max-targets: 010` meant 8, where the same on the
	// command line means 445 and 10; so are `0_445`, `0o445`, and `0x1bd`
	// is hex. Only plain decimal integers are taken, so the file and the
	// flags never disagree.
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	var doc yaml.Node
	if dec.Decode(&doc) == nil {
		for {
			var more yaml.Node
			err := dec.Decode(&more)
			if err == io.EOF {
				break
			}
			if err != nil {
				return fmt.Errorf("config file %s: not valid YAML after its first document: %w", path, err)
			}
			if len(more.Content) > 0 && more.Content[0].ShortTag() != "!!null" { // (an empty document reads as a null)
				return fmt.Errorf("config file %s: holds more than one YAML document (settings after a second ---): only the first would be read; give one", path)
			}
		}
		if err := shapes(&doc); err != nil {
			return fmt.Errorf("config file %s: %w", path, err)
		}
		if k, val, ok := notPlainDecimal(&doc, ""); ok {
			return fmt.Errorf("config file %s: %s: %s is not a plain decimal number, and YAML reads it as another (a leading 0 is octal, 0x hex; underscores are dropped): write it in decimal digits, or quote it", path, k, val)
		}
		if asWritten(&doc) {
			text, err := yaml.Marshal(&doc)
			if err != nil {
				return fmt.Errorf("config file %s: %w", path, err)
			}
			if err := v.ReadConfig(bytes.NewReader(text)); err != nil {
				return fmt.Errorf("config file %s: not valid YAML: %w", path, err)
			}
		}
	}
	// A misspelt key would otherwise be ignored silently; refuse it.
	only := viper.New()
	only.SetConfigType("yaml")
	if err := only.ReadConfig(bytes.NewReader(raw)); err != nil {
		return fmt.Errorf("config file %s: %w", path, err)
	}
	for _, k := range only.AllKeys() {
		if !slices.Contains(known, k) {
			return fmt.Errorf("config file %s: unknown key %q (known keys: %s)", path, k, strings.Join(known, ", "))
		}
	}
	return nil
}

// readConfigBytes reads the config file, saying what stands in the way.
func readConfigBytes(path string) ([]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("config file %s: %w", path, errors.Unwrap(err))
	}
	if fi.IsDir() {
		return nil, fmt.Errorf("config file %s: is a directory (give the YAML file in it)", path)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("config file %s: %w", path, errors.Unwrap(err))
	}
	defer f.Close()
	raw, err := io.ReadAll(io.LimitReader(f, maxConfigBytes+1))
	if err != nil {
		return nil, fmt.Errorf("config file %s: %w", path, errors.Unwrap(err))
	}
	if len(raw) > maxConfigBytes {
		return nil, fmt.Errorf("config file %s: larger than %d KiB: not a file of settings", path, maxConfigBytes>>10)
	}
	return raw, nil
}

// listKeys are the keys whose value may be a list (of plain values).
var listKeys = []string{kRead, kPorts, kHomeNet, kDecoys, kDarkNet, kMMDB, kHorizons, kKafkaBrokers}

// shapes refuses a value of the wrong shape in a config file: a list or a
// mapping where one value goes, a list of lists (`window: [1, 2]` was
// reported as an empty window, `read: [[a, b]]` read nothing).
func shapes(doc *yaml.Node) error {
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		return nil // not a mapping: the reader says so
	}
	m := doc.Content[0]
	seen := map[string]*yaml.Node{}
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i].Value, m.Content[i+1]
		// Keys are read case-blind, and of two that differ only in case
		// one was taken at random (a review: ports, Ports and PORTS gave
		// 139 or 22 from run to run). The YAML reader refuses the same key
		// twice; this refuses it in another case too.
		if first := seen[strings.ToLower(k)]; first != nil {
			return fmt.Errorf("%s (line %d): the key %s of line %d again (keys are not case-sensitive)", k, m.Content[i].Line, first.Value, first.Line)
		}
		seen[strings.ToLower(k)] = m.Content[i]
		switch v.Kind {
		case yaml.MappingNode:
			return fmt.Errorf("%s: a mapping, where a value goes", k)
		case yaml.SequenceNode:
			if !slices.Contains(listKeys, strings.ToLower(k)) { // (keys are read case-blind)
				return fmt.Errorf("%s: a list, where one value goes", k)
			}
			for _, e := range v.Content {
				if e.Kind != yaml.ScalarNode {
					return fmt.Errorf("%s: a list of lists or mappings; list plain values", k)
				}
			}
		}
	}
	return nil
}

// textKeys are the keys whose values are text: names, paths, addresses,
// secrets. YAML reads an unquoted 1.10 as a number and 2001-01-01 as a
// date, and they came back as "1.1" and "2001-01-01 00:00:00 +0000 UTC":
// `sensor-id: 1.10` was sensor 1.1, `output: 1e2` wrote to a file named
// 100, `kafka-password: 1.50` sent 1.5 (a review). Their values are taken
// as written instead (asWritten), as the flags take them.
var textKeys = []string{kRead, kIface, kOutput, kSensorID, kUser, kMMDB, kBenign, kStateFile, kMetrics,
	kAlertExec, kAlertHook, kKafkaBrokers, kKafkaTopic, kKafkaCA, kKafkaCert, kKafkaKey, kKafkaServer,
	kKafkaUser, kKafkaPassword, kKafkaSpool, kGroup}

// asWritten marks the values of textKeys in doc (a plain scalar or a list
// of them) as strings where YAML resolves them to another type, and says
// whether it marked any. A null stays a null (not set).
func asWritten(doc *yaml.Node) bool {
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		return false
	}
	marked := false
	mark := func(n *yaml.Node) {
		// (a tag written in the file, !!binary say, is the file's word)
		if n.Kind == yaml.ScalarNode && n.Style&yaml.TaggedStyle == 0 && n.ShortTag() != "!!str" && n.ShortTag() != "!!null" {
			n.Tag, n.Style = "!!str", 0
			marked = true
		}
	}
	m := doc.Content[0]
	for i := 0; i+1 < len(m.Content); i += 2 {
		if !slices.Contains(textKeys, strings.ToLower(m.Content[i].Value)) {
			continue
		}
		v := m.Content[i+1]
		mark(v)
		if v.Kind == yaml.SequenceNode {
			for _, e := range v.Content {
				mark(e)
			}
		}
	}
	return marked
}

// notPlainDecimal finds a plain integer that is not plain decimal digits (a
// leading zero, an underscore, a 0x, 0o or 0b prefix) in a YAML tree, and
// the key it is the value of.
func notPlainDecimal(n *yaml.Node, key string) (string, string, bool) {
	switch n.Kind {
	case yaml.DocumentNode, yaml.SequenceNode:
		for _, c := range n.Content {
			if k, v, ok := notPlainDecimal(c, key); ok {
				return k, v, true
			}
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			if slices.Contains(textKeys, strings.ToLower(n.Content[i].Value)) {
				continue // taken as written (asWritten)
			}
			if k, v, ok := notPlainDecimal(n.Content[i+1], n.Content[i].Value); ok {
				return k, v, true
			}
		}
	case yaml.ScalarNode:
		v := strings.TrimLeft(n.Value, "+-")
		decimal := v != "" && strings.Trim(v, "0123456789") == "" && (len(v) == 1 || v[0] != '0')
		if n.ShortTag() == "!!int" && !decimal { // plain, or tagged !!int (a quoted "0445" is a string)
			return key, n.Value, true
		}
	}
	return "", "", false
}

// onceValue is a string flag given at most once: -i eth0 -i eth1 captured
// eth1 alone, and said nothing of eth0 (a review); a sensor captures one
// interface (run one for each).
type onceValue struct {
	s   string
	set bool
}

func (o *onceValue) String() string { return o.s }
func (o *onceValue) Type() string   { return "string" }
func (o *onceValue) Set(s string) error {
	if o.set {
		return fmt.Errorf("given twice (%q, then %q): a sensor captures one interface; run one sensor for each", o.s, s)
	}
	o.s, o.set = s, true
	return nil
}

func (c *Config) fill(v *viper.Viper) error {
	var err error
	c.Read = stringList(v, kRead)
	c.Iface = strings.TrimSpace(v.GetString(kIface))
	// "139,445", a YAML list [139, 445], or --ports given more than once:
	// every one of them (the last alone was watched).
	var spec string
	switch x := v.Get(kPorts).(type) {
	case []any:
		parts := make([]string, len(x))
		for i, p := range x {
			parts[i] = fmt.Sprint(p)
		}
		spec = strings.Join(parts, ",")
	case []string:
		spec = strings.Join(x, ",")
	default:
		spec = v.GetString(kPorts)
	}
	if c.Ports, err = ports.Parse(spec); err != nil {
		return keyErr(kPorts, err)
	}
	if c.Window, err = duration(v, kWindow); err != nil {
		return err
	}
	if c.Lookback, err = duration(v, kLookback); err != nil {
		return err
	}
	c.Output = v.GetString(kOutput)
	if c.Output == "" {
		return keyErr(kOutput, errors.New("empty: give a file name or - for stdout"))
	}
	if c.HomeNet, err = prefixes(v, kHomeNet); err != nil {
		return err
	}
	if c.Decoys, err = prefixes(v, kDecoys); err != nil {
		return err
	}
	if c.DarkNet, err = prefixes(v, kDarkNet); err != nil {
		return err
	}
	if c.Capture, err = oneOf(v, kCapture, "auto", "ebpf", "afpacket"); err != nil {
		return err
	}
	if c.IngressHook, err = oneOf(v, kIngress, "auto", "xdp", "xdp-generic", "tc"); err != nil {
		return err
	}
	if c.Promisc, err = boolKey(v, kPromisc); err != nil {
		return err
	}
	if c.Egress, err = boolKey(v, kEgress); err != nil {
		return err
	}
	c.User = strings.TrimSpace(v.GetString(kUser))
	if c.StatsEvery, err = duration(v, kStatsEvery); err != nil {
		return err
	}
	if c.StatsEvery < time.Second {
		// A live sensor writes one stats record each: a nanosecond meant
		// one every pass of its loop.
		return keyErr(kStatsEvery, fmt.Errorf("%v: must be at least 1s", c.StatsEvery))
	}
	if c.ScannerTargets, err = positive(v, kScanner, engine.MaxScannerTargets); err != nil {
		return err
	}
	if c.ScanHosts, err = whole(v, kScanHosts, 2, sources.MaxScanThreshold); err != nil {
		return err
	}
	if c.ScanPorts, err = whole(v, kScanPorts, 2, sources.MaxScanThreshold); err != nil {
		return err
	}
	if c.ScanInterval, err = duration(v, kScanEvery); err != nil {
		return err
	}
	c.MMDB = stringList(v, kMMDB)
	c.Benign = strings.TrimSpace(v.GetString(kBenign))
	if c.ExcludeBenign, err = boolKey(v, kExclBenign); err != nil {
		return err
	}
	if c.ExcludeBenign && c.Benign == "" {
		return keyErr(kExclBenign, errors.New("needs --benign FILE: there is no list of benign scanners to leave out"))
	}
	if c.MaxGap, err = duration(v, kMaxGap); err != nil {
		return err
	}
	c.StateFile = strings.TrimSpace(v.GetString(kStateFile))
	if c.StateReset, err = boolKey(v, kStateReset); err != nil {
		return err
	}
	if c.StateEvery, err = duration(v, kStateEvery); err != nil {
		return err
	}
	if c.StateEvery < time.Second {
		return keyErr(kStateEvery, fmt.Errorf("%v: must be at least 1s (each save writes the whole state file)", c.StateEvery))
	}
	if a := strings.TrimSpace(v.GetString(kMetrics)); a != "" {
		if c.MetricsAddr, err = metrics.Addr(a); err != nil {
			return keyErr(kMetrics, err)
		}
	}
	c.SensorID = v.GetString(kSensorID)
	if err := output.CheckSensorID(c.SensorID); err != nil {
		return keyErr(kSensorID, err)
	}
	if c.SensorID == "" {
		c.SensorIDAuto = true
		if c.SensorID, err = os.Hostname(); err != nil || c.SensorID == "" {
			c.SensorID = "sensor"
		}
		// The kernel takes any bytes for a host name: what an id may
		// not hold becomes _ (a host named dc\east went into every
		// record, and the fleet's collector took them all as bad, a
		// review).
		c.SensorID = output.SafeSensorID(c.SensorID)
	}
	if c.LogLevel, err = oneOf(v, kLogLevel, "debug", "info", "warn", "error"); err != nil {
		return err
	}
	if c.LogFormat, err = oneOf(v, kLogFormat, "auto", "console", "json"); err != nil {
		return err
	}
	if c.Progress, err = oneOf(v, kProgress, "auto", "always", "never"); err != nil {
		return err
	}
	if c.MaxSources, err = positive(v, kMaxSources, 1<<31); err != nil {
		return err
	}
	if s := strings.ToLower(strings.TrimSpace(v.GetString(kShards))); s == "auto" {
		// One per core the runtime runs goroutines on (GOMAXPROCS: the
		// cores, or a container's CPU limit): more workers than that take
		// turns on the same cores (with GOMAXPROCS=1, two shards instead
		// of one cost about 4 % of a run of the bench capture).
		c.Shards, c.ShardsAuto = runtime.GOMAXPROCS(0), true
	} else if c.Shards, err = strconv.Atoi(s); err != nil || c.Shards < 0 || c.Shards > 256 {
		return keyErr(kShards, fmt.Errorf("%q is not auto or a whole number from 0 to 256", s))
	}
	// Each shard keeps its share of --max-sources, at least one source.
	if c.ShardsAuto {
		c.Shards = min(c.Shards, c.MaxSources)
	} else if c.Shards > c.MaxSources {
		return keyErr(kShards, fmt.Errorf("%d shards need room for at least one source each, and max-sources is %d: lower --shards or raise --max-sources", c.Shards, c.MaxSources))
	}
	if c.MaxTargets, err = positive(v, kMaxTargets, 1<<31); err != nil {
		return err
	}
	if c.TopSources, err = positive(v, kTopSources, 10000); err != nil {
		return err
	}
	if c.FloodThreshold, err = whole(v, kFlood, 2, 1<<31); err != nil {
		return err
	}
	if c.FloodSources, err = boolKey(v, kFloodSrc); err != nil {
		return err
	}
	if c.ActivityEvery, err = duration(v, kActivity); err != nil {
		return err
	}
	if s := strings.TrimSpace(v.GetString(kRemember)); s != "off" {
		// 0 (or 0s, as --print-config writes it) turns it off
		if c.Remember, err = ParseDuration(s); err != nil || c.Remember < 0 {
			return keyErr(kRemember, fmt.Errorf("%q is not 0 (off) or a positive duration such as 7d or 240h", s))
		}
	}
	if c.AlertExec = strings.TrimSpace(v.GetString(kAlertExec)); c.AlertExec != "" {
		if _, err := exec.LookPath(c.AlertExec); err != nil {
			return keyErr(kAlertExec, fmt.Errorf("%q is not an executable program: %w", c.AlertExec, err))
		}
	}
	if c.AlertWebhook = strings.TrimSpace(v.GetString(kAlertHook)); c.AlertWebhook != "" {
		if err := alert.CheckWebhook(c.AlertWebhook); err != nil {
			return keyErr(kAlertHook, err)
		}
	}
	if err := c.Engine().Validate(); err != nil {
		return keyedErr(err)
	}
	if err := c.fillGrowth(v); err != nil {
		return keyedErr(err)
	}
	if err := c.Kafka.fill(v, c.Window); err != nil {
		return err
	}
	switch { // (iface and read both given: oneMode kept one, or refused them)
	case c.Iface == "" && len(c.Read) == 0 && !c.PrintConfig:
		return errors.New("nothing to read: give capture files with -r FILE (or after the flags), or an interface with -i")
	case c.MetricsAddr != "" && len(c.Read) > 0:
		return errors.New("--metrics-addr is for live capture (-i): an offline run ends when its files do; read its stats record instead")
	}
	return nil
}

func (c *Config) fillGrowth(v *viper.Viper) error {
	on, err := boolKey(v, kGrowth)
	if err != nil {
		return err
	}
	c.GrowthOff = !on
	g := &c.Growth
	g.Horizons = nil
	for _, s := range stringList(v, kHorizons) {
		d, err := ParseDuration(s)
		if err != nil || d <= 0 {
			return keyErr(kHorizons, fmt.Errorf("%q is not a positive duration", s))
		}
		g.Horizons = append(g.Horizons, d)
	}
	if g.Confidence, err = fraction(v, kConfidence, 0.5); err != nil {
		return err
	}
	if g.LinearConfidence, err = fraction(v, kLinConf, 0.5); err != nil {
		return err
	}
	if g.MinDoubling, err = duration(v, kMinDouble); err != nil {
		return err
	}
	if g.MinWindows, err = whole(v, kMinWindows, 3, 1<<20); err != nil {
		return err
	}
	if g.MinEvents, err = positive(v, kMinEvents, 1<<30); err != nil {
		return err
	}
	if g.Diurnal, err = oneOf(v, kDiurnal, "auto", "on", "off"); err != nil {
		return err
	}
	if g.DiurnalAmplitude, err = fraction(v, kAmplitude, 0); err != nil {
		return err
	}
	if g.CycleAmplitude, err = fraction(v, kCycle, 0); err != nil {
		return err
	}
	if c.GrowthOff {
		return nil // each value is well formed; together they need not fit a window nothing classifies
	}
	if v.IsSet(kMinDouble) && g.MinDoubling < c.Window {
		// Growth that doubles within a window is a jump, and the bound it
		// sets (1 ns: 2.5e12 an hour) left every verdict insufficient_data,
		// the likelihood at it not computable (a review). Only a value
		// given is refused: the default (24 h) is below windows longer
		// than a day, which ran with it before.
		return keyErr(kMinDouble, fmt.Errorf("%v is shorter than a window (%v): growth that fast is a jump; give at least the window", g.MinDoubling, c.Window))
	}
	return growthFits(g, c.Window, v.IsSet(kHorizons))
}

// growthFits validates the growth settings for windows of length window;
// when the horizons are the defaults (not set) and too short for such
// windows, the error says what to set.
func growthFits(g *growth.Config, window time.Duration, horizonsSet bool) error {
	err := g.Validate(window)
	if err != nil && !horizonsSet && strings.HasPrefix(err.Error(), kHorizons+":") {
		return fmt.Errorf("%w: the default horizons are too short for --window %v; set --growth-horizons (each at least three windows), or --growth=false", err, window)
	}
	return err
}

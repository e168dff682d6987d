package config

import (
	"errors"
	"fmt"
	"io"
	"net/netip"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// WriteYAML prints the effective configuration in the config file's own
// format, keys sorted, so it can be saved and used with --config.
func (c *Config) WriteYAML(w io.Writer) error {
	m := map[string]string{
		kRead:       yamlList(c.Read),
		kIface:      quote(c.Iface),
		kPorts:      quote(c.Ports.String()),
		kWindow:     c.Window.String(),
		kLookback:   c.Lookback.String(),
		kOutput:     quote(c.Output),
		kSensorID:   sensorIDValue(c),
		kLogLevel:   c.LogLevel,
		kLogFormat:  c.LogFormat,
		kProgress:   c.Progress,
		kMaxSources: strconv.Itoa(c.MaxSources),
		kShards:     shardsValue(c),
		kMaxTargets: strconv.Itoa(c.MaxTargets),
		kTopSources: strconv.Itoa(c.TopSources),
		kFlood:      strconv.Itoa(c.FloodThreshold),
		kFloodSrc:   strconv.FormatBool(c.FloodSources),
		kActivity:   c.ActivityEvery.String(),
		kRemember:   c.Remember.String(),
		kAlertExec:  quote(c.AlertExec),
		kAlertHook:  quote(c.AlertWebhook),
		kCapture:    c.Capture,
		kIngress:    c.IngressHook,
		kPromisc:    strconv.FormatBool(c.Promisc),
		kEgress:     strconv.FormatBool(c.Egress),
		kUser:       quote(c.User),
		kStatsEvery: c.StatsEvery.String(),
		kScanner:    strconv.Itoa(c.ScannerTargets),
		kScanHosts:  strconv.Itoa(c.ScanHosts),
		kScanPorts:  strconv.Itoa(c.ScanPorts),
		kScanEvery:  c.ScanInterval.String(),
		kMMDB:       yamlList(c.MMDB),
		kBenign:     quote(c.Benign),
		kExclBenign: strconv.FormatBool(c.ExcludeBenign),
		kMaxGap:     c.MaxGap.String(),
		kStateFile:  quote(c.StateFile),
		kStateReset: strconv.FormatBool(c.StateReset),
		kStateEvery: c.StateEvery.String(),
		kMetrics:    quote(c.MetricsAddr),
		kGrowth:     strconv.FormatBool(!c.GrowthOff),
		kHorizons:   quote(durations(c.Growth.Horizons)),
		kConfidence: strconv.FormatFloat(c.Growth.Confidence, 'g', -1, 64),
		kLinConf:    strconv.FormatFloat(c.Growth.LinearConfidence, 'g', -1, 64),
		kMinDouble:  c.Growth.MinDoubling.String(),
		kMinWindows: strconv.Itoa(c.Growth.MinWindows),
		kMinEvents:  strconv.Itoa(c.Growth.MinEvents),
		kDiurnal:    c.Growth.Diurnal,
		kAmplitude:  strconv.FormatFloat(c.Growth.DiurnalAmplitude, 'g', -1, 64),
		kCycle:      strconv.FormatFloat(c.Growth.CycleAmplitude, 'g', -1, 64),
	}
	c.Kafka.yaml(m)
	var hn []string
	for _, p := range c.HomeNet {
		hn = append(hn, p.String())
	}
	m[kHomeNet] = yamlList(hn)
	for k, ps := range map[string][]netip.Prefix{kDecoys: c.Decoys, kDarkNet: c.DarkNet} {
		var l []string
		for _, p := range ps {
			l = append(l, p.String())
		}
		m[k] = yamlList(l)
	}
	keys := make([]string, 0, len(m))
	for k, v := range m {
		if strings.Contains(v, notUTF8) {
			return fmt.Errorf("--print-config: the %s setting %w (its bytes would load back as other characters): give it on the command line instead", k, ErrNotUTF8)
		}
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "%s: %s\n", k, m[k])
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// ErrNotUTF8: a setting WriteYAML cannot write.
var ErrNotUTF8 = errors.New("is not valid UTF-8, which a YAML file cannot hold")

// quote is a YAML double-quoted scalar of s (Go's quoting, whose escapes
// YAML reads the same), or notUTF8: Go writes a byte that is not UTF-8 as
// \xNN, which YAML reads as the character U+00NN (a path with a Latin-1
// é loaded back as another path, a review).
func quote(s string) string {
	if !utf8.ValidString(s) {
		return notUTF8
	}
	return strconv.Quote(s)
}

// notUTF8 stands for a value quote cannot write (no quoted string holds a
// NUL byte).
const notUTF8 = "\x00not UTF-8"

func yamlList(xs []string) string {
	if len(xs) == 0 {
		return "[]"
	}
	q := make([]string, len(xs))
	for i, x := range xs {
		q[i] = quote(x)
	}
	return "[" + strings.Join(q, ", ") + "]"
}

// shardsValue is the shards setting as given: auto stays auto, so a file
// written on one machine does not pin its core count on another.
func shardsValue(c *Config) string {
	if c.ShardsAuto {
		return "auto"
	}
	return strconv.Itoa(c.Shards)
}

// sensorIDValue is the sensor-id as given: none (the host name) stays
// none, so a file written on one sensor does not name the others after it
// (a fleet tells its sensors apart by this id).
func sensorIDValue(c *Config) string {
	if c.SensorIDAuto {
		return `""`
	}
	return quote(c.SensorID)
}

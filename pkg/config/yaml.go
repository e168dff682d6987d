package config

import (
	"fmt"
	"io"
	"net/netip"
	"sort"
	"strconv"
	"strings"
)

// WriteYAML prints the effective configuration in the config file's own
// format, keys sorted, so it can be saved and used with --config.
func (c *Config) WriteYAML(w io.Writer) error {
	m := map[string]string{
		kRead:       yamlList(c.Read),
		kIface:      strconv.Quote(c.Iface),
		kPorts:      strconv.Quote(c.Ports.String()),
		kWindow:     c.Window.String(),
		kLookback:   c.Lookback.String(),
		kOutput:     strconv.Quote(c.Output),
		kSensorID:   strconv.Quote(c.SensorID),
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
		kAlertExec:  strconv.Quote(c.AlertExec),
		kAlertHook:  strconv.Quote(c.AlertWebhook),
		kCapture:    c.Capture,
		kIngress:    c.IngressHook,
		kPromisc:    strconv.FormatBool(c.Promisc),
		kEgress:     strconv.FormatBool(c.Egress),
		kUser:       strconv.Quote(c.User),
		kStatsEvery: c.StatsEvery.String(),
		kScanner:    strconv.Itoa(c.ScannerTargets),
		kScanHosts:  strconv.Itoa(c.ScanHosts),
		kScanPorts:  strconv.Itoa(c.ScanPorts),
		kScanEvery:  c.ScanInterval.String(),
		kMMDB:       yamlList(c.MMDB),
		kBenign:     strconv.Quote(c.Benign),
		kExclBenign: strconv.FormatBool(c.ExcludeBenign),
		kMaxGap:     c.MaxGap.String(),
		kStateFile:  strconv.Quote(c.StateFile),
		kStateReset: strconv.FormatBool(c.StateReset),
		kStateEvery: c.StateEvery.String(),
		kMetrics:    strconv.Quote(c.MetricsAddr),
		kGrowth:     strconv.FormatBool(!c.GrowthOff),
		kHorizons:   strconv.Quote(durations(c.Growth.Horizons)),
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
	for k := range m {
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

func yamlList(xs []string) string {
	if len(xs) == 0 {
		return "[]"
	}
	q := make([]string, len(xs))
	for i, x := range xs {
		q[i] = strconv.Quote(x)
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

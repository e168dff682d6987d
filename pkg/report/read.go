// Package report turns the sensor's JSONL records back into what an analyst
// looks at: one self-contained HTML page per run (or one chart as SVG or
// PNG) showing how new sources arrived, which model fits and since when.
// It reads records from any number of sensors and files; a line it cannot
// use is named and skipped, never fatal.
package report

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"math"
	"net/netip"
	"slices"
	"sort"
	"strings"
	"time"
)

// Window is one `window` record.
type Window struct {
	Start, End  int64 // ns
	Syn         uint64
	Active      uint64
	New         uint64
	NewPrefixes uint64
	Flood       uint64
	Warmup      bool
	Coverage    float64 // the record's coverage (1 when absent)
}

// Verdict is one `growth` record.
type Verdict struct {
	Start, End    int64
	Model         string
	Confidence    float64
	Rate          float64 // growth rate per hour
	Steady        float64 // steady rate, new sources per hour
	Horizon       float64 // hours
	NewSources    uint64
	RegimeChanged bool
	RegimeSince   int64   // the record's regime_since, 0 when absent
	Doubling      float64 // hours, 0 when absent
}

// TopSource is one entry of a summary's top_sources.
type TopSource struct {
	Src               string
	Syns              uint64
	FirstSeen, Last   string
	DistinctTargetEst int64
	DistinctPortsEst  int64 // 0 from sensors that did not count ports
}

// Scanner is one `outbound_scanner` record.
type Scanner struct {
	Ts        int64
	Src       string
	Direction string
	Syns      uint64
	Targets   int64
	PerMinute float64
}

// Inbound is a scanning source's latest `scanner` record (an update replaces the
// record at the threshold: the episode's reach so far).
type Inbound struct {
	Ts              int64
	Src, Kind, Tool string
	Targets, Ports  int64
	Syns            uint64
	FirstSeen       string
	Country, Benign string
	ASN             uint64
	ASOrg           string
}

// scannerRec is what the report reads of a `scanner` record (its targets
// and ports are numbers there, a flood's targets a list and a summary's
// ports a string: read apart).
type scannerRec struct {
	Ts        string `json:"ts"`
	SrcIP     string `json:"src_ip"`
	Kind      string `json:"kind"`
	Tool      string `json:"tool"`
	Targets   int64  `json:"targets"`
	Ports     int64  `json:"ports"`
	Syns      uint64 `json:"syn_packets"`
	FirstSeen string `json:"first_seen"`
	Country   string `json:"country"`
	ASN       uint64 `json:"asn"`
	ASOrg     string `json:"as_org"`
	Benign    string `json:"benign"`
}

// Sensor is everything read for one sensor id.
type Sensor struct {
	ID       string
	Windows  []Window
	Verdicts []Verdict
	Top      []TopSource
	Scanners []Scanner
	// Inbound scanners by source and episode (first_seen): the latest record.
	Inbound map[[2]string]Inbound
	// New sources per /24 (IPv4) or /48 (IPv6), from source records.
	Prefixes map[string]uint64
	// New sources per country and per network ("AS64501 Org"), from
	// source records of a sensor run with --mmdb.
	Countries, Networks map[string]uint64
	Sources             uint64 // source records, less those of flood sources (--flood-sources)
	Flooded             uint64 // flood sources, summarized in flood records
	Alerts              uint64 // alert records
	// Packets and SYNs matched, over every run the records hold: each
	// run's final stats record (or, for a run that has none yet, its
	// latest), added up. A live sensor appends run after run to one
	// file, each counting from 0.
	Packets  uint64
	SynMatch uint64
	stats    []statsRec // in the order read; added up by Finish, in time order
	topTs    int64      // the ts of the summary Top is from (the latest)
	topSet   bool

	dupWindows int
}

// Data is what Read collected.
type Data struct {
	Sensors    map[string]*Sensor
	Lines      int
	Skipped    int
	Records    int      // records taken (each once; not the blank, skipped or repeated lines)
	Duplicates int      // records read more than once (the same file twice, overlapping files), counted once
	Problems   []string // the first maxProblems, "file:line: reason": lines skipped
	Notes      []string // what the reader noticed and handled (repeated records, mixed windows)

	// seen holds a 128-bit digest of every record taken, so a record read
	// twice is counted once: 16 bytes a record, not the record.
	seen         map[[2]uint64]struct{}
	seed1, seed2 maphash.Seed
}

const maxProblems = 50

// NewData returns an empty collection.
func NewData() *Data {
	return &Data{Sensors: map[string]*Sensor{}, seen: map[[2]uint64]struct{}{},
		seed1: maphash.MakeSeed(), seed2: maphash.MakeSeed()}
}

// firstTime reports whether the record b has not been read before.
func (d *Data) firstTime(b []byte) bool {
	k := [2]uint64{maphash.Bytes(d.seed1, b), maphash.Bytes(d.seed2, b)}
	if _, dup := d.seen[k]; dup {
		d.Duplicates++
		return false
	}
	d.seen[k] = struct{}{}
	return true
}

// record is the union of the fields the report uses; others are ignored,
// so records from older or newer sensors read as far as they go.
type record struct {
	EventType      *string  `json:"event_type"`
	Ts             string   `json:"ts"`
	Sensor         string   `json:"sensor"`
	WindowStart    string   `json:"window_start"`
	WindowEnd      string   `json:"window_end"`
	SynPackets     *uint64  `json:"syn_packets"`
	ActiveSources  uint64   `json:"active_sources"`
	NewSources     *uint64  `json:"new_sources"`
	NewPrefixes    uint64   `json:"new_prefixes"`
	FloodNew       uint64   `json:"flood_new_sources"`
	Warmup         bool     `json:"warmup"`
	Coverage       *float64 `json:"coverage"`
	Model          string   `json:"model"`
	Confidence     float64  `json:"confidence"`
	Rate           float64  `json:"growth_rate_per_hour"`
	Steady         float64  `json:"steady_rate_per_hour"`
	Horizon        float64  `json:"horizon_hours"`
	RegimeChanged  bool     `json:"regime_changed"`
	RegimeSince    string   `json:"regime_since"`
	Doubling       float64  `json:"doubling_time_hours"`
	SrcIP          string   `json:"src_ip"`
	Direction      string   `json:"direction"`
	Packets        uint64   `json:"packets"`
	SynMatched     uint64   `json:"syn_matched"`
	Final          bool     `json:"final"` // a stats record's: the run's last
	SynPerMinute   float64  `json:"syn_per_minute"`
	DistinctTarget int64    `json:"distinct_targets_est"`
	TopSources     []topRec `json:"top_sources"`
	Country        string   `json:"country"`
	ASN            uint64   `json:"asn"`
	ASOrg          string   `json:"as_org"`
	FloodSources   uint64   `json:"sources"` // a flood record's
	Flood          bool     `json:"flood"`   // a source record's: a flood source's (--flood-sources)
}

type topRec struct {
	SrcIP     string `json:"src_ip"`
	Syns      uint64 `json:"syn_packets"`
	FirstSeen string `json:"first_seen"`
	LastSeen  string `json:"last_seen"`
	Targets   int64  `json:"distinct_targets_est"`
	Ports     int64  `json:"distinct_ports_est"`
}

// Read adds the records of one input (name is for messages) to d. Only a
// failing reader is an error; bad lines are counted and described.
//
// A line longer than maxLine (no record is: a file's tail of NUL bytes
// after a crash can be) is skipped and named like any bad line; it used to
// end the whole read ("token too long").
func (d *Data) Read(r io.Reader, name string) error {
	br := bufio.NewReaderSize(r, 1<<16)
	var long []byte // a line longer than br's buffer, gathered (up to maxLine+1 bytes)
	over := false   // the line in hand passed maxLine
	line := 0
	for {
		chunk, err := br.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			if !over {
				long = append(long, chunk...)
				if len(long) > maxLine {
					over, long = true, long[:0]
				}
			}
			continue
		}
		b := chunk
		if over || len(long) > 0 {
			if !over {
				long = append(long, chunk...)
				over = len(long) > maxLine
			}
			b = long
		}
		if len(chunk) > 0 || over || len(long) > 0 {
			line++
			d.Lines++
			if over {
				d.problem(fmt.Sprintf("%s:%d: longer than %d MiB: not a record", name, line, maxLine>>20))
			} else if b = bytes.TrimRight(b, " \t\r\n"); len(b) > 0 && d.firstTime(b) {
				if reason := d.add(b); reason != "" {
					d.problem(fmt.Sprintf("%s:%d: %s", name, line, reason))
				} else {
					d.Records++
				}
			}
		}
		long, over = long[:0], false
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s: after line %d: %w", name, line, err)
		}
	}
}

// maxLine is the longest line Read takes for a record.
const maxLine = 16 << 20

func (d *Data) problem(s string) {
	d.Skipped++
	if len(d.Problems) < maxProblems {
		d.Problems = append(d.Problems, s)
	}
}

var sourcePrefix = []byte(`{"event_type":"source",`)

// addSource is the fast path for the commonest record: the sensor writes
// event_type first, so a source record is known by its first bytes and
// needs only two fields; it must still be valid JSON, and read as the
// general path (Go's JSON decoder) reads it: keys as the sensor writes
// them, each once (sourceFields).
func (d *Data) addSource(b []byte) (string, bool) {
	if !bytes.HasPrefix(b, sourcePrefix) || bytes.IndexByte(b, '\\') >= 0 || !json.Valid(b) {
		return "", false // the general path decides (and handles escapes)
	}
	id, ip, ok := sourceFields(b)
	if !ok {
		return "", false // flood sources, networks, keys written otherwise
	}
	a, err := netip.ParseAddr(string(ip))
	if err != nil {
		return fmt.Sprintf("source record with a bad src_ip %q", ip), true
	}
	s := d.sensor(string(id))
	s.Sources++
	s.Prefixes[prefixOf(a)]++
	return "", true
}

// sourceFields returns the sensor and src_ip of a source record b (valid
// JSON without a backslash: every quote opens or closes a string), when
// its keys are as the sensor writes them: lower-case ASCII, the colon
// straight after, event_type, sensor and src_ip once each, the last two
// strings, and no flood, asn or country key (the general path reads
// those). Go's decoder matches keys case-insensitively and takes the last
// of a repeated one; a line written otherwise goes to it.
func sourceFields(b []byte) (sensor, ip []byte, ok bool) {
	var events, sensors, ips int
	for i := 0; i < len(b); {
		if b[i] != '"' {
			i++
			continue
		}
		j := bytes.IndexByte(b[i+1:], '"')
		if j < 0 {
			return nil, nil, false
		}
		str, end := b[i+1:i+1+j], i+2+j // end: just after the closing quote
		i = end
		k := end
		for k < len(b) && (b[k] == ' ' || b[k] == '\t' || b[k] == '\r' || b[k] == '\n') {
			k++
		}
		if k == len(b) || b[k] != ':' {
			continue // a value
		}
		if k != end {
			return nil, nil, false // a space before the colon
		}
		for _, c := range str {
			if c >= 'A' && c <= 'Z' || c >= 0x80 {
				return nil, nil, false // another case (or a Unicode fold) of some key
			}
		}
		var val *[]byte
		switch string(str) {
		case "event_type":
			events++
			continue
		case "sensor":
			sensors++
			val = &sensor
		case "src_ip":
			ips++
			val = &ip
		case "flood", "asn", "country":
			return nil, nil, false
		default:
			continue
		}
		if k+1 >= len(b) || b[k+1] != '"' {
			return nil, nil, false // not a string
		}
		v := b[k+2:]
		q := bytes.IndexByte(v, '"')
		if q < 0 {
			return nil, nil, false
		}
		*val = v[:q]
		i = k + 3 + q
	}
	return sensor, ip, events == 1 && sensors == 1 && ips == 1
}

// add takes one line; it returns why it was skipped, or "".
func (d *Data) add(b []byte) string {
	if reason, done := d.addSource(b); done {
		return reason
	}
	return d.addRecord(b)
}

// addRecord is add by the general path: any record, decoded whole.
func (d *Data) addRecord(b []byte) string {
	var r record
	if err := json.Unmarshal(b, &r); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return fmt.Sprintf("a record with a field of the wrong type: %v", err)
		}
		return fmt.Sprintf("not a JSON record (truncated?): %v", err)
	}
	if r.EventType == nil {
		return "no event_type: not a synscope record"
	}
	s := d.sensor(r.Sensor)
	switch *r.EventType {
	case "window":
		start, err1 := parseTime(r.WindowStart)
		end, err2 := parseTime(r.WindowEnd)
		if err1 != nil || err2 != nil || end <= start || r.NewSources == nil || r.SynPackets == nil {
			return "window record without a valid window_start, window_end, new_sources and syn_packets"
		}
		cov := 1.0
		if r.Coverage != nil && *r.Coverage > 0 && *r.Coverage < 1 {
			cov = *r.Coverage
		}
		s.Windows = append(s.Windows, Window{Coverage: cov, Start: start, End: end, Syn: *r.SynPackets, Active: r.ActiveSources,
			New: *r.NewSources, NewPrefixes: r.NewPrefixes, Flood: r.FloodNew, Warmup: r.Warmup})
	case "growth":
		start, err1 := parseTime(r.WindowStart)
		end, err2 := parseTime(r.WindowEnd)
		if err1 != nil || err2 != nil || r.Model == "" {
			return "growth record without a valid window_start, window_end and model"
		}
		var n uint64
		if r.NewSources != nil {
			n = *r.NewSources
		}
		var since int64
		if r.RegimeSince != "" {
			since, _ = parseTime(r.RegimeSince) // a bad one: as if absent
		}
		s.Verdicts = append(s.Verdicts, Verdict{Start: start, End: end, Model: r.Model, Confidence: r.Confidence,
			Rate: r.Rate, Steady: r.Steady, Horizon: r.Horizon, NewSources: n, RegimeChanged: r.RegimeChanged, RegimeSince: since,
			Doubling: r.Doubling})
	case "source":
		a, err := netip.ParseAddr(r.SrcIP)
		if err != nil {
			return fmt.Sprintf("source record with a bad src_ip %q", r.SrcIP)
		}
		if r.Flood {
			break // counted in its window's flood record
		}
		s.Sources++
		s.Prefixes[prefixOf(a)]++
		if r.Country != "" {
			s.Countries[r.Country]++
		}
		if r.ASN != 0 {
			s.Networks[fmt.Sprintf("AS%d %s", r.ASN, r.ASOrg)]++
		}
	case "flood":
		// A flood's sources have no source record each (unless
		// --flood-sources, and then the flood records are not counted
		// again: see Flooded); their prefixes are unknown.
		s.Flooded = sat(s.Flooded, r.FloodSources)
	case "alert":
		s.Alerts++ // the verdicts they come from are charted already
	case "scanner":
		var sr scannerRec
		if err := json.Unmarshal(b, &sr); err != nil {
			return fmt.Sprintf("scanner record with a field of the wrong type: %v", err)
		}
		ts, err := parseTime(sr.Ts)
		if err != nil || sr.SrcIP == "" {
			return "scanner record without a valid ts and src_ip"
		}
		k := [2]string{sr.SrcIP, sr.FirstSeen}
		if old, ok := s.Inbound[k]; !ok || ts >= old.Ts {
			s.Inbound[k] = Inbound{Ts: ts, Src: sr.SrcIP, Kind: sr.Kind, Tool: sr.Tool, Targets: sr.Targets, Ports: sr.Ports,
				Syns: sr.Syns, FirstSeen: sr.FirstSeen, Country: sr.Country, ASN: sr.ASN, ASOrg: sr.ASOrg, Benign: sr.Benign}
		}
	case "outbound_scanner":
		ts, err := parseTime(r.Ts)
		if err != nil || r.SrcIP == "" {
			return "outbound_scanner record without a valid ts and src_ip"
		}
		var syns uint64
		if r.SynPackets != nil {
			syns = *r.SynPackets
		}
		s.Scanners = append(s.Scanners, Scanner{Ts: ts, Src: r.SrcIP, Direction: r.Direction, Syns: syns,
			Targets: r.DistinctTarget, PerMinute: r.SynPerMinute})
	case "stats":
		ts, err := parseTime(r.Ts)
		if err != nil {
			return "stats record without a valid ts"
		}
		s.stats = append(s.stats, statsRec{ts: ts, n: [2]uint64{r.Packets, r.SynMatched}, final: r.Final})
	case "summary":
		// The latest run's (by its ts, not by the order the files were
		// given: sensor.jsonl* lists the newest file first, a review).
		ts, err := parseTime(r.Ts)
		if err != nil {
			return "summary record without a valid ts"
		}
		if s.topSet && ts < s.topTs {
			break
		}
		s.topTs, s.topSet = ts, true
		s.Top = s.Top[:0]
		for _, t := range r.TopSources {
			s.Top = append(s.Top, TopSource{Src: t.SrcIP, Syns: t.Syns, FirstSeen: t.FirstSeen, Last: t.LastSeen, DistinctTargetEst: t.Targets, DistinctPortsEst: t.Ports})
		}
	case "activity":
		// Active periods and sleeps: not drawn (yet); known, so not
		// named as skipped.
	case "sighting", "progress", "fleet", "collect_stats":
		// The fleet's records (a sensor with Kafka on, sensor collect):
		// the report draws the window and growth records beside them.
	default:
		return fmt.Sprintf("unknown event_type %q, skipped", *r.EventType)
	}
	return ""
}

// statsRec is what a stats record says of its run so far.
type statsRec struct {
	ts    int64
	n     [2]uint64 // packets, SYNs matched
	final bool
}

// addUpStats sets Packets and SynMatch from the stats records, taken in
// time order (a stable sort: a run's records keep their order): each run's
// final record, or for a run that has none (going on, or crashed) its
// latest, added up. A new run is one that counts from 0 again after a run
// without a final record. In the order read, a rotated live output given
// newest first (sensor report sensor.jsonl*) looked like several runs and
// its packets were counted more than once (a review). A crashed run followed
// by a busier one cannot be told from one run: its count is lost (the
// records carry no run's identity).
func (s *Sensor) addUpStats() {
	sort.SliceStable(s.stats, func(i, j int) bool { return s.stats[i].ts < s.stats[j].ts })
	var done, run [2]uint64
	for _, r := range s.stats {
		switch {
		case r.final:
			done[0], done[1] = sat(done[0], r.n[0]), sat(done[1], r.n[1])
			run = [2]uint64{}
		case r.n[0] < run[0]:
			done[0], done[1] = sat(done[0], run[0]), sat(done[1], run[1])
			run = r.n
		default:
			run = r.n
		}
	}
	s.Packets, s.SynMatch = sat(done[0], run[0]), sat(done[1], run[1])
	s.stats = nil
}

func (d *Data) sensor(id string) *Sensor {
	s := d.Sensors[id]
	if s == nil {
		s = &Sensor{ID: id, Prefixes: map[string]uint64{}, Countries: map[string]uint64{}, Networks: map[string]uint64{}, Inbound: map[[2]string]Inbound{}}
		d.Sensors[id] = s
	}
	return s
}

// Times a record may carry: what fits int64 nanoseconds since 1970, with
// room for a window after it.
var (
	minTime = time.Unix(0, math.MinInt64/2)
	maxTime = time.Unix(0, math.MaxInt64/2)
)

func parseTime(s string) (int64, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return 0, err
	}
	if t.Before(minTime) || t.After(maxTime) {
		return 0, fmt.Errorf("time %s is out of range", s)
	}
	return t.UnixNano(), nil
}

func prefixOf(a netip.Addr) string {
	if a.Is4() || a.Is4In6() {
		p, _ := a.Unmap().Prefix(24)
		return p.String()
	}
	p, _ := a.Prefix(48)
	return p.String()
}

// Finish sorts every sensor's records by time and drops repeated windows
// (the same window read twice, from overlapping files), noting them.
func (d *Data) Finish() {
	if d.Duplicates > 0 {
		d.Notes = append(d.Notes, fmt.Sprintf("%d records appear more than once (the same file twice, or overlapping inputs?); each is counted once", d.Duplicates))
	}
	d.seen = nil
	for _, id := range d.SensorIDs() {
		s := d.Sensors[id]
		s.addUpStats()
		sort.SliceStable(s.Windows, func(i, j int) bool { return s.Windows[i].Start < s.Windows[j].Start })
		if lens := windowLengths(s.Windows); len(lens) > 1 {
			// Runs of one capture with another --window overlap without
			// sharing a start: each counts the same sources (the same
			// capture at 5m and at 1m read 4165 new sources for 2091).
			d.Notes = append(d.Notes, fmt.Sprintf("sensor %q: windows of %s: runs with different --window, whose counts add up where they overlap; report one run, or give each its own --sensor-id", s.ID, strings.Join(lens, " and ")))
		}
		w := s.Windows[:0]
		for _, x := range s.Windows {
			if n := len(w); n > 0 && x.Start == w[n-1].Start {
				if last := &w[n-1]; last.Coverage < 1 && x.Coverage < 1 && last.Coverage+x.Coverage <= 1+1e-9 {
					// One window in two parts, each covering some of it: a
					// sensor stopped and started again within it (its state
					// file kept). The parts add up, active sources too: the
					// second part leaves out those active in the first,
					// known from the state (the busier part's count stood:
					// 29 of 31, a review).
					last.Syn += x.Syn
					last.New += x.New
					last.NewPrefixes += x.NewPrefixes
					last.Flood += x.Flood
					last.Active += x.Active
					last.Coverage += x.Coverage
					continue
				}
				s.dupWindows++
				continue
			}
			w = append(w, x)
		}
		s.Windows = w
		if s.dupWindows > 0 {
			d.Notes = append(d.Notes, fmt.Sprintf("sensor %q: %d windows appear more than once (overlapping inputs?); the first of each is drawn", s.ID, s.dupWindows))
		}
		sort.SliceStable(s.Verdicts, func(i, j int) bool { return s.Verdicts[i].Start < s.Verdicts[j].Start })
		sort.SliceStable(s.Scanners, func(i, j int) bool { return s.Scanners[i].Ts < s.Scanners[j].Ts })
	}
}

// windowLengths lists the lengths of ws, in the order first seen.
func windowLengths(ws []Window) []string {
	var lens []string
	for i := range ws {
		l := time.Duration(ws[i].End - ws[i].Start).String()
		if !slices.Contains(lens, l) {
			lens = append(lens, l)
		}
	}
	return lens
}

// SensorIDs lists the sensors with at least one window, sorted.
func (d *Data) SensorIDs() []string {
	var ids []string
	for id, s := range d.Sensors {
		if len(s.Windows) > 0 {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	return ids
}

// TopPrefixes returns the n prefixes with the most new sources, most first
// (ties by prefix).
func (s *Sensor) TopPrefixes(n int) []PrefixCount { return topOf(s.Prefixes, n) }

// TopCountries and TopNetworks are the n countries and networks with the
// most new sources, most first (empty without --mmdb).
func (s *Sensor) TopCountries(n int) []PrefixCount { return topOf(s.Countries, n) }

// TopNetworks: see TopCountries.
func (s *Sensor) TopNetworks(n int) []PrefixCount { return topOf(s.Networks, n) }

func topOf(m map[string]uint64, n int) []PrefixCount {
	out := make([]PrefixCount, 0, len(m))
	for p, c := range m {
		out = append(out, PrefixCount{p, c})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].N != out[j].N {
			return out[i].N > out[j].N
		}
		return out[i].Prefix < out[j].Prefix
	})
	if len(out) > n {
		out = out[:n]
	}
	return out
}

// PrefixCount is a prefix and its new sources.
type PrefixCount struct {
	Prefix string
	N      uint64
}

// recorded is the new sources the records account for: each has a source
// record or is counted in a flood record.
func (s *Sensor) recorded() uint64 { return sat(s.Sources, s.Flooded) }

// newSources is the new sources the windows count (a fleet collector's
// output has window records and no source records: its recorded() is 0),
// or, without windows, recorded(); and the flood sources among them.
func (s *Sensor) newSources() (all, flood uint64) {
	for i := range s.Windows {
		all, flood = sat(all, s.Windows[i].New), sat(flood, s.Windows[i].Flood)
	}
	if all == 0 {
		return s.recorded(), s.Flooded
	}
	return all, flood
}

// sat is a + b, held at the largest uint64 rather than wrapped (counts
// from hostile JSONL near 2^64 summed to "4 packets").
func sat(a, b uint64) uint64 {
	if a+b < a {
		return math.MaxUint64
	}
	return a + b
}

package fleet

import (
	"bytes"
	"errors"
	"math"
	"net/netip"
	"strconv"
	"time"

	"github.com/synscope/synscope/pkg/output"
)

// Kinds of record the collector reads; everything else on the topic (the
// sensors' window, growth, stats records) is passed over.
const (
	kindOther = iota
	kindSource
	kindSighting
	kindProgress
)

// rec is what the collector takes from one record.
type rec struct {
	kind                 int
	sensor               string
	src                  netip.Addr
	ts                   int64 // the SYN's time (source, sighting)
	windowStart          int64
	windowEnd            int64 // progress
	coveredTo            int64 // progress: covered_to, where the sensor's run ended within the window; 0 when it did not
	prev                 int64 // prev_seen or prev_last_seen; 0 when none
	syns, active, newSrc uint64
	flood                uint64  // flood_new_sources; absent in older records
	run                  int64   // progress: run_first_packet; 0 in older records
	cover                float64 // progress: coverage, in [0, 1]; 1 in older records
}

var errBad = errors.New("not a synscope record")

// produceSkew is how far ahead of the time Kafka stamped it (its producer's
// clock) a record's times may be: a sensor writes a window only once its
// packets have passed it, so a later time is a sensor clock's error, at
// most this, or a record that was not a sensor's (one window_end in 2100
// made the collector close every window up to it, one partial each).
const produceSkew = int64(24 * time.Hour)

// after says whether any of r's times is past t.
func (r *rec) after(t int64) bool {
	return r.ts > t || r.windowStart > t || r.windowEnd > t || r.prev > t
}

// parse reads a record as the sensor's writer writes it (compact JSON, one
// object, known field names); anything else is errBad, never a panic. It
// does not validate the whole object: the fields it needs must be there
// and well formed.
func parse(b []byte, r *rec, names map[string]string) error {
	b = bytes.TrimSpace(b)
	if len(b) < 2 || b[0] != '{' || b[len(b)-1] != '}' {
		return errBad
	}
	et, ok := field(b, `"event_type":"`)
	if !ok {
		return errBad
	}
	*r = rec{}
	switch string(et) { // no allocation: a switch on a converted slice
	case "source":
		r.kind = kindSource
	case "sighting":
		r.kind = kindSighting
	case "progress":
		r.kind = kindProgress
	default:
		return nil // another record type: not ours to read
	}
	s, ok := field(b, `"sensor":"`)
	// A longer id is no sensor's (the config refuses it): a topic of ids
	// of a quarter of a megabyte each held the collector's memory (a
	// review). Raw JSON: an escaped byte takes up to six.
	if !ok || len(s) == 0 || len(s) > 6*output.MaxSensorID {
		return errBad
	}
	r.sensor = intern(names, s)
	var err error
	if r.windowStart, err = tm(b, `"window_start":"`); err != nil {
		return err
	}
	if r.kind == kindProgress {
		if r.windowEnd, err = tm(b, `"window_end":"`); err != nil {
			return err
		}
		if r.windowEnd <= r.windowStart {
			return errBad
		}
		var ok1, ok2, ok3 bool
		r.syns, ok1 = num(b, `"syn_packets":`)
		r.active, ok2 = num(b, `"active_sources":`)
		r.newSrc, ok3 = num(b, `"new_sources":`)
		if !ok1 || !ok2 || !ok3 {
			return errBad
		}
		r.flood, _ = num(b, `"flood_new_sources":`)
		r.cover = 1
		if bytes.Contains(b, []byte(`"coverage":`)) {
			if r.cover, ok = fraction(b, `"coverage":`); !ok {
				return errBad
			}
		}
		if bytes.Contains(b, []byte(`"run_first_packet":"`)) {
			if r.run, err = tm(b, `"run_first_packet":"`); err != nil {
				return err
			}
		}
		if bytes.Contains(b, []byte(`"covered_to":"`)) {
			if r.coveredTo, err = tm(b, `"covered_to":"`); err != nil {
				return err
			}
			if r.coveredTo <= r.windowStart || r.coveredTo > r.windowEnd {
				return errBad
			}
		}
		return nil
	}
	ip, ok := field(b, `"src_ip":"`)
	if !ok {
		return errBad
	}
	if r.src, err = parseAddr(ip); err != nil {
		return errBad
	}
	if r.ts, err = tm(b, `"ts":"`); err != nil {
		return err
	}
	field := `"prev_seen":"`
	if r.kind == kindSource {
		field = `"prev_last_seen":"`
	}
	if bytes.Contains(b, []byte(field)) {
		if r.prev, err = tm(b, field); err != nil {
			return err
		}
	}
	return nil
}

// field finds a string field's bytes (valid until b changes); it takes
// strings without escapes only (the fields read here never have any).
func field(b []byte, key string) ([]byte, bool) {
	i := bytes.Index(b, []byte(key))
	if i < 0 {
		return nil, false
	}
	rest := b[i+len(key):]
	j := bytes.IndexByte(rest, '"')
	if j < 0 || bytes.IndexByte(rest[:j], '\\') >= 0 {
		return nil, false
	}
	return rest[:j], true
}

// intern keeps one string per sensor id (in the collector's names): a
// fleet has a handful, and a string per record would be garbage for each.
func intern(names map[string]string, b []byte) string {
	if s, ok := names[string(b)]; ok {
		return s
	}
	if len(names) > 1<<16 { // a topic full of made-up ids: stop remembering
		return string(b)
	}
	s := string(b)
	names[s] = s
	return s
}

func parseAddr(b []byte) (netip.Addr, error) {
	var a [16]byte
	if len(b) <= 15 { // dotted quad, by hand: the common case
		n, part, dots, digits := 0, 0, 0, 0
		for _, c := range b {
			switch {
			case c >= '0' && c <= '9' && digits < 3:
				part = part*10 + int(c-'0')
				digits++
			case c == '.' && digits > 0 && dots < 3:
				if part > 255 || (digits > 1 && b[n-digits] == '0') {
					return netip.Addr{}, errBad
				}
				a[dots] = byte(part)
				dots, part, digits = dots+1, 0, 0
			default:
				return netip.ParseAddr(string(b))
			}
			n++
		}
		if dots == 3 && digits > 0 && part <= 255 && !(digits > 1 && b[n-digits] == '0') {
			a[3] = byte(part)
			return netip.AddrFrom4([4]byte(a[:4])), nil
		}
	}
	return netip.ParseAddr(string(b))
}

// tm reads a time field. The writer's own format (RFC 3339, UTC, nine
// digits) is read by hand; anything else goes through time.Parse.
func tm(b []byte, key string) (int64, error) {
	s, ok := field(b, key)
	if !ok {
		return 0, errBad
	}
	if ns, ok := fixedTime(s); ok {
		return ns, nil
	}
	t, err := time.Parse(time.RFC3339Nano, string(s))
	if err != nil || t.Before(minTime) || !t.Before(maxTime) {
		return 0, errBad // (UnixNano wraps outside them)
	}
	return t.UnixNano(), nil
}

// The times a record may carry: from 1970 (no sensor stamps a packet
// before) to the end of 2261, within int64 nanoseconds.
var (
	minTime = time.Unix(0, 0)
	maxTime = time.Date(2262, 1, 1, 0, 0, 0, 0, time.UTC)
)

// fixedTime reads "2006-01-02T15:04:05.000000000Z".
func fixedTime(s []byte) (int64, bool) {
	if len(s) != 30 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':' || s[19] != '.' || s[29] != 'Z' {
		return 0, false
	}
	d := func(i, n int) (int, bool) {
		v := 0
		for _, c := range s[i : i+n] {
			if c < '0' || c > '9' {
				return 0, false
			}
			v = v*10 + int(c-'0')
		}
		return v, true
	}
	y, ok1 := d(0, 4)
	mo, ok2 := d(5, 2)
	dd, ok3 := d(8, 2)
	h, ok4 := d(11, 2)
	mi, ok5 := d(14, 2)
	se, ok6 := d(17, 2)
	ns, ok7 := d(20, 9)
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6 && ok7) || mo < 1 || mo > 12 || dd < 1 || dd > 31 || h > 23 || mi > 59 || se > 59 {
		return 0, false
	}
	if y < 1970 || y > 2261 {
		return 0, false // outside minTime..maxTime: time.Parse's path refuses it too (tm)
	}
	t := time.Date(y, time.Month(mo), dd, h, mi, se, ns, time.UTC)
	if t.Day() != dd { // 31 February and the like
		return 0, false
	}
	return t.UnixNano(), true
}

func num(b []byte, key string) (uint64, bool) {
	i := bytes.Index(b, []byte(key))
	if i < 0 {
		return 0, false
	}
	rest := b[i+len(key):]
	var n uint64
	d := 0
	for ; d < len(rest) && rest[d] >= '0' && rest[d] <= '9'; d++ {
		if n > (math.MaxUint64-9)/10 {
			return 0, false // more than a count can be: not a sensor's record
		}
		n = n*10 + uint64(rest[d]-'0')
	}
	return n, d > 0
}

// fraction reads a number field that is a fraction of a window: from 0 (a
// capture whose last packet fell on the window's start) to 1.
func fraction(b []byte, key string) (float64, bool) {
	i := bytes.Index(b, []byte(key))
	if i < 0 {
		return 0, false
	}
	rest := b[i+len(key):]
	d := 0
	for d < len(rest) && d < 32 && (rest[d] >= '0' && rest[d] <= '9' || rest[d] == '.' || rest[d] == 'e' || rest[d] == 'E' || rest[d] == '-' || rest[d] == '+') {
		d++
	}
	f, err := strconv.ParseFloat(string(rest[:d]), 64)
	if err != nil || !(f >= 0 && f <= 1) {
		return 0, false
	}
	return f, true
}

// PartitionOf is the home partition of a sensor id among n: where its
// counts are added (the same hash the sensors' Kafka driver places keys by).
func PartitionOf(sensor string, n int) int {
	h := uint32(2166136261)
	for i := 0; i < len(sensor); i++ {
		h = (h ^ uint32(sensor[i])) * 16777619
	}
	return int(h % uint32(n))
}

package fleet

import (
	"bytes"
	"errors"
	"net/netip"
	"time"
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
	prev                 int64 // prev_seen or prev_last_seen; 0 when none
	syns, active, newSrc uint64
	flood                uint64 // flood_new_sources; absent in older records
}

var errBad = errors.New("not a synscope record")

// parse reads a record as the sensor's writer writes it (compact JSON, one
// object, known field names); anything else is errBad, never a panic. It
// does not validate the whole object: the fields it needs must be there
// and well formed.
func parse(b []byte, r *rec) error {
	b = bytes.TrimSpace(b)
	if len(b) < 2 || b[0] != '{' || b[len(b)-1] != '}' {
		return errBad
	}
	et, ok := str(b, `"event_type":"`)
	if !ok {
		return errBad
	}
	*r = rec{}
	switch et {
	case "source":
		r.kind = kindSource
	case "sighting":
		r.kind = kindSighting
	case "progress":
		r.kind = kindProgress
	default:
		return nil // another record type: not ours to read
	}
	s, ok := str(b, `"sensor":"`)
	if !ok || s == "" {
		return errBad
	}
	r.sensor = s
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
		return nil
	}
	ip, ok := str(b, `"src_ip":"`)
	if !ok {
		return errBad
	}
	if r.src, err = netip.ParseAddr(ip); err != nil {
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

// str finds a string field; it takes strings without escapes only (the
// fields read here never have any).
func str(b []byte, key string) (string, bool) {
	i := bytes.Index(b, []byte(key))
	if i < 0 {
		return "", false
	}
	rest := b[i+len(key):]
	j := bytes.IndexByte(rest, '"')
	if j < 0 || bytes.IndexByte(rest[:j], '\\') >= 0 {
		return "", false
	}
	return string(rest[:j]), true
}

func tm(b []byte, key string) (int64, error) {
	s, ok := str(b, key)
	if !ok {
		return 0, errBad
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return 0, errBad
	}
	return t.UnixNano(), nil
}

func num(b []byte, key string) (uint64, bool) {
	i := bytes.Index(b, []byte(key))
	if i < 0 {
		return 0, false
	}
	rest := b[i+len(key):]
	var n uint64
	d := 0
	for ; d < len(rest) && d < 20 && rest[d] >= '0' && rest[d] <= '9'; d++ {
		n = n*10 + uint64(rest[d]-'0')
	}
	return n, d > 0
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

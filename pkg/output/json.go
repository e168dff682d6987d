package output

import (
	"strconv"
	"time"
	"unicode/utf8"
)

// appendTime writes packet time as RFC 3339 UTC with nanoseconds, fixed
// width, so records sort as text and reruns match byte for byte.
func appendTime(b []byte, ns int64) []byte {
	b = append(b, '"')
	b = time.Unix(0, ns).UTC().AppendFormat(b, "2006-01-02T15:04:05.000000000Z07:00")
	return append(b, '"')
}

const hex = "0123456789abcdef"

// appendString writes s as a JSON string. Invalid UTF-8 becomes U+FFFD so
// the stream stays valid for every consumer.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c == '\n':
				b = append(b, '\\', 'n')
			case c == '\r':
				b = append(b, '\\', 'r')
			case c == '\t':
				b = append(b, '\\', 't')
			case c < 0x20 || c == 0x7f:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, `\ufffd`...)
		} else if r == '\u2028' || r == '\u2029' {
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xf])
		} else {
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return append(b, '"')
}

// obj builds one JSON object field by field.
type obj struct {
	b     []byte
	first bool
	tc    timeCache
}

// timeCache keeps the formatted date and time of the last two whole
// seconds written (a record's own time and its window's start): records
// come in time order, so most timestamps share one and only their
// nanoseconds need writing.
type timeCache struct {
	e    [2]timeEntry
	next int
}

type timeEntry struct {
	sec    int64
	prefix []byte // "2006-01-02T15:04:05"
}

func (c *timeCache) append(b []byte, ns int64) []byte {
	sec, frac := ns/1e9, ns%1e9
	if frac < 0 {
		sec, frac = sec-1, frac+1e9
	}
	if sec < 0 || sec > 253402300799 { // outside years 1970..9999: the general path
		return appendTime(b, ns)
	}
	e := &c.e[0]
	if e.prefix == nil || e.sec != sec {
		e = &c.e[1]
		if e.prefix == nil || e.sec != sec {
			e = &c.e[c.next]
			c.next ^= 1
			e.sec = sec
			e.prefix = time.Unix(sec, 0).UTC().AppendFormat(e.prefix[:0], "2006-01-02T15:04:05")
		}
	}
	b = append(b, '"')
	b = append(b, e.prefix...)
	var d [10]byte
	d[0] = '.'
	for i := 9; i >= 1; i-- {
		d[i] = byte('0' + frac%10)
		frac /= 10
	}
	b = append(b, d[:]...)
	return append(b, 'Z', '"')
}

func (o *obj) begin(b []byte) {
	o.b = append(b, '{')
	o.first = true
}

func (o *obj) key(k string) {
	if !o.first {
		o.b = append(o.b, ',')
	}
	o.first = false
	o.b = append(o.b, '"')
	o.b = append(o.b, k...)
	o.b = append(o.b, '"', ':')
}

func (o *obj) str(k, v string)         { o.key(k); o.b = appendString(o.b, v) }
func (o *obj) time(k string, ns int64) { o.key(k); o.b = o.tc.append(o.b, ns) }
func (o *obj) uint(k string, v uint64) { o.key(k); o.b = strconv.AppendUint(o.b, v, 10) }
func (o *obj) int(k string, v int64)   { o.key(k); o.b = strconv.AppendInt(o.b, v, 10) }
func (o *obj) bool(k string, v bool)   { o.key(k); o.b = strconv.AppendBool(o.b, v) }
func (o *obj) raw(k string, v []byte)  { o.key(k); o.b = append(o.b, v...) }

// float writes a finite float with the shortest exact representation;
// NaN and Inf are not JSON and become null.
func (o *obj) float(k string, v float64) {
	o.key(k)
	if v != v || v > 1e308 || v < -1e308 {
		o.b = append(o.b, "null"...)
		return
	}
	o.b = strconv.AppendFloat(o.b, v, 'g', -1, 64)
}

func (o *obj) end() []byte { return append(o.b, '}', '\n') }

// open starts a nested object under key k (or an array element when k is
// empty); close ends it.
func (o *obj) open(k string) {
	if k != "" {
		o.key(k)
	} else if !o.first {
		o.b = append(o.b, ',')
	}
	o.b = append(o.b, '{')
	o.first = true
}

func (o *obj) close() {
	o.b = append(o.b, '}')
	o.first = false
}

// openArray starts an array under key k; closeArray ends it.
func (o *obj) openArray(k string) {
	o.key(k)
	o.b = append(o.b, '[')
	o.first = true
}

// elemStr writes a string element of an open array.
func (o *obj) elemStr(v string) {
	if !o.first {
		o.b = append(o.b, ',')
	}
	o.first = false
	o.b = appendString(o.b, v)
}

func (o *obj) closeArray() {
	o.b = append(o.b, ']')
	o.first = false
}

// arrayStr adds a string element to an open array.
func (o *obj) arrayStr(v string) {
	if !o.first {
		o.b = append(o.b, ',')
	}
	o.b = appendString(o.b, v)
	o.first = false
}

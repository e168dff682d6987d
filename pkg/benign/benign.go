// Package benign is the list of known benign scanners (--benign FILE):
// research projects such as Censys, Shodan or university scans, as
// address ranges with a name. Records of their sources carry the name, and
// the growth classifier may leave them out. Lookups are made for records
// and new sources, never per packet, and allocate nothing.
//
// It imports only decode.
package benign

import (
	"bufio"
	"cmp"
	"encoding/binary"
	"fmt"
	"net/netip"
	"os"
	"slices"
	"strings"

	"github.com/synscope/synscope/pkg/decode"
)

// List maps address ranges to names: sorted disjoint intervals, a range
// nested in a larger one cutting its name out of it (the more specific
// wins).
type List struct {
	names []string
	v4    []span4
	v6    []span6
}

type span4 struct {
	lo, hi uint32
	name   int
}

type span6 struct {
	lo, hi [2]uint64
	name   int
}

// Load reads a list: one range a line, a CIDR (or a bare address) then the
// name, the rest of the line; blank lines and # comments are skipped. A bad
// line is an error naming the file and the line.
func Load(path string) (*List, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("benign list %w", err)
	}
	defer f.Close()
	type entry struct {
		p    netip.Prefix
		name string
	}
	var entries []entry
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		fields := strings.Fields(line)
		if len(fields) == 0 {
			continue
		}
		if len(fields) < 2 {
			return nil, fmt.Errorf("%s:%d: %q: want a CIDR and a name, such as 192.0.2.0/24 Example Research Scanner", path, n, strings.TrimSpace(line))
		}
		p, err := netip.ParsePrefix(fields[0])
		if err != nil {
			a, aerr := netip.ParseAddr(fields[0])
			if aerr != nil {
				return nil, fmt.Errorf("%s:%d: %q is not a CIDR or an address", path, n, fields[0])
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		entries = append(entries, entry{p.Masked(), strings.Join(fields[1:], " ")})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("benign list %s: %w", path, err)
	}
	// Larger ranges first, so a nested one cuts its name out of them.
	slices.SortStableFunc(entries, func(a, b entry) int { return cmp.Compare(a.p.Bits(), b.p.Bits()) })
	l := &List{}
	for _, e := range entries {
		l.names = append(l.names, e.name)
		l.add(e.p, len(l.names)-1)
	}
	return l, nil
}

// Len is the number of ranges read.
func (l *List) Len() int { return len(l.names) }

func (l *List) add(p netip.Prefix, name int) {
	if p.Addr().Is4() {
		lo := binary.BigEndian.Uint32(p.Addr().AsSlice())
		hi := lo | uint32(uint64(1)<<(32-p.Bits())-1)
		var out []span4
		for _, o := range l.v4 {
			if o.hi < lo || o.lo > hi {
				out = append(out, o)
				continue
			}
			if o.lo < lo {
				out = append(out, span4{o.lo, lo - 1, o.name})
			}
			if o.hi > hi {
				out = append(out, span4{hi + 1, o.hi, o.name})
			}
		}
		l.v4 = append(out, span4{lo, hi, name})
		slices.SortFunc(l.v4, func(a, b span4) int { return cmp.Compare(a.lo, b.lo) })
		return
	}
	b := p.Addr().As16()
	lo := [2]uint64{binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:])}
	hi := lo
	if n := p.Bits(); n < 64 {
		hi[0] |= uint64(1)<<(64-n) - 1
		hi[1] = ^uint64(0)
	} else if n < 128 {
		hi[1] |= uint64(1)<<(128-n) - 1
	}
	var out []span6
	for _, o := range l.v6 {
		if less(o.hi, lo) || less(hi, o.lo) {
			out = append(out, o)
			continue
		}
		if less(o.lo, lo) {
			out = append(out, span6{o.lo, prev(lo), o.name})
		}
		if less(hi, o.hi) {
			out = append(out, span6{next(hi), o.hi, o.name})
		}
	}
	l.v6 = append(out, span6{lo, hi, name})
	slices.SortFunc(l.v6, func(a, b span6) int {
		if less(a.lo, b.lo) {
			return -1
		}
		return 1
	})
}

func less(a, b [2]uint64) bool { return a[0] < b[0] || a[0] == b[0] && a[1] < b[1] }

func prev(a [2]uint64) [2]uint64 {
	if a[1] == 0 {
		return [2]uint64{a[0] - 1, ^uint64(0)}
	}
	return [2]uint64{a[0], a[1] - 1}
}

func next(a [2]uint64) [2]uint64 {
	if a[1] == ^uint64(0) {
		return [2]uint64{a[0] + 1, 0}
	}
	return [2]uint64{a[0], a[1] + 1}
}

// Source is the name of the benign scanner that sent s, or "".
func (l *List) Source(s *decode.Syn) string {
	if !s.V6 {
		return l.find4(uint32(s.Src[0])<<24 | uint32(s.Src[1])<<16 | uint32(s.Src[2])<<8 | uint32(s.Src[3]))
	}
	return l.find6([2]uint64{binary.BigEndian.Uint64(s.Src[:8]), binary.BigEndian.Uint64(s.Src[8:])})
}

// Name is the name of the benign scanner a belongs to, or "".
func (l *List) Name(a netip.Addr) string {
	a = a.Unmap()
	if a.Is4() {
		return l.find4(binary.BigEndian.Uint32(a.AsSlice()))
	}
	b := a.As16()
	return l.find6([2]uint64{binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:])})
}

func (l *List) find4(a uint32) string {
	i, _ := slices.BinarySearchFunc(l.v4, a, func(x span4, a uint32) int { return cmp.Compare(x.hi, a) })
	if i < len(l.v4) && l.v4[i].lo <= a {
		return l.names[l.v4[i].name]
	}
	return ""
}

func (l *List) find6(a [2]uint64) string {
	i, _ := slices.BinarySearchFunc(l.v6, a, func(x span6, a [2]uint64) int {
		switch {
		case less(x.hi, a):
			return -1
		case x.hi == a:
			return 0
		}
		return 1
	})
	if i < len(l.v6) && !less(a, l.v6[i].lo) {
		return l.names[l.v6[i].name]
	}
	return ""
}

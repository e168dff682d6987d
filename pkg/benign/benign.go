// Package benign is the list of known benign scanners (--benign FILE):
// research projects such as Censys, Shodan or university scans, as
// address ranges with a name. Records of their sources carry the name, and
// the growth classifier may leave them out. Lookups are made for records
// and new sources, never per packet, and allocate nothing.
//
// It imports only decode and ranges.
package benign

import (
	"bufio"
	"cmp"
	"fmt"
	"net/netip"
	"os"
	"slices"
	"strings"

	"github.com/synscope/synscope/pkg/decode"
	"github.com/synscope/synscope/pkg/ranges"
)

// List maps address ranges to names (package ranges: the more specific
// range wins).
type List struct {
	names []string
	m     ranges.Map[int32] // index into names
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
		entries = append(entries, entry{ranges.Unmap(p), strings.Join(fields[1:], " ")})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("benign list %s: %w", path, err)
	}
	// Larger ranges first, so a nested one cuts its name out of them.
	slices.SortStableFunc(entries, func(a, b entry) int { return cmp.Compare(a.p.Bits(), b.p.Bits()) })
	l := &List{}
	for _, e := range entries {
		l.names = append(l.names, e.name)
		l.m.Add(e.p, int32(len(l.names)-1))
	}
	return l, nil
}

// Len is the number of ranges read.
func (l *List) Len() int { return len(l.names) }

// Source is the name of the benign scanner that sent s, or "".
func (l *List) Source(s *decode.Syn) string {
	if s.V6 {
		return l.name(l.m.Find16(s.Src))
	}
	return l.name(l.m.Find4(uint32(s.Src[0])<<24 | uint32(s.Src[1])<<16 | uint32(s.Src[2])<<8 | uint32(s.Src[3])))
}

// Name is the name of the benign scanner a belongs to, or "".
func (l *List) Name(a netip.Addr) string { return l.name(l.m.Find(a)) }

func (l *List) name(i int32, ok bool) string {
	if !ok {
		return ""
	}
	return l.names[i]
}

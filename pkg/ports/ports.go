// Package ports holds the set of watched TCP destination ports: a fixed
// 8 KiB bitmap, so a membership test on the hot path is one load and a mask.
// It parses the user's list ("445", "139,445", "1-1024,3389") and prints it
// back in canonical form. It imports nothing but the standard library.
package ports

import (
	"fmt"
	"strconv"
	"strings"
)

// Set is a set of TCP ports. The zero value is empty.
type Set struct {
	bits [1024]uint64
	n    int
}

// Parse reads a comma-separated list of ports and inclusive ranges. Port 0
// is allowed: scanners (masscan -p0-...) do probe it.
func Parse(s string) (*Set, error) {
	set := &Set{}
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, fmt.Errorf("empty port list: give ports and ranges like 445 or 139,445,1000-2000")
	}
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		lo, hi, isRange := strings.Cut(part, "-")
		if isRange && strings.TrimSpace(lo) == "" {
			// "-1" read as a range with no start ("" is not a port).
			return nil, fmt.Errorf("port list %q: %q is not a port or a range (a range is LOW-HIGH, such as 1-1024; ports are whole numbers from 0 to 65535)", s, part)
		}
		a, err := parsePort(lo)
		if err != nil {
			return nil, fmt.Errorf("port list %q: %w", s, err)
		}
		b := a
		if isRange {
			if b, err = parsePort(hi); err != nil {
				return nil, fmt.Errorf("port list %q: %w", s, err)
			}
			if b < a {
				return nil, fmt.Errorf("port list %q: range %s runs backwards", s, part)
			}
		}
		for p := a; p <= b; p++ {
			set.Add(uint16(p))
		}
	}
	return set, nil
}

func parsePort(s string) (int, error) {
	s = strings.TrimSpace(s)
	p, err := strconv.Atoi(s)
	if err != nil || p < 0 || p > 65535 {
		return 0, fmt.Errorf("%q is not a port: ports are whole numbers from 0 to 65535", s)
	}
	return p, nil
}

// Add puts p in the set.
func (s *Set) Add(p uint16) {
	w, m := p>>6, uint64(1)<<(p&63)
	if s.bits[w]&m == 0 {
		s.bits[w] |= m
		s.n++
	}
}

// Contains reports whether p is watched.
func (s *Set) Contains(p uint16) bool { return s.bits[p>>6]&(1<<(p&63)) != 0 }

// Len is the number of ports in the set.
func (s *Set) Len() int { return s.n }

// Ports lists the members in ascending order.
func (s *Set) Ports() []uint16 {
	out := make([]uint16, 0, s.n)
	for p := 0; p < 65536; p++ {
		if s.Contains(uint16(p)) {
			out = append(out, uint16(p))
		}
	}
	return out
}

// String prints the set canonically, ranges collapsed: "139,445,1000-2000".
func (s *Set) String() string {
	var b strings.Builder
	ps := s.Ports()
	for i := 0; i < len(ps); {
		j := i
		for j+1 < len(ps) && ps[j+1] == ps[j]+1 {
			j++
		}
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.Itoa(int(ps[i])))
		if j > i {
			b.WriteByte('-')
			b.WriteString(strconv.Itoa(int(ps[j])))
		}
		i = j + 1
	}
	return b.String()
}

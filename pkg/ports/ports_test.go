package ports

import (
	"strconv"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	cases := []struct {
		in, want string
		n        int
	}{
		{"445", "445", 1},
		{" 445 , 139 ", "139,445", 2},
		{"1-3,5", "1-3,5", 4},
		{"1-65535", "1-65535", 65535},
		{"0", "0", 1},
		{"445,445,440-450", "440-450", 11},
	}
	for _, c := range cases {
		s, err := Parse(c.in)
		if err != nil {
			t.Fatalf("Parse(%q): %v", c.in, err)
		}
		if got := s.String(); got != c.want || s.Len() != c.n {
			t.Errorf("Parse(%q) = %q (%d), want %q (%d)", c.in, got, s.Len(), c.want, c.n)
		}
	}
	if s, _ := Parse("445"); !s.Contains(445) || s.Contains(444) || s.Contains(446) {
		t.Error("Contains wrong around 445")
	}
	if s, _ := Parse("65535"); !s.Contains(65535) || s.Contains(0) {
		t.Error("Contains wrong at the edges")
	}
	for _, bad := range []string{"", "65536", "x", "10-5", "1,,2", "-5", "445-"} {
		if _, err := Parse(bad); err == nil {
			t.Errorf("Parse(%q) accepted", bad)
		}
	}
}

// FuzzParse: a list that parses holds exactly the ports its items name (each
// number, and every port of each range, checked against the set), and
// prints (String) to a list that parses to the same set; what does not
// parse is an error, never a panic.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"445", "139,445,1000-2000", "0-65535", " 1 - 3 ,5", "+5", "65536", "3-1", "", ",,", "80,80"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		set, err := Parse(s)
		if err != nil {
			return
		}
		want := map[uint16]bool{}
		for _, item := range strings.Split(s, ",") {
			item = strings.TrimSpace(item)
			lo, hi, isRange := strings.Cut(item, "-")
			a, err1 := strconv.ParseUint(strings.TrimSpace(lo), 10, 16)
			b := a
			var err2 error
			if isRange {
				b, err2 = strconv.ParseUint(strings.TrimSpace(hi), 10, 16)
			}
			if err1 != nil || err2 != nil || b < a {
				return // a form this oracle does not read: the round trip below still holds
			}
			for p := a; p <= b; p++ {
				want[uint16(p)] = true
			}
		}
		if set.Len() != len(want) {
			t.Fatalf("%q: %d ports, the items name %d", s, set.Len(), len(want))
		}
		for p := range want {
			if !set.Contains(p) {
				t.Fatalf("%q: port %d named but not in the set", s, p)
			}
		}
		again, err := Parse(set.String())
		if err != nil || again.String() != set.String() || again.Len() != set.Len() || len(set.Ports()) != set.Len() {
			t.Fatalf("%q -> %q -> %v %v", s, set.String(), again, err)
		}
	})
}

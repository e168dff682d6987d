package ports

import "testing"

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

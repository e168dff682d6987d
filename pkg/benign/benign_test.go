package benign

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func write(t *testing.T, text string) string {
	p := filepath.Join(t.TempDir(), "benign.txt")
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoadAndLookup(t *testing.T) {
	l, err := Load(write(t, `# research scanners
198.51.100.0/24   Example Research   # a /24
198.51.100.128/25 Example Inner
203.0.113.7       Single Host
2001:db8:5::/48   Six Scanner

`))
	if err != nil {
		t.Fatal(err)
	}
	if l.Len() != 4 {
		t.Errorf("%d ranges", l.Len())
	}
	for a, want := range map[string]string{
		"198.51.100.1": "Example Research", "198.51.100.127": "Example Research", "198.51.100.128": "Example Inner",
		"198.51.100.255": "Example Inner", "198.51.101.0": "", "203.0.113.7": "Single Host", "203.0.113.8": "",
		"2001:db8:5::9": "Six Scanner", "2001:db8:6::": "", "::ffff:203.0.113.7": "Single Host",
	} {
		if got := l.Name(netip.MustParseAddr(a)); got != want {
			t.Errorf("%s: %q, want %q", a, got, want)
		}
	}
}

// A bad line names the file and the line.
func TestBadLines(t *testing.T) {
	for _, text := range []string{"198.51.100.0/24 Fine\n198.51.100.0/33 Bad prefix\n", "# c\n\n198.51.100.0/24\n", "x.y.z.w Name\n"} {
		p := write(t, text)
		_, err := Load(p)
		lines := strings.Count(strings.TrimRight(text, "\n"), "\n") + 1
		if err == nil || !strings.Contains(err.Error(), p+":"+string(rune('0'+lines))) {
			t.Errorf("%q: %v, want %s:%d", text, err, p, lines)
		}
	}
	if _, err := Load(filepath.Join(t.TempDir(), "none")); err == nil {
		t.Error("a missing file read")
	}
}

// FuzzLoad: any file either loads or is refused with its name; a loaded
// list answers every address without panicking.
func FuzzLoad(f *testing.F) {
	f.Add([]byte("198.51.100.0/24 A\n198.51.100.128/25 B\n2001:db8::/32 C\n"))
	f.Add([]byte("0.0.0.0/0 All\n::/0 All6\n203.0.113.7 One\n"))
	f.Add([]byte("# only\n\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		p := filepath.Join(t.TempDir(), "l")
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		l, err := Load(p)
		if err != nil {
			if !strings.Contains(err.Error(), p) {
				t.Errorf("error without the file: %v", err)
			}
			return
		}
		for _, a := range []string{"0.0.0.0", "198.51.100.200", "255.255.255.255", "::", "2001:db8::1", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"} {
			l.Name(netip.MustParseAddr(a))
		}
	})
}

// TestMappedRangeIsIPv4: an IPv4-mapped range in the list is the IPv4 range
// it maps, nested as such: ::ffff:192.0.2.0/120 (192.0.2.0/24) holding
// 192.0.2.0/26 leaves the /26 its own name (sorted as a /120, it was added
// after the /26 and overrode it; review).
func TestMappedRangeIsIPv4(t *testing.T) {
	f := filepath.Join(t.TempDir(), "b.txt")
	os.WriteFile(f, []byte("192.0.2.0/26 Inner\n::ffff:192.0.2.0/120 Outer\n"), 0o644)
	l, err := Load(f)
	if err != nil {
		t.Fatal(err)
	}
	for a, want := range map[string]string{"192.0.2.1": "Inner", "192.0.2.200": "Outer", "::ffff:192.0.2.1": "Inner"} {
		if got := l.Name(netip.MustParseAddr(a)); got != want {
			t.Errorf("%s: %q, want %q", a, got, want)
		}
	}
}

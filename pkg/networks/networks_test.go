package networks

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/synscope/synscope/internal/mmdbtest"
)

var nets = []mmdbtest.Net{
	{CIDR: "198.51.100.0/24", Country: "NL", ASN: 64501, ASOrg: "Example Net"},
	{CIDR: "203.0.113.0/25", Country: "BR", ASN: 64502, ASOrg: "Other Net"},
	{CIDR: "2001:db8:1::/48", Country: "JP", ASN: 64503, ASOrg: "Six Net"},
}

func write(t testing.TB, dbType string, n []mmdbtest.Net) string {
	p := filepath.Join(t.TempDir(), strings.NewReplacer(" ", "_", "(", "", ")", "", "=", "").Replace(dbType)+".mmdb")
	mmdbtest.Write(t, p, dbType, n)
	return p
}

// Every layout answers its fields; a country database and an ASN one
// together answer all three; an address in none answers nothing.
func TestLayouts(t *testing.T) {
	for _, c := range []struct {
		name  string
		files []string
		asn   bool
		cc    bool
	}{
		{"GeoLite2 country", []string{mmdbtest.GeoLite2Country}, false, true},
		{"GeoLite2 ASN", []string{mmdbtest.GeoLite2ASN}, true, false},
		{"GeoLite2 both", []string{mmdbtest.GeoLite2Country, mmdbtest.GeoLite2ASN}, true, true},
		{"DB-IP Lite both", []string{mmdbtest.DBIPCountry, mmdbtest.DBIPASN}, true, true},
		{"IPinfo Lite", []string{mmdbtest.IPinfoLite}, true, true},
	} {
		var paths []string
		for _, f := range c.files {
			paths = append(paths, write(t, f, nets))
		}
		d, err := Open(paths)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		for _, n := range nets {
			a := netip.MustParsePrefix(n.CIDR).Addr().Next()
			got := d.Lookup(a)
			want := Info{}
			if c.asn {
				want.ASN, want.ASOrg = n.ASN, n.ASOrg
			}
			if c.cc {
				want.Country = n.Country
			}
			if got != want {
				t.Errorf("%s: %s: %+v, want %+v", c.name, a, got, want)
			}
		}
		if got := d.Lookup(netip.MustParseAddr("192.0.2.1")); got != (Info{}) {
			t.Errorf("%s: an address in no network: %+v", c.name, got)
		}
		d.Close()
	}
}

// The first database that knows a field answers for it.
func TestOrder(t *testing.T) {
	other := []mmdbtest.Net{{CIDR: "198.51.100.0/24", Country: "DE", ASN: 64999, ASOrg: "Second"}}
	d, err := Open([]string{write(t, mmdbtest.GeoLite2Country, nets), write(t, mmdbtest.IPinfoLite, other)})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	got := d.Lookup(netip.MustParseAddr("198.51.100.7"))
	if want := (Info{ASN: 64999, ASOrg: "Second", Country: "NL"}); got != want {
		t.Errorf("%+v, want %+v", got, want)
	}
}

// A missing, an empty, a truncated and a damaged file are refused at Open,
// with the file named.
func TestBadFiles(t *testing.T) {
	good := write(t, mmdbtest.GeoLite2ASN, nets)
	b, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	damaged := append([]byte(nil), b...)
	for i := 0; i < len(damaged)/2; i++ { // the search tree: wild pointers
		damaged[i] ^= 0x5a
	}
	files := map[string][]byte{"empty.mmdb": nil, "truncated.mmdb": b[:len(b)/2], "damaged.mmdb": damaged, "text.mmdb": []byte("not a database\n")}
	for name, data := range files {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := Open([]string{good, p}); err == nil || !strings.Contains(err.Error(), p) {
			t.Errorf("%s: %v, want an error naming it", name, err)
		}
	}
	missing := filepath.Join(dir, "missing.mmdb")
	if _, err := Open([]string{missing}); err == nil || !strings.Contains(err.Error(), missing) {
		t.Errorf("missing: %v", err)
	}
}

// Reload takes a new version of the files; a broken new version leaves the
// old one in use.
func TestReload(t *testing.T) {
	p := write(t, mmdbtest.GeoLite2ASN, nets)
	d, err := Open([]string{p})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	a := netip.MustParseAddr("198.51.100.7")
	mmdbtest.Write(t, p, mmdbtest.GeoLite2ASN, []mmdbtest.Net{{CIDR: "198.51.100.0/24", ASN: 65000, ASOrg: "New"}})
	if err := d.Reload(); err != nil {
		t.Fatal(err)
	}
	if got := d.Lookup(a); got.ASN != 65000 {
		t.Errorf("after reload: %+v", got)
	}
	if err := os.WriteFile(p, []byte("broken"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := d.Reload(); err == nil {
		t.Error("a broken file reloaded")
	}
	if got := d.Lookup(a); got.ASN != 65000 {
		t.Errorf("after a failed reload: %+v", got)
	}
}

// BenchmarkLookup is the cost of one source's lookup in a country and an
// ASN database of 20,000 networks each (the target: at most 2 µs).
//
//	go test ./pkg/networks -run '^$' -bench Lookup
func BenchmarkLookup(b *testing.B) {
	var many []mmdbtest.Net
	for i := range 20000 {
		a := netip.AddrFrom4([4]byte{byte(1 + i>>8), byte(i), 0, 0})
		many = append(many, mmdbtest.Net{CIDR: netip.PrefixFrom(a, 16).String(), Country: "NL", ASN: uint32(64500 + i), ASOrg: "Some Network Operator B.V."})
	}
	dir := b.TempDir()
	pc, pa := filepath.Join(dir, "c.mmdb"), filepath.Join(dir, "a.mmdb")
	mmdbtest.Write(b, pc, mmdbtest.GeoLite2Country, many)
	mmdbtest.Write(b, pa, mmdbtest.GeoLite2ASN, many)
	d, err := Open([]string{pc, pa})
	if err != nil {
		b.Fatal(err)
	}
	defer d.Close()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		d.Lookup(netip.AddrFrom4([4]byte{byte(1 + i%78), byte(i * 7), byte(i), 9}))
	}
}

// FuzzOpen: a MaxMind DB file given with --mmdb (downloaded, copied, cut
// short by a full disk, or made by anyone who can write where it is
// kept) either opens, and then any address can be looked up without a
// crash, or is refused with an error that names the file.
func FuzzOpen(f *testing.F) {
	for _, dbType := range []string{mmdbtest.GeoLite2Country, mmdbtest.GeoLite2ASN, mmdbtest.DBIPASN, mmdbtest.IPinfoLite} {
		b, err := os.ReadFile(write(f, dbType, nets))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
		f.Add(b[:len(b)*2/3]) // cut short
	}
	probes := []netip.Addr{netip.MustParseAddr("198.51.100.7"), netip.MustParseAddr("203.0.113.1"),
		netip.MustParseAddr("2001:db8:1::9"), netip.MustParseAddr("0.0.0.0"), netip.MustParseAddr("255.255.255.255"),
		netip.MustParseAddr("::"), netip.MustParseAddr("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"), netip.MustParseAddr("::ffff:198.51.100.7")}
	f.Fuzz(func(t *testing.T, b []byte) {
		x, err := openBytes("fuzz.mmdb", b)
		if err != nil {
			if !strings.Contains(err.Error(), "fuzz.mmdb") {
				t.Fatalf("the error does not name the file: %v", err)
			}
			return
		}
		d := &DB{paths: []string{"fuzz.mmdb"}, dbs: []db{x}}
		for _, a := range probes {
			d.Lookup(a)
		}
		d.Close()
	})
}

// Package mmdbtest writes small MaxMind DB files at test time, in the
// layouts the sensor reads (GeoLite2 and DB-IP Lite country and ASN,
// IPinfo Lite), so no binary database is committed. Only _test.go files
// import it.
package mmdbtest

import (
	"fmt"
	"net"
	"os"
	"testing"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"
)

// Net is one network's answers; a layout writes the fields it has.
type Net struct {
	CIDR    string
	Country string
	ASN     uint32
	ASOrg   string
}

// Layouts, by the database type each names.
const (
	GeoLite2Country = "GeoLite2-Country"
	GeoLite2ASN     = "GeoLite2-ASN"
	DBIPCountry     = "DBIP-Country-Lite"
	DBIPASN         = "DBIP-ASN-Lite (compat=GeoLite2-ASN)"
	IPinfoLite      = "ipinfo_lite.mmdb"
)

// Write writes a database of the given type holding nets to path.
func Write(t testing.TB, path, dbType string, nets []Net) {
	t.Helper()
	tree, err := mmdbwriter.New(mmdbwriter.Options{DatabaseType: dbType, RecordSize: 24, IncludeReservedNetworks: true,
		Description: map[string]string{"en": "synscope test database"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range nets {
		_, ipn, err := net.ParseCIDR(n.CIDR)
		if err != nil {
			t.Fatal(err)
		}
		if err := tree.Insert(ipn, record(dbType, n)); err != nil {
			t.Fatalf("%s: %v", n.CIDR, err)
		}
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tree.WriteTo(f); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

func record(dbType string, n Net) mmdbtype.Map {
	switch dbType {
	case GeoLite2Country, DBIPCountry:
		return mmdbtype.Map{
			"country":            mmdbtype.Map{"iso_code": mmdbtype.String(n.Country), "names": mmdbtype.Map{"en": mmdbtype.String("Somewhere")}},
			"registered_country": mmdbtype.Map{"iso_code": mmdbtype.String(n.Country)},
			"continent":          mmdbtype.Map{"code": mmdbtype.String("EU")},
		}
	case GeoLite2ASN, DBIPASN:
		return mmdbtype.Map{
			"autonomous_system_number":       mmdbtype.Uint32(n.ASN),
			"autonomous_system_organization": mmdbtype.String(n.ASOrg),
		}
	case IPinfoLite:
		return mmdbtype.Map{
			"asn":            mmdbtype.String(fmt.Sprintf("AS%d", n.ASN)),
			"as_name":        mmdbtype.String(n.ASOrg),
			"as_domain":      mmdbtype.String("example.net"),
			"country_code":   mmdbtype.String(n.Country),
			"country":        mmdbtype.String("Somewhere"),
			"continent_code": mmdbtype.String("EU"),
			"continent":      mmdbtype.String("Europe"),
		}
	}
	panic("mmdbtest: unknown database type " + dbType)
}

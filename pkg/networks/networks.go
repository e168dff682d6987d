// Package networks says which network and country an address belongs to,
// from MaxMind DB files (--mmdb): MaxMind GeoLite2 Country and ASN, DB-IP
// Lite (country, ASN) and IPinfo Lite layouts, several at once. Lookups
// are made for records (a new source, a scanner), never per packet; the
// files can be reloaded (SIGHUP) by the goroutine that looks them up.
//
// It imports no other package of the sensor.
package networks

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"strconv"
	"strings"

	"github.com/oschwald/maxminddb-golang/v2"
)

// Info is what the databases know of an address; zero values are unknown.
type Info struct {
	ASN     uint32
	ASOrg   string
	Country string // ISO 3166-1 alpha-2
}

// layout is how a database spells its fields.
type layout uint8

const (
	maxmindLayout layout = iota // GeoLite2/GeoIP2 and DB-IP: country.iso_code, autonomous_system_number/organization
	ipinfoLayout                // IPinfo Lite: country_code, asn ("AS15169"), as_name
)

type db struct {
	path string
	r    *maxminddb.Reader
	l    layout
}

// maxmindRecord is the GeoLite2/GeoIP2 and DB-IP Lite layout, country and
// ASN databases alike (each has only its half).
type maxmindRecord struct {
	Country struct {
		ISOCode string `maxminddb:"iso_code"`
	} `maxminddb:"country"`
	RegisteredCountry struct {
		ISOCode string `maxminddb:"iso_code"`
	} `maxminddb:"registered_country"`
	ASN   uint32 `maxminddb:"autonomous_system_number"`
	ASOrg string `maxminddb:"autonomous_system_organization"`
}

// ipinfoRecord is the IPinfo Lite layout.
type ipinfoRecord struct {
	ASN         string `maxminddb:"asn"`
	ASName      string `maxminddb:"as_name"`
	CountryCode string `maxminddb:"country_code"`
}

// DB is a set of databases, searched in the order given: the first that
// knows a field answers for it.
type DB struct {
	paths []string
	dbs   []db
}

// Open opens and checks every file. A missing or corrupt file is an error
// that names it.
func Open(paths []string) (*DB, error) {
	d := &DB{paths: paths}
	dbs, err := openAll(paths)
	if err != nil {
		return nil, err
	}
	d.dbs = dbs
	return d, nil
}

func openAll(paths []string) ([]db, error) {
	var out []db
	for _, p := range paths {
		x, err := openOne(p)
		if err != nil {
			for _, o := range out {
				o.r.Close()
			}
			return nil, err
		}
		out = append(out, x)
	}
	return out, nil
}

func openOne(path string) (db, error) {
	// Read into memory rather than mapped: a file rewritten in place (not
	// replaced by a rename) would change under a mapping's feet.
	b, err := os.ReadFile(path)
	if err != nil {
		if pe := (*os.PathError)(nil); errors.As(err, &pe) {
			err = pe.Err
		}
		return db{}, fmt.Errorf("mmdb %s: %w", path, err)
	}
	return openBytes(path, b)
}

// openBytes reads a database from the file's contents; path names it in
// errors.
func openBytes(path string, b []byte) (db, error) {
	r, err := maxminddb.OpenBytes(b)
	if err != nil {
		return db{}, fmt.Errorf("mmdb %s: %w (give a MaxMind DB file: GeoLite2 Country or ASN, DB-IP Lite, IPinfo Lite)", path, err)
	}
	// The search tree and data section are walked once: a truncated or
	// damaged file fails here, at start, not at some lookup later. The
	// verifier also wants a description, which the format does not
	// require: a database without one is not refused for it.
	if len(r.Metadata.Description) == 0 {
		r.Metadata.Description = map[string]string{"en": "(none)"}
	}
	if err := r.Verify(); err != nil {
		r.Close()
		return db{}, fmt.Errorf("mmdb %s: corrupt: %w", path, err)
	}
	l := maxmindLayout
	if strings.Contains(strings.ToLower(r.Metadata.DatabaseType), "ipinfo") {
		l = ipinfoLayout
	}
	return db{path: path, r: r, l: l}, nil
}

// Reload opens the files again and, when all of them open, swaps them in
// and closes the old ones; else it keeps the old ones and says why. Call
// it from the goroutine that looks up.
func (d *DB) Reload() error {
	dbs, err := openAll(d.paths)
	if err != nil {
		return err
	}
	old := d.dbs
	d.dbs = dbs
	for _, o := range old {
		o.r.Close()
	}
	return nil
}

// Close closes the files.
func (d *DB) Close() error {
	var errs []error
	for _, o := range d.dbs {
		errs = append(errs, o.r.Close())
	}
	d.dbs = nil
	return errors.Join(errs...)
}

// Paths are the files, as given.
func (d *DB) Paths() []string { return d.paths }

// Lookup is what the databases know of a.
func (d *DB) Lookup(a netip.Addr) Info {
	var in Info
	for i := range d.dbs {
		x := &d.dbs[i]
		res := x.r.Lookup(a)
		if !res.Found() {
			continue
		}
		switch x.l {
		case ipinfoLayout:
			var rec ipinfoRecord
			if res.Decode(&rec) != nil {
				continue
			}
			if in.ASN == 0 {
				if n, err := strconv.ParseUint(strings.TrimPrefix(rec.ASN, "AS"), 10, 32); err == nil {
					in.ASN = uint32(n)
					in.ASOrg = rec.ASName
				}
			}
			if in.Country == "" {
				in.Country = rec.CountryCode
			}
		default:
			var rec maxmindRecord
			if res.Decode(&rec) != nil {
				continue
			}
			if in.ASN == 0 && rec.ASN != 0 {
				in.ASN, in.ASOrg = rec.ASN, rec.ASOrg
			}
			if in.Country == "" {
				in.Country = rec.Country.ISOCode
				if in.Country == "" {
					in.Country = rec.RegisteredCountry.ISOCode
				}
			}
		}
		if in.ASN != 0 && in.Country != "" {
			break
		}
	}
	return in
}

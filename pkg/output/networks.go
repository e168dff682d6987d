package output

import (
	"cmp"
	"net/netip"
	"slices"

	"github.com/synscope/synscope/pkg/networks"
)

// topNetworks is how many countries and networks a window record lists.
const topNetworks = 10

// netCounts are the new sources of the window in progress, by country and
// by network (the source records come before their window's record).
type netCounts struct {
	db        *networks.DB
	byCountry map[string]uint64
	byASN     map[uint32]uint64
	orgs      map[uint32]string
}

// SetNetworks has the writer name the network (asn, as_org) and country of
// new sources, scanners and our own scanning hosts, from db, and count the
// window's new sources by country and network. The lookups are made on the
// writer's goroutine, one per such record.
func (w *Writer) SetNetworks(db *networks.DB) {
	w.nets = netCounts{db: db, byCountry: map[string]uint64{}, byASN: map[uint32]uint64{}, orgs: map[uint32]string{}}
}

// netFields writes what the databases know of a and returns it.
func (w *Writer) netFields(o *obj, a netip.Addr) networks.Info {
	if w.nets.db == nil {
		return networks.Info{}
	}
	in := w.nets.db.Lookup(a)
	if in.ASN != 0 {
		o.uint("asn", uint64(in.ASN))
		o.str("as_org", in.ASOrg)
	}
	if in.Country != "" {
		o.str("country", in.Country)
	}
	return in
}

// countNew counts a new source's network and country for its window.
func (w *Writer) countNew(in networks.Info) {
	if w.nets.db == nil {
		return
	}
	if in.Country != "" {
		w.nets.byCountry[in.Country]++
	}
	if in.ASN != 0 {
		w.nets.byASN[in.ASN]++
		w.nets.orgs[in.ASN] = in.ASOrg
	}
}

type tally[K cmp.Ordered] struct {
	k K
	n uint64
}

// top is the n largest counts, ties by key: the same on every run.
func top[K cmp.Ordered](m map[K]uint64, n int) []tally[K] {
	t := make([]tally[K], 0, len(m))
	for k, c := range m {
		t = append(t, tally[K]{k, c})
	}
	slices.SortFunc(t, func(a, b tally[K]) int {
		if a.n != b.n {
			return cmp.Compare(b.n, a.n)
		}
		return cmp.Compare(a.k, b.k)
	})
	return t[:min(n, len(t))]
}

// windowNets writes the window's new sources by country and network, and
// starts new counts.
func (w *Writer) windowNets(o *obj) {
	if w.nets.db == nil {
		return
	}
	o.openArray("new_sources_by_country")
	for _, c := range top(w.nets.byCountry, topNetworks) {
		o.open("")
		o.str("country", c.k)
		o.uint("sources", c.n)
		o.close()
	}
	o.closeArray()
	o.openArray("new_sources_by_asn")
	for _, c := range top(w.nets.byASN, topNetworks) {
		o.open("")
		o.uint("asn", uint64(c.k))
		o.str("as_org", w.nets.orgs[c.k])
		o.uint("sources", c.n)
		o.close()
	}
	o.closeArray()
	clear(w.nets.byCountry)
	clear(w.nets.byASN)
	clear(w.nets.orgs)
}

package lifecycle

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/synscope/synscope/internal/mmdbtest"
	"github.com/synscope/synscope/pkg/networks"
	"github.com/synscope/synscope/pkg/output"
)

// SIGHUP reloads the network databases between records: the sources
// before it are named from the old file, those after from the new one.
func TestLiveReloadsNetworks(t *testing.T) {
	dir := t.TempDir()
	out, db := filepath.Join(dir, "out.jsonl"), filepath.Join(dir, "asn.mmdb")
	mmdbtest.Write(t, db, mmdbtest.GeoLite2ASN, []mmdbtest.Net{{CIDR: "203.0.113.0/24", ASN: 64501, ASOrg: "Old"}})
	nets, err := networks.Open([]string{db})
	if err != nil {
		t.Fatal(err)
	}
	defer nets.Close()
	d, err := output.NewFile(out, true)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	cfg := testConfig(t, true, "")
	cfg.Networks = nets
	var lg logged
	r, err := New(cfg, d, lg.log)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	src := &script{live: true, steps: []step{
		{frames: [][]byte{syn(1), syn(2)}},
		{idle: func() {
			mmdbtest.Write(t, db, mmdbtest.GeoLite2ASN, []mmdbtest.Net{{CIDR: "203.0.113.0/24", ASN: 64999, ASOrg: "New"}})
			r.Reopen()
		}},
		{frames: [][]byte{syn(3)}},
		{idle: cancel},
	}}
	if _, err := r.Drive(ctx, Input{Source: src}); err != nil {
		t.Fatal(err)
	}
	if !lg.has("SIGHUP: network databases reloaded") {
		t.Errorf("no reload logged: %v", lg.lines)
	}
	var asns []any
	for _, rec := range records(t, out) {
		if rec["event_type"] == "source" {
			asns = append(asns, rec["asn"])
		}
	}
	if len(asns) != 3 || asns[0] != 64501.0 || asns[1] != 64501.0 || asns[2] != 64999.0 {
		t.Errorf("asn of the sources: %v, want 64501, 64501, 64999", asns)
	}
}

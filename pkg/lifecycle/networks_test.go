package lifecycle

import (
	"context"
	"path/filepath"
	"testing"
	"time"

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
	// Both times from one clock reading: stamped when delivered, the first
	// frames could fall less than the hold before syn(9) on a slow machine.
	base := time.Now()
	src := &script{live: true, steps: []step{
		{frames: [][]byte{syn(1), syn(2)}, ts: base.UnixNano()},
		// New sources are held for a flood decision (engine's floodSpan):
		// a frame 11 s on has the first two written before the reload.
		{frames: [][]byte{syn(9)}, ts: base.Add(11 * time.Second).UnixNano()},
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
	asns := map[any]any{}
	for _, rec := range records(t, out) {
		if rec["event_type"] == "source" {
			asns[rec["src_ip"]] = rec["asn"]
		}
	}
	if asns["203.0.113.1"] != 64501.0 || asns["203.0.113.2"] != 64501.0 || asns["203.0.113.3"] != 64999.0 {
		t.Errorf("asn of the sources: %v, want .1 and .2 from the old file, .3 from the new", asns)
	}
}

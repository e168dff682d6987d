package main

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/synscope/synscope/internal/captest"
	"github.com/synscope/synscope/internal/mmdbtest"
	"github.com/synscope/synscope/internal/scenario"
)

// scanCapture writes a capture of known scanners, made at test time (no
// binary fixture): an address scan of 400 hosts at one SYN a second
// (crossing --scan-hosts, then reaching more hosts in the next window), a
// port scan of 40 ports on one host, a client that retries one
// connection, and a source whose SYNs carry their destination as the
// sequence number (Mirai's mark).
func scanCapture(t *testing.T) string {
	t.Helper()
	path, w, start := newScanFile(t, "scan.pcap")
	type pkt struct {
		ts       int64
		src, dst [4]byte
		tcp      captest.T
		ttl      uint8
		id       uint16
	}
	var pkts []pkt
	v4 := func(a [4]byte) uint32 { return uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3]) }
	// The address scan is Masscan's (its IP ID, window, TTL and MSS).
	for i := range 400 {
		dst := [4]byte{198, 18, 1 + byte(i>>8), byte(i)}
		seq := 0x5eed0000 + uint32(i)*7919
		pkts = append(pkts, pkt{start + int64(i)*int64(time.Second), [4]byte{203, 0, 113, 5}, dst,
			captest.T{SrcPort: 61000, DstPort: 445, Seq: seq, Flags: captest.SYN, Window: 1024, Options: []byte{2, 4, 0x05, 0xb4}},
			250, uint16(v4(dst) ^ 445 ^ seq)})
	}
	for i := range 40 {
		pkts = append(pkts, pkt{start + 30*int64(time.Second) + int64(i)*int64(time.Millisecond*300), [4]byte{203, 0, 113, 9}, [4]byte{198, 18, 2, 7},
			captest.T{SrcPort: 50123, DstPort: uint16(20 + i), Seq: 0x1000 + uint32(i), Flags: captest.SYN, Window: 1024,
				Options: []byte{2, 4, 0x05, 0xb4}}, 52, 40000 + uint16(i)*7}) // Nmap's
	}
	for i := range 2 {
		pkts = append(pkts, pkt{start + 10*int64(time.Second) + int64(i)*3*int64(time.Second), [4]byte{192, 0, 2, 44}, [4]byte{198, 18, 3, 1},
			captest.T{SrcPort: 49200, DstPort: 445, Seq: 0xabcdef01, Flags: captest.SYN, Window: 64240, Options: captest.OptsWindows}, 128, 1000 + uint16(i)})
	}
	for i := range 3 {
		dst := [4]byte{198, 18, 4, byte(10 + i)}
		pkts = append(pkts, pkt{start + 20*int64(time.Second) + int64(i)*int64(time.Second), [4]byte{198, 51, 100, 23}, dst,
			captest.T{SrcPort: 40000 + uint16(i), DstPort: 23, Seq: v4(dst), Flags: captest.SYN, Window: 0x3a7c + uint16(i)}, 64, 0x1d2e + uint16(i)}) // Mirai's
	}
	// In time order (stable: equal times keep their order above).
	for i := 1; i < len(pkts); i++ {
		for j := i; j > 0 && pkts[j].ts < pkts[j-1].ts; j-- {
			pkts[j], pkts[j-1] = pkts[j-1], pkts[j]
		}
	}
	for _, p := range pkts {
		f := captest.Ether(nil, 0x0800, captest.IPv4(captest.V4{Src: p.src, Dst: p.dst, TTL: p.ttl, ID: p.id, Proto: 6, TotalLen: -1}, captest.TCP(p.tcp)))
		if err := w.WritePacket(p.ts, f, len(f)); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// The masscan source sweeps a decoy (198.18.1.7) among its targets, the
// mirai one dark space (198.18.4.0/24) three times.
var scanArgs = []string{"--ports", "1-1024", "--sensor-id", "golden", "--log-level", "error",
	"--decoys", "198.18.1.7/32,198.18.2.99/32", "--dark-net", "198.18.4.0/24"}

// scanNets writes a GeoLite2 country database and an IPinfo Lite one (for
// the networks) covering the scan capture's sources, at test time.
func scanNets(t *testing.T) []string {
	dir := t.TempDir()
	nets := []mmdbtest.Net{
		{CIDR: "203.0.113.0/24", Country: "NL", ASN: 64501, ASOrg: "Example Hosting B.V."},
		{CIDR: "198.51.100.0/24", Country: "BR", ASN: 64502, ASOrg: "Exemplo Telecom"},
		{CIDR: "192.0.2.0/24", Country: "NL", ASN: 64503, ASOrg: "Example Office"},
	}
	c, a := filepath.Join(dir, "country.mmdb"), filepath.Join(dir, "ipinfo.mmdb")
	mmdbtest.Write(t, c, mmdbtest.GeoLite2Country, nets)
	mmdbtest.Write(t, a, mmdbtest.IPinfoLite, nets)
	// The address scan is a known research scanner's.
	b := filepath.Join(dir, "benign.txt")
	if err := os.WriteFile(b, []byte("# research scanners\n203.0.113.4/31 Example Research Scan\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return []string{"--mmdb", c, "--mmdb", a, "--benign", b}
}

// The scanners' records (and the tools named), kept as a golden file (and read by
// TestSchemaDocumentsEveryField), identical for every shard count.
func TestGoldenScan(t *testing.T) {
	capFile := scanCapture(t)
	netArgs := scanNets(t)
	run := func(extra ...string) string {
		out, stderr, code := sensor(t, append(append(append([]string{"-r", capFile}, scanArgs...), netArgs...), extra...)...)
		if code != exitOK {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		return strings.ReplaceAll(out, capFile, "scan.pcap")
	}
	out := run("--shards", "0")
	checkGolden(t, out, "../../testdata/scan.golden.jsonl")
	for _, n := range []string{"1", "2"} {
		if got := run("--shards", n); got != out {
			t.Errorf("--shards %s differs from --shards 0", n)
		}
	}
	scans := ofType(records(t, out), "scanner")
	kinds := map[string][]string{}
	for _, r := range scans {
		kinds[r["src_ip"].(string)] = append(kinds[r["src_ip"].(string)], r["kind"].(string))
	}
	// The threshold's record, then an update at the end of each window the
	// reach grew in (the address scan spans two windows; the port scan
	// ends in the window it was reported in: its update has all 40 ports).
	if k := kinds["203.0.113.5"]; len(k) != 3 || k[0] != "address_scan" || k[2] != "address_scan" {
		t.Errorf("address scanner: %v", k)
	}
	if k := kinds["203.0.113.9"]; len(k) != 2 || k[0] != "port_scan" || k[1] != "port_scan" {
		t.Errorf("port scanner: %v", k)
	}
	if len(kinds) != 2 {
		t.Errorf("scanners %v, want the two", kinds)
	}
	for _, r := range append(scans, ofType(records(t, out), "source")...) {
		if r["asn"] == nil || r["as_org"] == nil || r["country"] == nil {
			t.Errorf("no network fields: %v", r)
		}
	}
	alerts := ofType(records(t, out), "alert")
	if len(alerts) != 2 || alerts[0]["src_ip"] != "203.0.113.5" || alerts[0]["space"] != "decoy" || alerts[0]["dst_ip"] != "198.18.1.7" ||
		alerts[1]["src_ip"] != "198.51.100.23" || alerts[1]["space"] != "dark" || alerts[1]["tool"] != "mirai" || alerts[1]["country"] != "BR" {
		t.Errorf("alerts %v", alerts)
	}
	for _, r := range records(t, out) {
		if want := r["src_ip"] == "203.0.113.5"; want != (r["benign"] == "Example Research Scan") {
			t.Errorf("benign tag: %v", r)
		}
	}
	w := ofType(records(t, out), "window")[0]
	if w["benign_new_sources"] != 1.0 {
		t.Errorf("benign new sources: %v", w["benign_new_sources"])
	}
	if fmt.Sprint(w["new_sources_by_country"]) != "[map[country:NL sources:3] map[country:BR sources:1]]" {
		t.Errorf("new sources by country: %v", w["new_sources_by_country"])
	}
	tools := map[string]string{}
	for _, r := range ofType(records(t, out), "source") {
		tools[r["src_ip"].(string)] = r["tool"].(string) + "/" + r["os"].(string)
	}
	wantTools := map[string]string{"203.0.113.5": "masscan/unknown", "203.0.113.9": "nmap/unknown", "192.0.2.44": "unknown/windows", "198.51.100.23": "mirai/unknown"}
	if !maps.Equal(tools, wantTools) {
		t.Errorf("tools %v, want %v", tools, wantTools)
	}
	for _, r := range scans {
		if r["src_ip"] == "203.0.113.5" && r["update"] == false && (r["targets"].(float64) != 25 || r["ports"].(float64) != 1) {
			t.Errorf("first address_scan record: %v", r)
		}
		if r["src_ip"] == "203.0.113.9" && r["update"] == false && (r["targets"].(float64) != 1 || r["ports"].(float64) != 15) {
			t.Errorf("port_scan record: %v", r)
		}
		if r["src_ip"] == "203.0.113.9" && r["update"] == true && (r["targets"].(float64) != 1 || r["ports"].(float64) < 36 || r["syn_packets"].(float64) != 40) {
			t.Errorf("port_scan update: %v, want the 40 ports within 10 %%", r)
		}
	}
}

// A missing or damaged network database stops the sensor at start, exit 2,
// the file named.
func TestBadMMDB(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.mmdb")
	if err := os.WriteFile(bad, []byte("MaxMind? no"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{bad, filepath.Join(dir, "missing.mmdb")} {
		out, stderr, code := sensor(t, "-r", demo, "--mmdb", f)
		if code != exitUsage || !strings.Contains(stderr, f) || out != "" {
			t.Errorf("--mmdb %s: exit %d, stderr %q, %d bytes out", f, code, stderr, len(out))
		}
	}
}

// A bad line of the benign list stops the sensor at start, exit 2, with
// the file and line named.
func TestBadBenignList(t *testing.T) {
	p := filepath.Join(t.TempDir(), "benign.txt")
	if err := os.WriteFile(p, []byte("192.0.2.0/24 Fine\nnot-a-cidr Broken\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, stderr, code := sensor(t, "-r", demo, "--benign", p)
	if code != exitUsage || !strings.Contains(stderr, p+":2") || out != "" {
		t.Errorf("exit %d, stderr %q", code, stderr)
	}
	if _, stderr, code := sensor(t, "-r", demo, "--growth-exclude-benign"); code != exitUsage || !strings.Contains(stderr, "growth-exclude-benign") {
		t.Errorf("--growth-exclude-benign alone: exit %d, %q", code, stderr)
	}
}

// oneSynEach writes a capture of n sources (first octet first, the rest
// counting), one SYN each to dst port 445, a millisecond apart.
func oneSynEach(t *testing.T, n int, first byte, dst [4]byte) string {
	t.Helper()
	path, w, start := newScanFile(t, "onesyneach.pcap")
	for i := range n {
		src := [4]byte{first, byte(i >> 16), byte(i >> 8), byte(i)}
		f := captest.Ether(nil, 0x0800, captest.IPv4(captest.V4{Src: src, Dst: dst, TTL: 64, Proto: 6, TotalLen: -1},
			captest.TCP(captest.T{SrcPort: 40000, DstPort: 445, Flags: captest.SYN, Window: 1024})))
		if err := w.WritePacket(start+int64(i)*int64(time.Millisecond), f, len(f)); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestDecoyFloodIsBounded: a spoofed flood into dark space makes every
// source new and a first touch of that space: it wrote a decoy alert each
// (100,000 lines beside one flood record, and as many runs of the hooks).
// At most 64 a window; the rest are counted in drops.decoy_alerts.
func TestDecoyFloodIsBounded(t *testing.T) {
	const n = 1000
	path := oneSynEach(t, n, 100, [4]byte{198, 18, 4, 9})
	out, stderr, code := sensor(t, "-r", path, "--dark-net", "198.18.4.0/24", "--log-level", "error")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	recs := records(t, out)
	decoys := 0
	for _, a := range ofType(recs, "alert") {
		if a["kind"] == "decoy" {
			decoys++
		}
	}
	st := ofType(recs, "stats")
	dropped := st[len(st)-1]["drops"].(map[string]any)["decoy_alerts"].(float64)
	if decoys != 64 || int(dropped) != n-64 || len(ofType(recs, "flood")) == 0 {
		t.Errorf("%d decoy alerts, %v counted in drops.decoy_alerts, %d flood records", decoys, dropped, len(ofType(recs, "flood")))
	}
}

// newScanFile creates a capture named name in a test directory, and the
// time its packets start at (2009-01-12 08:00 UTC).
func newScanFile(t *testing.T, name string) (string, *scenario.FileWriter, int64) {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	w, err := scenario.CreateFile(path, scenario.FileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return path, w, time.Date(2009, 1, 12, 8, 0, 0, 0, time.UTC).UnixNano()
}

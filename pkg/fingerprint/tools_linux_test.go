//go:build linux

package fingerprint

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/synscope/synscope/internal/captest"
	"github.com/synscope/synscope/pkg/ports"
)

// TestToolsOnRealScanners captures the SYNs of the real tools (Debian's
// nmap, masscan, zmap, hping3, and nmap's connect scan, which is the
// kernel's own SYNs) in network namespaces, one tool at a time, and holds
// the rules to precision ≥ 99 % and recall ≥ 95 % for each tool, per SYN.
// Every packet goes to addresses of the test's own veth pair.
func TestToolsOnRealScanners(t *testing.T) {
	captest.NeedRoot(t)
	captest.NeedTools(t, "tcpdump", "nmap", "masscan", "zmap", "hping3")
	p := captest.NewPair(t)
	all, err := ports.Parse("1-65535")
	if err != nil {
		t.Fatal(err)
	}
	runs := []struct {
		name string
		tool Tool
		os   OS // the stack when the kernel built the SYNs, else OSUnknown
		run  func()
	}{
		{"nmap -sS", Nmap, OSUnknown, func() {
			// At most 1,000 packets/s: tcpdump on a 2-core VM keeps up.
			captest.Run(t, p.ScanNS, 60*time.Second, "nmap", "-sS", "-n", "-Pn", "-p", "1-300", "--max-retries", "1", "--max-rate", "1000", captest.SensorAddr)
		}},
		{"masscan", Masscan, OSUnknown, func() {
			captest.Masscan(t, p.ScanNS, p.ScanIf, captest.ScanAddr, p.SensorMAC, "198.18.0.2-198.18.0.250", "445,3389")
		}},
		{"zmap", ZMap, OSUnknown, func() {
			captest.Zmap(t, p.ScanNS, p.ScanIf, captest.ScanAddr, p.SensorMAC, "198.18.1.0/24", 445, 256)
		}},
		{"hping3", Unknown, OSUnknown, func() { captest.Hping(t, p.ScanNS, captest.SensorAddr, 445, 200, false) }},
		{"nmap -sT", Unknown, Linux, func() {
			captest.Run(t, p.ScanNS, 60*time.Second, "nmap", "-sT", "-n", "-Pn", "-p", "1-300", "--max-retries", "1", "--max-rate", "1000", captest.SensorAddr)
		}},
	}
	// confusion[truth][guess], counted in SYNs
	var confusion [NumTools][NumTools]int
	for i, r := range runs {
		file := filepath.Join(t.TempDir(), fmt.Sprintf("run%d.pcap", i))
		stop := captest.Tcpdump(t, p.SensorNS, p.SensorIf, "in", file)
		r.run()
		time.Sleep(300 * time.Millisecond)
		stop()
		set := captest.FromPcap(t, file, all)
		if set.Len() < 100 {
			t.Fatalf("%s: only %d SYNs captured", r.name, set.Len())
		}
		wrongOS := 0
		var guessed [NumTools]int
		for s, n := range set {
			guessed[ToolOf(&s)] += n
			if OSOf(&s) != r.os {
				wrongOS += n
			}
		}
		for g, n := range guessed {
			confusion[r.tool][g] += n
		}
		t.Logf("%s: %d SYNs, named (unknown, mirai, masscan, zmap, nmap) %v; os not %v for %d", r.name, set.Len(), guessed, r.os, wrongOS)
		if wrongOS > set.Len()/20 {
			t.Errorf("%s: os not %v for %d of %d SYNs", r.name, r.os, wrongOS, set.Len())
		}
	}
	for _, tool := range []Tool{Nmap, Masscan, ZMap, Unknown} {
		tp, guessed, truth := confusion[tool][tool], 0, 0
		for o := range NumTools {
			guessed += confusion[o][tool]
			truth += confusion[tool][o]
		}
		precision, recall := float64(tp)/float64(max(guessed, 1)), float64(tp)/float64(max(truth, 1))
		t.Logf("%s: precision %.4f (%d of %d guessed), recall %.4f (%d of %d)", tool, precision, tp, guessed, recall, tp, truth)
		if precision < 0.99 || recall < 0.95 {
			t.Errorf("%s: precision %.4f, recall %.4f: want at least 0.99 and 0.95", tool, precision, recall)
		}
	}
}

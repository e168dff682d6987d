package engine

import (
	"net/netip"
	"os"
	"path/filepath"
	"testing"

	"github.com/synscope/synscope/pkg/benign"
	"github.com/synscope/synscope/pkg/growth"
)

type verdicts struct {
	recorder
	last growth.Verdict
}

func (v *verdicts) Growth(_ *WindowRecord, g *growth.Verdict) { v.last = *g }

// Benign scanners' new sources are counted apart in each window, and kept
// out of the growth counts only when asked.
func TestBenignSourcesCountedApart(t *testing.T) {
	p := filepath.Join(t.TempDir(), "benign.txt")
	if err := os.WriteFile(p, []byte("198.51.100.0/24 Research\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	list, err := benign.Load(p)
	if err != nil {
		t.Fatal(err)
	}
	newIn := map[bool]float64{}
	for _, exclude := range []bool{false, true} {
		cfg := small()
		g := growth.DefaultConfig()
		cfg.Growth = &g
		cfg.Benign, cfg.GrowthExcludeBenign = list, exclude
		rec := &verdicts{}
		e, err := New(cfg, rec)
		if err != nil {
			t.Fatal(err)
		}
		for i := range 30 { // 20 benign, 10 others, over three windows
			src := netip.AddrFrom4([4]byte{198, 51, 100, byte(i)})
			if i%3 == 2 {
				src = netip.AddrFrom4([4]byte{192, 0, 2, byte(i)})
			}
			s := syn(src.String(), "198.18.0.1")
			e.Frame(t0+int64(i)*6*sec, 60, &s)
		}
		e.Finish()
		var benignNew, all uint64
		for _, w := range rec.windows {
			benignNew += w.BenignSources
			all += w.NewSources
		}
		if benignNew != 20 || all != 30 {
			t.Errorf("exclude %v: %d benign of %d new", exclude, benignNew, all)
		}
		newIn[exclude] = rec.last.NewSources
	}
	if newIn[false] != 30 || newIn[true] != 10 {
		t.Errorf("new sources in the growth fit: %v without exclusion, %v with; want 30 and 10", newIn[false], newIn[true])
	}
}

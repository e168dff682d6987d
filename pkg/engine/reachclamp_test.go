package engine

import (
	"fmt"
	"testing"
	"time"

	"github.com/synscope/synscope/pkg/decode"
)

// TestReachNeverAboveTheSyns: a source's estimated destinations (its
// HyperLogLog past the exact list) are never more than its SYNs: a scan of
// 100 SYNs at 100 hosts read 101, and a scanner update said 35 targets of
// 34 SYNs (review).
func TestReachNeverAboveTheSyns(t *testing.T) {
	cfg := small()
	for n := 20; n <= 400; n += 3 {
		e, err := New(cfg, discard{})
		if err != nil {
			t.Fatal(err)
		}
		for k := range n {
			s := syn(fmt.Sprintf("203.0.%d.7", n%256), fmt.Sprintf("198.%d.%d.%d", 18+k/65536, k/256%256, k%256))
			e.Frame(t0+int64(k)*int64(time.Millisecond), 60, &s)
		}
		e.Frame(t0+int64(2*time.Hour), 60, (*decode.Syn)(nil))
		e.Finish()
		top := e.Top()
		if len(top) == 0 {
			t.Fatalf("%d SYNs: no top source", n)
		}
		if tp := top[0]; uint64(tp.DistinctTargets) > uint64(tp.SynPackets) || tp.DistinctTargets < n*9/10 {
			t.Errorf("%d SYNs at %d hosts: %d destinations estimated", tp.SynPackets, n, tp.DistinctTargets)
		}
	}
}

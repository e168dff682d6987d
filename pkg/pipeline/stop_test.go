package pipeline

import (
	"context"
	"io"
	"testing"
	"time"

	"github.com/synscope/synscope/pkg/capture"
	"github.com/synscope/synscope/pkg/decode"
	"github.com/synscope/synscope/pkg/engine"
	"github.com/synscope/synscope/pkg/output"
	"github.com/synscope/synscope/pkg/ports"
)

// endless is a live source whose traffic never stops: a frame every
// millisecond, never a quiet poll.
type endless struct{ frame [60]byte }

func (e *endless) Next(p *capture.Packet) error {
	time.Sleep(time.Millisecond)
	*p = capture.Packet{Timestamp: time.Now().UnixNano(), LinkType: capture.LinkEthernet, CapLen: 60, OrigLen: 60, Data: e.frame[:]}
	return nil
}

func (e *endless) Close() error { return nil }

// A stopped live run ends soon even while traffic keeps coming: the records
// its source still holds are taken for a bounded time, not until a poll
// finds none (a review: SIGINT waited 14 s, as long as a replay went on,
// and at 50 SYNs a second with AF_PACKET as long as the scan did).
func TestLiveStopsWhileTrafficFlows(t *testing.T) {
	watched, _ := ports.Parse("445")
	w := output.NewWriter(io.Discard, "stop")
	eng, err := engine.New(engine.DefaultConfig(), w)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	done := make(chan error, 1)
	start := time.Now()
	go func() {
		_, err := Run(ctx, &endless{}, &decode.Decoder{Ports: watched}, eng, w, Hooks{Live: &Live{Grace: time.Second}})
		done <- err
	}()
	select {
	case <-done:
		if took := time.Since(start); took > 100*time.Millisecond+drainFor+2*time.Second {
			t.Errorf("the run took %v to stop", took)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("a stopped live run still going after 30 s of traffic")
	}
}

package pipeline

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/synscope/synscope/internal/scenario"
	"github.com/synscope/synscope/pkg/capture"
	"github.com/synscope/synscope/pkg/capture/pcapfile"
	"github.com/synscope/synscope/pkg/decode"
	"github.com/synscope/synscope/pkg/engine"
	"github.com/synscope/synscope/pkg/output"
	"github.com/synscope/synscope/pkg/ports"
)

// shrinking truncates a file to half its size once k packets were read,
// as another program rewriting a capture under the sensor would.
type shrinking struct {
	*pcapfile.Reader
	path   string
	k, n   int
	shrunk bool
}

func (s *shrinking) Next(p *capture.Packet) error {
	if err := s.count(1); err != nil {
		return err
	}
	return s.Reader.Next(p)
}

// NextBatch keeps the loop on the reader's batch path (the mapped file's
// fast loop) while the file shrinks under it.
func (s *shrinking) NextBatch(ps []capture.Packet) (int, error) {
	if err := s.count(len(ps)); err != nil {
		return 0, err
	}
	return s.Reader.NextBatch(ps)
}

// count truncates the file to half once the k-th packet may be asked for.
func (s *shrinking) count(n int) error {
	if s.n += n; s.n >= s.k && !s.shrunk {
		s.shrunk = true
		fi, err := os.Stat(s.path)
		if err != nil {
			return err
		}
		return os.Truncate(s.path, fi.Size()/2)
	}
	return nil
}

func TestInputShrinksWhileRead(t *testing.T) { eachWalk(t, testInputShrinksWhileRead) }

func testInputShrinksWhileRead(t *testing.T) {
	cfg, err := scenario.Preset("bench")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Seed = 7
	cfg.Duration = 3 * time.Minute
	dir := t.TempDir()
	path := filepath.Join(dir, "shrinks.pcap")
	truth, err := scenario.GenerateFile(cfg, path, scenario.FileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(path); fi.Size() >= 16<<20 {
		t.Fatalf("%s is %d bytes: too large to be mapped (it would be read ahead with pread)", path, fi.Size())
	}
	other, err := filepath.Abs("../../testdata/demo.pcapng")
	if err != nil {
		t.Fatal(err)
	}
	r, err := pcapfile.Open([]string{path, other})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	src := &shrinking{Reader: r, path: path, k: int(truth.Totals.Packets / 4)}
	watched, _ := ports.Parse("445")
	w := output.NewWriter(io.Discard, "shrink")
	eng, _ := engine.New(engine.DefaultConfig(), w)
	var failed []error
	st, err := Run(context.Background(), src, &decode.Decoder{Ports: watched}, eng, w, Hooks{InputError: func(e error) { failed = append(failed, e) }})
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	if st.InputsFailed != 1 || len(failed) != 1 {
		t.Fatalf("inputs failed %d (%v), want 1", st.InputsFailed, failed)
	}
	var ie *capture.InputError
	if !errors.As(failed[0], &ie) || ie.File != path || !strings.Contains(ie.Error(), "shrank") {
		t.Fatalf("error %v: want an input error naming %s and saying it shrank", failed[0], path)
	}
	stats := r.Stats()
	if stats[1].Err != nil || stats[1].Packets != 10060 {
		t.Errorf("the other input: %d packets, err %v; want all 10060", stats[1].Packets, stats[1].Err)
	}
	got := stats[0].Packets
	if got < uint64(src.k)-1 || got >= uint64(truth.Totals.Packets) {
		t.Errorf("shrunk input delivered %d packets: want at least the %d read before it shrank, fewer than its %d", got, src.k-1, truth.Totals.Packets)
	}
	t.Logf("%s: %d of %d packets before the fault: %v", filepath.Base(path), got, truth.Totals.Packets, failed[0])
}

// eachWalk runs f with mapped pcap files read through windows and straight
// from the mapping (pcapfile reads SENSOR_PCAP_WALK when a file is opened;
// by default the page cache decides, see pcapfile's decide).
func eachWalk(t *testing.T, f func(*testing.T)) {
	for _, mode := range []string{"windows", "mapped"} {
		t.Run(mode, func(t *testing.T) {
			t.Setenv("SENSOR_PCAP_WALK", mode)
			f(t)
		})
	}
}

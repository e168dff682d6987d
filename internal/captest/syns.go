package captest

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/synscope/synscope/pkg/capture"
	"github.com/synscope/synscope/pkg/capture/pcapfile"
	"github.com/synscope/synscope/pkg/decode"
	"github.com/synscope/synscope/pkg/ports"
)

// SynSet is a multiset of decoded SYNs with their timestamps cleared: two
// captures of the same traffic give equal sets.
type SynSet map[decode.Syn]int

// Len is the number of SYNs, duplicates included.
func (s SynSet) Len() int {
	n := 0
	for _, c := range s {
		n += c
	}
	return n
}

// FromPcap decodes every packet of a capture file.
func FromPcap(t testing.TB, file string, p *ports.Set) SynSet {
	t.Helper()
	r, err := pcapfile.Open([]string{file})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	return FromSource(t, r, p, nil, 0)
}

// FromSource decodes what src yields until io.EOF or, for a live source,
// until it has been idle for one poll interval after at least settle has
// passed. keep, if set, chooses packets by their raw bytes.
func FromSource(t testing.TB, src capture.Source, p *ports.Set, keep func(*capture.Packet) bool, settle time.Duration) SynSet {
	t.Helper()
	dec := decode.Decoder{Ports: p}
	set := SynSet{}
	var pk capture.Packet
	var syn decode.Syn
	start := time.Now()
	for {
		err := src.Next(&pk)
		if errors.Is(err, capture.ErrTimeout) {
			if time.Since(start) >= settle {
				return set
			}
			continue
		}
		if err == io.EOF {
			return set
		}
		if err != nil {
			t.Fatalf("read: %v", err)
		}
		if keep != nil && !keep(&pk) {
			continue
		}
		if dec.Decode(pk.LinkType, pk.Data, &syn) == decode.Matched {
			syn.Ts = 0
			syn.Dir = decode.DirUnknown // files cannot know it; compared apart
			set[syn]++
		}
	}
}

// Decoded is what pkg/decode matches among Ethernet frames that keep
// accepts (all of them if keep is nil), tunnelled SYNs left out: the set a
// kernel filter that does not walk tunnels must deliver.
func Decoded(frames [][]byte, p *ports.Set, keep func([]byte) bool) SynSet {
	dec := decode.Decoder{Ports: p}
	set := SynSet{}
	var s decode.Syn
	for _, f := range frames {
		if dec.Decode(capture.LinkEthernet, f, &s) == decode.Matched && s.Tunnel == 0 && (keep == nil || keep(f)) {
			set[s]++
		}
	}
	return set
}

// Equal fails the test with the differences when got and want differ.
func Equal(t testing.TB, what string, got, want SynSet) {
	t.Helper()
	var missing, extra []string
	for s, n := range want {
		if got[s] < n {
			missing = append(missing, fmt.Sprintf("%dx %s", n-got[s], describe(&s)))
		}
	}
	for s, n := range got {
		if want[s] < n {
			extra = append(extra, fmt.Sprintf("%dx %s", n-want[s], describe(&s)))
		}
	}
	if len(missing)+len(extra) == 0 {
		return
	}
	slices.Sort(missing)
	slices.Sort(extra)
	t.Errorf("%s: %d SYNs, want %d\nmissing:\n  %s\nextra:\n  %s", what, got.Len(), want.Len(),
		strings.Join(head(missing), "\n  "), strings.Join(head(extra), "\n  "))
}

func head(s []string) []string {
	if len(s) > 20 {
		return append(s[:20:20], fmt.Sprintf("... %d more", len(s)-20))
	}
	return s
}

func describe(s *decode.Syn) string {
	return fmt.Sprintf("%s:%d > %s:%d seq %d ttl %d id %d win %d opts %s vlan %d",
		s.SrcAddr(), s.SrcPort, s.DstAddr(), s.DstPort, s.Seq, s.TTL, s.IPID, s.Window, s.OptionLayout(), s.VLAN)
}

// Collect reads src in the background from now on, as the pipeline would.
// The function it returns asks the reader to finish once src has been idle
// for one poll interval, waits for it and returns what it decoded.
func Collect(t testing.TB, src capture.Source, p *ports.Set, keep func(*capture.Packet) bool) func() SynSet {
	t.Helper()
	var stop atomic.Bool
	done := make(chan SynSet, 1)
	go func() {
		dec := decode.Decoder{Ports: p}
		set := SynSet{}
		var pk capture.Packet
		var syn decode.Syn
		defer func() { done <- set }()
		for {
			err := src.Next(&pk)
			switch {
			case errors.Is(err, capture.ErrTimeout):
				if stop.Load() {
					return
				}
				continue
			case err == io.EOF:
				return
			case err != nil:
				t.Errorf("read: %v", err)
				return
			}
			if keep != nil && !keep(&pk) {
				continue
			}
			if dec.Decode(pk.LinkType, pk.Data, &syn) == decode.Matched {
				syn.Ts = 0
				set[syn]++
			}
		}
	}()
	return func() SynSet {
		stop.Store(true)
		select {
		case s := <-done:
			return s
		case <-time.After(30 * time.Second):
			t.Fatal("reader did not finish")
			return nil
		}
	}
}

// ReadThroughStop reads src for d (traffic flowing: Flood), then stops it
// with stop and reads what it still holds, for at most half a second past
// what a stopped source needs (one that did not stop would still be giving
// packets then); it returns how many packets were read in all.
func ReadThroughStop(t testing.TB, src capture.Source, stop func() error, d time.Duration) uint64 {
	t.Helper()
	var pk capture.Packet
	read := uint64(0)
	for start := time.Now(); time.Since(start) < d; {
		if err := src.Next(&pk); err == nil {
			read++
		}
	}
	if err := stop(); err != nil {
		t.Fatalf("stop: %v", err)
	}
	for until := time.Now().Add(500 * time.Millisecond); time.Now().Before(until); {
		if err := src.Next(&pk); err != nil {
			break
		}
		read++
	}
	return read
}

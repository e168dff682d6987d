package kafka

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestBigRecordDoesNotBlock: a record larger than --kafka-buffer, written
// while the brokers are away, is dropped and counted; Write blocked for
// good (the client's own bound, twice the buffer, could not take it on top
// of a full buffer; a review).
func TestBigRecordDoesNotBlock(t *testing.T) {
	c, g := cluster(t, 1)
	s, err := NewSink(context.Background(), Config{Brokers: c.ListenAddrs(), Buffer: 64 << 10, SpoolDir: t.TempDir(), CloseTimeout: 200 * time.Millisecond}, "s1")
	if err != nil {
		t.Fatal(err)
	}
	g.close()
	big := func(n int) string {
		return `{"event_type":"summary","sensor":"s1","pad":"` + strings.Repeat("x", n) + `"}` + "\n"
	}
	done := make(chan struct{})
	go func() {
		s.Write([]byte(big(60 << 10)))
		s.Write([]byte(big(100 << 10)))
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatalf("Write blocked 10 s with the brokers away (counts %+v)", s.Counts())
	}
	if cn := s.Counts(); cn.Dropped != 1 || !strings.Contains(s.LastError(), "larger than --kafka-buffer") {
		t.Errorf("counts %+v, last error %q: want the big record dropped and said", cn, s.LastError())
	}
	g.open()
	s.Close()
}

// TestMissingSegmentSkipped: spool segments removed under the running
// sink (a tmp cleaner, an operator) are counted lost and passed over; the
// spool stopped at the first, for good, every new record spooled behind it
// and nothing counted (a review).
func TestMissingSegmentSkipped(t *testing.T) {
	c, g := cluster(t, 1)
	dir := t.TempDir()
	s, err := NewSink(context.Background(), Config{Brokers: c.ListenAddrs(), Buffer: 64 << 10, SpoolDir: dir, SpoolMax: 8 << 20, CloseTimeout: time.Second}, "s1")
	if err != nil {
		t.Fatal(err)
	}
	g.close()
	n := 0
	for ; n < 3000; n++ {
		s.Write([]byte(line(n) + "\n"))
	}
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		os.Remove(filepath.Join(dir, e.Name()))
	}
	g.open()
	deadline := time.Now().Add(3 * time.Second)
	for ; time.Now().Before(deadline); n++ {
		s.Write([]byte(line(n) + "\n"))
		time.Sleep(time.Millisecond)
	}
	var cn Counts
	for wait := time.Now().Add(10 * time.Second); time.Now().Before(wait); time.Sleep(50 * time.Millisecond) {
		if cn = s.Counts(); cn.SpoolBytes == 0 {
			break
		}
	}
	if cn.SpoolBytes != 0 || cn.Corrupt == 0 {
		t.Errorf("counts %+v: the spool did not go on past its removed segment, or did not count it", cn)
	}
	s.Close()
}

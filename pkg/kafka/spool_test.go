package kafka

import (
	"fmt"
	"os"
	"testing"
)

// TestSpoolSkipsADamagedRecord: one flipped byte inside a spooled record
// loses that record, counted, and the rest of the segment is delivered (it
// lost every record after it: 0 of 100 came back); damaged lengths, and
// zeros where a crash left blocks unwritten, end the segment there, the
// records before them delivered.
func TestSpoolSkipsADamagedRecord(t *testing.T) {
	for _, c := range []struct {
		name     string
		at       int // the byte flipped: in record 1 (each is 12 + 1 + 5 bytes)
		wantRead int
	}{
		{"payload", 13, 99},
		{"length", 18 + 2, 1},   // record 2's key length: 1 << 16 more
		{"zeroed tail", -1, 50}, // not 50 and then empty records, one per zeroed header
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			s, err := openSpool(dir, 1<<30)
			if err != nil {
				t.Fatal(err)
			}
			for i := 0; i < 100; i++ {
				s.add([]byte("k"), []byte(fmt.Sprintf("v%04d", i)))
			}
			s.close()
			seg := s.path(s.segs[0])
			b, _ := os.ReadFile(seg)
			if c.at < 0 { // zeros from record 50's value to the end: a crash's unwritten blocks
				clear(b[50*18+13:])
			} else {
				b[c.at] ^= 1
			}
			os.WriteFile(seg, b, 0o600)
			s, err = openSpool(dir, 1<<30)
			if err != nil {
				t.Fatal(err)
			}
			got := readAll(s)
			if len(got) != c.wantRead || s.corrupt == 0 {
				t.Errorf("%d records read (want %d), %d counted lost", len(got), c.wantRead, s.corrupt)
			}
			if c.name == "payload" && (got[0] != "v0001" || got[98] != "v0099") {
				t.Errorf("records read %v ... %v", got[0], got[len(got)-1])
			}
		})
	}
}

// readAll reads a spool's records (their values) to its end or its first
// error.
func readAll(sp *spool) []string {
	var got []string
	for {
		_, v, ok, err := sp.read()
		if err != nil || !ok {
			return got
		}
		got = append(got, string(v))
	}
}

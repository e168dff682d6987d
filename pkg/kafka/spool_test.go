package kafka

import (
	"bytes"
	"fmt"
	"os"
	"slices"
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

// FuzzSpoolReopen: a spool left by an earlier run, its segment followed by
// bytes a crash or a disk left (anything): every record written whole comes
// back, in order, before anything else; what the tail holds is at most
// extra records; a record added after the reopening comes back last; and
// the spool then holds nothing.
func FuzzSpoolReopen(f *testing.F) {
	f.Add([]byte("a\xffbb\xfeB\xffccc"), []byte{})
	f.Add([]byte("k1\xfev1"), []byte{1, 0, 0, 0, 200, 0, 0, 0, 0, 0, 0, 0, 'x'})
	f.Add([]byte("x"), []byte{255, 255, 255, 3, 0, 0, 0, 0, 0, 0, 0, 0})
	f.Add([]byte("x\xffy"), make([]byte, 40))
	f.Fuzz(func(t *testing.T, recs, tail []byte) {
		dir := t.TempDir()
		s, err := openSpool(dir, 1<<30)
		if err != nil {
			t.Fatal(err)
		}
		var want []string
		for _, r := range bytes.Split(recs, []byte{0xff}) {
			k, v, _ := bytes.Cut(r, []byte{0xfe})
			if len(k)+len(v) == 0 {
				continue
			}
			if ok, err := s.add(k, v); !ok || err != nil {
				t.Fatal(ok, err)
			}
			want = append(want, string(k)+"\x00"+string(v))
		}
		s.close()
		if len(s.segs) > 0 {
			fh, err := os.OpenFile(s.path(s.segs[len(s.segs)-1]), os.O_WRONLY|os.O_APPEND, 0)
			if err != nil {
				t.Fatal(err)
			}
			fh.Write(tail)
			fh.Close()
		}
		if s, err = openSpool(dir, 1<<30); err != nil {
			t.Fatal(err)
		}
		if ok, err := s.add([]byte("new"), []byte("rec")); !ok || err != nil {
			t.Fatal(ok, err)
		}
		var got []string
		for range len(want) + len(tail) + 4 {
			k, v, ok, err := s.read()
			if err != nil {
				t.Fatal(err)
			}
			if !ok {
				break
			}
			got = append(got, string(k)+"\x00"+string(v))
		}
		if len(got) < len(want)+1 || !slices.Equal(got[:len(want)], want) || got[len(got)-1] != "new\x00rec" {
			t.Fatalf("records back %q, want %q first and the new one last", got, want)
		}
		if !s.empty() {
			t.Errorf("%d bytes said left after every record was read", s.size)
		}
	})
}

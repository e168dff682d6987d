package pcapfile

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// withAhead reads every regular file ahead, in chunks of the given length,
// until the test ends.
func withAhead(t *testing.T, chunk int) {
	oldAlways, oldChunk := aheadAlways, aheadChunkLen
	aheadAlways, aheadChunkLen = true, chunk
	t.Cleanup(func() { aheadAlways, aheadChunkLen = oldAlways, oldChunk })
}

// sameResult compares two reads of the same files: the same packets, byte
// for byte, and the same errors.
func sameResult(t *testing.T, name string, got, want result) {
	t.Helper()
	if len(got.pkts) != len(want.pkts) {
		t.Errorf("%s: %d packets read ahead, %d mapped", name, len(got.pkts), len(want.pkts))
		return
	}
	for i := range want.pkts {
		g, w := got.pkts[i], want.pkts[i]
		if g.Timestamp != w.Timestamp || g.OrigLen != w.OrigLen || g.LinkType != w.LinkType || !bytes.Equal(g.Data, w.Data) {
			t.Errorf("%s: packet %d differs", name, i)
			return
		}
	}
	if len(got.errs) != len(want.errs) {
		t.Errorf("%s: errors %v read ahead, %v mapped", name, got.errs, want.errs)
		return
	}
	for i := range want.errs {
		if got.errs[i].Error() != want.errs[i].Error() {
			t.Errorf("%s: error %q read ahead, %q mapped", name, got.errs[i], want.errs[i])
		}
	}
}

// TestAheadEqualsMapped reads every format case and every corpus capture
// (SENSOR_CORPUS) once mapped and once read ahead in chunks so small that
// most records straddle two or more of them: the packets and errors are
// the same.
func TestAheadEqualsMapped(t *testing.T) {
	dir := t.TempDir()
	var files []string
	for _, c := range formatCases(t) {
		files = append(files, writeFile(t, dir, strings.ReplaceAll(c.name, " ", "_")+".cap", c.file))
	}
	if root := os.Getenv("SENSOR_CORPUS"); root != "" {
		filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err == nil && d.Type().IsRegular() && !strings.HasSuffix(p, ".md") {
				files = append(files, p)
			}
			return nil
		})
	} else if os.Getenv("CI") == "true" {
		t.Fatal("SENSOR_CORPUS is not set (required when CI=true)")
	}
	if len(files) < 10 {
		t.Fatalf("only %d files", len(files))
	}
	want := make([]result, len(files))
	for i, f := range files {
		want[i] = openAll(t, f)
	}
	for _, chunk := range []int{7, 64, 4096, 1 << 19} {
		withAhead(t, chunk)
		for i, f := range files {
			sameResult(t, filepath.Base(f)+" chunk "+itoa(chunk), openAll(t, f), want[i])
		}
	}
}

func itoa(n int) string {
	var b [20]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + n%10)
		if n /= 10; n == 0 {
			return string(b[i:])
		}
	}
}

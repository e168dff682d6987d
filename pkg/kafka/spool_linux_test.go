//go:build linux

package kafka

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/synscope/synscope/internal/captest"
)

// TestSpoolFullDisk: the spool's file system fills in the middle of a
// record (a 64 KiB tmpfs, most of it taken by another file), then has room
// again. The record cut short is refused and leaves nothing behind: every
// record accepted before and after it is read back, in order, none corrupt.
// (The cut record's bytes stayed in the segment, the next records were
// written after them, and the reader stopped there for good.)
func TestSpoolFullDisk(t *testing.T) {
	captest.NeedRoot(t)
	dir := t.TempDir()
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, "size=64k"); err != nil {
		captest.Need(t, "mount a tmpfs: %v", err)
	}
	t.Cleanup(func() { unix.Unmount(dir, unix.MNT_DETACH) })
	filler := filepath.Join(dir, "filler")
	if err := os.WriteFile(filler, make([]byte, 40<<10), 0o600); err != nil {
		t.Fatal(err)
	}
	sp, err := openSpool(filepath.Join(dir, "spool"), 1<<30)
	if err != nil {
		t.Fatal(err)
	}
	defer sp.close()
	val := func(i int) []byte { return []byte(fmt.Sprintf(`{"seq":%d,"pad":"%s"}`, i, strings.Repeat("x", 3000))) }
	var accepted []int
	i := 0
	for ; i < 100; i++ {
		ok, err := sp.add([]byte("k"), val(i))
		if ok {
			accepted = append(accepted, i)
			continue
		}
		if err == nil {
			t.Fatalf("record %d refused without an error", i)
		}
		break
	}
	if i == 100 || len(accepted) == 0 {
		t.Fatalf("%d records accepted, the file system never filled", len(accepted))
	}
	if err := os.Remove(filler); err != nil { // room again
		t.Fatal(err)
	}
	for j := i + 1; j < i+4; j++ {
		if ok, err := sp.add([]byte("k"), val(j)); !ok {
			t.Fatalf("record %d with room again: %v", j, err)
		}
		accepted = append(accepted, j)
	}
	for _, want := range accepted {
		_, v, ok, err := sp.read()
		if !ok || err != nil || !strings.Contains(string(v), fmt.Sprintf(`"seq":%d,`, want)) {
			t.Fatalf("read %.30q (%v, %v), want seq %d: the records after the full disk are lost", v, ok, err, want)
		}
	}
	if sp.corrupt != 0 {
		t.Errorf("%d corrupt records", sp.corrupt)
	}
}

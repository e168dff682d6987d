//go:build linux

package pcapfile

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// TestHugeProbeMatchesKernel probes two files' mappings, one whose page
// cache was filled by small writes and one read back in by the kernel's
// readahead after its pages were dropped, and requires each answer to be
// what the kernel reports for the mapping (FilePmdMapped in
// /proc/self/smaps: file pages mapped a huge page at a time). Which file
// gets huge pages depends on the kernel, the filesystem and free memory;
// the test logs it, and fails only on a probe that disagrees with the
// kernel or says nothing on a fresh mapping.
func TestHugeProbeMatchesKernel(t *testing.T) {
	dir := t.TempDir()
	const size = 64 << 20
	buf := make([]byte, 4096)
	for _, name := range []string{"written", "readahead"} {
		path := filepath.Join(dir, name)
		f, err := os.Create(path)
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < size; i += len(buf) {
			buf[0] = byte(i >> 12)
			if _, err := f.Write(buf); err != nil {
				t.Fatal(err)
			}
		}
		if name == "readahead" {
			// Written back, its pages dropped, read in again.
			if err := f.Sync(); err != nil {
				t.Fatal(err)
			}
			if err := unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED); err != nil {
				t.Fatal(err)
			}
			r, err := os.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			big := make([]byte, 1<<20)
			for {
				if n, _ := r.Read(big); n == 0 {
					break
				}
			}
			r.Close()
		}
		mm := mapFile(f)
		f.Close()
		if mm == nil {
			t.Fatalf("%s: not mapped", name)
		}
		b := mm[size/2 : size/2+probeLen]
		touched, huge := probe(b)
		pmd, err := filePmdMapped(uintptr(unsafe.Pointer(&mm[0])))
		unmapFile(mm)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: probe huge %v, FilePmdMapped %d kB", name, huge, pmd)
		if !touched {
			t.Errorf("%s: the probe of a fresh mapping saw no page fault", name)
		}
		if huge != (pmd > 0) {
			t.Errorf("%s: the probe says huge %v, the kernel maps %d kB a huge page at a time", name, huge, pmd)
		}
	}
}

// filePmdMapped reads FilePmdMapped (kB) of the mapping that starts at
// addr from /proc/self/smaps.
func filePmdMapped(addr uintptr) (int, error) {
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	start := strconv.FormatUint(uint64(addr), 16) + "-"
	in := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if fields := strings.Fields(line); len(fields) > 0 && strings.Contains(fields[0], "-") && !strings.HasSuffix(fields[0], ":") {
			in = strings.HasPrefix(line, start)
			continue
		}
		if in && strings.HasPrefix(line, "FilePmdMapped:") {
			return strconv.Atoi(strings.Fields(line)[1])
		}
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	return 0, fmt.Errorf("no FilePmdMapped for the mapping at %#x in /proc/self/smaps", addr)
}

//go:build unix

package pcapfile

import (
	"os"

	"golang.org/x/sys/unix"
)

// mapFile maps a regular file read-only, or returns nil when it cannot (not
// a regular file, empty, too large for the address space, mmap refused);
// the caller then reads it through a buffer.
func mapFile(f *os.File) []byte {
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() || fi.Size() <= 0 || fi.Size() != int64(int(fi.Size())) {
		return nil
	}
	mm, err := unix.Mmap(int(f.Fd()), 0, int(fi.Size()), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		return nil
	}
	_ = unix.Madvise(mm, unix.MADV_SEQUENTIAL)
	return mm
}

func unmapFile(mm []byte) { _ = unix.Munmap(mm) }

// releaseMapped drops the pages of b, a page-aligned part of a read-only
// file mapping, from the process: they stay in the page cache, and a later
// read maps them again with the file's content.
func releaseMapped(b []byte) {
	if len(b) > 0 {
		_ = unix.Madvise(b, unix.MADV_DONTNEED)
	}
}

// openBudget is how many files the merge may keep open from the start: a
// quarter of the descriptors the process may open (the rest stay for the
// output, sockets and a reopened file), at most maxOpen.
func openBudget() int {
	var l unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &l); err != nil || l.Cur == unix.RLIM_INFINITY {
		return maxOpen
	}
	return min(maxOpen, max(int(l.Cur/4), 4)) // (Cur is int64 on the BSDs, uint64 on Linux)
}

//go:build unix

package pcapfile

import (
	"os"
	"syscall"
)

// mapFile maps a regular file read-only, or returns nil when it cannot (not
// a regular file, empty, too large for the address space, mmap refused);
// the caller then reads it through a buffer.
func mapFile(f *os.File) []byte {
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() || fi.Size() <= 0 || fi.Size() != int64(int(fi.Size())) {
		return nil
	}
	mm, err := syscall.Mmap(int(f.Fd()), 0, int(fi.Size()), syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		return nil
	}
	_ = syscall.Madvise(mm, syscall.MADV_SEQUENTIAL)
	return mm
}

func unmapFile(mm []byte) { _ = syscall.Munmap(mm) }

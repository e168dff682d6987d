//go:build unix

package output

import (
	"io/fs"
	"syscall"
)

const oNoFollow = syscall.O_NOFOLLOW

func linkCount(fi fs.FileInfo) uint64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return uint64(st.Nlink)
	}
	return 1
}

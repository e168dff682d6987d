package pcapfile

import "golang.org/x/sys/unix"

// growPipe asks for a 1 MiB pipe buffer (64 KiB by default), so that a
// fast writer (zcat, cat) wakes the reader less often; refused, it stays
// as it is.
func growPipe(fd int) { unix.FcntlInt(uintptr(fd), unix.F_SETPIPE_SZ, 1<<20) }

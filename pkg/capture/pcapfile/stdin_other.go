//go:build !unix

package pcapfile

import "os"

// stdinStream: standard input as it is (a blocked read is not interrupted
// on this platform).
func stdinStream() (in *os.File, stream *os.File) { return os.Stdin, nil }

func restoreStdin(*os.File) {}

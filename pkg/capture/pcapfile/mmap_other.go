//go:build !unix

package pcapfile

import "os"

// mapFile: no mapping on this platform; files are read through a buffer.
func mapFile(*os.File) []byte { return nil }

func unmapFile([]byte) {}

func releaseMapped([]byte) {}

func openBudget() int { return maxOpen }

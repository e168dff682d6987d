//go:build !linux

package pcapfile

func growPipe(int) {}

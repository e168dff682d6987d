//go:build !race

package srctable

const raceOn = false

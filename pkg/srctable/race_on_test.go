//go:build race

package srctable

// raceOn: the race detector's shadow memory faults in beside the tables.
const raceOn = true

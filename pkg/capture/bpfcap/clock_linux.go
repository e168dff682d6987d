//go:build linux

package bpfcap

import (
	"math"

	"golang.org/x/sys/unix"
)

// wallClock turns the program's timestamps (bpf_ktime_get_boot_ns, i.e.
// CLOCK_BOOTTIME, which keeps counting through suspend) into wall-clock
// nanoseconds: wall = boot + offset, offset = CLOCK_REALTIME - CLOCK_BOOTTIME.
// The two clocks run at the same rate (NTP slews both), so the offset only
// moves when the wall clock is stepped; it is measured again at least once a
// second of kernel time so a step is followed within a second.
type wallClock struct {
	offset int64 // realtime - boottime, ns
	at     int64 // boottime of the last measurement
}

// refreshEvery is how much kernel time may pass between measurements.
const refreshEvery = 1e9

// refresh measures the offset: boottime read between two realtime reads,
// the best of three by the width of that bracket.
func (c *wallClock) refresh() {
	best := int64(math.MaxInt64)
	for range 3 {
		var r1, b, r2 unix.Timespec
		if unix.ClockGettime(unix.CLOCK_REALTIME, &r1) != nil ||
			unix.ClockGettime(unix.CLOCK_BOOTTIME, &b) != nil ||
			unix.ClockGettime(unix.CLOCK_REALTIME, &r2) != nil {
			continue
		}
		if gap := r2.Nano() - r1.Nano(); gap >= 0 && gap < best {
			best = gap
			c.offset = r1.Nano() + gap/2 - b.Nano()
			c.at = b.Nano()
		}
	}
}

// wall converts a CLOCK_BOOTTIME timestamp to ns since the Unix epoch.
func (c *wallClock) wall(boot uint64) int64 {
	t := int64(boot)
	if t-c.at > refreshEvery {
		c.refresh()
	}
	return t + c.offset
}

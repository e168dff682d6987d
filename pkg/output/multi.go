package output

import "strings"

// Counted is a driver that delivers on its own time and can lose records
// (Kafka): it counts what it delivered and what it had to drop, for the
// stats record and the metrics.
type Counted interface {
	DriverCounts() DriverCounts
}

// DriverCounts are a Counted driver's counters.
type DriverCounts struct {
	Name       string // the stats record's key for them: "kafka"
	Produced   uint64 // records handed to the client
	Delivered  uint64 // acknowledged by the destination
	Failed     uint64 // refused for good
	Spooled    uint64 // records that waited on disk
	Dropped    uint64 // lost: the memory buffer and the spool were full
	Corrupt    uint64 // spooled records lost to a damaged spool file
	Buffered   int64  // bytes in memory not yet acknowledged
	SpoolBytes int64  // bytes on disk not yet handed back
}

// Lost is every record the driver could not deliver.
func (c *DriverCounts) Lost() uint64 { return c.Failed + c.Dropped + c.Corrupt }

// Multi writes the same records to several drivers (a file and Kafka), so
// every destination gets the same JSON. Each driver keeps its own reopen
// and retry; a write error of any stops the run, as a single file's does
// (the Kafka driver never returns one: it buffers, spools or counts).
func Multi(ds ...Driver) Driver {
	if len(ds) == 1 {
		return ds[0]
	}
	return multi(ds)
}

type multi []Driver

func (m multi) Write(p []byte) (int, error) {
	for _, d := range m {
		if _, err := d.Write(p); err != nil {
			return 0, err
		}
	}
	return len(p), nil
}

func (m multi) Reopen() (bool, error) {
	any := false
	var first error
	for _, d := range m {
		ok, err := d.Reopen()
		any = any || ok
		if err != nil && first == nil {
			first = err
		}
	}
	return any, first
}

func (m multi) Close() error {
	var first error
	for _, d := range m {
		if err := d.Close(); err != nil && first == nil {
			first = err
		}
	}
	return first
}

func (m multi) String() string {
	s := make([]string, len(m))
	for i, d := range m {
		s[i] = d.String()
	}
	return strings.Join(s, ",")
}

// Counted drivers among the ones it writes to.
func (m multi) counted() []Counted {
	var cs []Counted
	for _, d := range m {
		if c, ok := d.(Counted); ok {
			cs = append(cs, c)
		}
	}
	return cs
}

// CountedOf lists the Counted drivers behind d.
func CountedOf(d Driver) []Counted {
	if m, ok := d.(multi); ok {
		return m.counted()
	}
	if c, ok := d.(Counted); ok {
		return []Counted{c}
	}
	return nil
}

// FileOf is the file driver behind d, if any (a live sensor hands the file
// it created to its unprivileged user).
func FileOf(d Driver) *File {
	if m, ok := d.(multi); ok {
		for _, x := range m {
			if f, ok := x.(*File); ok {
				return f
			}
		}
	}
	f, _ := d.(*File)
	return f
}

package output

import "io"

// Driver is where the JSONL stream goes: standard output or a file now, a
// Kafka producer later. A Writer encodes records onto a driver; the driver
// owns everything about the destination itself (its path, how it is opened,
// how it is opened again after log rotation), so the run that drives the
// records never needs to know which one it has.
//
// A driver is used from one goroutine: the run's loop writes and reopens
// between packets, so a rotation never falls inside a record.
type Driver interface {
	io.Writer
	// Reopen points the driver at its destination afresh, for log rotation:
	// the records written from now on go to what is at the path now. It
	// reports whether there was anything to reopen (standard output has
	// not); on an error the driver goes on with the old destination.
	Reopen() (reopened bool, err error)
	// Close releases the destination; the driver is not used after it.
	Close() error
	// String names the destination in messages: the path, or "-".
	String() string
}

// Open opens the driver for a destination: stdout for "-", else the file
// at path, appended to by a live run and started afresh by an offline one
// (see OpenFile).
func Open(path string, appendTo bool, stdout io.Writer) (Driver, error) {
	if path == "-" {
		return stream{stdout}, nil
	}
	return NewFile(path, appendTo)
}

// stream is a destination the sensor did not open and cannot reopen:
// standard output (a pipe, a terminal, a test's buffer). It leaves closing
// to whoever owns it.
type stream struct{ io.Writer }

func (stream) Reopen() (bool, error) { return false, nil }
func (stream) Close() error          { return nil }
func (stream) String() string        { return "-" }

// Package output writes the sensor's records as JSON Lines: one object per
// line, UTF-8, never pretty-printed, with field order fixed so the same input
// gives byte-identical output. The encoding is hand-written with append
// functions: no reflection, no maps, nothing whose order could vary.
//
// It owns the record schema (docs/schema.md documents it; fields only ever
// get added) and the drivers the stream is written to (Driver: standard
// output, a file that reopens itself after log rotation). It must not import
// capture backends, gopacket, viper or a logger.
package output

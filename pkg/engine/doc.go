// Package engine owns per-source state and time windows. It is fed every
// packet's time (to drive the clock) and every matched SYN, and it emits a
// record when a source is new and when a window closes.
//
// Time is packet time, never the wall clock, so a live run and an offline
// run of the same packets emit the same records. The clock never runs
// backwards: a packet stamped earlier than one already seen is counted as out
// of order and analysed at the latest time seen (the deterministic rule).
//
// The engine is on the hot path: it imports no logger and allocates nothing
// per packet once its tables have grown. It must not import capture
// backends, gopacket, viper or output sinks.
package engine

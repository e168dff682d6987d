// Package engine owns the clock, the windows and the run's verdicts. It is
// fed every frame (Frame: its time drives the clock; a matched SYN is handed
// to the shard that owns its source), and it emits a record when a source
// is new, when a window closes, and the growth verdict after every window.
// The per-source state itself lives in package sources, one table per
// shard; the engine owns the shards, the rings that feed them, the ordered
// merge of their records, flood counting, the window's distinct targets and
// the state file's header.
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

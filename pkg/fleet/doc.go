// Package fleet owns `sensor collect`: the fleet-wide windows computed from
// what sensors publish to Kafka (their `source`, `sighting` and `progress`
// records). A source's records land in one partition (the sensors key them
// by address), so a partition's owner holds that source's fleet-wide state,
// as a shard does in one sensor: per partition, windows close when every
// live sensor's progress there has passed them, and the partition's partial
// counts go to one combiner (through a one-partition topic), which adds the
// partials of every partition exactly once and writes the fleet's window and
// growth records with the engine's meanings.
//
// It reads records as JSON lines and writes through output.Writer; it must
// not import the engine's internals beyond its record types, the capture
// stages, viper or a logger (cmd/sensor logs for it).
package fleet

// Package kafka owns the sensor's side of Kafka: the franz-go client
// settings (brokers, TLS, SASL, compression, the idempotent producer), the
// Sink that publishes the JSONL records as an output driver, and the bounded
// on-disk spool that keeps records while the brokers cannot be reached.
//
// It knows records only as JSON lines (it reads a record's key, its source
// address, from the line itself), so it must not import the engine, the
// pipeline or the output writer, nor viper or a logger: cmd/sensor wires it
// and logs for it.
package kafka

// Package lifecycle owns one run of the sensor from its start to its end: it
// builds the writer and the engine on the output driver it is given, loads
// the state file, drives the capture source through the pipeline, does the
// live loop's periodic work (the output reopened after SIGHUP, state saved
// on its interval, metrics fed) and ends the run once, the same way live and
// offline: the summary, the output flushed, the state saved atomically.
//
// cmd/sensor chooses the capture backend and the output driver, drops
// privileges and logs; the run gets a capture.Source, an output.Driver and a
// Log. So it must not import gopacket, cilium/ebpf or a capture backend, nor
// viper or a logger.
package lifecycle

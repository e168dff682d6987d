// Package scenario generates synthetic capture files with known ground truth
// for the SYN-scan sensor: a seeded, streaming simulation of a scanning worm
// population (steady, exponential, logistic, flat, declining or absent
// infection models, with day/night modulation, overdispersed bursts, DHCP
// churn, scan/sleep cycles, IPv6 sources, VLAN tags, background traffic and
// spoofed SYN floods), serialised with gopacket layers to pcap or pcapng
// (optionally gzip-compressed).
//
// It owns the scenario Config and its named presets, the packet generator,
// the capture-file writers and the Truth: per-window counts (watched SYN
// packets, active sources, new sources, distinct targets, warm-up) computed
// by a tracker that observes every written packet and applies the sensor's
// counting contract, independent of the model that produced the packets,
// plus generator-side facts (expected rate, infected population, flood
// packets) that help evaluation. GenerateSleepers (sleepers.go) writes a
// scan-then-sleep population (hosts alternating exponential active
// periods at their own SYN rates and exponential sleeps, or never
// sleeping) with the truth an activity record should tell. Tests, benchmarks, the evaluation harness
// and cmd/pcapgen use it.
//
// It is the project's test-and-simulation generator, not a sensor stage, so
// it lives under internal/ and is free to import gopacket to build and
// serialise its packets: DESIGN.md's rule that only capture backends import
// gopacket governs the product packages under pkg/. It must not import the
// sensor's own packages (pkg/...), so that its ground truth stays
// independent of the code it is used to check; and neither pkg/ nor
// cmd/sensor may import it (only tests and the tools in cmd/pcapgen and
// cmd/growtheval do).
//
// Generation streams: memory grows with the number of sources (and distinct
// addresses and targets), never with the number of packets. Output is
// byte-identical for a given Config (the seed included).
package scenario

// Command fakekafka runs franz-go's kfake, an in-process Kafka-protocol
// broker, as a standalone process: enough Kafka for the fleet demo in the
// README and for trying `sensor collect` on one machine. It keeps its data
// in memory (or in -data DIR), speaks no TLS and is not for production.
//
// It owns nothing of the sensor and imports none of its packages.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/twmb/franz-go/pkg/kfake"
)

func main() {
	fs := flag.NewFlagSet("fakekafka", flag.ContinueOnError)
	port := fs.Int("port", 9092, "listen on 127.0.0.1:`port` (0: any free port)")
	topics := fs.String("topics", "synscope", "comma-separated `topics` to create")
	partitions := fs.Int("partitions", 12, "partitions of each topic")
	data := fs.String("data", "", "keep the log in this `dir` (survives a restart); memory when empty")
	if err := fs.Parse(os.Args[1:]); err != nil {
		os.Exit(2)
	}
	opts := []kfake.Opt{kfake.NumBrokers(1), kfake.Ports(*port), kfake.AllowAutoTopicCreation(),
		kfake.SeedTopics(int32(*partitions), strings.Split(*topics, ",")...)}
	if *data != "" {
		opts = append(opts, kfake.DataDir(*data))
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		fmt.Fprintf(os.Stderr, "fakekafka: %v\n", err)
		os.Exit(1)
	}
	fmt.Printf("fakekafka: listening on %s, topics %s with %d partitions\n", strings.Join(c.ListenAddrs(), ","), *topics, *partitions)
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	<-sig
	c.Close()
}

package main

import (
	"fmt"
	"io"

	"github.com/synscope/synscope/pkg/config"
)

func usage(w io.Writer) {
	fmt.Fprint(w, `sensor: a passive sensor for TCP SYN scans (SYN set, ACK clear) to watched ports.

It counts, per time window, the SYNs, the active sources and the sources not
seen in the lookback (new sources), and writes them as JSON Lines on stdout
or to a file. Logs go to stderr.

Usage:
  sensor -r FILE|DIR [-r ...] [flags]     offline analysis of pcap/pcapng files (plain, gzip or zstd)
  sensor FILE...                          the same
  sensor -i IFACE [flags]                 live capture (eBPF, or AF_PACKET), until SIGINT/SIGTERM
  sensor -r -                             read one capture from standard input
  sensor report [-o FILE] JSONL...        draw the records: an HTML page, or one chart as SVG or PNG
                                          (sensor help report)
  sensor collect --kafka-brokers H:P ...  the fleet's windows from sensors publishing to Kafka
                                          (sensor help collect)
  sensor completion bash|zsh|fish         a shell completion script (sensor help completion)
  sensor help [report|collect|completion] this help, or a subcommand's

Examples:
  sensor -r capture.pcap                          new sources to 445/tcp, 5-minute windows, 24 h lookback
  sensor -r day1.pcap.gz -r day2.pcapng -o out.jsonl
  sensor -r /data/captures --ports 139,445,3389 --window 1h --lookback 7d
  sensor -r capture.pcap | jq 'select(.event_type=="window") | [.window_start, .new_sources]'
  sensor -i tap0 --promisc                        span port or tap: copies of all traffic
  sensor -i eth0 --home-net 10.0.0.0/8 -o /var/log/synscope/sensor.jsonl
                                                  gateway: inbound probes and our own hosts scanning out
  sensor -i eth0 --metrics-addr 9464              ... with Prometheus metrics at http://127.0.0.1:9464/metrics
  sensor report -o report.html out.jsonl          one page: new sources, the verdict, since when
  sensor -i eth0 -o out.jsonl --kafka-brokers k1:9092,k2:9092 --kafka-spool /var/spool/synscope
                                                  ... and the same records to Kafka (docs/fleet.md)

Flags:
`)
	fs := config.FlagSet()
	fs.SetOutput(w)
	fs.PrintDefaults()
	fmt.Fprint(w, `
Every setting can also be given as an environment variable SENSOR_<FLAG> (upper
case, '-' as '_', e.g. SENSOR_LOOKBACK=7d; SENSOR_CONFIG names the file) or as a
key in the YAML file given with --config; --help, --version and --print-config
are flags only. Flags win over the environment, which wins over the file.

Exit status: 0 success; 1 the run failed; 2 a bad flag or setting;
3 finished, but some input could not be read completely (its error is logged
and in the summary record); 130 or 143 an offline run ended by SIGINT or
SIGTERM (its records so far written; a live sensor stopped so exits 0).
`)
}

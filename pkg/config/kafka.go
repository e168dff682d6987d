package config

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"
	"github.com/spf13/viper"

	"github.com/synscope/synscope/pkg/kafka"
)

// Kafka keys: the sensor's sink and `sensor collect` share them.
const (
	kKafkaBrokers  = "kafka-brokers"
	kKafkaTopic    = "kafka-topic"
	kKafkaTLS      = "kafka-tls"
	kKafkaCA       = "kafka-tls-ca"
	kKafkaCert     = "kafka-tls-cert"
	kKafkaKey      = "kafka-tls-key"
	kKafkaServer   = "kafka-tls-server-name"
	kKafkaSASL     = "kafka-sasl"
	kKafkaUser     = "kafka-user"
	kKafkaPassword = "kafka-password"
	kKafkaCompress = "kafka-compression"
	kKafkaBuffer   = "kafka-buffer"
	kKafkaSpool    = "kafka-spool"
	kKafkaSpoolMax = "kafka-spool-max"
	kKafkaTimeout  = "kafka-timeout"
	kKafkaRefresh  = "kafka-refresh"
)

// kafkaKeys are the Kafka keys a config file may set.
var kafkaKeys = []string{kKafkaBrokers, kKafkaTopic, kKafkaTLS, kKafkaCA, kKafkaCert, kKafkaKey, kKafkaServer,
	kKafkaSASL, kKafkaUser, kKafkaPassword, kKafkaCompress, kKafkaBuffer, kKafkaSpool, kKafkaSpoolMax, kKafkaTimeout, kKafkaRefresh}

// kafkaPublishOnly are the Kafka keys of a sensor's publishing alone:
// sensor collect hides their flags and refuses them on its command line
// (they did nothing there), and takes them from a config file it shares
// with the sensors without a word.
var kafkaPublishOnly = []string{kKafkaCompress, kKafkaBuffer, kKafkaSpool, kKafkaSpoolMax, kKafkaRefresh}

// addKafkaFlags adds the Kafka flags; Kafka is off until --kafka-brokers
// is given.
func addKafkaFlags(fs *pflag.FlagSet) {
	fs.StringSlice(kKafkaBrokers, nil, "also publish the records to Kafka at these `host:port`s (off when empty)")
	fs.String(kKafkaTopic, kafka.DefaultTopic, "Kafka `topic`")
	fs.Bool(kKafkaTLS, false, "connect to Kafka over TLS (implied by --kafka-tls-ca or --kafka-tls-cert)")
	fs.String(kKafkaCA, "", "trust this PEM `file` of CA certificates for Kafka (else the system's)")
	fs.String(kKafkaCert, "", "client certificate PEM `file` for Kafka mutual TLS (with --kafka-tls-key)")
	fs.String(kKafkaKey, "", "client key PEM `file` for Kafka mutual TLS")
	fs.String(kKafkaServer, "", "expected `name` in the brokers' certificates (default: the host dialled)")
	fs.String(kKafkaSASL, "", "Kafka SASL `mechanism`: plain, scram-sha-256, scram-sha-512 (off when empty)")
	fs.String(kKafkaUser, "", "Kafka SASL `user`")
	fs.String(kKafkaPassword, "", "Kafka SASL `password` (better in SENSOR_KAFKA_PASSWORD than on the command line)")
	fs.String(kKafkaCompress, "zstd", "Kafka batch compression: zstd, lz4, snappy, gzip, none")
	fs.String(kKafkaBuffer, "64MiB", "records held in memory while Kafka lags or is unreachable, at most this `size`; then the spool")
	fs.String(kKafkaSpool, "", "spool records to this `dir` when the memory buffer is full (off when empty: they are dropped and counted)")
	fs.String(kKafkaSpoolMax, "1GiB", "most `size` the spool takes on disk; beyond it records are dropped and counted")
	fs.String(kKafkaTimeout, "10s", "give up at start when no Kafka broker answers within this `long`")
	fs.String(kKafkaRefresh, "0", "publish a sighting of a still-active source at most this `often` for sensor collect (0: every window; a multiple of --window)")
}

// Kafka is the Kafka configuration, when there is one.
type Kafka struct {
	kafka.Config
	Refresh time.Duration // a sighting of an active source at most this often; 0: each window
}

// fillKafka reads and checks the Kafka keys. window is the run's window,
// which the refresh interval must be a multiple of.
func (k *Kafka) fill(v *viper.Viper, window time.Duration) error {
	var err error
	c := &k.Config
	c.Brokers = stringList(v, kKafkaBrokers)
	c.Topic = strings.TrimSpace(v.GetString(kKafkaTopic))
	if c.TLS, err = boolKey(v, kKafkaTLS); err != nil {
		return err
	}
	c.CAFile = strings.TrimSpace(v.GetString(kKafkaCA))
	c.CertFile = strings.TrimSpace(v.GetString(kKafkaCert))
	c.KeyFile = strings.TrimSpace(v.GetString(kKafkaKey))
	c.ServerName = strings.TrimSpace(v.GetString(kKafkaServer))
	if c.SASL, err = oneOf(v, kKafkaSASL, append([]string{""}, kafka.SASLMechanisms...)...); err != nil {
		return err
	}
	c.User = v.GetString(kKafkaUser)
	c.Password = v.GetString(kKafkaPassword)
	if c.Compression, err = oneOf(v, kKafkaCompress, kafka.Codecs...); err != nil {
		return err
	}
	if c.Buffer, err = size(v, kKafkaBuffer); err != nil {
		return err
	}
	c.SpoolDir = strings.TrimSpace(v.GetString(kKafkaSpool))
	if c.SpoolMax, err = size(v, kKafkaSpoolMax); err != nil {
		return err
	}
	if c.StartTimeout, err = duration(v, kKafkaTimeout); err != nil {
		return err
	}
	if r := strings.TrimSpace(v.GetString(kKafkaRefresh)); r == "0" {
		k.Refresh = 0
	} else if d, perr := ParseDuration(r); perr == nil && d == 0 {
		k.Refresh = 0 // 0s, 0m, 0h, 0d: every window, as 0
	} else if k.Refresh, err = duration(v, kKafkaRefresh); err != nil {
		return err
	}
	if k.Refresh%window != 0 {
		return keyErr(kKafkaRefresh, fmt.Errorf("%v is not a multiple of the window (%v)", k.Refresh, window))
	}
	if len(c.Brokers) == 0 {
		return nil // off: the other keys wait unused
	}
	return keyedErr(c.Validate())
}

// yaml adds the Kafka keys to a printed configuration. The password is
// left out: a printed configuration is for sharing.
func (k *Kafka) yaml(m map[string]string) {
	c := &k.Config
	m[kKafkaBrokers] = yamlList(c.Brokers)
	m[kKafkaTopic] = quote(c.Topic)
	m[kKafkaTLS] = strconv.FormatBool(c.TLS)
	m[kKafkaCA] = quote(c.CAFile)
	m[kKafkaCert] = quote(c.CertFile)
	m[kKafkaKey] = quote(c.KeyFile)
	m[kKafkaServer] = quote(c.ServerName)
	m[kKafkaSASL] = quote(c.SASL)
	m[kKafkaUser] = quote(c.User)
	m[kKafkaPassword] = `""`
	m[kKafkaCompress] = c.Compression
	m[kKafkaBuffer] = strconv.FormatInt(c.Buffer, 10)
	m[kKafkaSpool] = quote(c.SpoolDir)
	m[kKafkaSpoolMax] = strconv.FormatInt(c.SpoolMax, 10)
	m[kKafkaTimeout] = c.StartTimeout.String()
	m[kKafkaRefresh] = k.Refresh.String()
}

// size reads a byte size: a whole number with an optional binary unit
// (KiB, MiB, GiB; K, M, G mean the same).
func size(v *viper.Viper, k string) (int64, error) {
	s := strings.TrimSpace(v.GetString(k))
	n, err := ParseSize(s)
	if err != nil {
		return 0, keyErr(k, err)
	}
	return n, nil
}

// ParseSize reads a byte size such as 64MiB, 1G or 65536.
func ParseSize(s string) (int64, error) {
	num := strings.TrimRight(s, "KMGiBkmgib")
	unit := strings.ToLower(s[len(num):])
	mult := map[string]int64{"": 1, "b": 1, "k": 1 << 10, "kib": 1 << 10, "kb": 1 << 10, "m": 1 << 20, "mib": 1 << 20, "mb": 1 << 20,
		"g": 1 << 30, "gib": 1 << 30, "gb": 1 << 30}[unit]
	n, err := strconv.ParseInt(strings.TrimSpace(num), 10, 64)
	if err != nil || mult == 0 || n < 0 || n > (1<<50)/mult {
		return 0, fmt.Errorf("%q is not a size such as 64MiB, 1GiB or 65536", s)
	}
	return n * mult, nil
}

package kafka

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

// Config is how to reach the brokers and what the sink may hold back.
type Config struct {
	Brokers []string
	Topic   string
	// TLS: TLS is used when TLS is set or any file is given. CAFile adds a
	// trust root (else the system's); CertFile and KeyFile are the
	// client's certificate for mutual TLS.
	TLS                       bool
	CAFile, CertFile, KeyFile string
	ServerName                string
	// SASL: "" (none), "plain", "scram-sha-256" or "scram-sha-512".
	SASL, User, Password string
	Compression          string // zstd, lz4, snappy, gzip, none
	// Buffer is the most bytes of records held in memory, sent or not yet
	// acknowledged; beyond it records go to the spool.
	Buffer int64
	// SpoolDir holds records the memory buffer cannot (""; no spool: they
	// are dropped and counted). SpoolMax bounds its size.
	SpoolDir string
	SpoolMax int64
	// StartTimeout bounds the wait for a broker at start.
	StartTimeout time.Duration
	// CloseTimeout bounds the wait for acknowledgements at the end.
	CloseTimeout time.Duration
}

// Defaults for what the flags leave unset.
const (
	DefaultTopic        = "synscope"
	DefaultBuffer       = 64 << 20
	DefaultSpoolMax     = 1 << 30
	DefaultStartTimeout = 10 * time.Second
	DefaultCloseTimeout = 30 * time.Second
)

// Mechanisms and codecs the settings accept, for validation and help.
var (
	SASLMechanisms = []string{"plain", "scram-sha-256", "scram-sha-512"}
	Codecs         = []string{"zstd", "lz4", "snappy", "gzip", "none"}
)

// Validate refuses settings that cannot work, naming the setting as the
// flags do.
func (c *Config) Validate() error {
	switch {
	case len(c.Brokers) == 0:
		return errors.New("kafka-brokers: give at least one host:port")
	case strings.TrimSpace(c.Topic) == "":
		return errors.New("kafka-topic: empty")
	case c.Buffer < 64<<10:
		return fmt.Errorf("kafka-buffer %d: must be at least 64KiB", c.Buffer)
	case c.SpoolDir != "" && c.SpoolMax < 1<<20:
		return fmt.Errorf("kafka-spool-max %d: must be at least 1MiB", c.SpoolMax)
	case (c.CertFile == "") != (c.KeyFile == ""):
		return errors.New("kafka-tls-cert and kafka-tls-key: give both or neither")
	case c.SASL != "" && c.User == "":
		return fmt.Errorf("kafka-sasl %s: needs kafka-user (and kafka-password)", c.SASL)
	}
	for _, b := range c.Brokers {
		host, port, err := net.SplitHostPort(b)
		if err != nil || host == "" {
			return fmt.Errorf("kafka-brokers: %q is not host:port (an IPv6 address in brackets: [2001:db8::1]:9092)", b)
		}
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			// (a port of letters or out of range failed only when the
			// first connection was tried, after --kafka-timeout: a review)
			return fmt.Errorf("kafka-brokers: %q: the port %q is not a number from 1 to 65535", b, port)
		}
	}
	if _, err := codec(c.Compression); err != nil {
		return err
	}
	if _, err := mechanism(c.SASL, c.User, c.Password); err != nil {
		return err
	}
	if c.CAFile != "" || c.CertFile != "" {
		// Read now: a missing or bad file is a setting to fix (exit
		// status 2), not a failure once the run has started.
		if _, err := c.tlsConfig(); err != nil {
			return err
		}
	}
	return nil
}

func codec(name string) (kgo.CompressionCodec, error) {
	switch name {
	case "", "zstd":
		return kgo.ZstdCompression(), nil
	case "lz4":
		return kgo.Lz4Compression(), nil
	case "snappy":
		return kgo.SnappyCompression(), nil
	case "gzip":
		return kgo.GzipCompression(), nil
	case "none":
		return kgo.NoCompression(), nil
	}
	return kgo.CompressionCodec{}, fmt.Errorf("kafka-compression %q: must be one of %s", name, strings.Join(Codecs, ", "))
}

func mechanism(name, user, pass string) (sasl.Mechanism, error) {
	switch name {
	case "":
		return nil, nil
	case "plain":
		return plain.Auth{User: user, Pass: pass}.AsMechanism(), nil
	case "scram-sha-256":
		return scram.Auth{User: user, Pass: pass}.AsSha256Mechanism(), nil
	case "scram-sha-512":
		return scram.Auth{User: user, Pass: pass}.AsSha512Mechanism(), nil
	}
	return nil, fmt.Errorf("kafka-sasl %q: must be one of %s", name, strings.Join(SASLMechanisms, ", "))
}

// ClientOpts are the options every client of this configuration shares
// (the sink's producer and the collector's consumer): brokers, TLS, SASL.
func (c *Config) ClientOpts() ([]kgo.Opt, error) {
	opts := []kgo.Opt{kgo.SeedBrokers(c.Brokers...), kgo.DialTimeout(5 * time.Second)}
	if c.TLS || c.CAFile != "" || c.CertFile != "" {
		tc, err := c.tlsConfig()
		if err != nil {
			return nil, err
		}
		opts = append(opts, kgo.DialTLSConfig(tc))
	}
	m, err := mechanism(c.SASL, c.User, c.Password)
	if err != nil {
		return nil, err
	}
	if m != nil {
		opts = append(opts, kgo.SASL(m))
	}
	return opts, nil
}

func (c *Config) tlsConfig() (*tls.Config, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: c.ServerName}
	if c.CAFile != "" {
		pem, err := os.ReadFile(c.CAFile)
		if err != nil {
			return nil, fmt.Errorf("kafka-tls-ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("kafka-tls-ca %s: no PEM certificate in it", c.CAFile)
		}
		tc.RootCAs = pool
	}
	if c.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("kafka-tls-cert/kafka-tls-key: %w", err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}

// Ping waits up to StartTimeout for a broker to answer, so a sensor or a
// collector that cannot reach any stops at once with a clear error instead
// of capturing into a buffer that will never drain.
func Ping(ctx context.Context, cl *kgo.Client, c *Config) error {
	d := c.StartTimeout
	if d <= 0 {
		d = DefaultStartTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var err error
	for {
		if err = cl.Ping(ctx); err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("kafka: no broker of %s answered within %v (check --kafka-brokers, the network, TLS and SASL settings): %w",
				strings.Join(c.Brokers, ","), d, err)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

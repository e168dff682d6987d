package kafka

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
)

// SASL PLAIN and SCRAM reach a broker that requires them; a wrong password
// is a clear error at start.
func TestSinkSASL(t *testing.T) {
	for _, mech := range []struct{ kfake, ours string }{
		{"PLAIN", "plain"}, {"SCRAM-SHA-256", "scram-sha-256"}, {"SCRAM-SHA-512", "scram-sha-512"},
	} {
		c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "synscope"), kfake.EnableSASL(),
			kfake.Superuser(mech.kfake, "sensor", "s3cret"))
		if err != nil {
			t.Fatal(err)
		}
		s, err := NewSink(context.Background(), Config{Brokers: c.ListenAddrs(), SASL: mech.ours, User: "sensor", Password: "s3cret"}, "s1")
		if err != nil {
			t.Fatalf("%s: %v", mech.ours, err)
		}
		s.Write([]byte(line(1) + "\n"))
		if err := s.Close(); err != nil || s.Counts().Delivered != 1 {
			t.Errorf("%s: %v %+v", mech.ours, err, s.Counts())
		}
		_, err = NewSink(context.Background(), Config{Brokers: c.ListenAddrs(), SASL: mech.ours, User: "sensor", Password: "wrong",
			StartTimeout: 500 * time.Millisecond}, "s1")
		// kfake drops the connection on a failed authentication (EOF), so
		// the start fails with the advice to check the SASL settings (any
		// start that times out gives it: what is checked is that a wrong
		// password fails the start at all).
		if err == nil || !strings.Contains(err.Error(), "SASL") {
			t.Errorf("%s, wrong password: %v", mech.ours, err)
		}
		c.Close()
	}
}

// TLS with the broker's CA given: records delivered; without it the
// broker's certificate is refused at start.
func TestSinkTLS(t *testing.T) {
	dir := t.TempDir()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "kfake"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	ca := filepath.Join(dir, "ca.pem")
	os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "synscope"),
		kfake.TLS(&tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s, err := NewSink(context.Background(), Config{Brokers: c.ListenAddrs(), CAFile: ca}, "s1")
	if err != nil {
		t.Fatal(err)
	}
	s.Write([]byte(line(1) + "\n"))
	if err := s.Close(); err != nil || s.Counts().Delivered != 1 {
		t.Errorf("%v %+v", err, s.Counts())
	}
	if _, err := NewSink(context.Background(), Config{Brokers: c.ListenAddrs(), TLS: true, StartTimeout: 500 * time.Millisecond}, "s1"); err == nil {
		t.Errorf("an unknown CA accepted")
	}
}

package nats_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
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

	"github.com/nats-io/nats-server/v2/server"

	"github.com/streamd/streamd/internal/natstest"
	"github.com/streamd/streamd/internal/testutil"
	"github.com/streamd/streamd/sink/nats"
)

// A throwaway nkey user, generated for these tests only.
const (
	testNKeySeed   = "SUANWFJCPPCSXSB23MEJHCGCXRKXPOHYDPOIUVRENTSXVSKFPBBPJFU2PU"
	testNKeyPublic = "UBUQHLJSMFRSEIYVQ6ZO5QBG5MR66NUIAT3CEIXJJRBSM63N2FWDORQA"
)

func TestAuth(t *testing.T) {
	t.Parallel()
	seedFile := filepath.Join(t.TempDir(), "user.nk")
	if err := os.WriteFile(seedFile, []byte(testNKeySeed+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		server func(*server.Options)
		good   nats.Config
		bad    nats.Config
	}{
		{
			name:   "user password",
			server: func(o *server.Options) { o.Username, o.Password = "streamd", "s3cret pass" },
			good:   nats.Config{User: "streamd", Password: "s3cret pass"},
			bad:    nats.Config{User: "streamd", Password: "wrong"},
		},
		{
			name:   "token",
			server: func(o *server.Options) { o.Authorization = "tok-123" },
			good:   nats.Config{Token: "tok-123"},
			bad:    nats.Config{Token: "tok-456"},
		},
		{
			name:   "nkey",
			server: func(o *server.Options) { o.Nkeys = []*server.NkeyUser{{Nkey: testNKeyPublic}} },
			good:   nats.Config{NKeySeedFile: seedFile},
			bad:    nats.Config{User: "streamd", Password: "x"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ts := natstest.Run(t, tt.server)
			checkAuth(t, ts, tt.good, tt.bad)
		})
	}
}

// checkAuth opens a sink with good credentials (must work) and with bad
// ones (Open succeeds, since the sink retries, but Ping and Write fail
// without revealing the secret).
func checkAuth(t *testing.T, ts *natstest.Server, good, bad nats.Config) {
	t.Helper()
	good.URL, bad.URL = ts.URL(), ts.URL()
	good.JetStream, good.Stream = true, "EVENTS"
	s := openSink(t, good)
	evs := testEvents(5, "persistent://acme/default/events")
	if err := s.Write(testutil.Context(t, 5*time.Second), evs); err != nil {
		t.Fatalf("Write with good credentials: %v", err)
	}
	if err := s.Ping(testutil.Context(t, 5*time.Second)); err != nil {
		t.Errorf("Ping with good credentials: %v", err)
	}
	bad.ReconnectWait = 20 * time.Millisecond
	b := openSink(t, bad)
	err := b.Ping(testutil.Context(t, time.Second))
	if err == nil {
		t.Fatal("Ping with bad credentials succeeded")
	}
	if err := b.Write(testutil.Context(t, time.Second), evs); err == nil {
		t.Error("Write with bad credentials succeeded")
	}
	for _, secret := range []string{bad.Password, bad.Token} {
		if secret != "" && strings.Contains(err.Error(), secret) {
			t.Errorf("error %q reveals the secret", err)
		}
	}
}

func TestMutualTLS(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ca, caKey := writeCert(t, dir, "ca", nil, nil)
	writeCert(t, dir, "server", ca, caKey)
	writeCert(t, dir, "client", ca, caKey)
	p := func(name string) string { return filepath.Join(dir, name) }
	tlsCfg, err := server.GenTLSConfig(&server.TLSConfigOpts{
		CertFile: p("server.pem"), KeyFile: p("server-key.pem"), CaFile: p("ca.pem"), Verify: true, Timeout: 2,
	})
	if err != nil {
		t.Fatalf("server TLS config: %v", err)
	}
	ts := natstest.Run(t, func(o *server.Options) { o.TLSConfig, o.TLSVerify, o.TLSTimeout = tlsCfg, true, 2 })
	url := strings.Replace(ts.URL(), "nats://", "tls://", 1)

	s := openSink(t, nats.Config{URL: url, TLSCAFile: p("ca.pem"), TLSCertFile: p("client.pem"), TLSKeyFile: p("client-key.pem")})
	if err := s.Write(testutil.Context(t, 5*time.Second), testEvents(3, "persistent://a/b/c")); err != nil {
		t.Fatalf("Write over mutual TLS: %v", err)
	}
	noCert := openSink(t, nats.Config{URL: url, TLSCAFile: p("ca.pem"), ReconnectWait: 20 * time.Millisecond})
	if err := noCert.Ping(testutil.Context(t, time.Second)); err == nil {
		t.Error("Ping without a client certificate succeeded")
	}
	if _, err := nats.Open(testutil.Context(t, time.Second), nats.Config{URL: url, TLSCertFile: p("client.pem")}); err == nil {
		t.Error("Open with a certificate but no key succeeded")
	}
}

// writeCert writes name.pem and name-key.pem into dir: a self-signed CA
// when parent is nil, else a leaf for 127.0.0.1 signed by parent.
func writeCert(t *testing.T, dir, name string, parent *x509.Certificate, parentKey *ecdsa.PrivateKey) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: name},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	signer, signerKey := tmpl, key
	if parent == nil {
		tmpl.IsCA, tmpl.BasicConstraintsValid = true, true
	} else {
		signer, signerKey = parent, parentKey
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, signer, &key.PublicKey, signerKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	write := func(file, typ string, b []byte) {
		if err := os.WriteFile(filepath.Join(dir, file), pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: b}), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(name+".pem", "CERTIFICATE", der)
	write(name+"-key.pem", "EC PRIVATE KEY", keyDER)
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert, key
}

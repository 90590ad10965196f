package consumer_test

import (
	"bufio"
	"bytes"
	"encoding/pem"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/streamd/streamd/consumer"
	"github.com/streamd/streamd/consumer/pulsartest"
	"github.com/streamd/streamd/internal/testutil"
)

// connectProxy is an HTTPS_PROXY on loopback: it answers CONNECT by opening
// a tunnel to target (whatever host the client named), and records the
// CONNECT requests and every byte the client sent.
type connectProxy struct {
	*tcpServer
	target string
	mu     sync.Mutex
	hosts  []string     // CONNECT targets
	heads  bytes.Buffer // CONNECT request heads, verbatim
	sent   bytes.Buffer // bytes the client sent through tunnels
}

func startConnectProxy(t *testing.T, target string) *connectProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &connectProxy{target: target}
	p.tcpServer = serveTCP(t, ln, p.tunnel)
	return p
}

func (p *connectProxy) tunnel(s *tcpServer, c net.Conn) {
	var head bytes.Buffer
	br := bufio.NewReader(io.TeeReader(c, &head))
	req, err := http.ReadRequest(br)
	p.mu.Lock()
	p.heads.Write(head.Bytes())
	if err == nil {
		p.hosts = append(p.hosts, req.Method+" "+req.Host)
	}
	p.mu.Unlock()
	if err != nil || req.Method != http.MethodConnect {
		_ = c.Close()
		return
	}
	up, err := net.Dial("tcp", p.target)
	if err != nil {
		_ = c.Close()
		return
	}
	s.track(up)
	if _, err := io.WriteString(c, "HTTP/1.1 200 Connection established\r\n\r\n"); err != nil {
		return
	}

	done := make(chan struct{})
	go func() {
		_, _ = io.Copy(c, up)
		_ = c.Close()
		close(done)
	}()
	_, _ = io.Copy(p.recorder(up), br) // the buffered rest, then the socket
	_ = up.Close()
	<-done
}

// recorder returns up, recording what is written to it.
func (p *connectProxy) recorder(up net.Conn) io.Writer {
	return writerFunc(func(b []byte) (int, error) {
		p.mu.Lock()
		p.sent.Write(b)
		p.mu.Unlock()
		return up.Write(b)
	})
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(b []byte) (int, error) { return f(b) }

// egressChild marks the re-executed test binary of TestEnterpriseEgress.
const egressChild = "STREAMD_TEST_EGRESS_CHILD"

// TestEnterpriseEgress: through an HTTPS_PROXY CONNECT proxy to a wss://
// endpoint signed by a private CA given with SSL_CERT_FILE, streamd connects
// and the key travels only inside the TLS tunnel (never in the CONNECT
// request, never in clear). crypto/x509 reads SSL_CERT_FILE and net/http
// reads the proxy variables once per process, so the client side runs in a
// re-executed test binary (TestEnterpriseEgressChild).
func TestEnterpriseEgress(t *testing.T) {
	srv := pulsartest.New(pulsartest.Config{Keys: []string{apiKey}})
	ts := httptest.NewTLSServer(srv.Handler()) // certificate for example.com, self-signed: a private CA
	t.Cleanup(func() { srv.Close(); ts.Close() })
	id := srv.Publish(allTopic, []byte(`{"Interaction":{"event":"InteractionCreated"}}`))

	ca := filepath.Join(t.TempDir(), "private-ca.pem")
	pemCA := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ts.Certificate().Raw})
	if err := os.WriteFile(ca, pemCA, 0o600); err != nil {
		t.Fatal(err)
	}
	proxy := startConnectProxy(t, ts.Listener.Addr().String())

	cmd := exec.CommandContext(testutil.Context(t, 2*wait), os.Args[0], "-test.run=^TestEnterpriseEgressChild$", "-test.v")
	for _, kv := range os.Environ() {
		if name, _, _ := strings.Cut(kv, "="); !strings.Contains(strings.ToLower(name), "proxy") && name != "SSL_CERT_FILE" && name != "SSL_CERT_DIR" {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, egressChild+"="+id, "HTTPS_PROXY=http://"+proxy.Addr(), "SSL_CERT_FILE="+ca)
	out, err := cmd.CombinedOutput()
	if err != nil || !bytes.Contains(out, []byte("--- PASS: TestEnterpriseEgressChild")) {
		t.Fatalf("client process: %v\n%s", err, out)
	}

	proxy.mu.Lock()
	defer proxy.mu.Unlock()
	if len(proxy.hosts) == 0 || proxy.hosts[0] != "CONNECT example.com:443" {
		t.Errorf("proxy saw %q, want CONNECT example.com:443", proxy.hosts)
	}
	if bytes.Contains(proxy.heads.Bytes(), []byte(apiKey)) || bytes.Contains(proxy.sent.Bytes(), []byte(apiKey)) {
		t.Error("the key crossed the proxy in clear")
	}
	if proxy.sent.Len() == 0 {
		t.Error("nothing went through the tunnel")
	}
	if got := srv.LastRequest().Header.Get("X-API-Key"); got != apiKey {
		t.Errorf("the endpoint got X-API-Key %q, want the key (inside the tunnel)", got)
	}
}

// TestEnterpriseEgressChild is the client side of TestEnterpriseEgress; it
// runs only in the re-executed binary.
func TestEnterpriseEgressChild(t *testing.T) {
	id := os.Getenv(egressChild)
	if id == "" {
		t.Skip("runs only as the client process of TestEnterpriseEgress")
	}
	cfg := consumer.Config{Endpoint: "wss://example.com", Tenant: tenant, Topic: "all", Credential: apiKey, HandshakeTimeout: wait}
	conn, err := consumer.Dial(testutil.Context(t, wait), cfg, "earliest")
	if err != nil {
		t.Fatalf("dial through the proxy: %v", err)
	}
	defer conn.CloseNow()
	ctx := testutil.Context(t, wait)
	_, frame, err := conn.Read(ctx)
	if err != nil || !bytes.Contains(frame, []byte(id)) {
		t.Fatalf("read %q, %v; want the message %s", frame, err, id)
	}
}

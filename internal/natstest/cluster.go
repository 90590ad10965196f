package natstest

import (
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// Cluster is a real NATS cluster in this process: embedded nats-servers
// with JetStream, each on its own loopback client port, routed to every
// other one on loopback cluster ports. Any node can be stopped and started
// again (same ports, same store) to take it out of the cluster for a while.
type Cluster struct {
	Nodes []*Server
}

// NewCluster starts n nodes named "n0".."n<n-1>" in cluster "streamd-test",
// each storing JetStream data under storeDir/<name>, and waits until
// JetStream has a meta leader (at most timeout). modify, if not nil, adjusts
// each node's options first.
func NewCluster(storeDir string, n int, timeout time.Duration, modify func(*server.Options)) (*Cluster, error) {
	ports, err := freePorts(n)
	if err != nil {
		return nil, err
	}

	routes := make([]string, n)
	for i, p := range ports {
		routes[i] = fmt.Sprintf("nats://127.0.0.1:%d", p)
	}

	c := &Cluster{}
	for i := range n {
		node, err := New(filepath.Join(storeDir, fmt.Sprintf("n%d", i)), func(o *server.Options) {
			o.ServerName = fmt.Sprintf("n%d", i)
			o.Cluster = server.ClusterOpts{
				Name: "streamd-test",
				Host: "127.0.0.1",
				Port: ports[i],
			}
			o.Routes = server.RoutesFromStr(strings.Join(routes, ","))
			if modify != nil {
				modify(o)
			}
		})

		if err != nil {
			c.Stop()
			return nil, fmt.Errorf("start cluster node %d: %w", i, err)
		}

		c.Nodes = append(c.Nodes, node)
	}

	if err := c.WaitLeader(timeout); err != nil {
		c.Stop()
		return nil, err
	}

	return c, nil
}

// RunCluster is NewCluster for tests: a temporary store, a fatal error if
// the cluster does not form within 30s, and a shutdown at cleanup.
func RunCluster(t testing.TB, n int) *Cluster {
	t.Helper()
	c, err := NewCluster(t.TempDir(), n, 30*time.Second, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Stop)
	return c
}

// freePorts reserves n loopback ports and releases them for the servers
// (cluster ports must be known before the first node starts).
func freePorts(n int) ([]int, error) {
	var ports []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("reserve a cluster port: %w", err)
		}
		defer l.Close()
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// WaitLeader waits until a running node is the JetStream meta leader,
// every running node is current with it, and the leader sees every running
// node as an online peer (so that R3 assets can be placed).
func (c *Cluster) WaitLeader(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if c.settled() {
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return errors.New("nats cluster: JetStream not settled within " + timeout.String())
}

func (c *Cluster) settled() bool {
	running, peers := 0, -1
	for _, node := range c.Nodes {
		srv := node.server()
		if srv == nil {
			continue
		}

		running++

		if !srv.JetStreamIsCurrent() {
			return false
		}

		if srv.JetStreamIsLeader() {
			peers = len(srv.JetStreamClusterPeers())
		}
	}

	return peers == running
}

// URL lists every node's client URL, comma separated, as STREAMD_NATS_URL
// takes them.
func (c *Cluster) URL() string {
	urls := make([]string, len(c.Nodes))
	for i, node := range c.Nodes {
		urls[i] = node.URL()
	}
	return strings.Join(urls, ",")
}

// Node returns the node named name ("n0"...), or nil.
func (c *Cluster) Node(name string) *Server {
	for _, node := range c.Nodes {
		if node.Name() == name {
			return node
		}
	}
	return nil
}

// Stop shuts every node down.
func (c *Cluster) Stop() {
	for _, node := range c.Nodes {
		node.Stop()
	}
}

package replay_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/streamd/streamd/consumer"
	"github.com/streamd/streamd/consumer/pulsartest"
	"github.com/streamd/streamd/reconnect"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// base is the publish time of the first event of a test stream.
var base = time.Date(2025, 10, 15, 9, 0, 0, 0, time.UTC)

// clock is the emulator's publish-time clock, set by the test.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

// emulator starts the proxy emulator with a settable publish clock.
func emulator(t *testing.T, cfg pulsartest.Config) (*pulsartest.Server, *clock) {
	t.Helper()
	c := &clock{t: base}
	cfg.Now = c.now
	return pulsartest.Start(t, cfg), c
}

// event is a small 8x8-shaped event of the given type.
func event(i int, typ string) []byte {
	return fmt.Appendf(nil, `{"Interaction":{"event":%q,"interactionGUID":"int-%d-phone-00-acme","queueId":%d,"callState":"CS_QUEUED"}}`, typ, i, 1000+i)
}

// publish appends n events to acme/event-v1/all, event i published at
// base+i minutes, alternating InteractionQueued and InteractionAssigned.
// It returns their ids in order.
func publish(emu *pulsartest.Server, c *clock, n int) []string {
	ids := make([]string, n)
	for i := range n {
		c.set(base.Add(time.Duration(i) * time.Minute))
		typ := "InteractionQueued"
		if i%2 == 1 {
			typ = "InteractionAssigned"
		}
		ids[i] = emu.Publish("acme/event-v1/all", event(i, typ))
	}
	return ids
}

// source is the reader configuration of acme/event-v1/all on emu.
func source(emu *pulsartest.Server) consumer.Config {
	return consumer.Config{Endpoint: emu.URL(), Tenant: "acme", Topic: "all", Credential: "eght_testkey123", PingInterval: time.Second}
}

// fastPolicy reconnects quickly.
var fastPolicy = reconnect.Policy{Min: 10 * time.Millisecond, Max: 100 * time.Millisecond}

// fileIDs returns the message ids of the envelope lines of path, in order.
func fileIDs(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var ids []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var env struct {
			MessageID string `json:"messageId"`
		}
		if err := json.Unmarshal(sc.Bytes(), &env); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		ids = append(ids, env.MessageID)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return ids
}

func equalIDs(t *testing.T, got, want []string) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d ids, want %d:\n got %v\nwant %v", len(got), len(want), got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("id %d is %s, want %s (ids must be exactly the range, in order)", i, got[i], want[i])
		}
	}
}

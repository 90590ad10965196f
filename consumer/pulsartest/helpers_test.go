package pulsartest_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/coder/websocket"
	"go.uber.org/goleak"

	"github.com/streamd/streamd/consumer/pulsartest"
	"github.com/streamd/streamd/internal/testutil"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const (
	tenant   = "acme"
	allTopic = "acme/event-v1/all"
	readerP  = "/ws/v2/reader/persistent/acme/event-v1/all"
	key      = "eght_secret"
	wait     = 5 * time.Second
)

// frame is a decoded server→client frame.
type frame struct {
	MessageID       string            `json:"messageId"`
	Payload         string            `json:"payload"`
	Properties      map[string]string `json:"properties"`
	PublishTime     string            `json:"publishTime"`
	RedeliveryCount int               `json:"redeliveryCount"`
	Key             string            `json:"key"`
	EndOfTopic      *bool             `json:"endOfTopic"`
	raw             []byte
}

func (f frame) payload(t *testing.T) string {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(f.Payload)
	if err != nil {
		t.Fatalf("payload not base64: %v", err)
	}
	return string(b)
}

// client is a plain coder/websocket client that reads frames in the
// background (so pings and pongs are processed).
type client struct {
	t      *testing.T
	c      *websocket.Conn
	frames chan frame
	done   chan struct{}
	err    error // read error, valid after done
}

// dialRaw dials path?query with the given headers and returns the raw
// result.
func dialRaw(t *testing.T, s *pulsartest.Server, path, rawQuery string, h http.Header) (*websocket.Conn, *http.Response, error) {
	t.Helper()
	u := s.URL() + path
	if rawQuery != "" {
		u += "?" + rawQuery
	}
	if h == nil {
		h = http.Header{"X-Api-Key": {key}}
	}
	c, resp, err := websocket.Dial(testutil.Context(t, wait), u, &websocket.DialOptions{HTTPHeader: h})
	if resp != nil && resp.Body != nil {
		_ = resp.Body.Close()
	}
	return c, resp, err
}

// status dials and returns the handshake's HTTP status.
func status(t *testing.T, s *pulsartest.Server, path, rawQuery string, h http.Header) int {
	t.Helper()
	c, resp, err := dialRaw(t, s, path, rawQuery, h)
	if err == nil {
		_ = c.CloseNow()
		return http.StatusSwitchingProtocols
	}
	if resp == nil {
		t.Fatalf("dial %s: %v", path, err)
	}
	return resp.StatusCode
}

func dial(t *testing.T, s *pulsartest.Server, path string, q url.Values) *client {
	t.Helper()
	c, _, err := dialRaw(t, s, path, q.Encode(), nil)
	if err != nil {
		t.Fatalf("dial %s: %v", path, err)
	}
	return newClient(t, c)
}

func newClient(t *testing.T, c *websocket.Conn) *client {
	c.SetReadLimit(16 << 20)
	cl := &client{t: t, c: c, frames: make(chan frame, 4096), done: make(chan struct{})}
	go func() {
		defer close(cl.done)
		for {
			_, data, err := c.Read(context.Background())
			if err != nil {
				cl.err = err
				return
			}
			f := frame{raw: data}
			_ = json.Unmarshal(data, &f)
			cl.frames <- f
		}
	}()
	t.Cleanup(func() {
		_ = c.CloseNow()
		<-cl.done
	})
	return cl
}

func (cl *client) next() frame {
	cl.t.Helper()
	select {
	case f := <-cl.frames:
		return f
	case <-cl.done:
		select {
		case f := <-cl.frames:
			return f
		default:
		}
		cl.t.Fatalf("connection ended: %v", cl.err)
	case <-time.After(wait):
		cl.t.Fatal("no frame within timeout")
	}
	return frame{}
}

func (cl *client) send(v any) {
	cl.t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		cl.t.Fatal(err)
	}
	cl.sendRaw(b)
}

func (cl *client) sendRaw(b []byte) {
	cl.t.Helper()
	if err := cl.c.Write(testutil.Context(cl.t, wait), websocket.MessageText, b); err != nil {
		cl.t.Fatalf("write: %v", err)
	}
}

func (cl *client) ack(id string) { cl.send(map[string]string{"messageId": id}) }

// endOfTopic asks isEndOfTopic and requires the reply to be the next frame,
// proving no message frame was pending before it.
func (cl *client) endOfTopic() {
	cl.t.Helper()
	cl.send(map[string]string{"type": "isEndOfTopic"})
	f := cl.next()
	if f.EndOfTopic == nil || *f.EndOfTopic {
		cl.t.Fatalf("want {\"endOfTopic\":false}, got %s", f.raw)
	}
}

// closed waits for the connection to end and returns its close status
// (-1 when no close frame arrived).
func (cl *client) closed() websocket.StatusCode {
	cl.t.Helper()
	select {
	case <-cl.done:
	case <-time.After(wait):
		cl.t.Fatal("connection still open")
	}
	var ce websocket.CloseError
	if errors.As(cl.err, &ce) {
		return ce.Code
	}
	return -1
}

func publishN(s *pulsartest.Server, topic string, n int) []string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = s.Publish(topic, []byte(`{"n":`+itoa(i)+`}`))
	}
	return ids
}

func itoa(i int) string { b, _ := json.Marshal(i); return string(b) }

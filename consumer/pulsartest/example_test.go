package pulsartest_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"

	"github.com/coder/websocket"

	"github.com/streamd/streamd/consumer/pulsartest"
)

// A reader resumes after a stored message id; the id must be
// percent-encoded because it contains '+', '/' and '='.
func Example() {
	s := pulsartest.New(pulsartest.Config{Keys: []string{"eght_demo"}})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, ln) }()
	defer func() { cancel(); <-done }()

	first := s.Publish("acme/event-v1/all", []byte(`{"n":1}`))
	s.Publish("acme/event-v1/all", []byte(`{"n":2}`))

	u := "ws://" + ln.Addr().String() + "/ws/v2/reader/persistent/acme/event-v1/all?" +
		url.Values{"messageId": {first}}.Encode()
	c, _, err := websocket.Dial(ctx, u, &websocket.DialOptions{HTTPHeader: http.Header{"X-Api-Key": {"eght_demo"}}})
	if err != nil {
		panic(err)
	}
	defer c.CloseNow()
	_, data, err := c.Read(ctx)
	if err != nil {
		panic(err)
	}
	var f frame
	if err := json.Unmarshal(data, &f); err != nil {
		panic(err)
	}
	payload, _ := base64.StdEncoding.DecodeString(f.Payload)
	fmt.Println(string(payload), f.RedeliveryCount)
	// Output: {"n":2} 0
}

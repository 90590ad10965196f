package pulsartest_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/coder/websocket"

	"github.com/streamd/streamd/consumer/pulsartest"
)

var benchEvent = []byte(`{"Interaction":{"callState":"CS_QUEUED","event":"InteractionQueued","interactionGUID":"int-184a63564dc-ohWfVIbHJz2Hr2JFhAfdlb4Fa-phone-00-acmecorp01","msgInfo":{},"priority":50,"queueId":1162}}`)

func BenchmarkPublish(b *testing.B) {
	s := pulsartest.New(pulsartest.Config{RetainMessages: 10000})
	defer s.Close()
	b.ReportAllocs()
	for b.Loop() {
		s.Publish(allTopic, benchEvent)
	}
}

// BenchmarkReaderDelivery measures publish → frame → client read → ack over
// loopback with a full 1000-message window.
func BenchmarkReaderDelivery(b *testing.B) {
	s := pulsartest.Start(b, pulsartest.Config{})
	ctx := context.Background()
	c, _, err := websocket.Dial(ctx, s.URL()+readerP, &websocket.DialOptions{HTTPHeader: http.Header{"X-Api-Key": {key}}})
	if err != nil {
		b.Fatal(err)
	}
	defer c.CloseNow()
	if err := s.WaitSessions(ctx, 1); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	go func() {
		for range b.N {
			s.Publish(allTopic, benchEvent)
		}
	}()
	for range b.N {
		if _, _, err := c.Read(ctx); err != nil {
			b.Fatal(err)
		}
		if err := c.Write(ctx, websocket.MessageText, []byte(`{"messageId":"x"}`)); err != nil {
			b.Fatal(err)
		}
	}
}

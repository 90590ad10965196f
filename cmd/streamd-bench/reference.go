package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"syscall"

	"github.com/coder/websocket"
)

// referenceMain is the reference client: the minimum any client of the
// proxy must do per message — read the frame, decode the wrapper JSON and
// the base64 payload, check the payload is JSON, ack it, discard it. One
// goroutine, no batching, no sinks, no checkpoints. It runs until SIGTERM.
func referenceMain(args []string) int {
	fs := flag.NewFlagSet(refMode, flag.ContinueOnError)
	url := fs.String("url", "", "reader URL")

	if err := fs.Parse(args); err != nil {
		return 2
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()

	if err := reference(ctx, *url, os.Getenv("BENCH_API_KEY")); err != nil && ctx.Err() == nil {
		fmt.Fprintln(os.Stderr, "reference client:", err)
		return 1
	}

	return 0
}

func reference(ctx context.Context, url, key string) error {
	conn, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{HTTPHeader: http.Header{"X-API-Key": {key}}})
	if err != nil {
		return fmt.Errorf("dial: %w", err)
	}

	defer conn.CloseNow()
	conn.SetReadLimit(16 << 20)
	var (
		frame struct {
			MessageID string `json:"messageId"`
			Payload   string `json:"payload"`
		}
		ack []byte
	)

	for {
		_, data, err := conn.Read(ctx)
		if err != nil {
			if ctx.Err() != nil {
				_ = conn.Close(websocket.StatusNormalClosure, "")
			}
			return fmt.Errorf("read frame: %w", err)
		}

		frame.MessageID, frame.Payload = "", ""
		if err := json.Unmarshal(data, &frame); err != nil {
			return fmt.Errorf("decode frame: %w", err)
		}

		if frame.MessageID == "" || frame.Payload == "" {
			continue // control frame
		}

		event, err := base64.StdEncoding.DecodeString(frame.Payload)
		if err != nil || !json.Valid(event) {
			return fmt.Errorf("message %s: payload is not base64 JSON", frame.MessageID)
		}

		ack = append(ack[:0], `{"messageId":"`...)
		ack = append(ack, frame.MessageID...)
		ack = append(ack, `"}`...)
		if err := conn.Write(ctx, websocket.MessageText, ack); err != nil {
			return fmt.Errorf("write ack: %w", err)
		}
	}
}

package replay

import (
	"context"
	"errors"
	"fmt"

	"github.com/coder/websocket"

	"github.com/streamd/streamd/consumer"
	"github.com/streamd/streamd/internal/redact"
)

// ErrRefused: the proxy refused the handshake for a reason that retrying
// cannot fix (401, 403, 404, 400).
var ErrRefused = errors.New("replay: the proxy refused the connection")

// probe does one reader handshake at "latest" so that a refused credential
// or a missing topic fails a one-shot command at once, instead of being
// retried forever like the daemon does. Transient failures pass: the
// Topic's reconnect loop deals with them.
func probe(ctx context.Context, src consumer.Config) error {
	src.Mode = consumer.ModeReader
	conn, err := consumer.Dial(ctx, src, "latest")
	if err == nil {
		_ = conn.Close(websocket.StatusNormalClosure, "")
		return nil
	}
	if !consumer.Refused(err) {
		return nil
	}
	msg := fmt.Errorf("%w: %s: %w", ErrRefused, src.Name(), err)
	if hint := consumer.Hint(err); hint != "" {
		msg = fmt.Errorf("%w (%s)", msg, hint)
	}
	return redact.New(src.Credential).Error(msg)
}

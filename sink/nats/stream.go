package nats

import (
	"context"
	"errors"
	"fmt"

	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// newJetStream returns the JetStream context of nc.
func (s *Sink) newJetStream(nc *natsgo.Conn) (jetstream.JetStream, error) {
	maxPending := 4000 // the client's default; our own window is s.slots
	if s.cfg.MaxInflight > maxPending {
		maxPending = s.cfg.MaxInflight
	}

	js, err := jetstream.New(nc,
		jetstream.WithPublishAsyncMaxPending(maxPending),
		// Frees the client's bookkeeping for acks nobody waits for any more
		// (a Write that gave up); such events are retried and deduplicated.
		jetstream.WithPublishAsyncTimeout(2*s.cfg.WriteTimeout),
		jetstream.WithDefaultTimeout(s.cfg.AckTimeout),
	)

	if err != nil {
		return nil, fmt.Errorf("open jetstream: %w", err)
	}

	return js, nil
}

// openStream ensures the stream at Open when a server is already reachable.
// Only a stream that cannot be used (wrong subjects, bad config) fails Open;
// connectivity problems are retried by Write.
func (s *Sink) openStream(ctx context.Context) error {
	c := s.conn
	if c.js == nil || s.cfg.Stream == "" || !c.nc.IsConnected() {
		return nil
	}
	if err := s.ensureStream(ctx, c.js); err != nil {
		if errors.Is(err, ErrStreamSubjects) || isConfigError(err) {
			return err
		}
		s.log.Warn("nats stream not ensured yet; will retry on write", "stream", s.cfg.Stream, "error", err)
	}
	return nil
}

// answerCtx bounds a wait for one server answer: it ends after AckTimeout
// or when the connection drops, since an answer due on the old connection
// never comes.
func (s *Sink) answerCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.AckTimeout)
	lost := s.lostCh()
	go func() {
		select {
		case <-lost:
			cancel()
		case <-ctx.Done():
		}
	}()
	return ctx, cancel
}

// isConfigError reports JetStream API errors that retrying cannot fix, as
// opposed to timeouts and disconnects.
func isConfigError(err error) bool {
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) {
		return apiErr.Code == 400
	}
	var jsErr jetstream.JetStreamError
	return errors.As(err, &jsErr) && jsErr.APIError() != nil && jsErr.APIError().Code == 400
}

// ensureStream makes sure s.cfg.Stream exists and covers the subjects,
// creating it when missing. An existing stream's config is never changed.
// It is a no-op once it succeeded, until a publish finds no stream or waits
// in vain for its PubAck. Each API request is bounded by AckTimeout and
// ends when the connection drops, so a request whose answer was lost with
// a connection (a lame-duck restart) stalls nothing for long.
func (s *Sink) ensureStream(ctx context.Context, js jetstream.JetStream) error {
	if s.cfg.Stream == "" || s.streamReady.Load() {
		return nil
	}

	select {
	case <-s.streamSem:
	case <-ctx.Done():
		return fmt.Errorf("get stream %q: %w", s.cfg.Stream, ctx.Err())
	}

	defer func() { s.streamSem <- struct{}{} }()

	if s.streamReady.Load() {
		return nil
	}

	ctx, cancel := s.answerCtx(ctx)
	defer cancel()
	want := s.tmpl.pattern()
	str, err := js.Stream(ctx, s.cfg.Stream)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		str, err = s.createStream(ctx, js, want)
	}

	if err != nil {
		return fmt.Errorf("get stream %q: %w", s.cfg.Stream, err)
	}

	info := str.CachedInfo()
	for _, subj := range info.Config.Subjects {
		if covers(subj, want) {
			if info.Config.Duplicates < s.cfg.DuplicateWindow {
				s.log.Warn("nats stream duplicate window is shorter than configured; not changing it",
					"stream", s.cfg.Stream, "stream_window", info.Config.Duplicates, "configured_window", s.cfg.DuplicateWindow)
			}
			s.streamReady.Store(true)
			return nil
		}
	}

	return fmt.Errorf("check stream %q: subjects %q do not include %q: %w",
		s.cfg.Stream, info.Config.Subjects, want, ErrStreamSubjects)
}

// createStream creates the stream with streamd's defaults: file storage,
// limits retention, and the configured duplicate window.
func (s *Sink) createStream(ctx context.Context, js jetstream.JetStream, subject string) (jetstream.Stream, error) {
	cfg := jetstream.StreamConfig{
		Name:        s.cfg.Stream,
		Description: "8x8 events published by streamd",
		Subjects:    []string{subject},
		Storage:     jetstream.FileStorage,
		Retention:   jetstream.LimitsPolicy,
		Duplicates:  s.cfg.DuplicateWindow,
	}

	str, err := js.CreateStream(ctx, cfg)
	if errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
		return js.Stream(ctx, s.cfg.Stream) // created concurrently
	}

	if err != nil {
		return nil, fmt.Errorf("create stream: %w", err)
	}

	s.log.Info("nats stream created", "stream", s.cfg.Stream, "subject", subject, "duplicate_window", s.cfg.DuplicateWindow)

	return str, nil
}

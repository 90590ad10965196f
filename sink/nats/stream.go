package nats

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"
)

// openJetStream sets up the JetStream context and, when a server is already
// reachable, ensures the stream. Only a stream that cannot be used (wrong
// subjects, bad config) fails Open; connectivity problems are retried by
// Write.
func (s *Sink) openJetStream(ctx context.Context) error {
	maxPending := 4000 // the client's default; our own window is s.slots
	if s.cfg.MaxInflight > maxPending {
		maxPending = s.cfg.MaxInflight
	}
	js, err := jetstream.New(s.nc,
		jetstream.WithPublishAsyncMaxPending(maxPending),
		// Frees the client's bookkeeping for acks nobody waits for any more
		// (a Write that gave up); such events are retried and deduplicated.
		jetstream.WithPublishAsyncTimeout(2*s.cfg.WriteTimeout),
	)
	if err != nil {
		return fmt.Errorf("open jetstream: %w", err)
	}
	s.js = js
	s.slots = make(chan struct{}, s.cfg.MaxInflight)
	if s.cfg.Stream == "" || !s.nc.IsConnected() {
		return nil
	}
	if err := s.ensureStream(ctx); err != nil {
		if errors.Is(err, ErrStreamSubjects) || isConfigError(err) {
			return err
		}
		s.log.Warn("nats stream not ensured yet; will retry on write", "stream", s.cfg.Stream, "error", err)
	}
	return nil
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
// It is a no-op once it succeeded, until a publish finds no stream.
func (s *Sink) ensureStream(ctx context.Context) error {
	if s.cfg.Stream == "" || s.streamReady.Load() {
		return nil
	}
	s.streamMu.Lock()
	defer s.streamMu.Unlock()
	if s.streamReady.Load() {
		return nil
	}
	want := s.tmpl.pattern()
	str, err := s.js.Stream(ctx, s.cfg.Stream)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		str, err = s.createStream(ctx, want)
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
func (s *Sink) createStream(ctx context.Context, subject string) (jetstream.Stream, error) {
	cfg := jetstream.StreamConfig{
		Name:        s.cfg.Stream,
		Description: "8x8 events published by streamd",
		Subjects:    []string{subject},
		Storage:     jetstream.FileStorage,
		Retention:   jetstream.LimitsPolicy,
		Duplicates:  s.cfg.DuplicateWindow,
	}
	str, err := s.js.CreateStream(ctx, cfg)
	if errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
		return s.js.Stream(ctx, s.cfg.Stream) // created concurrently
	}
	if err != nil {
		return nil, fmt.Errorf("create stream: %w", err)
	}
	s.log.Info("nats stream created", "stream", s.cfg.Stream, "subject", subject, "duplicate_window", s.cfg.DuplicateWindow)
	return str, nil
}

package main

import (
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/lmittmann/tint"

	"github.com/streamd/streamd/consumer"
)

// newLogger builds the logger: tint on a terminal (or LOG_FORMAT=text),
// JSON otherwise. Logs always go to stderr, never to stdout.
func newLogger(w io.Writer, format, level string) *slog.Logger {
	var lvl slog.Level
	_ = lvl.UnmarshalText([]byte(level))
	if format == "text" || format == "auto" && isTerminal(w) {
		return slog.New(tint.NewTextHandler(w, &tint.Options{
			Level:       lvl,
			TimeFormat:  time.TimeOnly,
			NoColor:     format == "text" && !isTerminal(w),
			ReplaceAttr: redactAttr,
		}))
	}
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{
		Level:       lvl,
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr { return durationString(groups, redactAttr(groups, a)) },
	}))
}

// redactAttr removes URL userinfo (consumer.Redact) from every string and
// error value, the message included, so no user:password@ of a URL reaches
// a log line whatever logged it. Secrets without a URL around them are each
// component's own business (consumer.Redact with the secret).
func redactAttr(_ []string, a slog.Attr) slog.Attr {
	switch a.Value.Kind() {
	case slog.KindString:
		if s := a.Value.String(); strings.Contains(s, "@") {
			return slog.String(a.Key, consumer.Redact(s))
		}
	case slog.KindAny:
		if err, ok := a.Value.Any().(error); ok && strings.Contains(err.Error(), "@") {
			return slog.String(a.Key, consumer.Redact(err.Error()))
		}
	}
	return a
}

// durationString writes durations as Go duration strings ("1.5s") rather
// than slog's default for JSON, integer nanoseconds, which nobody reads
// right in a log line.
func durationString(_ []string, a slog.Attr) slog.Attr {
	if a.Value.Kind() == slog.KindDuration {
		return slog.String(a.Key, a.Value.Duration().String())
	}
	return a
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

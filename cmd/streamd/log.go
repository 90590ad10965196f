package main

import (
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/lmittmann/tint"

	"github.com/streamd/streamd/internal/redact"
)

// newLogger builds the logger: tint on a terminal (or LOG_FORMAT=text),
// JSON otherwise. Logs always go to stderr, never to stdout. Every string
// and error value loses secrets (in any encoding, see internal/redact) and
// URL userinfo.
func newLogger(w io.Writer, format, level string, secrets ...string) *slog.Logger {
	replace := redactAttr(redact.New(secrets...), len(secrets) > 0)
	var lvl slog.Level
	_ = lvl.UnmarshalText([]byte(level))
	if format == "text" || format == "auto" && isTerminal(w) {
		return slog.New(tint.NewTextHandler(w, &tint.Options{
			Level:       lvl,
			TimeFormat:  time.TimeOnly,
			NoColor:     format == "text" && !isTerminal(w),
			ReplaceAttr: replace,
		}))
	}

	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{
		Level:       lvl,
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr { return durationString(groups, replace(groups, a)) },
	}))
}

// redactAttr returns a slog.HandlerOptions.ReplaceAttr that passes every
// string and error value, the message included, through r, so no secret
// and no user:password@ of a URL reaches a log line whatever logged it.
// Without known secrets only values holding an '@' can need it.
func redactAttr(r redact.Redactor, secrets bool) func([]string, slog.Attr) slog.Attr {
	return func(_ []string, a slog.Attr) slog.Attr {
		switch a.Value.Kind() {
		case slog.KindString:
			if s := a.Value.String(); secrets || strings.Contains(s, "@") {
				return slog.String(a.Key, r.String(s))
			}
		case slog.KindAny:
			if err, ok := a.Value.Any().(error); ok && (secrets || strings.Contains(err.Error(), "@")) {
				return slog.String(a.Key, r.String(err.Error()))
			}
		}

		return a
	}
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

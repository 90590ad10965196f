package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"log/slog"
	"net/url"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestJSONLogDurations: durations appear in JSON logs as Go duration
// strings, also inside groups, not as integer nanoseconds.
func TestJSONLogDurations(t *testing.T) {
	var buf bytes.Buffer
	log := newLogger(&buf, "json", "info")
	log.Info("retrying", "retry_in", 1500*time.Millisecond, slog.Group("sink", "timeout", 30*time.Second))
	var rec struct {
		RetryIn any `json:"retry_in"`
		Sink    struct {
			Timeout any `json:"timeout"`
		} `json:"sink"`
	}
	if err := json.Unmarshal(buf.Bytes(), &rec); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, buf.String())
	}
	if rec.RetryIn != "1.5s" || rec.Sink.Timeout != "30s" {
		t.Errorf("durations logged as %v and %v, want \"1.5s\" and \"30s\":\n%s", rec.RetryIn, rec.Sink.Timeout, buf.String())
	}
}

var snakeCase = regexp.MustCompile(`^[a-z][a-z0-9]*(_[a-z0-9]+)*$`)

// TestLogKeys: every slog key written in this package is snake_case, and
// errors go under "error" (never "err"). It reads the source: calls of
// Debug, Info, Warn, Error (message first) and With whose key arguments
// are string literals.
func TestLogKeys(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	checked := 0
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			for _, key := range logKeys(n) {
				checked++
				if key == "err" || !snakeCase.MatchString(key) {
					t.Errorf("%s: log key %q: want snake_case, and \"error\" for errors", fset.Position(n.Pos()), key)
				}
			}
			return true
		})
	}
	if checked < 10 {
		t.Fatalf("found only %d log keys; is the scan broken?", checked)
	}
}

// logKeys returns the literal keys of n if it is a slog call.
func logKeys(n ast.Node) []string {
	call, ok := n.(*ast.CallExpr)
	if !ok {
		return nil
	}
	sel, ok := call.Fun.(*ast.SelectorExpr)
	if !ok {
		return nil
	}
	first := 1 // after the message
	switch sel.Sel.Name {
	case "Debug", "Info", "Warn", "Error":
	case "With":
		first = 0
	default:
		return nil
	}
	var keys []string
	for i := first; i < len(call.Args); i += 2 {
		lit, ok := call.Args[i].(*ast.BasicLit)
		if !ok || lit.Kind != token.STRING {
			break // an slog.Attr or a variable: pairs end here
		}
		key, err := strconv.Unquote(lit.Value)
		if err == nil {
			keys = append(keys, key)
		}
	}
	return keys
}

// TestLogsRedactURLUserinfo: a URL with user:password@ in a message, a
// string or an error is logged without it, in JSON and text.
func TestLogsRedactURLUserinfo(t *testing.T) {
	for _, format := range []string{"json", "text"} {
		var buf bytes.Buffer
		log := newLogger(&buf, format, "info")
		log.Info("connect nats://u:logS3cret@h1 failed", "url", "tls://u:logS3cret@h2:4222",
			"error", fmt.Errorf("dial nats://u:logS3cret@h3: refused"))
		out := buf.String()
		if strings.Contains(out, "logS3cret") || strings.Count(out, "REDACTED@h") != 3 {
			t.Errorf("%s: %s", format, out)
		}
	}
}

// TestLogsRedactSecretsInAnyEncoding: the configured credential, a Contact
// Center token, leaves no trace in a log line raw, query-escaped, decoded
// to user:password or as the password alone, in JSON and text.
func TestLogsRedactSecretsInAnyEncoding(t *testing.T) {
	const pair = "agent7:tok/S3cret+pw"
	token := base64.StdEncoding.EncodeToString([]byte(pair))
	for _, format := range []string{"json", "text"} {
		var buf bytes.Buffer
		log := newLogger(&buf, format, "info", token, "")
		log.Info("echoed "+token, "url", "wss://h/?x-api-key="+url.QueryEscape(token),
			"error", fmt.Errorf("auth %s failed", pair), "body", "password tok/S3cret+pw")
		out := buf.String()
		for _, leak := range []string{token, url.QueryEscape(token), "agent7", "S3cret"} {
			if strings.Contains(out, leak) {
				t.Errorf("%s: %q logged: %s", format, leak, out)
			}
		}
	}
}

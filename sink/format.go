package sink

import (
	"bytes"
	"fmt"
	"strconv"
	"unicode/utf8"
)

// Format selects how the stdout and file sinks render an event as a line.
type Format int

const (
	// FormatEnvelope renders the Pulsar metadata around the event.
	FormatEnvelope Format = iota
	// FormatEvent renders only the decoded event JSON.
	FormatEvent
)

// ParseFormat parses "envelope" or "event".
func ParseFormat(s string) (Format, error) {
	switch s {
	case "envelope", "":
		return FormatEnvelope, nil
	case "event":
		return FormatEvent, nil
	}
	return 0, fmt.Errorf("unknown format %q (want envelope or event)", s)
}

// String returns the configuration name of f.
func (f Format) String() string {
	if f == FormatEvent {
		return "event"
	}
	return "envelope"
}

// AppendLine appends e rendered in format f followed by a newline.
func AppendLine(dst []byte, f Format, e *Event) []byte {
	if f == FormatEvent {
		dst = appendRawJSON(dst, e.Payload)
	} else {
		dst = AppendEnvelope(dst, e)
	}
	return append(dst, '\n')
}

// AppendEnvelope appends the envelope object for e (without a newline):
//
//	{"messageId":…,"topic":…,"publishTime":…,"redeliveryCount":…,"properties":{…},["key":…,]"eventType":…,"event":{…}}
//
// properties and event are copied verbatim, except that CR and LF (only
// possible as whitespace in valid JSON) become spaces.
func AppendEnvelope(dst []byte, e *Event) []byte {
	dst = append(dst, `{"messageId":`...)
	dst = appendJSONString(dst, e.MessageID)
	dst = append(dst, `,"topic":`...)
	dst = appendJSONString(dst, e.Topic)
	dst = append(dst, `,"publishTime":`...)
	dst = appendJSONString(dst, e.PublishTime)
	dst = append(dst, `,"redeliveryCount":`...)
	dst = strconv.AppendInt(dst, int64(e.RedeliveryCount), 10)
	dst = append(dst, `,"properties":`...)
	if len(e.Properties) == 0 {
		dst = append(dst, "{}"...)
	} else {
		dst = appendRawJSON(dst, e.Properties)
	}

	if e.Key != "" {
		dst = append(dst, `,"key":`...)
		dst = appendJSONString(dst, e.Key)
	}

	dst = append(dst, `,"eventType":`...)
	dst = appendJSONString(dst, e.EventType)
	dst = append(dst, `,"event":`...)
	dst = appendRawJSON(dst, e.Payload)
	return append(dst, '}')
}

// appendRawJSON appends the valid JSON raw, replacing CR and LF by spaces so
// that a pretty-printed value cannot break a JSON line. In valid JSON they
// can only be insignificant whitespace (inside strings they must be escaped).
func appendRawJSON(dst, raw []byte) []byte {
	if bytes.IndexByte(raw, '\n') < 0 && bytes.IndexByte(raw, '\r') < 0 {
		return append(dst, raw...)
	}
	start := len(dst)
	dst = append(dst, raw...)
	for i, c := range dst[start:] {
		if c == '\n' || c == '\r' {
			dst[start+i] = ' '
		}
	}
	return dst
}

// appendJSONString appends s as a JSON string literal. Control characters are
// escaped and invalid UTF-8 is replaced by U+FFFD, as encoding/json does.
func appendJSONString(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}

			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}

			i++
			start = i
			continue
		}

		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}

		i += size
	}

	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

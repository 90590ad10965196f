package replay

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/streamd/streamd/sink"
)

// ANSI colours of a tail line on a terminal.
const (
	ansiReset   = "\x1b[0m"
	ansiDim     = "\x1b[2m"
	ansiCyan    = "\x1b[36m"
	ansiYellow  = "\x1b[33m"
	ansiMagenta = "\x1b[35m"
)

// Column widths of a tail line: the longest common values fit (an agent id
// is "ag" + 22 characters; CS_DISCONNECTED is 15).
const (
	widthType  = 28
	widthAgent = 24
	widthQueue = 7
	widthState = 15
)

// Printer is a sink that prints one line per event for a person:
//
//	TIME          TYPE                         AGENT                     QUEUE    STATE            INTERACTION
//	09:30:00.000  InteractionQueued            -                         1162     CS_QUEUED        int-…-phone-01-tenant01
//
// The time is the publish time in Location, with a "--- 2025-10-15 ---"
// line whenever the date changes; missing fields print as "-". STATE is the
// interaction's callState or the agent's newState. With JSON set it prints
// the envelope (sink.AppendEnvelope) instead. Safe for concurrent use.
type Printer struct {
	Out      io.Writer
	JSON     bool
	Color    bool
	Location *time.Location // nil means UTC

	mu     sync.Mutex
	header bool
	day    string
	buf    []byte
}

var _ sink.Sink = (*Printer)(nil)

// Write prints batch.
func (p *Printer) Write(_ context.Context, batch []*sink.Event) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.buf = p.buf[:0]
	for _, ev := range batch {
		if p.JSON {
			p.buf = append(sink.AppendEnvelope(p.buf, ev), '\n')
			continue
		}
		p.appendLine(ev)
	}
	_, err := p.Out.Write(p.buf)
	return err
}

func (p *Printer) appendLine(ev *sink.Event) {
	loc := p.Location
	if loc == nil {
		loc = time.UTC
	}
	if !p.header {
		p.header = true
		p.appendColumns("TIME        ", "TYPE", "AGENT", "QUEUE", "STATE", "INTERACTION", "")
	}
	at, clock := "-", "-           "
	if !ev.Published.IsZero() {
		t := ev.Published.In(loc)
		at, clock = t.Format(time.DateOnly), t.Format("15:04:05.000")
	}
	if at != p.day && at != "-" {
		p.day = at
		p.buf = append(p.buf, p.paint(ansiDim, "--- "+at+" ---")...)
		p.buf = append(p.buf, '\n')
	}
	f := fieldsOf(ev.Payload)
	typ := clean(ev.EventType)
	p.appendColumns(p.paint(ansiDim, clock), typ, f.agent, f.queue, f.state, f.interaction, typeColour(typ))
}

// appendColumns renders one aligned line; typ is painted with colour.
func (p *Printer) appendColumns(clock, typ, agent, queue, state, interaction, colour string) {
	b := append(p.buf, clock...)
	b = append(b, "  "...)
	b = append(b, p.paint(colour, pad(typ, widthType))...)
	b = append(b, ' ')
	b = append(b, pad(dash(agent), widthAgent)...)
	b = append(b, ' ')
	b = append(b, pad(dash(queue), widthQueue)...)
	b = append(b, ' ')
	b = append(b, pad(dash(state), widthState)...)
	b = append(b, ' ')
	b = append(b, dash(interaction)...)
	p.buf = append(b, '\n')
}

func (p *Printer) paint(colour, s string) string {
	if !p.Color || colour == "" {
		return s
	}
	return colour + s + ansiReset
}

// Close does nothing.
func (p *Printer) Close(context.Context) error { return nil }

func typeColour(t string) string {
	switch {
	case strings.HasPrefix(t, "Agent"):
		return ansiYellow
	case strings.HasPrefix(t, "Interaction"), strings.HasPrefix(t, "Line"), t == "RecordingStatus":
		return ansiCyan
	}
	return ansiMagenta
}

func pad(s string, n int) string {
	if len(s) >= n {
		return s
	}
	return s + strings.Repeat(" ", n-len(s))
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// fields are what people look for in an event (8x8 doc §5.2).
type fields struct{ interaction, queue, agent, state string }

// fieldsOf reads the fields from the one object that an 8x8 event's family
// key wraps ({"Interaction": {...}}), or from a flat object. Values may be
// strings or numbers; anything else is left out.
func fieldsOf(payload []byte) fields {
	var inner struct {
		InteractionGUID json.RawMessage `json:"interactionGUID"`
		QueueID         json.RawMessage `json:"queueId"`
		QueueList       json.RawMessage `json:"queueList"`
		AgentID         json.RawMessage `json:"agentId"`
		CallState       json.RawMessage `json:"callState"`
		NewState        json.RawMessage `json:"newState"`
	}
	var wrapper map[string]json.RawMessage
	obj := []byte(payload)
	if json.Unmarshal(payload, &wrapper) == nil && len(wrapper) == 1 {
		for _, v := range wrapper {
			if bytes.HasPrefix(bytes.TrimSpace(v), []byte("{")) {
				obj = v
			}
		}
	}
	if json.Unmarshal(obj, &inner) != nil {
		return fields{}
	}
	f := fields{
		interaction: scalar(inner.InteractionGUID),
		queue:       scalar(inner.QueueID),
		agent:       scalar(inner.AgentID),
		state:       scalar(inner.CallState),
	}
	if f.queue == "" {
		f.queue = scalar(inner.QueueList)
	}
	if f.state == "" {
		f.state = scalar(inner.NewState)
	}
	return f
}

// scalar renders a JSON string without quotes or a number as written; other
// values and control characters give "".
func scalar(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return clean(s)
	}
	var n json.Number
	if json.Unmarshal(raw, &n) == nil {
		return n.String()
	}
	return ""
}

// clean keeps a value from the wire off the terminal if it holds control
// characters (escape sequences could repaint the screen).
func clean(s string) string {
	if strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f || r >= 0x80 && r < 0xa0 }) {
		return "?"
	}
	return s
}

package consumer

import (
	"bytes"
	"encoding/json"
)

// UnknownEventType is reported for payloads whose type cannot be derived.
const UnknownEventType = "unknown"

// knownTypes interns the catalog's event names so that deriving the type of
// a common event does not allocate.
var knownTypes = func() map[string]string {
	m := make(map[string]string)
	for _, t := range []string{
		"AgentStatusChange", "AgentProvChange", "AgentSkillCreated", "AgentSkillChanged",
		"Interaction", "InteractionCreated", "InteractionQueued", "InteractionAssigned",
		"InteractionAccepted", "InteractionCustomerAccepted", "InteractionRejected",
		"InteractionUnqueued", "LineHoldStatus", "LineMuteStatus", "InteractionRecordingStarted",
		"RecordingStatus", "InteractionPostProcess", "InteractionRecordingReady",
		"InteractionEndPostProcess", "InteractionDeassigned", "InteractionTransferRequest",
		"InteractionReconnect", "InteractionParticipantChange", "InteractionParticipantRemovedByHost",
		"InteractionJoinLinesRequest", "InteractionJoined", "InteractionChanged",
		"InteractionQueueTimeout", "InteractionDeleted", "GuestChatEnd", "MediaProxyAdded",
		"MediaProxyRemoved", "ClientCheck",
	} {
		m[t] = t
	}
	return m
}()

// EventType derives the type of a decoded event; input that is not valid
// JSON yields "unknown":
//
//   - the 8x8 shape, one family key wrapping an object ({"Interaction": {...}}):
//     the inner "event" string when present (InteractionQueued,
//     AgentSkillChanged), otherwise the family key (AgentStatusChange);
//   - a flat object with an "event" or "eventType" string: that string;
//   - anything else: "unknown".
func EventType(event []byte) string {
	if !json.Valid(event) {
		return UnknownEventType
	}
	return deriveType(event)
}

// deriveType is EventType for input already known to be valid JSON.
func deriveType(event []byte) string {
	i := skipSpace(event, 0)
	if i >= len(event) || event[i] != '{' {
		return UnknownEventType
	}
	var (
		keys                    int
		family, inner, flatType []byte
		flatEscaped             bool
	)
	i = skipSpace(event, i+1)
	for i < len(event) && event[i] == '"' {
		kEnd := skipString(event, i)
		if kEnd-1 <= i {
			break
		}
		key := event[i+1 : kEnd-1]
		i = skipSpace(event, kEnd)
		i = skipSpace(event, i+1) // ':'
		vStart := i
		i = skipValue(event, i)
		keys++
		val := event[vStart:i]
		switch {
		case keys == 1 && len(val) > 0 && val[0] == '{':
			family, inner = key, val
		case len(val) >= 2 && val[0] == '"' && (string(key) == "event" || string(key) == "eventType") && flatType == nil:
			flatType, flatEscaped = val, bytes.IndexByte(val, '\\') >= 0
		}
		i = skipSpace(event, i)
		if i < len(event) && event[i] == ',' {
			i = skipSpace(event, i+1)
		}
	}
	if keys == 1 && family != nil {
		if t := innerEvent(inner); t != "" {
			return t
		}
		return typeName(family, bytes.IndexByte(family, '\\') >= 0, false)
	}
	if flatType != nil {
		return typeName(flatType, flatEscaped, true)
	}
	return UnknownEventType
}

// innerEvent returns the top-level "event" string of the object obj, or "".
func innerEvent(obj []byte) string {
	i := skipSpace(obj, 1)
	for i < len(obj) && obj[i] == '"' {
		kEnd := skipString(obj, i)
		if kEnd-1 <= i {
			break
		}
		key := obj[i+1 : kEnd-1]
		i = skipSpace(obj, kEnd)
		i = skipSpace(obj, i+1)
		vStart := i
		i = skipValue(obj, i)
		if string(key) == "event" && vStart < i && obj[vStart] == '"' && i-vStart >= 2 {
			return typeName(obj[vStart:i], bytes.IndexByte(obj[vStart:i], '\\') >= 0, true)
		}
		i = skipSpace(obj, i)
		if i < len(obj) && obj[i] == ',' {
			i = skipSpace(obj, i+1)
		}
	}
	return ""
}

// typeName turns raw (quoted when quoted is true) into a type name, interning
// known names.
func typeName(raw []byte, escaped, quoted bool) string {
	if quoted {
		raw = raw[1 : len(raw)-1]
	}
	if escaped {
		var s string
		if json.Unmarshal(append(append([]byte{'"'}, raw...), '"'), &s) != nil || s == "" {
			return UnknownEventType
		}
		return s
	}
	if len(raw) == 0 {
		return UnknownEventType
	}
	if t, ok := knownTypes[string(raw)]; ok {
		return t
	}
	return string(raw)
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// skipString returns the index after the string starting at b[i] == '"'.
func skipString(b []byte, i int) int {
	for i++; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return len(b)
}

// skipValue returns the index after the JSON value starting at b[i].
func skipValue(b []byte, i int) int {
	if i >= len(b) {
		return i
	}
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for i < len(b) {
			switch b[i] {
			case '"':
				i = skipString(b, i)
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
			i++
		}
		return i
	}
	for i < len(b) && b[i] != ',' && b[i] != '}' && b[i] != ']' && b[i] != ' ' && b[i] != '\t' && b[i] != '\n' && b[i] != '\r' {
		i++
	}
	return i
}

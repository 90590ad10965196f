package consumer

import (
	"bytes"
	"encoding/json"
)

// unknownEventType is reported for payloads whose type cannot be derived.
const unknownEventType = "unknown"

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
		return unknownEventType
	}
	return deriveType(event)
}

// deriveType is EventType for input already known to be valid JSON.
func deriveType(event []byte) string {
	i := skipSpace(event, 0)
	if i >= len(event) || event[i] != '{' {
		return unknownEventType
	}

	var (
		keys                    int
		family, inner, flatType []byte
		flatEscaped             bool
	)
	m := members{b: event, i: i + 1}
	for key, val, ok := m.next(); ok; key, val, ok = m.next() {
		keys++
		switch {
		case keys == 1 && len(val) > 0 && val[0] == '{':
			family, inner = key, val
		case len(val) >= 2 && val[0] == '"' && (string(key) == "event" || string(key) == "eventType") && flatType == nil:
			flatType, flatEscaped = val, bytes.IndexByte(val, '\\') >= 0
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
	return unknownEventType
}

// innerEvent returns the top-level "event" string of the object obj, or "".
func innerEvent(obj []byte) string {
	m := members{b: obj, i: 1}
	for key, val, ok := m.next(); ok; key, val, ok = m.next() {
		if string(key) == "event" && len(val) >= 2 && val[0] == '"' {
			return typeName(val, bytes.IndexByte(val, '\\') >= 0, true)
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
			return unknownEventType
		}
		return s
	}
	if len(raw) == 0 {
		return unknownEventType
	}
	if t, ok := knownTypes[string(raw)]; ok {
		return t
	}
	return string(raw)
}

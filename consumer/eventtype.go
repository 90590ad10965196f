package consumer

import (
	"bytes"
	"encoding/json"
	"unicode/utf8"
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
// JSON yields "unknown". It reads the event as encoding/json would decode it
// into a map (a repeated key takes its LAST value, as in Go, jq and Python;
// escaped keys match their unescaped form):
//
//   - the 8x8 shape, an object with one key wrapping an object
//     ({"Interaction": {...}}): the inner "event" when it is a non-empty
//     string (InteractionQueued, AgentSkillChanged), otherwise the family
//     key (AgentStatusChange);
//   - otherwise "event" when it is a non-empty string, else "eventType"
//     when it is one;
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
		family, familyVal []byte // the first key and its last value
		single            = true // every key is the first one
		flat, flatType    []byte // the last "event" and "eventType" values
	)

	m := members{b: event, i: i + 1}
	for key, val, ok := m.next(); ok; key, val, ok = m.next() {
		switch {
		case family == nil:
			family, familyVal = key, val
		case sameKey(key, family):
			familyVal = val
		default:
			single = false
		}

		if keyIs(key, "event") {
			flat = val
		} else if keyIs(key, "eventType") {
			flatType = val
		}
	}

	if family != nil && single && len(familyVal) > 0 && familyVal[0] == '{' {
		if t := innerEvent(familyVal); t != "" {
			return t
		}
		return typeName(family, false)
	}

	if t := stringType(flat); t != "" {
		return t
	}

	if t := stringType(flatType); t != "" {
		return t
	}

	return unknownEventType
}

// innerEvent returns the last top-level "event" of the object obj when it is
// a non-empty string, or "".
func innerEvent(obj []byte) string {
	var last []byte
	m := members{b: obj, i: 1}
	for key, val, ok := m.next(); ok; key, val, ok = m.next() {
		if keyIs(key, "event") {
			last = val
		}
	}
	return stringType(last)
}

// stringType is the type named by the raw JSON value val when it is a
// non-empty string, or "".
func stringType(val []byte) string {
	if len(val) < 2 || val[0] != '"' {
		return ""
	}
	if t := typeName(val, true); t != unknownEventType {
		return t
	}
	return ""
}

// typeName turns raw (quoted when quoted is true) into a type name, interning
// known names; an empty name is "unknown".
func typeName(raw []byte, quoted bool) string {
	if quoted {
		raw = raw[1 : len(raw)-1]
	}

	if !plainJSONString(raw) {
		if s := unquote(raw); s != "" {
			return s
		}
		return unknownEventType
	}

	if len(raw) == 0 {
		return unknownEventType
	}

	if t, ok := knownTypes[string(raw)]; ok {
		return t
	}

	return string(raw)
}

// plainJSONString reports whether the contents of a JSON string are the
// string itself: no escapes, valid UTF-8 (encoding/json replaces invalid
// bytes with U+FFFD).
func plainJSONString(raw []byte) bool {
	return bytes.IndexByte(raw, '\\') < 0 && utf8.Valid(raw)
}

// unquote decodes the contents of a JSON string like encoding/json; "" when
// they are malformed.
func unquote(raw []byte) string {
	var s string
	if json.Unmarshal(append(append([]byte{'"'}, raw...), '"'), &s) != nil {
		return ""
	}
	return s
}

// keyIs reports whether the raw object key decodes to name.
func keyIs(key []byte, name string) bool {
	if plainJSONString(key) {
		return string(key) == name
	}
	return unquote(key) == name
}

// sameKey reports whether two raw object keys decode to the same string.
func sameKey(a, b []byte) bool {
	if plainJSONString(a) && plainJSONString(b) {
		return bytes.Equal(a, b)
	}
	return unquote(a) == unquote(b)
}

package consumer

// Hand-written scanning of JSON already known to be valid (or bounded by the
// caller's checks): the frame decoder and the event-type derivation walk the
// members of one object with members.next and skip values without building
// them, which keeps the hot path free of reflection and allocation.

// members walks the members of a JSON object. i starts just after the '{'.
type members struct {
	b []byte
	i int
}

// next returns the next member's key (without quotes, escapes untouched)
// and raw value, and false at the end of the object or of the input.
func (m *members) next() (key, val []byte, ok bool) {
	b, i := m.b, skipSpace(m.b, m.i)
	if i >= len(b) || b[i] != '"' {
		return nil, nil, false
	}

	kEnd := skipString(b, i)
	if kEnd-1 <= i {
		return nil, nil, false
	}

	key = b[i+1 : kEnd-1]

	i = skipSpace(b, kEnd)
	i = skipSpace(b, i+1) // past ':'
	vStart := i
	i = skipValue(b, i)
	val = b[vStart:i]

	i = skipSpace(b, i)
	if i < len(b) && b[i] == ',' {
		i++
	}

	m.i = i

	return key, val, true
}

// plainASCII reports whether b has no escapes and no bytes outside ASCII,
// so that its JSON string contents are b itself.
func plainASCII(b []byte) bool {
	for _, c := range b {
		if c == '\\' || c >= 0x80 {
			return false
		}
	}
	return true
}

// fold matches a JSON key against a field name the way encoding/json does
// for ASCII keys: case-insensitively.
func fold(key []byte, name string) bool {
	if len(key) != len(name) {
		return false
	}

	for i := range len(key) {
		a, b := key[i], name[i]
		if a == b {
			continue
		}
		if la := a | 0x20; la != b|0x20 || la < 'a' || la > 'z' {
			return false
		}
	}

	return true
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

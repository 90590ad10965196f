package consumer

// validJSON reports whether b is one valid JSON value (RFC 8259) with
// optional surrounding whitespace: the same answer as json.Valid, including
// its nesting limit of 10000 containers and its acceptance of invalid UTF-8
// inside strings (encoding/json checks syntax only). It is a single
// allocation-free pass, several times faster than json.Valid's
// byte-at-a-time state machine; FuzzValidJSON checks the agreement.
func validJSON(b []byte) bool {
	var st [64]bool // open containers, innermost last: true for an object
	stack := st[:0]
	i := skipSpace(b, 0)
	for {
		// A value starts at b[i].
		if i >= len(b) {
			return false
		}

		switch c := b[i]; {
		case c == '{' || c == '[':
			if len(stack) >= maxJSONDepth {
				return false
			}
			obj := c == '{'
			i = skipSpace(b, i+1)
			if i < len(b) && (obj && b[i] == '}' || !obj && b[i] == ']') {
				i++
				break // an empty container is a complete value
			}
			stack = append(stack, obj)
			if obj {
				if i = objectKey(b, i); i < 0 {
					return false
				}
			}
			continue
		case c == '"':
			i = scanString(b, i)
		case c == '-' || c >= '0' && c <= '9':
			i = scanNumber(b, i)
		case c == 't':
			i = scanLiteral(b, i, "true")
		case c == 'f':
			i = scanLiteral(b, i, "false")
		case c == 'n':
			i = scanLiteral(b, i, "null")
		default:
			return false
		}

		if i < 0 {
			return false
		}

		// A value ended before b[i]: close containers, or find the next
		// value of the innermost one.
		var next bool
		if stack, i, next = afterValue(b, stack, i); !next {
			return i == len(b) && len(stack) == 0
		}
	}
}

// maxJSONDepth is encoding/json's nesting limit (scanner.go maxNestingDepth).
const maxJSONDepth = 10000

// afterValue consumes what follows a value: closing brackets and at most
// one separator. It returns next true with i at the next value's start
// (after an object's key and colon), or false with i at the first byte it
// could not consume (len(b) when the input ended cleanly).
func afterValue(b []byte, stack []bool, i int) ([]bool, int, bool) {
	for {
		i = skipSpace(b, i)
		if len(stack) == 0 || i >= len(b) {
			return stack, i, false
		}

		obj := stack[len(stack)-1]
		switch c := b[i]; {
		case c == ',':
			i = skipSpace(b, i+1)
			if obj {
				if i = objectKey(b, i); i < 0 {
					return stack, -1, false
				}
			}
			return stack, i, true
		case obj && c == '}' || !obj && c == ']':
			stack = stack[:len(stack)-1]
			i++
		default:
			return stack, -1, false
		}
	}
}

// objectKey scans `"key" :` at b[i] and returns the index of the member's
// value (after whitespace), or -1.
func objectKey(b []byte, i int) int {
	if i >= len(b) || b[i] != '"' {
		return -1
	}
	if i = scanString(b, i); i < 0 {
		return -1
	}
	i = skipSpace(b, i)
	if i >= len(b) || b[i] != ':' {
		return -1
	}
	return skipSpace(b, i+1)
}

// scanString returns the index after the valid JSON string starting at
// b[i] == '"', or -1.
func scanString(b []byte, i int) int {
	for i++; i < len(b); i++ {
		c := b[i]
		switch {
		case c == '"':
			return i + 1
		case c < 0x20:
			return -1
		case c == '\\':
			i++
			if i >= len(b) {
				return -1
			}
			switch b[i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if i+4 >= len(b) || !isHex(b[i+1]) || !isHex(b[i+2]) || !isHex(b[i+3]) || !isHex(b[i+4]) {
					return -1
				}
				i += 4
			default:
				return -1
			}
		}
	}

	return -1
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// scanNumber returns the index after the JSON number starting at b[i], or
// -1. What follows it is checked by the caller.
func scanNumber(b []byte, i int) int {
	if b[i] == '-' {
		i++
	}

	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		i = digits(b, i)
	default:
		return -1
	}

	if i < len(b) && b[i] == '.' {
		if j := digits(b, i+1); j > i+1 {
			i = j
		} else {
			return -1
		}
	}

	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++

		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}

		j := digits(b, i)
		if j == i {
			return -1
		}

		i = j
	}

	return i
}

func digits(b []byte, i int) int {
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		i++
	}
	return i
}

// scanLiteral returns the index after lit at b[i], or -1.
func scanLiteral(b []byte, i int, lit string) int {
	if len(b)-i < len(lit) || string(b[i:i+len(lit)]) != lit {
		return -1
	}
	return i + len(lit)
}

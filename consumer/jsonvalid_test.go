package consumer

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestValidJSONAgreesWithEncodingJSON(t *testing.T) {
	inputs := []string{
		``, ` `, `{}`, `[]`, ` {} `, `{`, `}`, `[`, `]`, `{]`, `[}`, `null`, `nul`, `nullx`, `true`, `false`,
		`tru`, `0`, `-0`, `01`, `-`, `1.`, `1.5`, `.5`, `1e`, `1e+`, `1e+5`, `1E-05`, `-1.5e3`, `1 2`,
		`"a"`, `"\u00e9"`, `"\u00g9"`, `"\x"`, `"\/"`, "\"\x01\"", "\"\xff\xfe\"", `"unterminated`,
		`{"a":1}`, `{"a":1,}`, `{"a" 1}`, `{a:1}`, `{"a":1 "b":2}`, `[1,]`, `[,1]`, `[1,2]`,
		`{"a":[{"b":null},{}],"c":"d"}`, "{\"a\"\t:\n1\r}", `[1]]`, `{"a":1}}`, "\x00",
		`{"messageId":"CAEQAQ==","payload":"e30=","properties":{"k":"v"},"publishTime":"2026-01-01T00:00:00Z"}`,
	}
	for _, in := range inputs {
		if got, want := validJSON([]byte(in)), json.Valid([]byte(in)); got != want {
			t.Errorf("validJSON(%q) = %v, json.Valid says %v", in, got, want)
		}
	}
}

// The nesting limit is encoding/json's: 10000 open containers, empty ones
// included.
func TestValidJSONDepthLimit(t *testing.T) {
	for _, n := range []int{maxJSONDepth - 1, maxJSONDepth, maxJSONDepth + 1} {
		for _, in := range []string{
			strings.Repeat("[", n) + strings.Repeat("]", n),
			strings.Repeat(`{"a":`, n-1) + "{}" + strings.Repeat("}", n-1),
		} {
			if got, want := validJSON([]byte(in)), json.Valid([]byte(in)); got != want {
				t.Errorf("depth %d: validJSON = %v, json.Valid says %v", n, got, want)
			}
		}
	}
}

func FuzzValidJSON(f *testing.F) {
	f.Add([]byte(`{"a":[1,-2.5e3,true,false,null,"\u00e9\n"]}`))
	f.Add([]byte(`[{}, [], ""]`))
	f.Add([]byte(`01`))
	f.Fuzz(func(t *testing.T, data []byte) {
		if got, want := validJSON(data), json.Valid(data); got != want {
			t.Fatalf("validJSON(%q) = %v, json.Valid says %v", data, got, want)
		}
	})
}

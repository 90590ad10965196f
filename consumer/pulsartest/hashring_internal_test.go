package pulsartest

import "testing"

// Known answers of MurmurHash3 x86_32, seed 0 (SMHasher's reference
// implementation), masked to 31 bits as Pulsar's Murmur3_32Hash does.
func TestPulsarHashKnownAnswers(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want uint32
	}{
		{"", 0},
		{"a", 0x3c2569b2},
		{"abc", 0xb3dd93fa & 0x7fffffff},
		{"hello", 0x248bfa47},
		{"Hello, world!", 0xc0363e43 & 0x7fffffff},
		{"The quick brown fox jumps over the lazy dog", 0x2e4ff723},
	} {
		if got := pulsarHash([]byte(tc.in)); got != tc.want {
			t.Errorf("pulsarHash(%q) = %#x, want %#x", tc.in, got, tc.want)
		}
	}
}

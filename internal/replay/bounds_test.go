package replay_test

import (
	"testing"
	"time"

	"github.com/streamd/streamd/internal/replay"
)

const someID = "CIA/EIB/MAA=" // ledger 8064, entry 8064

func TestParseSince(t *testing.T) {
	t.Parallel()
	now := time.Date(2025, 10, 15, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		in   string
		want time.Time
		ok   bool
	}{
		{"2h", now.Add(-2 * time.Hour), true},
		{"90m", now.Add(-90 * time.Minute), true},
		{"2025-10-15T09:30:00Z", time.Date(2025, 10, 15, 9, 30, 0, 0, time.UTC), true},
		{"2025-10-15T11:30:00+02:00", time.Date(2025, 10, 15, 9, 30, 0, 0, time.UTC), true},
		{"2025-10-15T09:30:00.250Z", time.Date(2025, 10, 15, 9, 30, 0, 250e6, time.UTC), true},
		{"", time.Time{}, false},
		{"-2h", time.Time{}, false},
		{"0s", time.Time{}, false},
		{"yesterday", time.Time{}, false},
		{"2025-10-15", time.Time{}, false},
	} {
		got, err := replay.ParseSince(tc.in, now)
		if (err == nil) != tc.ok || !got.Equal(tc.want) {
			t.Errorf("ParseSince(%q) = %v, %v; want %v, ok=%v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}

func TestParseUntil(t *testing.T) {
	t.Parallel()
	now := time.Date(2025, 10, 15, 12, 0, 0, 0, time.UTC)
	if at, id, err := replay.ParseUntil("1h", now); err != nil || id != "" || !at.Equal(now.Add(-time.Hour)) {
		t.Errorf("ParseUntil(1h) = %v %q %v", at, id, err)
	}
	if at, id, err := replay.ParseUntil(someID, now); err != nil || id != someID || !at.IsZero() {
		t.Errorf("ParseUntil(id) = %v %q %v", at, id, err)
	}
	for _, bad := range []string{"", "soon", "CAAQ"} {
		if _, _, err := replay.ParseUntil(bad, now); err == nil {
			t.Errorf("ParseUntil(%q) succeeded", bad)
		}
	}
}

func TestRangeValidate(t *testing.T) {
	t.Parallel()
	at := time.Date(2025, 10, 15, 9, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name string
		r    replay.Range
		ok   bool
	}{
		{"zero", replay.Range{}, true},
		{"earliest", replay.Range{From: "earliest"}, true},
		{"id", replay.Range{From: someID, UntilID: someID}, true},
		{"since until", replay.Range{Since: at, Until: at.Add(time.Hour)}, true},
		{"latest", replay.Range{From: "latest"}, false},
		{"bad id", replay.Range{From: "nope"}, false},
		{"id and since", replay.Range{From: someID, Since: at}, false},
		{"both untils", replay.Range{Until: at, UntilID: someID}, false},
		{"until before since", replay.Range{Since: at, Until: at.Add(-time.Second)}, false},
	} {
		if err := tc.r.Validate(); (err == nil) != tc.ok {
			t.Errorf("%s: Validate() = %v, want ok=%v", tc.name, err, tc.ok)
		}
	}
}

func TestProgress(t *testing.T) {
	t.Parallel()
	at := time.Date(2025, 10, 15, 9, 0, 0, 0, time.UTC)
	p := replay.Progress{Elapsed: 2 * time.Second, From: at, To: at.Add(4 * time.Hour)}
	if _, ok := p.Percent(); ok {
		t.Error("Percent known before any position")
	}
	p.Delivered, p.Skipped, p.Position = 500, 7, at.Add(time.Hour)
	if pct, ok := p.Percent(); !ok || pct != 25 {
		t.Errorf("Percent = %v %v, want 25", pct, ok)
	}
	if r := p.Rate(); r != 250 {
		t.Errorf("Rate = %v, want 250", r)
	}
	if got, want := p.String(), "500 events, 250/s, 7 skipped, at 2025-10-15 10:00:00"; got != want {
		t.Errorf("String = %q, want %q", got, want)
	}
}

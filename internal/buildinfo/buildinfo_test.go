package buildinfo

import (
	"runtime/debug"
	"strings"
	"testing"
)

func TestFromBuildInfo(t *testing.T) {
	bi := &debug.BuildInfo{
		GoVersion: "go1.26.8",
		Main:      debug.Module{Path: "github.com/streamd/streamd", Version: "v0.0.0-20261130120000-2ecd530abcde+dirty"},
		Settings: []debug.BuildSetting{
			{Key: "vcs.revision", Value: "2ecd530abcdef0123456789abcdef0123456789a"},
			{Key: "vcs.time", Value: "2026-11-30T12:00:00Z"},
			{Key: "vcs.modified", Value: "true"},
		},
	}
	for _, tc := range []struct {
		name         string
		bi           *debug.BuildInfo
		ver, rev, at string
		want         Info
		wantInString []string
	}{
		{"git checkout", bi, "", "", "",
			Info{Version: bi.Main.Version, Revision: "2ecd530abcdef0123456789abcdef0123456789a", Time: "2026-11-30T12:00:00Z", Modified: true, GoVersion: "go1.26.8"},
			[]string{"streamd v0.0.0-", "commit:  2ecd530abcdef0123456789abcdef0123456789a (modified)", "time:    2026-11-30T12:00:00Z", "go:      go1.26.8"}},
		{"release override", bi, "v1.2.3", "ffff", "2027-01-01T00:00:00Z",
			Info{Version: "v1.2.3", Revision: "ffff", Time: "2027-01-01T00:00:00Z", GoVersion: "go1.26.8"},
			[]string{"streamd v1.2.3\n", "commit:  ffff\n"}},
		{"no build info", nil, "", "", "",
			Info{Version: "devel"},
			[]string{"streamd devel\n", "commit:  unknown"}},
		{"devel without vcs", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}}, "", "", "",
			Info{Version: "devel"},
			[]string{"streamd devel\n"}},
	} {
		got := FromBuildInfo(tc.bi, tc.ver, tc.rev, tc.at)
		got.Platform = ""
		if tc.want.GoVersion == "" {
			tc.want.GoVersion = got.GoVersion // runtime.Version()
		}
		if got != tc.want {
			t.Errorf("%s: got %+v, want %+v", tc.name, got, tc.want)
		}
		for _, s := range tc.wantInString {
			if !strings.Contains(got.String(), s) {
				t.Errorf("%s: String() lacks %q:\n%s", tc.name, s, got)
			}
		}
	}
	if r := (Info{Revision: "2ecd530abcdef0123"}).ShortRevision(); r != "2ecd530abcde" {
		t.Errorf("short revision %q", r)
	}
}

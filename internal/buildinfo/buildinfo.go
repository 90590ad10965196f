// Package buildinfo says which streamd is running: the module version, VCS
// revision, commit time and modified flag that `go build` embeds in a binary
// built from a git checkout (runtime/debug.ReadBuildInfo), and the Go
// version.
//
// Builds without VCS data (the container image builds with -buildvcs=false
// and no .git) set the values with the linker:
//
//	go build -ldflags "-X github.com/streamd/streamd/internal/buildinfo.version=v1.2.3 \
//	  -X github.com/streamd/streamd/internal/buildinfo.revision=$(git rev-parse HEAD) \
//	  -X github.com/streamd/streamd/internal/buildinfo.commitTime=2026-11-30T12:00:00Z" ./cmd/streamd
//
// A value set so wins over the embedded one.
package buildinfo

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"
)

// Set by the linker (-ldflags -X); empty means "use the embedded value".
var (
	version    string
	revision   string
	commitTime string
)

// Info describes a build.
type Info struct {
	// Version is a release tag ("v1.2.3"), a pseudo-version
	// ("v0.0.0-20261130120000-2ecd530abcde+dirty") or "devel" when unknown.
	Version string
	// Revision is the full commit hash, "" when unknown.
	Revision string
	// Time is the commit time in RFC 3339, "" when unknown.
	Time string
	// Modified is true for a build from a tree with uncommitted changes.
	Modified bool
	// GoVersion is the toolchain, e.g. "go1.26.8".
	GoVersion string
	// Platform is GOOS/GOARCH, e.g. "linux/amd64".
	Platform string
}

// Read returns the running binary's Info.
func Read() Info {
	bi, _ := debug.ReadBuildInfo()
	return FromBuildInfo(bi, version, revision, commitTime)
}

// FromBuildInfo derives Info from bi (nil when unavailable) and the linker
// overrides (empty: not set).
func FromBuildInfo(bi *debug.BuildInfo, ver, rev, at string) Info {
	i := Info{
		Version:   "devel",
		GoVersion: runtime.Version(),
		Platform:  runtime.GOOS + "/" + runtime.GOARCH,
	}
	if bi != nil {
		if v := bi.Main.Version; v != "" && v != "(devel)" {
			i.Version = v
		}

		if bi.GoVersion != "" {
			i.GoVersion = bi.GoVersion
		}

		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				i.Revision = s.Value
			case "vcs.time":
				i.Time = s.Value
			case "vcs.modified":
				i.Modified = s.Value == "true"
			}
		}
	}

	if ver != "" {
		i.Version = ver
	}

	if rev != "" {
		i.Revision, i.Modified = rev, false
	}

	if at != "" {
		i.Time = at
	}

	return i
}

// ShortRevision is the first 12 characters of Revision ("" when unknown).
func (i Info) ShortRevision() string {
	if len(i.Revision) > 12 {
		return i.Revision[:12]
	}
	return i.Revision
}

// String is the multi-line text `streamd version` prints:
//
//	streamd v1.2.3
//	commit:  2ecd530abcde… (modified)
//	time:    2026-11-30T12:00:00Z
//	go:      go1.26.8 linux/amd64
func (i Info) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "streamd %s\n", i.Version)
	rev := i.Revision
	if rev == "" {
		rev = "unknown (built without VCS data)"
	}

	if i.Modified {
		rev += " (modified)"
	}

	fmt.Fprintf(&b, "commit:  %s\n", rev)

	if i.Time != "" {
		fmt.Fprintf(&b, "time:    %s\n", i.Time)
	}

	fmt.Fprintf(&b, "go:      %s %s\n", i.GoVersion, i.Platform)

	return b.String()
}

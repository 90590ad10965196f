package main

import (
	"context"
	"fmt"
	"os"

	"github.com/streamd/streamd/internal/buildinfo"
)

// version prints what internal/buildinfo reports: the module version, the
// commit, its time and modified flag embedded by `go build` in a git
// checkout, and the Go version; release builds set them with -ldflags -X
// (see the buildinfo package and the Dockerfile).
func (m *Main) version(context.Context, []string, <-chan os.Signal) error {
	fmt.Fprint(m.Stdout, buildinfo.Read())
	return nil
}

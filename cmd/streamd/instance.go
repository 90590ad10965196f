package main

import (
	"os"
	"strings"
)

// maxInstanceLen bounds STREAMD_INSTANCE: it travels as the consumerName
// query parameter, a NATS header value and a metric label.
const maxInstanceLen = 128

// validateInstance checks an explicit INSTANCE: printable, no spaces, at
// most maxInstanceLen bytes (a header value cannot hold a line break).
func (c *Config) validateInstance() error {
	if len(c.Instance) > maxInstanceLen {
		return badVar("INSTANCE", c.Instance, "longer than 128 bytes")
	}
	if strings.IndexFunc(c.Instance, func(r rune) bool { return r <= ' ' || r == 0x7f }) >= 0 {
		return badVar("INSTANCE", c.Instance, "must not contain spaces or control characters")
	}
	return nil
}

// defaultInstance names a replica without INSTANCE after its host (a pod's
// name under Kubernetes), else "streamd".
func defaultInstance() string {
	if h, err := os.Hostname(); err == nil && h != "" {
		return h
	}
	return "streamd"
}

package main

import (
	"net/url"
	"strings"

	"github.com/streamd/streamd/sink"
	natssink "github.com/streamd/streamd/sink/nats"
)

// validateSinks checks SINKS, the variables of each sink listed, and
// FORMAT, which it returns parsed.
func (c *Config) validateSinks() (sink.Format, error) {
	seen, err := c.validateSinkList()
	if err != nil {
		return 0, err
	}
	if seen["file"] {
		if err := c.validateFile(); err != nil {
			return 0, err
		}
	}
	if seen["nats"] {
		if err := c.validateNATS(); err != nil {
			return 0, err
		}
	}
	f, err := sink.ParseFormat(c.Format)
	if err != nil {
		return 0, badVar("FORMAT", c.Format, "want envelope or event")
	}
	return f, nil
}

// validateSinkList checks SINKS and returns the set of sinks listed.
func (c *Config) validateSinkList() (map[string]bool, error) {
	if len(c.Sinks) == 0 {
		return nil, badVar("SINKS", "", "at least one sink is required")
	}
	seen := map[string]bool{}
	for _, s := range c.Sinks {
		switch s {
		case "stdout", "file", "nats":
		default:
			return nil, badVar("SINKS", strings.Join(c.Sinks, ","), "unknown sink "+strconvQuote(s)+"; want stdout, file, nats")
		}
		if seen[s] {
			return nil, badVar("SINKS", strings.Join(c.Sinks, ","), "sink "+s+" is listed twice")
		}
		seen[s] = true
	}
	return seen, nil
}

func (c *Config) validateFile() error {
	if c.FilePath == "" {
		return badVar("FILE_PATH", "", "required with the file sink")
	}
	switch c.FileFsync {
	case "always", "interval", "never":
	default:
		return badVar("FILE_FSYNC", c.FileFsync, "want always, interval or never")
	}
	return nil
}

func (c *Config) validateNATS() error {
	if err := c.validateNATSURL(); err != nil {
		return err
	}
	if c.NATSSubject == "" {
		return badVar("NATS_SUBJECT", c.NATSSubject, "must be a subject template without spaces or wildcards")
	}
	if err := natssink.CheckSubject(c.NATSSubject); err != nil {
		return badVar("NATS_SUBJECT", c.NATSSubject, err.Error())
	}
	if c.NATSStream != "" && !c.NATSJetStream {
		return badVar("NATS_STREAM", c.NATSStream, "needs STREAMD_NATS_JETSTREAM=true")
	}
	return nil
}

// validateNATSURL checks NATS_URL, a comma list of server URLs (used by the
// nats sink and the nats checkpoint store).
func (c *Config) validateNATSURL() error {
	for _, u := range strings.Split(c.NATSURL, ",") {
		if pu, err := url.Parse(strings.TrimSpace(u)); err != nil || pu.Host == "" {
			return badVar("NATS_URL", c.NATSURL, "want nats://host:port[,nats://...]")
		}
	}
	return nil
}

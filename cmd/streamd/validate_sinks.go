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

	if err := c.validateEventLists(); err != nil {
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

// validateEventLists trims the entries of each STREAMD_<SINK>_EVENTS and
// checks that they are event type names. Untrimmed, the natural
// "InteractionCreated, InteractionDeleted" would allow " InteractionDeleted",
// which no event matches, and the sink would silently get none of them
// (filtered events count as accepted). Unknown names stay allowed: 8x8
// adds types.
func (c *Config) validateEventLists() error {
	for _, l := range []struct {
		name string
		list []string
	}{{"STDOUT_EVENTS", c.StdoutEvents}, {"FILE_EVENTS", c.FileEvents}, {"NATS_EVENTS", c.NATSEvents}} {
		for i, raw := range l.list {
			t := strings.TrimSpace(raw)
			if !typeName.MatchString(t) {
				return badVar(l.name, strings.Join(l.list, ","), "entry "+strconvQuote(raw)+" is not an event type name such as InteractionQueued")
			}
			l.list[i] = t
		}
	}

	return nil
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

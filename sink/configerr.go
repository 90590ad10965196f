package sink

import "errors"

// ErrConfig marks, for errors.Is, a failure to open a sink that only a
// configuration change can fix: a file path that is a directory or lies in
// a missing directory, a JetStream stream whose subjects do not cover the
// sink's, an unreadable credentials file. Restarting cannot help, so
// streamd exits 78 (EX_CONFIG) on it rather than 1 (a restart loop under
// systemd).
var ErrConfig = errors.New("sink: invalid configuration")

// ConfigFailure returns err marked with ErrConfig; its text stays err's.
// nil stays nil.
func ConfigFailure(err error) error {
	if err == nil {
		return nil
	}
	return configFailure{err}
}

type configFailure struct{ error }

func (e configFailure) Unwrap() []error { return []error{e.error, ErrConfig} }

package main

import (
	"fmt"
	"io"
	"os"
	"slices"
	"syscall"
)

// refuseJournalStdout fails with a *configError when events would go to
// stdout only because STREAMD_SINKS is unset, and stdout is the systemd
// journal: the events' customer data (names, phone numbers) would land in
// the system journal, readable by every admin and kept by its own
// retention. Setting STREAMD_SINKS, even to stdout, is a decision and is
// obeyed. systemd names the journal stream in $JOURNAL_STREAM as
// "device:inode" of the stream (systemd.exec(5)); stdout is the journal
// when its fstat matches.
func refuseJournalStdout(c *Config, stdout io.Writer, getenv func(string) string) error {
	if getenv("STREAMD_SINKS") != "" || !slices.Contains(c.Sinks, "stdout") {
		return nil
	}
	if !isJournal(stdout, getenv("JOURNAL_STREAM")) {
		return nil
	}
	return &configError{msg: "invalid configuration: STREAMD_SINKS is not set and stdout is the systemd journal: " +
		"events carry customer data and would be kept in the system journal. Set STREAMD_SINKS=file with " +
		"STREAMD_FILE_PATH (the shipped unit does), nats, or STREAMD_SINKS=stdout to really want them there"}
}

// isJournal reports whether w is the stream $JOURNAL_STREAM ("dev:ino")
// names.
func isJournal(w io.Writer, journalStream string) bool {
	f, ok := w.(*os.File)
	if journalStream == "" || !ok {
		return false
	}
	fi, err := f.Stat()
	if err != nil {
		return false
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	return ok && fmt.Sprintf("%d:%d", st.Dev, st.Ino) == journalStream
}

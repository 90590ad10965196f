package nats

// Pattern exposes the stream filter a subject template needs.
func Pattern(tmpl string) (string, error) {
	t, err := compileTemplate(tmpl)
	if err != nil {
		return "", err
	}
	return t.pattern(), nil
}

// Covers exposes the subject coverage check.
var Covers = covers

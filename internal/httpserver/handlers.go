package httpserver

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/streamd/streamd/internal/health"
)

// healthzBody is the JSON answer of /healthz.
type healthzBody struct {
	Alive bool `json:"alive"`
	// LastBeat is omitted before the main loop's first beat.
	LastBeat   *time.Time `json:"last_beat,omitempty"`
	AgeSeconds float64    `json:"age_seconds"`
	MaxSeconds float64    `json:"max_age_seconds"`
	// Stalled lists the topics that are connected but make no progress,
	// as "topic NAME: reason"; omitted when there are none.
	Stalled []string `json:"stalled,omitempty"`
}

// healthz answers 200 while the main loop's last beat is recent (or before
// the first beat, while starting), 503 when the loop looks wedged or a
// topic's session is stalled (health.State.SetStalled).
func (s *Server) healthz(w http.ResponseWriter, _ *http.Request) {
	body := healthzBody{
		Alive:      true,
		MaxSeconds: s.Staleness.Seconds(),
	}
	if last := s.health.LastBeat(); !last.IsZero() {
		age := time.Since(last)
		body.LastBeat = &last
		body.AgeSeconds = age.Seconds()
		body.Alive = age <= s.Staleness
	}
	if body.Stalled = s.health.Stalled(); body.Stalled != nil {
		body.Alive = false
	}

	code := http.StatusOK
	if !body.Alive {
		code = http.StatusServiceUnavailable
	}

	writeJSON(w, code, body)
}

// readyzBody is the JSON answer of /readyz.
type readyzBody struct {
	Ready bool                   `json:"ready"`
	Parts map[string]health.Part `json:"parts"`
}

// readyz answers 200 when every registered part is ready, else 503; the body
// always lists each part's state and reason.
func (s *Server) readyz(w http.ResponseWriter, _ *http.Request) {
	ready, parts := s.health.Ready()
	if parts == nil {
		parts = map[string]health.Part{}
	}
	code := http.StatusOK
	if !ready {
		code = http.StatusServiceUnavailable
	}
	writeJSON(w, code, readyzBody{
		Ready: ready,
		Parts: parts,
	})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v) // the client went away; nothing to do
}

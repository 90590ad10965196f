package pulsartest

import (
	"encoding/base64"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// DefaultNamespaces are the namespaces 8x8 serves (8x8 event streaming
// §1.3): tenant-wide event topics and per-agent topics.
var DefaultNamespaces = []string{"event-v1", "agent-v1"}

// authenticateLocked checks the credential and the tenant of a handshake as
// 8x8 does (8x8 event streaming §2.2–§2.4, §6.1): the key travels in an
// X-API-Key header or an x-api-key query parameter; "Authorization: Basic"
// and token=Basic+… carry Contact Center tokens only; Pulsar's Bearer form is
// not accepted; a tenant the key does not belong to is refused too. Every
// refusal is a 401 whose reason (for the log, never holding the credential)
// says why.
func (s *Server) authenticateLocked(r *http.Request, q url.Values, tenant string) *httpError {
	cands, why := credentials(r, q)
	if len(cands) == 0 {
		if why == "" {
			why = "no credential: send X-API-Key (or ?x-api-key=)"
		}
		return unauthorized(why)
	}

	known := len(s.keys) == 0
	for _, c := range cands {
		known = known || s.keys[c]
	}

	if !known {
		return unauthorized("unknown key")
	}

	if len(s.tenants) > 0 && !s.tenants[tenant] {
		return unauthorized("tenant " + strconv.Quote(tenant) + " is not the key's tenant")
	}

	return nil
}

func unauthorized(reason string) *httpError {
	return &httpError{
		status: http.StatusUnauthorized,
		msg:    "Failed to authenticate",
		reason: reason,
	}
}

// credentials returns the credentials r presents in a form 8x8 accepts, and
// why a form was refused. The Authorization header wins over the token
// query parameter, which Pulsar reads only when the header is absent
// (pulsar-websocket-protocol §5.2).
func credentials(r *http.Request, q url.Values) (cands []string, refused string) {
	if v := r.Header.Get("X-API-Key"); v != "" {
		cands = append(cands, v)
	}

	if v, _ := first(q, "x-api-key"); v != "" {
		cands = append(cands, v)
	}

	auth, from := r.Header.Get("Authorization"), "Authorization header"
	if auth == "" {
		auth, _ = first(q, "token")
		from = "token query parameter"
	}

	if auth == "" {
		return cands, ""
	}

	scheme, cred, _ := strings.Cut(auth, " ")
	switch {
	case strings.EqualFold(scheme, "Bearer"):
		refused = from + ": Bearer is not accepted by 8x8; send the key in X-API-Key"
	case !strings.EqualFold(scheme, "Basic"):
		refused = from + ": only Basic with a Contact Center token is accepted"
	case !isCCToken(cred):
		refused = from + ": Basic carries Contact Center tokens (base64 of user:password) only; send eght_ keys in X-API-Key"
	default:
		cands = append(cands, cred)
	}

	return cands, refused
}

// isCCToken reports whether tok has the shape of a Contact Center token:
// standard base64 of "user:password" (8x8 event streaming §2.1).
func isCCToken(tok string) bool {
	if strings.HasPrefix(tok, "eght_") {
		return false
	}
	raw, err := base64.StdEncoding.DecodeString(tok)
	if err != nil {
		return false
	}
	user, _, ok := strings.Cut(string(raw), ":")
	return ok && user != ""
}

// namespaceLocked refuses a namespace the emulated tenant does not have:
// creating the proxy's reader or consumer fails, which the proxy answers
// with 500 (pulsar-websocket-protocol §5.1).
func (s *Server) namespaceLocked(tg target) *httpError {
	if s.namespaces[tg.namespace] {
		return nil
	}
	what := "reader"
	if tg.kind == consumerKind {
		what = "consumer"
	}
	return &httpError{
		status: http.StatusInternalServerError,
		msg:    "Failed to create " + what + ": Namespace not found",
		reason: "unknown namespace " + strconv.Quote(tg.namespace),
	}
}

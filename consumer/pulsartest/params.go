package pulsartest

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// params are the validated query parameters of a session.
type params struct {
	window     int
	typ        string
	durable    bool
	earliest   bool
	ackTimeout time.Duration
	nackDelay  time.Duration
	maxRedel   int
	dlq        string
	pull       bool
	name       string // consumerName
	priority   int    // priorityLevel
	startID    string // reader: "earliest", "latest" or a base64 id
}

func first(q url.Values, k string) (string, bool) {
	v, ok := q[k]
	if !ok || len(v) == 0 {
		return "", false
	}
	return v[0], true
}

func badParam(detail string) *httpError {
	return &httpError{
		status: http.StatusBadRequest,
		msg:    "Invalid query params: " + detail,
	}
}

// intParam parses an optional 32-bit integer parameter.
func intParam(q url.Values, k string, def, min int) (int, *httpError) {
	v, ok := first(q, k)
	if !ok {
		return def, nil
	}
	n, err := strconv.ParseInt(v, 10, 32)
	if err != nil || int(n) < min {
		return 0, badParam("Invalid " + k + " " + v)
	}
	return int(n), nil
}

func enumParam(q url.Values, k, def string, allowed ...string) (string, *httpError) {
	v, ok := first(q, k)
	if !ok {
		return def, nil
	}
	for _, a := range allowed {
		if v == a {
			return v, nil
		}
	}
	return "", badParam("Invalid " + k + " " + v)
}

// parseParams validates the query for tg's endpoint (§2).
func parseParams(tg target, q url.Values) (params, *httpError) {
	p := params{
		durable:   true,
		nackDelay: time.Minute,
	}
	rqs, he := intParam(q, "receiverQueueSize", 1000, 0)
	if he != nil {
		return p, he
	}

	p.window = min(max(rqs, 1), 1000)
	if tg.kind == readerKind {
		p.startID, _ = first(q, "messageId")
		if p.startID == "" {
			p.startID = "latest"
		}
		return p, nil
	}

	if p.typ, he = enumParam(q, "subscriptionType", subExclusive, subExclusive, subShared, subFailover, subKeyShared); he != nil {
		return p, he
	}

	mode, he := enumParam(q, "subscriptionMode", "Durable", "Durable", "NonDurable")
	if he != nil {
		return p, he
	}

	p.durable = mode == "Durable"
	pos, he := enumParam(q, "subscriptionInitialPosition", "Latest", "Latest", "Earliest")
	if he != nil {
		return p, he
	}

	p.earliest = pos == "Earliest"
	ato, he := intParam(q, "ackTimeoutMillis", 0, 0)
	if he != nil {
		return p, he
	}

	if ato > 0 && ato < 1000 {
		return p, badParam("Ack timeout should be greater than 1 second")
	}

	p.ackTimeout = time.Duration(ato) * time.Millisecond
	nd, he := intParam(q, "negativeAckRedeliveryDelay", 60000, 0)
	if he != nil {
		return p, he
	}

	p.nackDelay = time.Duration(nd) * time.Millisecond
	if p.priority, he = intParam(q, "priorityLevel", 0, 0); he != nil {
		return p, he
	}

	p.name, _ = first(q, "consumerName")
	_, hasMax := first(q, "maxRedeliverCount")
	dlq, hasDLQ := first(q, "deadLetterTopic")
	if hasMax || hasDLQ {
		if p.maxRedel, he = intParam(q, "maxRedeliverCount", 0, 0); he != nil {
			return p, he
		}

		if p.maxRedel <= 0 {
			return p, badParam("maxRedeliverCount must be > 0")
		}

		p.dlq = dlq
		if p.dlq == "" {
			p.dlq = tg.topic + "-" + tg.sub + "-DLQ"
		}

		p.dlq = fullTopic(p.dlq)
	}

	pull, _ := first(q, "pullMode")
	p.pull = strings.EqualFold(pull, "true")
	return p, nil
}

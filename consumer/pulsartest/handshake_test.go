package pulsartest_test

import (
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/streamd/streamd/consumer/pulsartest"
	"github.com/streamd/streamd/internal/testutil"
)

func TestHandshakeStatuses(t *testing.T) {
	t.Parallel()
	s := pulsartest.Start(t, pulsartest.Config{
		Keys:      []string{key},
		Forbidden: []string{"event-v1/InteractionCreated", "agent-v1/agX", "persistent://acme/event-v1/secret"},
	})
	bad := http.Header{"X-Api-Key": {"wrong"}}
	for _, tc := range []struct {
		path, query string
		h           http.Header
		want        int
	}{
		{readerP, "", nil, 101},
		{"/ws/reader/persistent/acme/cl/event-v1/all", "", nil, 101},
		{"/ws/v1/reader/persistent/acme/cl/event-v1/all", "", nil, 404},
		{"/ws/v2/reader/persistent/acme/event-v1/a%2Fb/c", "", nil, 101},
		{consumerP, "subscriptionType=Shared&subscriptionType=bogus", nil, 101}, // first value wins
		{"/ws/v2/consumer/persistent/acme/event-v1/all/sub%20name", "x=1", nil, 101},
		{"/other", "", nil, 404},
		{"/ws/v2/producer/persistent/acme/event-v1/all", "", nil, 404},
		{"/ws/v2/pingpong/persistent/acme/event-v1/all", "", nil, 404},
		{"/ws/v2/reader/persistent/acme/event-v1", "", nil, 500},
		{"/ws/v2/reader/bogus/acme/event-v1/all", "", nil, 500},
		{"/ws/v2/reader/persistent/ac%20me/event-v1/all", "", nil, 500},
		{"/ws/v2/reader/persistent/acme/event-v1/all", "messageId=notanid", nil, 500},
		{readerP, "messageId=" + url.QueryEscape(base64.StdEncoding.EncodeToString([]byte{0x08, 0x01})), nil, 500},
		{readerP, "receiverQueueSize=x", nil, 400},
		{readerP, "receiverQueueSize=-1", nil, 400},
		{consumerP + "/extra", "", nil, 400},
		{consumerP + "/", "", nil, 400},
		{"/ws/v2/consumer/persistent/acme/event-v1/all/", "", nil, 400},
		{consumerP, "subscriptionType=exclusive", nil, 400},
		{consumerP, "subscriptionType=", nil, 400},
		{consumerP, "subscriptionMode=Lazy", nil, 400},
		{consumerP, "subscriptionInitialPosition=First", nil, 400},
		{consumerP, "receiverQueueSize=-5", nil, 400},
		{consumerP, "receiverQueueSize=99999999999", nil, 400},
		{consumerP, "ackTimeoutMillis=500", nil, 400},
		{consumerP, "negativeAckRedeliveryDelay=soon", nil, 400},
		{consumerP, "deadLetterTopic=dlq", nil, 400},
		{consumerP, "maxRedeliverCount=0", nil, 400},
		{consumerP, "cryptoFailureAction=WHATEVER&subscriptionType=Key_Shared", nil, 101},
		{consumerP, "subscriptionType=bogus", bad, 400}, // params before auth
		{readerP, "", bad, 401},
		{readerP, "", http.Header{}, 401},
		{readerP, "receiverQueueSize=x", bad, 401}, // reader: auth first
		{"/ws/v2/reader/persistent/acme/event-v1/InteractionCreated", "", nil, 403},
		{"/ws/v2/reader/persistent/acme/agent-v1/agX", "", nil, 403},
		{"/ws/v2/consumer/persistent/acme/event-v1/secret/s", "", nil, 403},
		{"/ws/v2/reader/persistent/acme/event-v1/secret", "", bad, 401},
	} {
		if got := status(t, s, tc.path, tc.query, tc.h); got != tc.want {
			t.Errorf("%s?%s: status %d, want %d", tc.path, tc.query, got, tc.want)
		}
	}
	// An upgrade is counted once Accept returns, which can be after the
	// client saw its 101 and closed; every session's end comes after that.
	if err := s.WaitSessions(testutil.Context(t, wait), 0); err != nil {
		t.Fatal(err)
	}
	st := s.Stats()
	if st.Handshakes[404] != 4 || st.Handshakes[403] != 3 || st.Handshakes[101] != 6 {
		t.Errorf("handshake stats %v", st.Handshakes)
	}
}

func TestAuthModes(t *testing.T) {
	t.Parallel()
	cc := base64.StdEncoding.EncodeToString([]byte("acme:>??"))
	s := pulsartest.Start(t, pulsartest.Config{Keys: []string{key, cc}})
	for _, tc := range []struct {
		name  string
		query string
		h     http.Header
		want  int
	}{
		{"header", "", http.Header{"X-Api-Key": {key}}, 101},
		{"header lowercase", "", http.Header{"x-api-key": {cc}}, 101},
		{"query", "x-api-key=" + url.QueryEscape(key), http.Header{}, 101},
		{"query name is case-sensitive", "X-API-KEY=" + key, http.Header{}, 401},
		{"API-Key header fails", "", http.Header{"Api-Key": {key}}, 401},
		{"basic header", "", http.Header{"Authorization": {"Basic " + cc}}, 101},
		{"token query", "token=Basic+" + url.QueryEscape(cc), http.Header{}, 101},
		{"token query ignored with Authorization header", "token=Basic+" + url.QueryEscape(cc),
			http.Header{"Authorization": {"Basic nope"}}, 401},
		{"unencoded token", "token=Basic+" + cc, http.Header{}, 401},
		{"wrong", "", http.Header{"X-Api-Key": {"eght_wrong"}}, 401},
	} {
		if got := status(t, s, readerP, tc.query, tc.h); got != tc.want {
			t.Errorf("%s: status %d, want %d", tc.name, got, tc.want)
		}
	}

	status(t, s, readerP, "messageId=earliest", http.Header{"X-Api-Key": {key}})
	r := s.LastRequest()
	if r.Header.Get("X-API-Key") != key || strings.Contains(r.RawQuery, key) || r.Query.Get("messageId") != "earliest" {
		t.Errorf("last request %+v", r)
	}

	// Key rotation: the old key stops working, the fixed one works.
	s.SetKeys("eght_new")
	if got := status(t, s, readerP, "", nil); got != 401 {
		t.Errorf("old key after SetKeys: %d", got)
	}
	if got := status(t, s, readerP, "", http.Header{"X-Api-Key": {"eght_new"}}); got != 101 {
		t.Errorf("new key: %d", got)
	}
}

func TestOpenAuthAcceptsAnyKey(t *testing.T) {
	t.Parallel()
	s := pulsartest.Start(t, pulsartest.Config{})
	if got := status(t, s, readerP, "", http.Header{"X-Api-Key": {"anything"}}); got != 101 {
		t.Errorf("any key: %d", got)
	}
	if got := status(t, s, readerP, "", http.Header{}); got != 401 {
		t.Errorf("no key: %d", got)
	}
}

func TestRejectHandshakes(t *testing.T) {
	t.Parallel()
	s := pulsartest.Start(t, pulsartest.Config{})
	s.RejectHandshakes(503, 2)
	for i, want := range []int{503, 503, 101} {
		if got := status(t, s, readerP, "", nil); got != want {
			t.Errorf("attempt %d: %d, want %d", i, got, want)
		}
	}
	s.RejectHandshakes(429, -1)
	for range 3 {
		if got := status(t, s, readerP, "", nil); got != 429 {
			t.Errorf("got %d, want 429", got)
		}
	}
	s.RejectHandshakes(0, 0)
	if got := status(t, s, readerP, "", nil); got != 101 {
		t.Errorf("after clear: %d", got)
	}
}

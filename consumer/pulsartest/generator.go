package pulsartest

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"time"
)

// Generator produces a deterministic (per seed), realistic stream of 8x8
// events for one tenant: interleaved interaction lifecycles (inbound,
// outbound, abandoned, rejected-and-reoffered, outbound no-answer) plus
// AgentStatusChange and AgentProvChange events, with the catalog's mixed
// field types. It is not safe for concurrent use.
type Generator struct {
	tenant  string
	rnd     *rand.Rand
	now     func() time.Time
	clock   time.Time // virtual clock used when now is nil
	agents  []string
	uuids   map[string]string
	active  []*interaction
	seq     int64
	txn     int
	created int
}

type step struct {
	event string
	agent int // index into agents, -1 none
	arg   any
}

type interaction struct {
	guid      string
	outbound  bool
	media     string
	resource  int
	queue     int
	txn       int
	channel   any // number or "N/A"
	phone     int64
	campaign  int
	agent     int
	steps     []step
	queueTime int64
}

// NewGenerator returns a Generator for tenant; equal seeds give equal
// streams. Timestamps come from a virtual clock starting 2025-01-01T00:00Z
// unless SetClock is used.
func NewGenerator(tenant string, seed int64) *Generator {
	g := &Generator{
		tenant: tenant,
		rnd:    rand.New(rand.NewPCG(uint64(seed), 0x8e8)),
		clock:  time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC),
		uuids:  make(map[string]string),
		txn:    100000,
	}
	for range 8 {
		g.agents = append(g.agents, "ag"+g.token(22))
	}
	return g
}

// SetClock makes event timestamps come from now (e.g. time.Now for demos).
func (g *Generator) SetClock(now func() time.Time) { g.now = now }

// Agents returns the short agent ids events refer to.
func (g *Generator) Agents() []string { return append([]string(nil), g.agents...) }

const tokenAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-"

func (g *Generator) token(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = tokenAlphabet[g.rnd.IntN(len(tokenAlphabet))]
	}
	return string(b)
}

func (g *Generator) uuid() string {
	return fmt.Sprintf("%08x-%04x-%04x-%04x-%012x", g.rnd.Uint32(), g.rnd.IntN(1<<16),
		0x4000|g.rnd.IntN(1<<12), 0x8000|g.rnd.IntN(1<<14), g.rnd.Uint64()&(1<<48-1))
}

func (g *Generator) time() time.Time {
	if g.now != nil {
		return g.now()
	}
	g.clock = g.clock.Add(time.Duration(200+g.rnd.IntN(2800)) * time.Millisecond)
	return g.clock
}

// Next returns the next event JSON and its type as a client derives it:
// the inner "event" for Interaction and AgentProvChange, else the wrapper
// key (AgentStatusChange).
func (g *Generator) Next() (event []byte, eventType string) {
	now := g.time()
	r := g.rnd.Float64()
	switch {
	case r < 0.10:
		return g.agentStatus(now), "AgentStatusChange"
	case r < 0.13:
		return g.agentProv(now)
	case len(g.active) < 2 || (len(g.active) < 8 && r < 0.28):
		g.active = append(g.active, g.newInteraction(now))
		return g.advance(len(g.active)-1, now)
	}

	return g.advance(g.rnd.IntN(len(g.active)), now)
}

func (g *Generator) marshal(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // only maps of plain values
	}
	return b
}

// msgInfo is {} in newer samples and fully populated in older ones.
func (g *Generator) msgInfo(now time.Time) map[string]any {
	if g.rnd.IntN(2) == 0 {
		return map[string]any{}
	}
	g.seq++
	return map[string]any{
		"instanceId": fmt.Sprintf("us1tomcat%02d.us1.whitepj.net-sapi-v1", 1+g.rnd.IntN(9)),
		"sequenceId": g.seq,
		"timestamp":  now.UnixMilli(),
	}
}

// boolish returns a JSON bool or its string form, as 8x8 mixes both.
func (g *Generator) boolish(v bool) any {
	if g.rnd.IntN(3) == 0 {
		return fmt.Sprint(v)
	}
	return v
}

func (g *Generator) agentGUID(i int) string {
	a := g.agents[i]
	if g.uuids[a] == "" {
		g.uuids[a] = g.uuid()
	}
	return g.tenant + "-" + a + "-" + g.uuids[a]
}

func (g *Generator) agentStatus(now time.Time) []byte {
	states := []struct {
		state    int
		sub, why string
	}{{1, "none", "none"}, {5, "none", "none"}, {3, "break", "Lunch"}, {2, "none", "none"}, {0, "none", "Logout"}}

	st := states[g.rnd.IntN(len(states))]
	return g.marshal(map[string]any{"AgentStatusChange": map[string]any{
		"agentId":           g.agents[g.rnd.IntN(len(g.agents))],
		"msgInfo":           g.msgInfo(now),
		"newReasonCodeUser": fmt.Sprintf("%d=%d", 800+g.rnd.IntN(5), 1000+g.rnd.IntN(900)),
		"newState":          st.state,
		"newSubState":       st.sub,
		"newSubStateReason": st.why,
		"statusEventTS":     now.Unix(),
	}})
}

func (g *Generator) agentProv(now time.Time) ([]byte, string) {
	ev := "AgentSkillChanged"
	if g.rnd.IntN(4) == 0 {
		ev = "AgentSkillCreated"
	}

	a := g.agents[g.rnd.IntN(len(g.agents))]
	skill := fmt.Sprintf("phone-%d-%s", 500+g.rnd.IntN(50), g.uuid())
	enabled := "yes"
	if g.rnd.IntN(3) == 0 {
		enabled = "no"
	}

	return g.marshal(map[string]any{"AgentProvChange": map[string]any{
		"agentId":       a,
		"enabled":       enabled,
		"event":         ev,
		"msgInfo":       g.msgInfo(now),
		"skillId":       g.tenant + "-" + a + "-" + skill,
		"tenantSkillId": g.tenant + "-" + skill,
	}}), ev
}

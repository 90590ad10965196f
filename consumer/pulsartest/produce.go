package pulsartest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// PublishEvent publishes a decoded 8x8 event the way 8x8 does: to
// {tenant}/event-v1/all and {tenant}/event-v1/{type}, and agent events
// (AgentStatusChange, AgentProvChange) also to {tenant}/agent-v1/{agentId}.
// The type topic is eventType, except that agent families use their family
// name (an AgentProvChange with event AgentSkillChanged goes to
// event-v1/AgentProvChange). Every copy carries the message key of EventKey
// (the frames' "key" field). It returns the ids in that topic order.
func (s *Server) PublishEvent(tenant string, event []byte, eventType string) []string {
	family, agentID := agentFamily(event)
	typeTopic := eventType
	if family != "" {
		typeTopic = family
	}

	var opts []PublishOption
	if k := EventKey(event); k != "" {
		opts = append(opts, WithKey(k))
	}

	ids := []string{
		s.Publish(tenant+"/event-v1/all", event, opts...),
		s.Publish(tenant+"/event-v1/"+typeTopic, event, opts...),
	}

	if family != "" && agentID != "" {
		ids = append(ids, s.Publish(tenant+"/agent-v1/"+agentID, event, opts...))
	}

	return ids
}

// EventKey returns the message key the emulator gives an 8x8 event: the
// interactionGUID of an Interaction event, the agentId of an agent event
// (AgentStatusChange, AgentProvChange), else "". 8x8 does not document
// message keys (8x8-event-streaming.md, open question 11); these are the
// ids its docs name as correlation keys, so on Key_Shared each interaction's
// and each agent's events stay in order on one consumer.
func EventKey(event []byte) string {
	var w map[string]struct {
		InteractionGUID string `json:"interactionGUID"`
		AgentID         string `json:"agentId"`
	}

	if json.Unmarshal(event, &w) != nil || len(w) != 1 {
		return ""
	}

	for family, inner := range w {
		switch family {
		case "Interaction":
			return inner.InteractionGUID
		case "AgentStatusChange", "AgentProvChange":
			return inner.AgentID
		}
	}

	return ""
}

// agentFamily returns the wrapper key and agentId of an agent event, or ""
// for other events.
func agentFamily(event []byte) (family, agentID string) {
	var w map[string]json.RawMessage
	if json.Unmarshal(event, &w) != nil || len(w) != 1 {
		return "", ""
	}

	for k, v := range w {
		if k != "AgentStatusChange" && k != "AgentProvChange" {
			return "", ""
		}

		var inner struct {
			AgentID string `json:"agentId"`
		}

		_ = json.Unmarshal(v, &inner)

		return k, inner.AgentID
	}

	return "", ""
}

// Produce publishes events from g with PublishEvent at rate events per
// second until ctx is done, then returns nil. Bursts catch up when the
// ticker falls behind. g must not be used concurrently elsewhere.
func (s *Server) Produce(ctx context.Context, tenant string, g *Generator, rate float64) error {
	if rate <= 0 {
		return fmt.Errorf("produce events: %w", errors.New("rate must be positive"))
	}

	interval := max(time.Duration(float64(time.Second)/rate), time.Millisecond)
	tick := time.NewTicker(interval)
	defer tick.Stop()
	start := time.Now()
	sent := 0
	for {
		select {
		case <-ctx.Done():
			return nil
		case now := <-tick.C:
			due := int(now.Sub(start).Seconds() * rate)
			for ; sent < due && ctx.Err() == nil; sent++ {
				ev, typ := g.Next()
				s.PublishEvent(tenant, ev, typ)
			}
		}
	}
}

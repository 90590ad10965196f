package pulsartest

import (
	"fmt"
	"time"
)

// newInteraction picks a lifecycle (catalog §5.5) and scripts its events.
func (g *Generator) newInteraction(now time.Time) *interaction {
	g.created++
	g.txn += 1 + g.rnd.IntN(50)
	it := &interaction{
		media:     "phone",
		queue:     1000 + g.rnd.IntN(200),
		txn:       g.txn,
		phone:     2000000000 + g.rnd.Int64N(7999999999),
		agent:     g.rnd.IntN(len(g.agents)),
		queueTime: now.Unix(),
	}

	switch g.rnd.IntN(10) {
	case 0:
		it.media, it.resource = "chat", 2
	case 1:
		it.media, it.resource = "email", 1
	}

	it.channel = any(int64(13125550000 + g.rnd.IntN(9999)))
	if it.media != "phone" || g.rnd.IntN(5) == 0 {
		it.channel = "N/A"
	}

	a, other := it.agent, (it.agent+1+g.rnd.IntN(len(g.agents)-1))%len(g.agents)
	s := func(ev string, agent int, arg any) step { return step{ev, agent, arg} }
	wrap := []step{s("InteractionPostProcess", a, nil), s("InteractionEndPostProcess", a, nil),
		s("InteractionDeassigned", a, nil), s("InteractionDeleted", a, "AGENT")}

	switch k := g.rnd.IntN(100); {
	case k < 45: // inbound
		it.steps = []step{s("InteractionCreated", -1, nil), s("InteractionQueued", -1, nil),
			s("InteractionAssigned", a, nil), s("InteractionAccepted", a, nil)}

		if g.rnd.IntN(2) == 0 {
			it.steps = append(it.steps, s("LineHoldStatus", a, true), s("LineHoldStatus", a, false))
		}

		if g.rnd.IntN(4) == 0 {
			it.steps = append(it.steps, s("RecordingStatus", a, "pause"), s("RecordingStatus", a, "resume"))
		}

		it.steps = append(it.steps, wrap...)
	case k < 70: // outbound
		it.outbound, it.media, it.resource, it.channel = true, "phone", 0, "N/A"
		it.campaign = g.rnd.IntN(2) * (4000 + g.rnd.IntN(999))
		it.steps = []step{s("InteractionCreated", -1, nil), s("InteractionAssigned", a, nil)}
		if g.rnd.IntN(2) == 0 {
			it.steps = append(it.steps, s("InteractionRecordingStarted", a, nil))
		}

		it.steps = append(it.steps, s("InteractionAccepted", a, nil), s("InteractionCustomerAccepted", a, nil))
		it.steps = append(it.steps, wrap...)
	case k < 82: // abandoned in queue
		it.steps = []step{s("InteractionCreated", -1, nil), s("InteractionQueued", -1, nil),
			s("InteractionUnqueued", -1, nil), s("InteractionDeleted", -1, "CUSTOMER")}
	case k < 94: // rejected, re-offered to another agent
		it.agent = other
		it.steps = []step{s("InteractionCreated", -1, nil), s("InteractionQueued", -1, nil),
			s("InteractionAssigned", a, nil), s("InteractionRejected", a, nil),
			s("InteractionAssigned", other, nil), s("InteractionAccepted", other, nil),
			s("InteractionPostProcess", other, nil), s("InteractionEndPostProcess", other, nil),
			s("InteractionDeassigned", other, nil), s("InteractionDeleted", other, "AGENT")}
	default: // outbound, no answer
		it.outbound, it.media, it.resource, it.channel = true, "phone", 0, "N/A"
		it.steps = []step{s("InteractionCreated", -1, nil), s("InteractionAssigned", a, nil),
			s("InteractionDeleted", a, "SYSTEM")}
	}

	it.guid = fmt.Sprintf("int-%x-%s-%s-%02d-%s", now.UnixMilli(), g.token(25), it.media, g.created%100, g.tenant)
	return it
}

// advance emits the next event of active interaction i.
func (g *Generator) advance(i int, now time.Time) ([]byte, string) {
	it := g.active[i]
	st := it.steps[0]
	it.steps = it.steps[1:]
	if len(it.steps) == 0 {
		g.active = append(g.active[:i], g.active[i+1:]...)
	}

	f := map[string]any{
		"event":              st.event,
		"interactionGUID":    it.guid,
		"interactionEventTS": now.Unix(),
		"msgInfo":            g.msgInfo(now),
	}

	direction := "in"
	if it.outbound {
		direction = "out"
	}

	if st.agent >= 0 {
		f["agentId"] = g.agents[st.agent]
		f["agentGUID"] = g.agentGUID(st.agent)
		f["participatingAgents"] = g.agents[st.agent]
		f["transactionNum"] = it.txn
	}

	switch st.event {
	case "InteractionCreated":
		f["attachedData"] = g.attached(it, now, "@pri", "callingName", "phoneNum")
		f["callState"] = map[bool]string{false: "CS_QUEUED", true: "CS_IDLE"}[it.outbound]
		f["inboundChannelid"] = it.channel
		f["resourceType"] = it.resource
	case "InteractionQueued":
		f["attachedData"] = g.attached(it, now, "channelName", "que", "queueDirection", "priority", "tenantName", "tenantSkillName", "tim")
		g.queueFields(f, it, direction, now)
		f["callState"] = "CS_QUEUED"
		f["callerPermission"] = "yes"
		f["inboundChannelid"] = it.channel
		f["isAgentInitiated"] = g.boolish(false)
		f["overrideAutoInteractionRecording"] = "yes"
	case "InteractionAssigned":
		f["attachedData"] = g.attached(it, now, "phoneNum", "que", "tenantName", "otim", "waitTime")
		g.queueFields(f, it, direction, now)
		f["agentPhone"] = 40000 + st.agent
		f["agentRscWaitTime"] = 30
		f["agentTreatedPhone"] = fmt.Sprintf("%d-%s", 40000+st.agent, g.tenant)
		f["callState"] = "CS_INPROGRESS"
		f["isAgentInitiated"] = g.boolish(false)
		f["isDirectAccess"] = g.boolish(false)
		f["isExternal"] = g.boolish(true)
		f["isOutboundCall"] = g.boolish(it.outbound)
		f["outboundCampaignid"] = it.campaign
		f["promptingTimeout"] = 30
		f["recordingMode"] = "no"
	case "InteractionAccepted":
		f["callState"] = map[bool]string{false: "CS_CONNECTED", true: "CS_INPROGRESS"}[it.outbound]
		f["mediaType"] = it.media
	case "InteractionCustomerAccepted":
		f["callState"] = "CS_CONNECTED"
		f["mediaType"] = it.media
	case "InteractionRecordingStarted":
		f["recordingMode"] = "yes"
	case "LineHoldStatus":
		f["callState"] = map[bool]string{true: "CS_HOLD", false: "CS_CONNECTED"}[st.arg.(bool)]
		f["mediaType"] = it.media
		f["status"] = st.arg
	case "RecordingStatus":
		f["isAPICall"] = g.rnd.IntN(2) == 0
		f["recordingMode"] = "yes"
		f["status"] = st.arg
	case "InteractionRejected":
		f["callState"] = "CS_QUEUED"
		f["queueList"] = it.queue
		f["rejectReason"] = 1 + g.rnd.IntN(2)
		f["resourceType"] = it.resource
	case "InteractionUnqueued":
		f["callState"] = "CS_IDLE"
		f["queueId"] = it.queue
		f["resourceType"] = it.resource
	case "InteractionPostProcess", "InteractionDeassigned":
		f["callState"] = "CS_DISCONNECTED"
		f["mediaType"] = it.media
	case "InteractionEndPostProcess":
		f["callState"] = "CS_DISCONNECTED"
		f["dispositionCode"] = g.disposition()
		f["agentNotes"] = []string{"", "customer happy", "call back tomorrow"}[g.rnd.IntN(3)]
	case "InteractionDeleted":
		g.deletedFields(f, it, st, now)
	}

	return g.marshal(map[string]any{"Interaction": f}), st.event
}

func (g *Generator) queueFields(f map[string]any, it *interaction, direction string, now time.Time) {
	f["direction"] = direction
	f["eventTS"] = now.Unix()
	f["mediaType"] = it.media
	f["priority"] = 50
	f["queueId"] = it.queue
	f["queueList"] = it.queue
	f["queueTime"] = it.queueTime
	f["resourceType"] = it.resource
	f["transactionNum"] = it.txn
}

func (g *Generator) deletedFields(f map[string]any, it *interaction, st step, now time.Time) {
	f["attachedData"] = g.attached(it, now, "callDuration", "callDurationSec", "callHangupTime", "tenantName", "record_phone_index")
	f["callState"] = "CS_DISCONNECTED"
	f["hangupInitiator"] = st.arg
	reason := "CEC_DISCONNECT_NORMAL"
	switch st.arg {
	case "SYSTEM":
		reason = "CEC_DISCONNECT_NOANSWER"
	case "CUSTOMER":
		if st.agent < 0 {
			reason = "CEC_DISCONNECT_CANCELLED"
		}
	}

	f["callHangupReason"] = reason
	f["dispositionCode"] = g.disposition()
	f["inboundChannelid"] = it.channel
	f["isAgentInitiated"] = g.boolish(it.outbound)
	f["isDirectAccess"] = g.boolish(false)
	f["isQueued"] = g.boolish(false)
	f["mediaType"] = it.media
	f["recordingMode"] = "no"
	f["rejectReason"] = 0
	f["resourceType"] = it.resource
}

// disposition is a number or a string code, as the catalog documents.
func (g *Generator) disposition() any {
	if g.rnd.IntN(3) == 0 {
		return []string{"SALE", "NO_SALE", "CALLBACK"}[g.rnd.IntN(3)]
	}
	return 1000 + g.rnd.IntN(5)
}

// attached builds attachedData with mixed value types (numbers, strings,
// booleans).
func (g *Generator) attached(it *interaction, now time.Time, keys ...string) map[string]any {
	data := make([]map[string]any, 0, len(keys))
	for _, k := range keys {
		var v any
		switch k {
		case "@pri", "priority":
			v = []int{50, 100}[g.rnd.IntN(2)]
		case "callingName":
			v = []string{"WIRELESS CALLER", "SMITH JOHN", "ACME INC"}[g.rnd.IntN(3)]
		case "phoneNum":
			v = any(it.phone)
			if g.rnd.IntN(4) == 0 {
				v = fmt.Sprint(it.phone)
			}
		case "channelName":
			v = "Main line"
		case "que":
			v = fmt.Sprintf("%s~~queue%d~~%s~~%d", g.tenant, it.queue, it.media, it.queue)
		case "queueDirection":
			v = map[bool]string{false: "in", true: "out"}[it.outbound]
		case "tenantName":
			v = g.tenant
		case "tenantSkillName":
			v = fmt.Sprintf("Support %d", it.queue)
		case "tim", "otim":
			v = now.Unix()
		case "waitTime":
			v = g.rnd.IntN(120)
		case "callDuration":
			d := g.rnd.IntN(900)
			v = fmt.Sprintf("00:%02d:%02d", d/60, d%60)
		case "callDurationSec":
			v = fmt.Sprint(g.rnd.IntN(900))
		case "callHangupTime":
			v = now.UnixMilli()
		case "record_phone_index":
			v = g.rnd.IntN(2) == 0
		}

		data = append(data, map[string]any{"attachedDataKey": k, "attachedDataValue": v})
	}

	return map[string]any{"attachedDatum": data}
}

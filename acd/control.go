package acd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/tandem-cc/tandem/agents"
	"github.com/tandem-cc/tandem/dialnum"
	"github.com/tandem-cc/tandem/errs"
)

// party is the consulted side of a call: an agent (named, or found through
// a queue) or an outside number.
type party struct {
	target Target
	agent  string // consulted agent ("" for a number, or a queue not yet answered)
	leg    string // its leg once rung
	ix     string // the consult's own interaction, for a consult to a queue
}

// partyCounterpart is the counterpart a consulted party becomes when it
// takes the customer: an agent, or an outside number.
func partyCounterpart(p *party) counterpartEvent {
	if p.agent == "" {
		return cpOutside
	}
	return cpAgent
}

// recording is the call's current recording while the recording machine
// (recording_fsm.go) is not off.
type recording struct {
	name      string
	gen       int // bumps on every pause, so a stale auto-resume is ignored
	resumesAt time.Time
	log       Recording
}

// Messages of call control besides commands.
type (
	recAutoResume struct{ gen int }
)

// onCommand runs one agent request in the actor and answers it.
func (c *call) onCommand(ctx context.Context, m commandMsg) {
	var v CallView
	var err error
	if m.cmd.Actor != "" {
		// What the command records (Store.Record) names who asked; what
		// the call does later, on its own events, names the system.
		ctx = WithActor(ctx, m.cmd.Actor)
	}
	switch m.cmd.Op {
	case opCallbackStart, opCallbackRegister, opCallbackCancel:
		v, err = c.flowCommand(ctx, m.cmd)
		m.reply(v, err)
		return
	case opCallbackAccept:
		m.reply(c.acceptCallback(ctx, m.cmd))
		return
	case opForceEnd:
		m.reply(c.forceEnd(ctx)) // a supervisor's end (supervisor.go)
		return
	case opCallbackWithdraw:
		if c.cb != nil {
			c.withdrawCallback(ctx)
		}
		m.reply(CallView{ConnectionID: c.conn, State: StateEnded}, nil)
		return
	}
	wasConsulted := m.cmd.Agent != "" && m.cmd.Agent == c.consultAgent()
	v, err = c.command(ctx, m.cmd)
	if err == nil {
		c.saveView(ctx)
		v = c.viewFor(m.cmd.Agent, wasConsulted)
	}
	m.reply(v, err)
}

// viewFor is the answer to agent's request, true for that agent: the call
// as it is now, with the agent's role in it; or, when the request took
// the agent off a call that goes on without them (the owner leaving a
// conference, the consulted agent ending their part, a transfer), state
// CallLeft — not the others' "connected", which would tell the agent they
// are still on it. Such a view keeps who has the customer now (Agent) and
// the role the agent had, and nothing of the consult or recording they
// are no longer part of. A call that is over answers its final state
// (view): the end is done by the time the answer goes, the legs' hang-ups
// having been accepted by the PBX.
func (c *call) viewFor(agent string, wasConsulted bool) CallView {
	v := c.view()
	if c.outcome == outcomeFinished || agent == "" {
		return v
	}
	switch agent {
	case c.agent:
		v.Role = "owner"
	case c.consultAgent():
		v.Role = "consulted"
	default:
		v.State, v.CustomerHeld, v.HeldSince, v.Consult, v.Recording = CallLeft, false, time.Time{}, nil, nil
		if wasConsulted {
			v.Role = "consulted"
		}
	}
	return v
}

func (c *call) command(ctx context.Context, cmd command) (CallView, error) {
	if c.route != routeConnected && c.route != routeRinging && c.route != routeQueued {
		return CallView{}, fmt.Errorf("call %s: %w", c.conn, ErrNoCall)
	}
	isOwner := cmd.Agent != "" && cmd.Agent == c.agent
	isConsulted := c.consult != nil && cmd.Agent != "" && cmd.Agent == c.consult.agent
	if !isOwner && !isConsulted {
		return CallView{}, fmt.Errorf("agent %s is not on call %s: %w", cmd.Agent, c.conn, ErrForbidden)
	}
	if c.route != routeConnected {
		return CallView{}, illegal("%s: the call is not connected", cmd.Op)
	}
	if isConsulted && cmd.Op != opConsultEnd && cmd.Op != opEnd {
		return CallView{}, illegal("%s: only the agent who has the customer can do that", cmd.Op)
	}
	switch cmd.Op {
	case opHold:
		return CallView{}, c.cmdHold(ctx)
	case opResume:
		return CallView{}, c.cmdResume(ctx)
	case opConsult:
		return CallView{}, c.cmdConsult(ctx, cmd.Target)
	case opConsultEnd:
		return CallView{}, c.cmdConsultEnd(ctx, cmd.Agent)
	case opTransfer:
		return CallView{}, c.cmdTransfer(ctx, cmd.Target)
	case opTransferComplete:
		return CallView{}, c.cmdCompleteTransfer(ctx)
	case opConference:
		return CallView{}, c.cmdConference(ctx)
	case opEnd:
		if isConsulted {
			return CallView{}, c.cmdConsultEnd(ctx, cmd.Agent)
		}
		return CallView{}, c.cmdEnd(ctx)
	case opRecPause:
		return CallView{}, c.cmdRecPause(ctx, cmd.Privacy)
	case opRecResume:
		return CallView{}, c.cmdRecResume(ctx)
	}
	return CallView{}, &errs.FieldError{Field: "op", Msg: "unknown operation " + cmd.Op}
}

// ---- hold and resume ------------------------------------------------------

// holdCustomer takes the customer out of the bridge to hold music, unless
// the talk machine says they are held already; the caller moves the machine.
func (c *call) holdCustomer(ctx context.Context) error {
	if c.talk.customerHeld() {
		return nil
	}
	if err := c.e.pbx.RemoveFromBridge(ctx, c.conn, c.callerLeg); err != nil {
		return fmt.Errorf("hold: %w", err)
	}
	if err := c.e.pbx.StartMusic(ctx, c.callerLeg, c.settings.MOHClass); err != nil {
		c.log.Warn("hold music", "err", err)
	}
	return nil
}

func (c *call) unholdCustomer(ctx context.Context) error {
	if !c.talk.customerHeld() {
		return nil
	}
	if err := c.e.pbx.StopMusic(ctx, c.callerLeg); err != nil {
		c.log.Warn("stop hold music", "err", err)
	}
	if err := c.e.pbx.AddToBridge(ctx, c.conn, c.callerLeg); err != nil {
		return fmt.Errorf("resume: %w", err)
	}
	return nil
}

func (c *call) holdConsulted(ctx context.Context) error {
	p := c.consult
	if c.talk.consultHeld() || !c.talk.consultAnswered() {
		return nil
	}
	if err := c.e.pbx.RemoveFromBridge(ctx, c.conn, p.leg); err != nil {
		return err
	}
	if err := c.e.pbx.StartMusic(ctx, p.leg, c.settings.MOHClass); err != nil {
		c.log.Warn("hold music for consulted party", "err", err)
	}
	return nil
}

func (c *call) unholdConsulted(ctx context.Context) error {
	p := c.consult
	if !c.talk.consultHeld() {
		return nil
	}
	if err := c.e.pbx.StopMusic(ctx, p.leg); err != nil {
		c.log.Warn("stop hold music for consulted party", "err", err)
	}
	if err := c.e.pbx.AddToBridge(ctx, c.conn, p.leg); err != nil {
		return err
	}
	return nil
}

func (c *call) cmdHold(ctx context.Context) error {
	if _, err := nextTalk(c.talk, tevHold); err != nil {
		switch {
		case c.talk == talkHeld:
			return illegal("hold: the customer is already on hold")
		case c.talk == talkConference:
			return illegal("hold: not during a conference")
		case c.talk.consulting():
			return illegal("hold: a consult is active (use resume to switch parties)")
		}
		return fmt.Errorf("hold: %w", err)
	}
	if err := c.holdCustomer(ctx); err != nil {
		return err
	}
	c.talkTo(ctx, tevHold)
	return nil
}

// cmdResume takes the customer off hold. During a consult it toggles: the
// customer comes back and the consulted party is held, or the other way
// round; the two are never held at once.
func (c *call) cmdResume(ctx context.Context) error {
	if _, err := nextTalk(c.talk, tevResume); err != nil {
		switch c.talk {
		case talkConference:
			return illegal("resume: nobody is on hold in a conference")
		case talkConsultRingingBack:
			return illegal("resume: the consulted party has not answered")
		case talkTalking, talkIdle:
			return illegal("resume: the customer is not on hold")
		}
		return fmt.Errorf("resume: %w", err)
	}
	if c.talk.customerHeld() {
		// The customer comes back; an answered consulted party waits.
		if err := c.holdConsulted(ctx); err != nil {
			return err
		}
		if err := c.unholdCustomer(ctx); err != nil {
			return err
		}
	} else {
		if err := c.holdCustomer(ctx); err != nil {
			return err
		}
		if err := c.unholdConsulted(ctx); err != nil {
			return err
		}
	}
	c.talkTo(ctx, tevResume)
	return nil
}

// ---- consult ---------------------------------------------------------------

// dialNumber validates and normalises a number, applies the dialling
// policy and returns the endpoint to ring; a refused number is a field
// error naming the rule. Consults, transfers and IVR dial branches all
// dial through it.
func (c *call) dialNumber(value string) (string, error) {
	n, err := c.e.opts.Dial.Policy.Dialable(value, c.e.opts.Dial.DefaultRegion)
	if err != nil {
		var re *dialnum.RuleError
		if errors.As(err, &re) {
			return "", &errs.FieldError{Field: "number", Msg: re.Error()}
		}
		return "", &errs.FieldError{Field: "number", Msg: err.Error()}
	}
	return strings.ReplaceAll(c.e.opts.Dial.Endpoint, "{number}", n.Dial), nil
}

func (c *call) nextLeg(kind string) string {
	c.legSeq++
	return fmt.Sprintf("%s-%s%d", c.conn, kind, c.legSeq)
}

func (c *call) cmdConsult(ctx context.Context, t Target) error {
	if _, err := nextTalk(c.talk, tevConsult); err != nil {
		switch {
		case c.talk == talkConference:
			return illegal("consult: not during a conference")
		case c.talk.consulting():
			return illegal("consult: a consult is already active")
		}
		return fmt.Errorf("consult: %w", err)
	}
	p := &party{target: t}
	var endpoint string
	switch t.Kind {
	case TargetAgent:
		if t.Value == c.agent {
			return &errs.FieldError{Field: "value", Msg: "cannot consult yourself"}
		}
		ep, err := c.e.store.ReserveAgent(ctx, t.Value, c.conn, agents.Available, agents.Idle)
		if errors.Is(err, ErrIllegalTransition) {
			return illegal("consult: agent %s is not available or idle", t.Value)
		} else if errors.Is(err, ErrNotFound) {
			return &errs.FieldError{Field: "value", Msg: "no such agent logged in: " + t.Value}
		} else if err != nil {
			return err
		}
		p.agent, endpoint = t.Value, ep
	case TargetQueue:
		if _, ok := c.e.opts.Queues[t.Value]; !ok {
			return &errs.FieldError{Field: "value", Msg: "unknown queue " + t.Value}
		}
	case TargetNumber:
		ep, err := c.dialNumber(t.Value)
		if err != nil {
			return err
		}
		endpoint = ep
	default:
		return &errs.FieldError{Field: "kind", Msg: "must be agent, queue or number"}
	}
	if err := c.holdCustomer(ctx); err != nil {
		if p.agent != "" {
			c.agentStep(ctx, p.agent, StepNoAnswer)
		}
		return err
	}
	c.consult = p
	c.talkTo(ctx, tevConsult, "target_kind", string(t.Kind), "target", t.Value)
	if t.Kind == TargetQueue {
		return c.consultQueue(ctx, p)
	}
	return c.ringConsult(ctx, p, endpoint)
}

// ringConsult rings the consulted party's endpoint.
func (c *call) ringConsult(ctx context.Context, p *party, endpoint string) error {
	p.leg = c.nextLeg("c")
	c.e.registerLeg(p.leg, c)
	timeout := c.settings.RingTimeout
	if p.agent == "" {
		timeout = c.e.opts.Dial.RingTimeout
	}
	err := c.e.pbx.Ring(ctx, RingRequest{
		Leg: p.leg, Endpoint: endpoint, CallerID: c.e.opts.Dial.CallerID, Timeout: timeout + 2*time.Second, Originator: c.callerLeg,
		Vars: map[string]string{"TANDEM_CONSULT": c.conn},
	})
	if err != nil {
		c.log.Warn("ring consult", "endpoint", endpoint, "err", err)
		c.consultFailed(ctx, "failed")
		return nil
	}
	if p.agent != "" {
		c.agentStep(ctx, p.agent, StepRing)
		c.e.publish(ctx, c.consultRequest(p.agent))
	}
	leg := p.leg
	c.consultTimer = c.after(timeout, ringTimeout{leg: leg})
	return nil
}

// consultRequest is the consulted agent's pop-up: who consults, from where,
// and the call's variables (secure ones masked).
func (c *call) consultRequest(agent string) AgentEvent {
	ev := AgentEvent{Type: "consult_request", Agent: agent, ConnectionID: c.conn, ANI: c.arrived.ANI, DNIS: c.arrived.DNIS, Queue: c.queueName, Attached: c.maskedVars()}
	if a, err := c.e.store.Agent(context.Background(), c.agent); err == nil {
		ev.From = &ConsultingAgent{ID: a.ID, DN: a.Endpoint, Team: strings.Join(a.Queues, ",")}
	}
	return ev
}

// consultQueue puts a consult request in a queue: it waits there as an
// interaction of its own (owned by this node, parent = this call) and is
// routed like any call; the offer comes back to this actor.
func (c *call) consultQueue(ctx context.Context, p *party) error {
	c.legSeq++
	p.ix = fmt.Sprintf("%s-q%d", c.conn, c.legSeq)
	if err := c.e.store.ArriveConsult(ctx, p.ix, c.conn, c.agent); err != nil {
		c.talkTo(ctx, tevConsultFail, "reason", "failed")
		return err
	}
	c.e.registerCall(p.ix, c)
	// An agent free for the consult is delivered to this actor's mailbox
	// (registered above) and rung by onConsultOffer.
	return c.e.store.Enqueue(ctx, p.ix, p.target.Value, 9)
}

// onConsultOffer rings the agent routing found for a consult to a queue.
func (c *call) onConsultOffer(ctx context.Context, o Offer) {
	p := c.consult
	if p == nil || p.ix != o.ConnectionID || p.leg != "" {
		// A stale consult: its interaction ends, which frees the agent;
		// Finish delivers the waiting call that agent is offered next.
		if _, err := c.e.store.Finish(ctx, o.ConnectionID, "failed", "system"); err != nil && !errors.Is(err, ErrIllegalTransition) {
			c.log.Warn("end a stale consult", "consult", o.ConnectionID, "agent_id", o.Agent, "err", err)
		}
		return
	}
	p.agent = o.Agent
	p.leg = c.nextLeg("c")
	c.e.registerLeg(p.leg, c)
	if err := c.e.pbx.Ring(ctx, RingRequest{
		Leg: p.leg, Endpoint: o.Endpoint, CallerID: c.arrived.ANI, Timeout: c.settings.RingTimeout + 2*time.Second, Originator: c.callerLeg,
		Vars: map[string]string{"TANDEM_CONSULT": c.conn},
	}); err != nil {
		c.consultFailed(ctx, "failed")
		return
	}
	if err := c.e.store.Ringing(ctx, o, p.leg); err != nil {
		c.log.Warn("mark consult ringing", "agent_id", o.Agent, "err", err)
	}
	c.e.publish(ctx, c.consultRequest(o.Agent))
	leg := p.leg
	c.consultTimer = c.after(c.settings.RingTimeout, ringTimeout{leg: leg})
}

func (c *call) stopConsultTimer() {
	if c.consultTimer != nil {
		c.consultTimer.Stop()
		c.consultTimer = nil
	}
}

// onConsultAnswered: the consulted party answers; the agent talks to them
// while the customer stays on hold (or, if the agent took the customer
// back meanwhile, the consulted party waits on hold).
func (c *call) onConsultAnswered(ctx context.Context) {
	p := c.consult
	c.stopConsultTimer()
	if p.ix != "" {
		if err := c.e.store.Connect(ctx, p.ix, p.agent, p.leg); err != nil {
			c.log.Warn("consult connect", "err", err)
		}
	} else if p.agent != "" {
		c.agentStep(ctx, p.agent, StepConnect)
	}
	if c.talk.customerHeld() {
		if err := c.e.pbx.AddToBridge(ctx, c.conn, p.leg); err != nil {
			c.log.Error("join consulted party", "err", err)
		}
	} else {
		if err := c.e.pbx.StartMusic(ctx, p.leg, c.settings.MOHClass); err != nil {
			c.log.Warn("hold music for consulted party", "err", err)
		}
	}
	c.talkTo(ctx, tevConsultAnswer)
	c.saveView(ctx)
	c.publishCall(ctx, "consult_connected")
}

// consultFailed: the consulted party did not answer. An agent goes to RONA
// and the consulting agent is told; a consult to a queue goes back to the
// head of that queue and keeps waiting.
func (c *call) consultFailed(ctx context.Context, reason string) {
	p := c.consult
	c.stopConsultTimer()
	if p.leg != "" {
		c.hangup(ctx, p.leg, CauseNoAnswer)
		c.e.forgetLeg(p.leg)
	}
	if p.ix != "" {
		// The next agent for the consult, if one is free, comes through the
		// mailbox to onConsultOffer.
		if err := c.e.store.NoAnswer(ctx, p.ix, p.agent, reason); err != nil {
			c.log.Warn("consult rona", "err", err)
		}
		p.leg, p.agent = "", ""
		c.talkTo(ctx, tevConsultRequeue)
		c.e.publish(ctx, AgentEvent{Type: "consult_failed", Agent: c.agent, ConnectionID: c.conn, Disposition: reason})
		c.saveView(ctx)
		return
	}
	if p.agent != "" {
		c.agentStep(ctx, p.agent, StepNoAnswer)
	}
	c.talkTo(ctx, tevConsultFail, "reason", reason)
	c.e.publish(ctx, AgentEvent{Type: "consult_failed", Agent: c.agent, ConnectionID: c.conn, Disposition: reason})
	c.saveView(ctx)
}

// endConsult takes the consulted party out of the call; the customer stays
// as they are (on hold until the agent resumes).
func (c *call) endConsult(ctx context.Context, by string) {
	p := c.consult
	c.talkTo(ctx, tevConsultEnd, "by", by)
	c.stopConsultTimer()
	if p.leg != "" {
		c.e.forgetLeg(p.leg)
		c.hangup(ctx, p.leg, CauseNormal)
	}
	if p.ix != "" {
		if p.agent != "" {
			// The consulted agent's binding is to the consult interaction.
			c.finishConsultIx(ctx, p)
		} else if _, err := c.e.store.Finish(ctx, p.ix, "hangup", by); err != nil && !errors.Is(err, ErrIllegalTransition) {
			// Still waiting; an agent it was offered meanwhile is freed and
			// Finish delivers their next call.
			c.log.Warn("end consult waiting in queue", "consult", p.ix, "err", err)
		}
	} else if p.agent != "" {
		c.agentStep(ctx, p.agent, StepDone)
	}
	if p.agent != "" {
		c.e.scheduleWrapUp(p.agent)
		c.e.publish(ctx, AgentEvent{Type: "ended", Agent: p.agent, ConnectionID: c.conn, Disposition: "consult_ended"})
	}
	c.e.publish(ctx, AgentEvent{Type: "consult_ended", Agent: c.agent, ConnectionID: c.conn})
}

func (c *call) finishConsultIx(ctx context.Context, p *party) {
	if _, err := c.e.store.Finish(ctx, p.ix, "hangup", "agent"); err != nil && !errors.Is(err, ErrIllegalTransition) {
		c.log.Warn("finish consult", "err", err)
	}
}

// agentStep moves an agent bound to this call's consult or conference
// (StepDone may offer them the next call: the store delivers it).
func (c *call) agentStep(ctx context.Context, agent, step string) {
	if err := c.e.store.AgentStep(ctx, agent, c.conn, step); err != nil {
		c.log.Warn("agent step", "agent_id", agent, "step", step, "err", err)
	}
}

func (c *call) cmdConsultEnd(ctx context.Context, by string) error {
	if c.consult == nil {
		return illegal("end consult: no consult is active")
	}
	c.endConsult(ctx, by)
	return nil
}

// ---- transfer and conference ------------------------------------------

func (c *call) cmdTransfer(ctx context.Context, t Target) error {
	if _, err := nextTalk(c.talk, tevLeave); err != nil {
		if c.talk == talkConference {
			return illegal("transfer: not during a conference")
		}
		return illegal("transfer: a consult is active (complete or end it)")
	}
	from, fromLeg := c.agent, c.agentLeg
	switch t.Kind {
	case TargetAgent:
		if t.Value == from {
			return &errs.FieldError{Field: "value", Msg: "cannot transfer to yourself"}
		}
		// The offer to the target reaches this actor through its mailbox,
		// after this step (Engine.deliverOffer).
		err := c.e.store.TransferToAgent(ctx, c.conn, t.Value, from)
		if errors.Is(err, ErrIllegalTransition) {
			return illegal("transfer: agent %s is not available", t.Value)
		} else if errors.Is(err, ErrNotFound) {
			return &errs.FieldError{Field: "value", Msg: "no such agent logged in: " + t.Value}
		} else if err != nil {
			return err
		}
		c.leaveAgent(ctx, from, fromLeg, "transferred")
		c.transferred = true
		c.outcomeTo(ocBlindTransfer)
		c.routeTo(rtTransfer)
	case TargetQueue:
		settings, ok := c.e.opts.Queues[t.Value]
		if !ok {
			return &errs.FieldError{Field: "value", Msg: "unknown queue " + t.Value}
		}
		if err := c.e.store.TransferToQueue(ctx, c.conn, t.Value, from); err != nil {
			return err
		}
		c.leaveAgent(ctx, from, fromLeg, "transferred")
		// The new queue's settings govern the call from here on (music,
		// announcements and overflow of this wait, ring timeout, and the
		// recording once an agent has it).
		c.queueName, c.settings = t.Value, settings
		c.transferred = true
		if err := c.e.pbx.StartMusic(ctx, c.callerLeg, settings.MOHClass); err != nil {
			c.log.Warn("music after transfer", "err", err)
		}
		c.routeTo(rtTransfer)
		c.startQueueTimers()
	case TargetNumber:
		endpoint, err := c.dialNumber(t.Value)
		if err != nil {
			return err
		}
		leg := c.nextLeg("x")
		if err := c.e.store.HandOver(ctx, c.conn, from, "", leg, "transfer_number"); err != nil {
			return err
		}
		c.leaveAgent(ctx, from, fromLeg, "transferred")
		c.counterpartTo(cpOutside)
		c.agentLeg = leg
		c.routeTo(rtDialOut)
		c.e.registerLeg(leg, c)
		if err := c.e.pbx.Ring(ctx, RingRequest{Leg: leg, Endpoint: endpoint, CallerID: c.arrived.ANI, Timeout: c.e.opts.Dial.RingTimeout, Originator: c.callerLeg}); err != nil {
			c.log.Warn("ring outside number", "err", err)
			c.endAll(ctx, "system")
		}
	default:
		return &errs.FieldError{Field: "kind", Msg: "must be agent, queue or number"}
	}
	// target_kind, as a consult's talk entry has it: a field "kind" would
	// stand for the entry's own kind (control) in every reader's map.
	c.e.store.Record(ctx, c.conn, "transfer", "agent", from, "target_kind", string(t.Kind), "target", t.Value)
	return nil
}

// leaveAgent takes the agent who had the customer out of the call: their
// leg is hung up (its end is then ignored) and the customer waits on music.
func (c *call) leaveAgent(ctx context.Context, agent, leg, why string) {
	c.stopRecording(ctx)
	c.e.forgetLeg(leg)
	c.hangup(ctx, leg, CauseNormal)
	if !c.talk.customerHeld() {
		if err := c.e.pbx.RemoveFromBridge(ctx, c.conn, c.callerLeg); err != nil {
			c.log.Warn("take customer out of bridge", "err", err)
		}
		if err := c.e.pbx.StartMusic(ctx, c.callerLeg, c.settings.MOHClass); err != nil {
			c.log.Warn("music while transferring", "err", err)
		}
	}
	c.talkTo(ctx, tevLeave)
	c.agent, c.agentLeg, c.offer = "", "", nil
	c.e.scheduleWrapUp(agent)
	c.e.publish(ctx, AgentEvent{Type: "ended", Agent: agent, ConnectionID: c.conn, Disposition: why})
}

// cmdCompleteTransfer: the consulted party takes the customer, the
// consulting agent leaves (consult transfer).
func (c *call) cmdCompleteTransfer(ctx context.Context) error {
	p := c.consult
	if _, err := nextTalk(c.talk, tevHandOver); err != nil {
		if p == nil {
			return illegal("complete transfer: no consult is active")
		}
		return illegal("complete transfer: the consulted party has not answered")
	}
	from, fromLeg := c.agent, c.agentLeg
	// A transfer to an agent found through a queue hands the call to that
	// queue: its settings govern the rest of the call (as a blind transfer
	// to a queue does), starting with the recording below.
	toQueue := ""
	if p.target.Kind == TargetQueue {
		toQueue = p.target.Value
	}
	if err := c.e.store.HandOverToQueue(ctx, c.conn, from, p.agent, p.leg, "consult_transfer", toQueue); err != nil {
		return err
	}
	if p.ix != "" {
		c.finishConsultIx(ctx, p)
	}
	c.stopRecording(ctx)
	c.e.forgetLeg(fromLeg)
	c.hangup(ctx, fromLeg, CauseNormal)
	if err := c.unholdConsulted(ctx); err != nil {
		c.log.Warn("take consulted party off hold", "err", err)
	}
	if err := c.unholdCustomer(ctx); err != nil {
		return err
	}
	c.agent, c.agentLeg = p.agent, p.leg
	c.talkTo(ctx, tevHandOver)
	c.counterpartTo(partyCounterpart(p))
	if toQueue != "" {
		c.queueName, c.settings = toQueue, c.e.opts.Queues[toQueue]
	}
	c.startRecording(ctx) // the rest of the call is a new recording
	c.e.scheduleWrapUp(from)
	c.e.publish(ctx, AgentEvent{Type: "ended", Agent: from, ConnectionID: c.conn, Disposition: "transferred"})
	if p.agent != "" {
		c.e.publish(ctx, AgentEvent{Type: "connected", Agent: p.agent, ConnectionID: c.conn, ANI: c.arrived.ANI, DNIS: c.arrived.DNIS, Queue: c.queueName})
	}
	c.e.store.Record(ctx, c.conn, "transfer_complete", "from", from, "to", p.agent)
	return nil
}

func (c *call) cmdConference(ctx context.Context) error {
	p := c.consult
	if _, err := nextTalk(c.talk, tevConference); err != nil {
		switch {
		case c.talk == talkConference:
			return illegal("conference: already in conference")
		case p == nil:
			return illegal("conference: no consult is active")
		}
		return illegal("conference: the consulted party has not answered")
	}
	if err := c.unholdConsulted(ctx); err != nil {
		return err
	}
	if err := c.unholdCustomer(ctx); err != nil {
		return err
	}
	c.talkTo(ctx, tevConference, "with", p.agent)
	return nil
}

// cmdEnd: the agent with the customer ends the call, or leaves a conference
// (the other two stay connected).
func (c *call) cmdEnd(ctx context.Context) error {
	switch {
	case c.talk == talkConference:
		c.ownerLeaves(ctx)
		return nil
	case c.talk.consulting():
		return illegal("end: a consult is active (end the consult, transfer or conference first)")
	case c.talk.customerHeld():
		return illegal("end: the customer is on hold (resume first)")
	}
	// The interaction's transition says the agent's side ended the call;
	// this entry says who asked (the agent, or a supervisor for them).
	c.e.store.Record(ctx, c.conn, "end", "agent", c.agent)
	c.endConnected(ctx, "agent")
	return nil
}

// ownerLeaves: the agent with the customer leaves a conference; the
// consulted party keeps the customer.
func (c *call) ownerLeaves(ctx context.Context) {
	p := c.consult
	from, fromLeg := c.agent, c.agentLeg
	if err := c.e.store.HandOver(ctx, c.conn, from, p.agent, p.leg, "left_conference"); err != nil {
		c.log.Warn("leave conference", "err", err)
	}
	if p.ix != "" {
		c.finishConsultIx(ctx, p)
	}
	c.e.forgetLeg(fromLeg)
	c.hangup(ctx, fromLeg, CauseNormal)
	c.agent, c.agentLeg = p.agent, p.leg
	c.talkTo(ctx, tevHandOver)
	c.counterpartTo(partyCounterpart(p))
	c.e.scheduleWrapUp(from)
	c.e.publish(ctx, AgentEvent{Type: "ended", Agent: from, ConnectionID: c.conn, Disposition: "left_conference"})
	c.e.store.Record(ctx, c.conn, "left_conference", "agent", from)
	c.saveView(ctx)
}

// ---- recording ----------------------------------------------------------

func (c *call) startRecording(ctx context.Context) {
	if _, err := nextRec(c.recState, revStart); err != nil || !c.settings.Record {
		return // recording already, or the queue does not record
	}
	c.recSeq++
	name := c.conn
	if c.recSeq > 1 {
		name = fmt.Sprintf("%s-%d", c.conn, c.recSeq)
	}
	if err := c.e.pbx.StartRecording(ctx, c.conn, name); err != nil {
		c.log.Error("start recording", "err", err)
		return
	}
	c.rec = &recording{name: name, log: Recording{Name: name, Started: c.e.opts.Clock.Now(), Pauses: []Pause{}}}
	c.recTo(revStart)
	c.saveRecordings(ctx)
}

func (c *call) stopRecording(ctx context.Context) {
	if _, err := nextRec(c.recState, revStop); err != nil {
		return // not recording
	}
	if err := c.e.pbx.StopRecording(ctx, c.rec.name); err != nil {
		c.log.Warn("stop recording", "err", err)
	}
	now := c.e.opts.Clock.Now()
	if c.recState.paused() {
		c.rec.log.Pauses[len(c.rec.log.Pauses)-1].To = now
	}
	c.rec.log.Stopped = now
	c.recordings = append(c.recordings, c.rec.log)
	c.recTo(revStop)
	c.saveRecordings(ctx)
}

func (c *call) cmdRecPause(ctx context.Context, privacy bool) error {
	ev := revPause
	if privacy {
		ev = revShield
	}
	if _, err := nextRec(c.recState, ev); err != nil {
		if c.recState == recOff {
			return illegal("pause recording: the call is not being recorded")
		}
		return illegal("pause recording: already paused")
	}
	if c.talk.consulting() {
		return illegal("pause recording: not during a consult or conference")
	}
	if err := c.e.pbx.PauseRecording(ctx, c.rec.name); err != nil {
		return err
	}
	c.recTo(ev)
	c.rec.gen++
	c.rec.log.Pauses = append(c.rec.log.Pauses, Pause{From: c.e.opts.Clock.Now(), Privacy: privacy})
	if privacy {
		shield := c.e.opts.PrivacyShield
		c.rec.resumesAt = c.e.opts.Clock.Now().Add(shield)
		gen := c.rec.gen
		c.after(shield, recAutoResume{gen: gen})
	}
	c.e.store.Record(ctx, c.conn, "recording_pause", "privacy", fmt.Sprint(privacy))
	c.saveRecordings(ctx)
	return nil
}

func (c *call) cmdRecResume(ctx context.Context) error {
	if _, err := nextRec(c.recState, revResume); err != nil {
		if c.recState == recOff {
			return illegal("resume recording: the call is not being recorded")
		}
		return illegal("resume recording: the recording is not paused")
	}
	if c.talk.consulting() {
		return illegal("resume recording: not during a consult or conference")
	}
	return c.resumeRecording(ctx, revResume, "agent")
}

// resumeRecording resumes a paused recording (ev: revResume or
// revAutoResume, which the caller checked is legal).
func (c *call) resumeRecording(ctx context.Context, ev recEvent, by string) error {
	if err := c.e.pbx.ResumeRecording(ctx, c.rec.name); err != nil {
		return err
	}
	c.recTo(ev)
	c.rec.resumesAt = time.Time{}
	c.rec.log.Pauses[len(c.rec.log.Pauses)-1].To = c.e.opts.Clock.Now()
	c.e.store.Record(ctx, c.conn, "recording_resume", "by", by)
	c.saveRecordings(ctx)
	return nil
}

// onRecAutoResume ends a privacy-shield pause that is still the current one.
func (c *call) onRecAutoResume(ctx context.Context, m recAutoResume) {
	if _, err := nextRec(c.recState, revAutoResume); err != nil || c.rec.gen != m.gen {
		return // resumed (and maybe paused again) meanwhile
	}
	if err := c.resumeRecording(ctx, revAutoResume, "privacy_shield"); err != nil {
		c.log.Warn("auto-resume recording", "err", err)
		return
	}
	c.saveView(ctx)
	c.publishCall(ctx, "recording_resumed")
}

// recTo moves the call's recording machine on ev; the current recording's
// details live only while it is not off. Callers asked the machine first:
// an event it refuses here is a bug, logged.
func (c *call) recTo(ev recEvent) {
	to, err := nextRec(c.recState, ev)
	if err != nil {
		c.log.Error("recording machine", "err", err)
		return
	}
	c.recState = to
	if to == recOff {
		c.rec = nil
	}
}

func (c *call) saveRecordings(ctx context.Context) {
	all := append([]Recording{}, c.recordings...)
	if c.rec != nil {
		all = append(all, c.rec.log)
	}
	data, _ := json.Marshal(all)
	c.e.store.rdb.HSet(ctx, c.e.store.keys.Interaction(c.conn), "recordings", data)
}

// talkTo moves the call's talk machine (talk_fsm.go) on ev. The consulted
// party's details live only while a consult does, and the customer's hold
// time only while they are held. Commands ask the machine before acting;
// an event it refuses here is a bug, logged.
//
// A move of the interaction's recorded talk state (talking, held,
// consulting, conferenced) goes to Redis and the history through talk.lua,
// with fields; a move into or out of talking with an agent is recorded by
// the script that connects, hands over, transfers or ends the call.
func (c *call) talkTo(ctx context.Context, ev talkEvent, fields ...string) {
	from := c.talk
	to, err := nextTalk(from, ev)
	if err != nil {
		c.log.Error("talk machine", "err", err)
		return
	}
	c.talk = to
	rf, rt := from.recorded(), to.recorded()
	switch {
	case ev == tevJoin || ev == tevLeave || ev == tevHandOver:
	case rf != rt:
		if err := c.e.store.Talk(ctx, c.conn, rf, rt, string(ev), append([]string{"agent", c.agent}, fields...)...); err != nil {
			c.log.Warn("record talk state", "from", rf, "to", rt, "err", err)
		}
	case ev == tevResume:
		// A switch between the customer and the consulted party: still
		// consulting, but the history says who is on hold.
		action := "resume"
		if to.customerHeld() {
			action = "hold"
		}
		c.e.store.Record(ctx, c.conn, action, "agent", c.agent)
	}
	if !to.consulting() {
		c.consult = nil
	}
	switch {
	case !to.customerHeld():
		c.heldSince = time.Time{}
	case !from.customerHeld():
		c.heldSince = time.Now()
	}
}

// ---- views -----------------------------------------------------------------

func (c *call) view() CallView {
	v := CallView{
		ConnectionID: c.conn, Agent: c.agent, State: "connected", Role: "owner",
		// Between agents (a transfer) the customer waits on music too.
		CustomerHeld: c.talk.customerHeld() || c.talk == talkIdle, HeldSince: c.heldSince,
		ANI: c.arrived.ANI, DNIS: c.arrived.DNIS, Queue: c.queueName,
	}
	switch {
	case c.outcome == outcomeFinished:
		// What finish.lua writes into the stored view too.
		v.State, v.CustomerHeld, v.HeldSince = c.final, false, time.Time{}
		if v.State == "" {
			v.State = StateEnded // ended by another path first
		}
		return v
	case c.talk == talkConference:
		v.State = "conferenced"
	case c.talk.consulting():
		v.State = "consulting"
	case c.talk.customerHeld():
		v.State = "held"
	}
	if p := c.consult; p != nil {
		st := "ringing"
		if c.talk.consultAnswered() {
			st = "connected"
			if c.talk.consultHeld() {
				st = "held"
			}
		}
		v.Consult = &ConsultView{Target: p.target, State: st, Agent: p.agent}
	}
	if r := c.rec; r != nil {
		v.Recording = &RecordingView{Name: r.name, Active: true, Paused: c.recState.paused(), Privacy: c.recState == recShielded, ResumesAt: r.resumesAt}
	}
	return v
}

// saveView writes the call's view where any replica can read it.
func (c *call) saveView(ctx context.Context) {
	data, _ := json.Marshal(c.view())
	c.e.store.rdb.HSet(ctx, c.e.store.keys.Interaction(c.conn), "view", data)
}

// publishCall tells the call's agents what changed.
func (c *call) publishCall(ctx context.Context, what string) {
	v := c.view()
	for _, a := range []string{c.agent, c.consultAgent()} {
		if a != "" {
			c.e.publish(ctx, AgentEvent{Type: what, Agent: a, ConnectionID: c.conn, Call: &v})
		}
	}
}

func (c *call) consultAgent() string {
	if c.consult == nil {
		return ""
	}
	return c.consult.agent
}

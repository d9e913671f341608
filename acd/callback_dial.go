package acd

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/tandem-cc/tandem/callbacks"
	"github.com/tandem-cc/tandem/dialnum"
	"github.com/tandem-cc/tandem/media"
)

// The dial of a claimed callback: the agent first, then the customer.

// callbackAgentAnswered: the agent took the callback. They hear the
// caller's message, then the customer is dialled (or the agent accepts
// first).
func (c *call) callbackAgentAnswered(ctx context.Context, leg string) {
	if !c.agentTook(ctx, leg) {
		return
	}
	c.routeTo(rtCallbackAgent)
	// The leg that answered (a ring-all offer rings several), for a replica
	// taking over after this one died.
	if err := c.e.callbacks.Attach(ctx, c.cb.rec.ID, c.cb.rec.Node, c.conn, leg); err != nil {
		c.log.Warn("attach callback agent leg", "err", err)
	}
	if msg, err := media.Parse(c.cb.rec.Media); err != nil {
		c.log.Warn("the callback's message cannot be played; dialling without it", "err", err)
	} else if !msg.IsZero() {
		// Played while the actor goes on (the lease is renewed, a hang-up
		// is seen); its end comes back as cbMessagePlayed.
		// A message is at most the longest a queue lets a caller speak
		// (record_message ≤ 2m).
		id := c.startMediaWithin(ctx, leg, 3*time.Minute, func(context.Context, PlaybackOutcome) { c.post(cbMessagePlayed{}) }, msg)
		if id != "" {
			// Stopped on the PBX when the agent goes or the callback is
			// withdrawn (and what follows the message does not run).
			c.cb.stopMessage = func() {
				c.cb.stopMessage = nil
				c.stopMedia(ctx, id)
			}
		}
		return
	}
	c.afterMessage(ctx)
}

// afterMessage: the agent has heard the caller's message (if any); the
// customer is dialled, or the agent accepts first.
func (c *call) afterMessage(ctx context.Context) {
	o := c.offer
	if c.settings.Callback.Accept == CallbackAcceptAgent {
		c.attemptTo(aevWaitAccept)
		c.log.Info("callback waits for the agent to accept", "agent_id", o.Agent)
		return
	}
	c.dialCustomer(ctx)
}

// dialCustomer starts the attempt: recorded first (StartDial), then dialled.
func (c *call) dialCustomer(ctx context.Context) {
	c.attemptTo(aevDial)
	// Accepted (by the agent, or by the queue's accept = auto): the
	// callback's request is over for the agent's desktop.
	c.clearPop(ctx)
	rec := c.cb.rec
	if err := c.callbackDialable(rec.Number); err != nil {
		c.refuseCallbackNumber(ctx, err)
		return
	}
	if err := c.e.store.CountCall(ctx, c.conn); err != nil {
		// The cap was reached since the callback was claimed: no dial; the
		// callback waits in its place and the agent is freed.
		c.log.Warn("callback not dialled", "err", err)
		c.hangup(ctx, c.agentLeg, CauseNormal)
		c.release(ctx, callbackBusyRetry, "maximum concurrent calls")
		c.finishQuietly(ctx)
		return
	}
	leg := fmt.Sprintf("%s-c%d", c.conn, len(rec.Attempts)+1)
	n, err := c.e.callbacks.StartDial(ctx, rec.ID, rec.Node, leg, c.e.pbx.Owner())
	if err != nil {
		c.log.Error("start callback dial; not dialled", "err", err)
		c.hangup(ctx, c.agentLeg, CauseNormal)
		if errors.Is(err, callbacks.ErrLeaseLost) {
			// Another replica (or a cancel) has it now.
			c.attemptTo(aevSettle)
		} else {
			// Redis may have recorded the start after all: the attempt is
			// settled as failed under the lease (nothing was dialled), so
			// it is never taken over as a dial in flight.
			c.completeAttempt(ctx, callbacks.OutcomeFailed)
		}
		c.finishQuietly(ctx)
		return
	}
	callerID := rec.CallerID
	if callerID == "" {
		callerID = c.settings.Callback.CallerID
	}
	if callerID == "" {
		callerID = c.e.opts.Dial.CallerID
	}
	c.callerLeg = leg
	c.e.registerLeg(leg, c)
	c.routeTo(rtCallbackDial)
	err = c.e.pbx.Ring(ctx, RingRequest{
		Leg: leg, Endpoint: strings.ReplaceAll(c.e.opts.Dial.Endpoint, "{number}", rec.Number), CallerID: callerID, Originator: c.agentLeg,
		Timeout: c.e.opts.Dial.RingTimeout + 2*time.Second,
		// Not TANDEM_CONNECTION_ID: that names the leg offering a call to
		// an agent, and the agent's leg of this call carries it already.
		Vars: map[string]string{"TANDEM_CALLBACK_ID": rec.ID, "TANDEM_CALLBACK_CONNECTION_ID": c.conn},
	})
	c.e.store.Record(ctx, c.conn, "callback_dial", "callback_id", rec.ID, "attempt", strconv.Itoa(n), "leg", leg)
	if err != nil {
		c.log.Warn("dial callback customer", "err", err)
		// The request may still reach the PBX (a timeout): never leave a
		// leg that nobody would bridge.
		c.hangup(ctx, leg, CauseNormal)
		c.e.hangupLater(leg)
		c.customerFailed(ctx, leg, "failed", false)
		return
	}
	c.log.Info("dialling callback customer", "attempt", n, "leg", leg, "caller_id", callerID)
	c.ringTimer = c.after(c.e.opts.Dial.RingTimeout, ringTimeout{leg: leg})
}

// customerAnswered bridges the customer with the agent: from here on an
// ordinary connected call.
func (c *call) customerAnswered(ctx context.Context, leg string) {
	c.stopTimer()
	if _, ok := c.completeAttempt(ctx, callbacks.OutcomeAnswered); !ok && c.cb.attempt != attemptPending {
		// The lease was lost: another replica continues these legs.
		c.routeTo(rtEnd)
		return
	}
	// Recorded, or to be recorded by the lease ticks: the customer is on
	// the line either way.
	if err := c.e.pbx.Bridge(ctx, c.conn, c.agentLeg, leg); err != nil {
		c.log.Error("bridge callback", "err", err)
		c.endConnected(ctx, "system")
		return
	}
	c.bridgeTo(brCreate)
	c.talkTo(ctx, tevJoin)
	c.routeTo(rtCustomerAnswer)
	c.countCallbackAnswered(ctx)
	c.startRecording(ctx)
	c.saveView(ctx)
	c.e.stats.answered.Add(1)
	c.log.Info("callback connected", "agent_id", c.agent)
	c.e.publish(ctx, AgentEvent{Type: "connected", Agent: c.agent, ConnectionID: c.conn, ANI: c.arrived.ANI,
		DNIS: c.arrived.DNIS, Queue: c.queueName, Kind: "callback"})
}

// customerFailed: nobody answered (or busy, or the dial failed). The agent
// is freed; the callback is retried later or fails.
func (c *call) customerFailed(ctx context.Context, leg, reason string, timedOut bool) {
	c.stopTimer()
	if timedOut {
		c.hangup(ctx, leg, CauseNoAnswer)
	}
	c.e.forgetLeg(leg)
	c.callerLeg = ""
	outcome := callbacks.OutcomeFailed
	switch reason {
	case "no_answer", "rejected":
		outcome = callbacks.OutcomeNoAnswer
	case "busy":
		outcome = callbacks.OutcomeBusy
	}
	c.completeAttempt(ctx, outcome)
	c.hangup(ctx, c.agentLeg, CauseNormal)
	c.finishQuietly(ctx)
}

// callbackAgentGone: the agent hung up before the customer answered.
func (c *call) callbackAgentGone(ctx context.Context) {
	c.stopTimer()
	if c.cb.stopMessage != nil {
		c.cb.stopMessage()
	}
	c.agentLeg = ""
	if c.route == routeCallbackDialing {
		c.hangup(ctx, c.callerLeg, CauseNormal)
		c.callerLeg = ""
		c.completeAttempt(ctx, callbacks.OutcomeAgentFailed)
	} else if c.cb.attempt != attemptSettled {
		// No dial yet: the callback goes back to its place, no attempt.
		c.release(ctx, 0, "agent hung up before the dial")
	}
	c.finishQuietly(ctx)
}

// finishQuietly ends the callback's interaction with nobody left on it
// (the agent goes to wrap-up as after any call).
func (c *call) finishQuietly(ctx context.Context) { c.finish(ctx, "system") }

// onCallbackEvent handles the PBX events of a callback between the agent's
// answer and the customer's; it reports whether it did.
func (c *call) onCallbackEvent(ctx context.Context, m any) bool {
	if c.cb == nil || (c.route != routeCallbackAgent && c.route != routeCallbackDialing) {
		return false
	}
	switch m := m.(type) {
	case LegAnswered:
		if m.Leg == c.callerLeg && c.route == routeCallbackDialing {
			c.customerAnswered(ctx, m.Leg)
			return true
		}
	case RingFailed:
		if m.Leg == c.callerLeg && c.route == routeCallbackDialing {
			c.customerFailed(ctx, m.Leg, m.Reason, false)
			return true
		}
	case ringTimeout:
		if m.leg == c.callerLeg && c.route == routeCallbackDialing {
			c.customerFailed(ctx, m.leg, "no_answer", true)
			return true
		}
	case LegHungUp:
		if m.Leg == c.agentLeg {
			c.callbackAgentGone(ctx)
			return true
		}
		if m.Leg == c.callerLeg && c.route == routeCallbackDialing {
			c.customerFailed(ctx, m.Leg, "failed", false)
			return true
		}
	case legLost:
		if m.leg == c.agentLeg {
			c.callbackAgentGone(ctx)
			return true
		}
		if m.leg == c.callerLeg {
			c.customerFailed(ctx, m.leg, "failed", false)
			return true
		}
	case cbAccepted:
		if c.cb.attempt == attemptAccepting && c.route == routeCallbackAgent {
			c.dialCustomer(ctx)
		}
		return true
	case cbMessagePlayed:
		c.cb.stopMessage = nil
		c.e.store.Record(ctx, c.conn, "callback_message_played", "media", c.cb.rec.Media)
		if c.route == routeCallbackAgent {
			c.afterMessage(ctx)
		}
		return true
	}
	return false
}

// callbackDialable checks a stored callback number against the dialling
// policy and the queue's country list once more, just before it is
// dialled: the number passed them when the callback was registered, but
// the policy may have been tightened since (or the callback stored by a
// version without one), and the trunk must not dial what it refuses now.
func (c *call) callbackDialable(number string) error {
	n, err := c.e.opts.Dial.Policy.Dialable(number, c.e.opts.Dial.DefaultRegion)
	if err != nil {
		return err
	}
	return dialnum.CheckCountry(n, c.settings.Callback.AllowedCountryCodes)
}

// refuseCallbackNumber ends a callback whose number the policy refuses
// before anything is dialled: retrying would be refused again, so it is
// cancelled (no dial started, so Cancel applies), and the agent is freed.
func (c *call) refuseCallbackNumber(ctx context.Context, why error) {
	rule := "invalid"
	var re *dialnum.RuleError
	if errors.As(why, &re) {
		rule = re.Rule
	}
	// The number is personal data: the log names the rule, not the number.
	c.log.Error("callback number refused by the dialling policy; cancelled, not dialled", "callback_id", c.cb.rec.ID, "rule", rule)
	if _, err := c.e.callbacks.Cancel(ctx, c.cb.rec.ID); err != nil {
		c.log.Warn("cancel refused callback", "callback_id", c.cb.rec.ID, "err", err)
	}
	c.e.store.Record(ctx, c.conn, "callback_refused", "callback_id", c.cb.rec.ID, "rule", rule)
	c.hangup(ctx, c.agentLeg, CauseNormal)
	c.attemptTo(aevSettle)
	c.routeTo(rtEnd)
	c.finishQuietly(ctx)
}

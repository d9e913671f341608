package acd

import (
	"context"
	"strings"
	"time"

	"github.com/tandem-cc/tandem/media"
)

// ivrState is where a caller is in the menus.
type ivrState struct {
	node   string
	digits string
	tries  int
	gen    int // bumps per collection, so a stale timeout is ignored
	// prompt is the playback of the node's prompt while it plays ("" once
	// it has ended or been interrupted): collection starts at its end, or
	// at the first digit when the node allows barge-in.
	prompt string
	// typeAhead are digits pressed during a prompt that may not be
	// interrupted; they count once collection starts.
	typeAhead string
}

// Messages of the IVR.
type ivrTimeout struct{ gen int }

// ivrEntry is the first node for a call, if its DNIS has a menu and the
// dialplan did not already name a queue.
func (e *Engine) ivrEntry(ev CallArrived) (string, bool) {
	if ev.Queue != "" {
		return "", false
	}
	node, ok := e.opts.IVR.EntryPoints[ev.DNIS]
	return node, ok
}

// runNode plays a node's prompt and either collects digits or follows the
// node's Next branch once it has played. Collection starts when the prompt
// ends; the first digit pressed during it stops it and starts collection at
// once (barge-in), unless the node has barge_in: false, in which case the
// digits are kept for when collection starts (type-ahead).
func (c *call) runNode(ctx context.Context, name string) {
	node, ok := c.e.opts.IVR.Nodes[name]
	if !ok {
		c.log.Error("ivr node missing", "node", name)
		c.fail(ctx, "ivr")
		return
	}
	c.routeTo(rtIVR)
	gen := 1
	if c.ivr != nil {
		gen = c.ivr.gen + 1
	}
	c.ivr = &ivrState{node: name, gen: gen}
	c.e.store.rdb.HSet(ctx, c.e.store.keys.Interaction(c.conn), "ivr_node", name)
	c.e.store.Record(ctx, c.conn, "ivr_node", "node", name)
	c.playPrompt(ctx, node.Prompt)
}

// playPrompt plays items as the current node's prompt; at its end the node
// collects digits, or, if it collects none, takes its Next branch.
func (c *call) playPrompt(ctx context.Context, items ...media.Media) {
	st := c.ivr
	st.prompt, st.typeAhead = "", ""
	id := c.startMedia(ctx, c.callerLeg, func(ctx context.Context, _ PlaybackOutcome) {
		if c.ivr != st || c.route != routeIVR {
			return // the caller moved on (or hung up) meanwhile
		}
		st.prompt = ""
		c.prompted(ctx)
	}, items...)
	if id != "" && c.ivr == st {
		st.prompt = id
	}
}

// prompted goes on from the end of the current node's prompt.
func (c *call) prompted(ctx context.Context) {
	node := c.e.opts.IVR.Nodes[c.ivr.node]
	if node.Collect.MaxDigits == 0 {
		c.takeBranch(ctx, node.Next)
		return
	}
	typed := c.ivr.typeAhead
	c.ivr.typeAhead = ""
	c.startCollect(ctx)
	for _, d := range typed {
		if c.route != routeIVR || c.ivr == nil {
			return
		}
		c.onDigit(ctx, string(d))
	}
}

func (c *call) startCollect(ctx context.Context) {
	node := c.e.opts.IVR.Nodes[c.ivr.node]
	c.ivr.digits = ""
	c.ivr.gen++
	gen := c.ivr.gen
	timeout := node.Collect.Timeout
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	c.after(timeout, ivrTimeout{gen: gen})
}

// onDigit takes one DTMF digit while collecting.
func (c *call) onDigit(ctx context.Context, d string) {
	switch {
	case c.route == routeCallbackDialog && c.dialog != nil:
		c.onCallbackDigit(ctx, d)
		return
	case c.route == routeQueued && c.cb == nil && d == c.settings.Callback.Digit:
		if err := c.startCallbackDialog(ctx, c.queueName, "digit"); err != nil {
			c.log.Warn("callback asked in queue", "err", err)
		}
		return
	}
	if c.route != routeIVR || c.ivr == nil {
		return
	}
	node := c.e.opts.IVR.Nodes[c.ivr.node]
	if node.Collect.MaxDigits == 0 {
		return
	}
	if c.ivr.prompt != "" {
		if !node.BargesIn() {
			c.ivr.typeAhead += d
			// Recorded (without the digit: it may be secure) so that a
			// caller keying over a prompt that plays on shows in history.
			c.e.store.Record(ctx, c.conn, "ivr_type_ahead", "node", c.ivr.node)
			return
		}
		// Barge-in: the prompt stops at the first digit, which is the
		// first one collected.
		prompt := c.ivr.prompt
		c.ivr.prompt = ""
		c.stopMedia(ctx, prompt)
		c.e.store.Record(ctx, c.conn, "ivr_barge_in", "node", c.ivr.node)
		c.startCollect(ctx)
	}
	if node.Collect.Terminator != "" && d == node.Collect.Terminator {
		c.collected(ctx)
		return
	}
	c.ivr.digits += d
	if len(c.ivr.digits) >= node.Collect.MaxDigits {
		c.collected(ctx)
	}
}

func (c *call) onIVRTimeout(ctx context.Context, m ivrTimeout) {
	if c.route != routeIVR || c.ivr == nil || c.ivr.gen != m.gen {
		return
	}
	if c.ivr.digits != "" {
		c.collected(ctx)
		return
	}
	node := c.e.opts.IVR.Nodes[c.ivr.node]
	c.e.store.Record(ctx, c.conn, "ivr_timeout", "node", c.ivr.node)
	c.retry(ctx, node, node.Collect.TimeoutPrompt, "timeout")
}

// collected matches the digits against the node's branches.
func (c *call) collected(ctx context.Context) {
	node := c.e.opts.IVR.Nodes[c.ivr.node]
	digits := c.ivr.digits
	c.ivr.gen++ // the pending timeout no longer applies
	b, ok := node.Branches[digits]
	if !ok {
		b, ok = node.Branches["default"]
	}
	if !ok && len(node.Branches) > 0 {
		c.e.store.Record(ctx, c.conn, "ivr_invalid", "node", c.ivr.node)
		c.retry(ctx, node, node.Collect.InvalidPrompt, "invalid")
		return
	}
	if node.Variable != "" {
		c.setVar(ctx, node.Variable, digits, node.Secure)
	}
	if !ok {
		b = node.Next
	}
	c.takeBranch(ctx, b)
}

// retry replays the node after a timeout or an invalid entry, until its
// retries are used up; then OnFailure, recorded with the node.
func (c *call) retry(ctx context.Context, node IVRNode, prompt media.Media, why string) {
	c.ivr.tries++
	if c.ivr.tries > node.Collect.Retries {
		c.e.store.rdb.HSet(ctx, c.e.store.keys.Interaction(c.conn), "ivr_result", why, "ivr_node", c.ivr.node)
		c.takeBranch(ctx, node.OnFailure)
		return
	}
	// The message and the node's prompt again, as one playback.
	c.playPrompt(ctx, prompt, node.Prompt)
}

// setVar attaches a variable to the call (the IVR's way to pass what it
// learned to the agent's screen pop); secure ones stay masked everywhere.
func (c *call) setVar(ctx context.Context, name, value string, secure bool) {
	if c.arrived.Vars == nil {
		c.arrived.Vars = map[string]string{}
	}
	c.arrived.Vars[name] = value
	if secure {
		if c.secureVars == nil {
			c.secureVars = map[string]bool{}
		}
		c.secureVars[name] = true
	}
	if err := c.e.store.SetAttached(ctx, c.conn, c.arrived.Vars, c.secureVars); err != nil {
		c.log.Warn("attach data", "err", err)
	}
}

// takeBranch goes where a branch leads.
func (c *call) takeBranch(ctx context.Context, b IVRBranch) {
	for k, v := range b.Set {
		c.setVar(ctx, k, v, false)
	}
	switch {
	case b.Goto != "":
		c.runNode(ctx, b.Goto)
	case b.Callback: // before Queue: a callback branch may name its queue
		q := b.Queue
		if q == "" {
			var ok bool
			if q, ok = c.e.queueFor(c.arrived); !ok {
				c.log.Warn("ivr callback without a queue; failing the call", "node", nodeName(c.ivr))
				c.fail(ctx, "ivr callback")
				return
			}
		}
		c.e.store.Record(ctx, c.conn, "ivr_callback", "node", nodeName(c.ivr))
		c.callbackTreatment(ctx, q, "ivr")
	case b.Queue != "":
		prio := -1
		if b.Priority != nil {
			prio = *b.Priority
		}
		c.ivr = nil
		c.toQueue(ctx, b.Queue, prio, b.Skills)
	case b.Dial != "":
		c.ivr = nil
		c.dialOut(ctx, b.Dial)
	case !b.Hangup.IsZero():
		c.endWithMessage(ctx, b.Hangup, "ivr", nil)
	default:
		c.log.Warn("ivr branch leads nowhere; failing the call", "node", nodeName(c.ivr))
		c.fail(ctx, "ivr")
	}
}

func nodeName(s *ivrState) string {
	if s == nil {
		return ""
	}
	return s.node
}

// endWithMessage plays a message and ends the call as served without an
// agent (self-service or a treatment); then, if not nil, runs once the
// call has ended.
func (c *call) endWithMessage(ctx context.Context, m media.Media, by string, then func(context.Context)) {
	c.stopQueueTimers()
	c.stopQueueMedia(ctx)
	if !m.IsZero() {
		if err := c.e.pbx.StopMusic(ctx, c.callerLeg); err != nil {
			c.log.Debug("stop music", "err", err)
		}
	}
	c.routeTo(rtLastMessage)
	c.startMedia(ctx, c.callerLeg, func(ctx context.Context, _ PlaybackOutcome) {
		if _, err := c.e.store.Finish(ctx, c.conn, "completed", by); err != nil {
			c.log.Warn("finish", "err", err)
		}
		c.hangup(ctx, c.callerLeg, CauseNormal)
		c.routeTo(rtEnd)
		c.log.Info("call ended without an agent", "by", by)
		if then != nil {
			then(ctx)
		}
	}, m)
}

// dialOut sends the caller to an outside number from the IVR.
func (c *call) dialOut(ctx context.Context, number string) {
	endpoint, err := c.dialNumber(number)
	if err != nil {
		c.log.Error("ivr dial", "err", err)
		c.fail(ctx, "ivr dial")
		return
	}
	leg := c.nextLeg("x")
	c.agentLeg = leg
	c.counterpartTo(cpOutside)
	c.outcomeTo(ocSelfService)
	c.routeTo(rtDialOut)
	c.e.registerLeg(leg, c)
	if err := c.e.pbx.Ring(ctx, RingRequest{Leg: leg, Endpoint: endpoint, CallerID: c.arrived.ANI, Timeout: c.e.opts.Dial.RingTimeout, Originator: c.callerLeg}); err != nil {
		c.log.Warn("ring outside number", "err", err)
		c.endAll(ctx, "system")
		return
	}
	// The interaction counts as connected once the far end answers; until
	// then it stays "arrived" (it never waited in a queue).
	c.e.store.Record(ctx, c.conn, "ivr_dial", "number", strings.TrimSpace(number))
}

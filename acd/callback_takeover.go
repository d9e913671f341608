package acd

import (
	"context"

	"github.com/tandem-cc/tandem/callbacks"
)

// takeOverDial continues an attempt a dead replica started: its legs are
// taken over, never dialled again.
func (c *call) takeOverDial(ctx context.Context, cb callbacks.Callback) {
	if cb.DialOwner != c.e.pbx.Owner() && c.leaveToSeatHolder(ctx, cb) {
		return
	}
	c.log.Warn("taking over a callback dial of a replica that died", "from", cb.DialOwner, "attempt", cb.DialStarted, "leg", cb.DialLeg)
	if _, err := c.e.store.Adopt(ctx, cb.Conn); err != nil {
		c.log.Warn("adopt the interaction", "err", err)
	}
	ix, err := c.e.store.Interaction(ctx, cb.Conn)
	if err != nil {
		c.log.Error("read the interaction of the taken-over dial", "err", err)
	}
	c.queueName, c.settings = cb.Queue, c.e.opts.Queues[cb.Queue]
	c.agent, c.agentLeg = ix.Agent, cb.AgentLeg
	c.counterpartTo(cpAgent)
	if c.agent != "" {
		c.offer = &Offer{ConnectionID: c.conn, Agent: c.agent}
	}
	legs := []string{cb.DialLeg}
	if cb.AgentLeg != "" {
		legs = append(legs, cb.AgentLeg)
	}
	// The legs are this actor's before the PBX is asked, so an event that
	// comes while Takeover runs is not dropped as unknown.
	c.e.registerLeg(cb.DialLeg, c)
	if cb.AgentLeg != "" {
		c.e.registerLeg(cb.AgentLeg, c)
	}
	tctx, cancel := context.WithCancel(ctx)
	c.takeoverCancel = cancel
	states, err := c.e.pbx.Takeover(tctx, cb.DialOwner, legs)
	if err != nil {
		c.log.Error("take over the dead replica's legs; the attempt counts as failed", "err", err)
		c.completeAttempt(ctx, callbacks.OutcomeFailed)
		c.hangup(ctx, cb.AgentLeg, CauseNormal)
		c.hangup(ctx, cb.DialLeg, CauseNormal)
		c.finishQuietly(ctx)
		return
	}
	var customer, agent LegState
	for _, s := range states {
		switch s.Leg {
		case cb.DialLeg:
			customer = s
		case cb.AgentLeg:
			agent = s
		}
	}
	c.callerLeg = cb.DialLeg
	switch {
	case customer.Gone:
		// Its end happened while nobody listened: the outcome is unknown.
		c.callerLeg = ""
		c.completeAttempt(ctx, callbacks.OutcomeFailed)
		c.hangup(ctx, cb.AgentLeg, CauseNormal)
		c.finishQuietly(ctx)
	case cb.AgentLeg == "" || agent.Gone:
		c.routeTo(rtTakeOver)
		c.callbackAgentGone(ctx)
	case customer.Up:
		c.routeTo(rtTakeOver)
		c.customerAnswered(ctx, cb.DialLeg)
	default:
		c.routeTo(rtTakeOver)
		leg := cb.DialLeg
		c.ringTimer = c.after(c.e.opts.Dial.RingTimeout, ringTimeout{leg: leg})
		c.log.Info("continuing the taken-over dial", "leg", leg)
	}
}

// leaveToSeatHolder gives the callback back, lapsed, when the application
// its dial went through is a seat somebody holds: the seat's holder runs
// that application's socket, so a takeover socket here would replace it.
// The seat's holder keeps the application's takeover lock, so the callback
// is claimed by the seat's engine next, which continues the dial on its
// own socket (acd.SeatHost). Reports whether it gave the callback back.
func (c *call) leaveToSeatHolder(ctx context.Context, cb callbacks.Callback) bool {
	node, held, found, err := c.e.seatOfApp(ctx, cb.DialOwner)
	if err != nil {
		// Unknown: taking over could fight a holder; the lease lapses and
		// the callback is claimed again.
		c.log.Warn("look up the seat of the dial's application; leaving the callback", "owner", cb.DialOwner, "err", err)
	}
	if err == nil && (!found || !held) {
		return false
	}
	if _, lerr := c.e.callbacks.Lapse(ctx, cb.ID, cb.Node, 11*c.e.opts.CallbackLease); lerr != nil {
		c.log.Warn("give the callback back to its seat's holder", "err", lerr)
	}
	c.log.Info("callback dial left to the holder of its seat", "owner", cb.DialOwner, "seat", node)
	c.attemptTo(aevSettle)
	c.routeTo(rtEnd)
	return true
}

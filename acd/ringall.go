package acd

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// ringAllTimeout is the ring timer of a ring-all offer (one for all legs).
const ringAllTimer = "ring-all"

// ringEveryone rings every agent of a ring-all offer at once; the first to
// answer gets the call, the others' legs are cancelled.
func (c *call) ringEveryone(ctx context.Context, o Offer, freedAt time.Time) {
	members := append([]RingMember{{Agent: o.Agent, Endpoint: o.Endpoint}}, o.RingAll...)
	c.offer, c.agent, c.agentLeg = &o, "", ""
	c.routeTo(rtRing)
	c.counterpartTo(cpAgent)
	c.ringAll = map[string]RingMember{}
	c.offeredAt = time.Now()
	if !freedAt.IsZero() {
		c.e.stats.observeHandoff(time.Since(freedAt))
	}
	for i, m := range members {
		leg := fmt.Sprintf("%s-a%d-%d", c.conn, o.Attempt, i+1)
		c.ringAll[leg] = m
		c.e.registerLeg(leg, c)
		err := c.e.pbx.Ring(ctx, RingRequest{
			Leg: leg, Endpoint: m.Endpoint, CallerID: c.arrived.ANI, Timeout: c.settings.RingTimeout + 2*time.Second, Originator: c.callerLeg,
			// Not TANDEM_CONNECTION_ID: these legs ring together on purpose.
			Vars: map[string]string{"TANDEM_RING_ALL": c.conn, "TANDEM_AGENT": m.Agent},
		})
		c.e.stats.offers.Add(1)
		unknown := errors.Is(err, ErrRingUnknown)
		if err != nil && !unknown {
			c.log.Warn("ring agent", "agent_id", m.Agent, "err", err)
			c.ringAllFailed(ctx, leg, "failed", false)
			continue
		}
		if err := c.e.store.Ringing(ctx, Offer{ConnectionID: c.conn, Agent: m.Agent, Endpoint: m.Endpoint, Attempt: o.Attempt}, leg); err != nil {
			c.log.Warn("mark ringing", "agent_id", m.Agent, "err", err)
		}
		if unknown {
			// As for one agent (ringUnknown): the member stays held until
			// its leg's end, so it is not offered another call while this
			// leg may still ring; the driver hangs the leg up on sight.
			c.ringUnknown(Offer{ConnectionID: c.conn, Agent: m.Agent, Endpoint: m.Endpoint, Attempt: o.Attempt}, leg, err)
			continue
		}
		c.showPop(ctx, m.Agent)
	}
	c.log.Info("ringing every agent", "agents", len(members))
	c.ringTimer = c.after(c.settings.RingTimeout, ringTimeout{leg: ringAllTimer})
}

// ringAllAnswered: the first agent answered. The others are released (and
// may be offered the next call at once) and their legs cancelled; the call
// then connects to the winner as a one-agent offer.
func (c *call) ringAllAnswered(ctx context.Context, leg string) {
	m := c.ringAll[leg]
	released, err := c.e.store.RingAllAnswered(ctx, c.conn, m.Agent)
	if err != nil {
		c.log.Warn("ring-all answer", "agent_id", m.Agent, "err", err)
		c.hangup(ctx, leg, CauseNormal)
		return
	}
	c.hangupRing(ctx, leg)
	o := *c.offer
	o.Agent, o.Endpoint, o.RingAll = m.Agent, m.Endpoint, nil
	c.offer, c.agent, c.agentLeg, c.ringAll = &o, m.Agent, leg, nil
	c.log.Info("ring-all answered", "agent_id", m.Agent, "released", released)
}

// hangupRing cancels every ring-all leg but keep.
func (c *call) hangupRing(ctx context.Context, keep string) {
	for leg, m := range c.ringAll {
		if leg == keep {
			continue
		}
		c.e.forgetLeg(leg)
		c.hangup(ctx, leg, CauseNormal)
		c.e.publish(ctx, AgentEvent{Type: "ended", Agent: m.Agent, ConnectionID: c.conn, Disposition: "answered_elsewhere"})
	}
}

// ringAllFailed: one agent declined (busy, rejected, unreachable) — the
// others keep ringing — or the ring timed out for everyone.
func (c *call) ringAllFailed(ctx context.Context, leg, reason string, timedOut bool) {
	if leg == ringAllTimer && timedOut {
		c.stopTimer()
		c.hangupRing(ctx, "")
		c.ringAll, c.offer = nil, nil
		c.routeTo(rtRONA)
		c.e.stats.ronas.Add(1)
		if err := c.e.store.RingAllNoAnswer(ctx, c.conn, "no_answer"); err != nil {
			c.log.Warn("ring-all timeout", "err", err)
		}
		return
	}
	m, ok := c.ringAll[leg]
	if !ok {
		return
	}
	delete(c.ringAll, leg)
	c.e.forgetLeg(leg)
	if err := c.e.store.NoAnswer(ctx, c.conn, m.Agent, reason); err != nil {
		c.log.Warn("ring-all decline", "agent_id", m.Agent, "err", err)
	}
	if len(c.ringAll) > 0 {
		return // the others keep ringing
	}
	c.stopTimer()
	c.ringAll, c.offer = nil, nil
	c.routeTo(rtRONA)
}

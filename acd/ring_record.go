package acd

import (
	"context"
	"errors"

	"github.com/tandem-cc/tandem/errs"
)

// recordRing records, before the agent's phone is rung, that the offer o
// rings leg (ringing.lua), and says whether to ring it. The script is the
// ring's fence: an offer withdrawn meanwhile (STALE: the caller left, the
// recoverer took it back, or a newer holder of the seat gave it back while
// rebuilding the call) or a seat this engine no longer holds (FENCED) rings
// nobody. Rung first and recorded after, a holder that had not yet learnt
// it was replaced rang an agent the newer holder had already made
// available again: the agent's phone got a second call, and the same call
// a second agent leg (the chaos test's sigterm scenario).
//
// Any other error (Redis unreachable a moment, as during a Sentinel
// failover) still rings: the script's outcome is unknown, and the call is
// better served than left waiting for the recoverer.
func (c *call) recordRing(ctx context.Context, o Offer, leg string) bool {
	err := c.e.store.Ringing(ctx, o, leg)
	switch {
	case err == nil:
		return true
	case ctx.Err() != nil || errors.Is(err, errs.ErrFenced):
		c.log.Info("offer not rung: the engine stopped acting for the seat", "agent_id", o.Agent, "err", err)
		return false
	case errors.Is(err, ErrStale):
		c.log.Info("offer not rung: withdrawn meanwhile", "agent_id", o.Agent, "err", err)
		return false
	}
	c.log.Warn("mark ringing; ringing anyway", "agent_id", o.Agent, "err", err)
	return true
}

package acd

import (
	"context"
	"fmt"

	"github.com/tandem-cc/tandem/callbacks"
)

// connectedCallback says whether a callback call of the seat is rebuilt
// like a customer's call, and names its customer leg in sc.CallerLeg.
//
// The callback scheduler's takeover (callback_takeover.go) continues a
// dial the previous holder left in progress: the callback is leased then.
// Once the customer answered, the attempt is complete (the callback is
// done, its lease and dial leg forgotten) and the interaction is a
// connected call like any other: customer and agent in the call's bridge,
// or, after a blind transfer to a queue, the customer waiting (offered)
// there. Nothing else rebuilds it, so without this a crash left the call
// connected forever (the agent stuck, the surviving leg alone in the
// bridge), or a transferred one failed at its next offer. The customer's
// leg is the one the last attempt dialled (callback_dial.go names it
// <conn>-c<attempt>).
func (e *Engine) connectedCallback(ctx context.Context, sc *seatCall) bool {
	if sc.Attached["callback_id"] == "" {
		return false
	}
	cb, err := e.callbacks.Get(ctx, sc.Attached["callback_id"])
	if err != nil {
		e.log.Warn("reconcile: read the callback of a connected call", "connection_id", sc.Conn, "err", err)
		return false
	}
	n := len(cb.Attempts)
	if cb.State != callbacks.StateDone || n == 0 || cb.Attempts[n-1].Outcome != callbacks.OutcomeAnswered {
		return false // the dial's own takeover has it
	}
	sc.CallerLeg = fmt.Sprintf("%s-c%d", sc.Conn, n)
	if sc.ANI == "" {
		sc.ANI = cb.Number
	}
	return true
}

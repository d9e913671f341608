package acd

import (
	"context"
	"fmt"

	"github.com/tandem-cc/tandem/callbacks"
)

// connectedCallback: a callback interaction of the seat found connected
// whose callback is over (its attempt recorded as answered: done) is a
// conversation like any other, and the seat's next holder rebuilds it as
// an ordinary connected call, its customer's leg being the attempt's dial
// leg (the interaction hash has no caller leg for a callback, and the
// callback record forgets it once the attempt is completed). The callback
// scheduler's takeover only continues the callbacks it still leases (an
// attempt not yet recorded), so without this nobody tracked such a call
// after the seat moved: when a side hung up, the other leg stayed up, the
// interaction and the agent stayed connected for ever (the chaos test's
// sigterm scenario). ok is false for every other callback interaction
// (left to the scheduler), and when the callback can not be read.
func (e *Engine) connectedCallback(ctx context.Context, sc seatCall) (seatCall, bool) {
	id := sc.Attached["callback_id"]
	if sc.State != StateConnected || id == "" || e.callbacks == nil {
		return sc, false
	}
	cb, err := e.callbacks.Get(ctx, id)
	if err != nil {
		e.log.Warn("reconcile: read the callback of a connected callback call", "connection_id", sc.Conn, "callback_id", id, "err", err)
		return sc, false
	}
	n := len(cb.Attempts)
	if cb.State != callbacks.StateDone || cb.Conn != sc.Conn || n == 0 || cb.Attempts[n-1].Outcome != callbacks.OutcomeAnswered {
		return sc, false
	}
	// The completed attempt's leg: dialCustomer names it after the
	// attempt's number (the record forgets its dial leg once completed).
	sc.CallerLeg = fmt.Sprintf("%s-c%d", sc.Conn, n)
	return sc, true
}

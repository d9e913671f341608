package acd

import (
	"context"
	"errors"
	"fmt"

	"github.com/tandem-cc/tandem/callbacks"
)

// callbackToRebuild says whether the seat's next holder rebuilds a callback
// interaction of the seat itself, instead of leaving it to the callback
// scheduler. The scheduler's takeover only continues the callbacks it can
// still claim: a live callback that points at this interaction. Every
// other callback interaction would be tracked by nobody after the seat
// moved (the chaos test's sigterm and rolling scenarios: an agent left
// connected with a leg up in its bridge, or ringing for ever):
//
//   - its callback done by this very attempt (the customer answered): a
//     call like any other, connected or waiting in a queue after a blind
//     transfer, rebuilt as an ordinary call whose customer's leg is the
//     attempt's dial leg (the interaction hash has no caller leg for a
//     callback, and the record forgets it once the attempt is completed);
//   - any other state while its callback is over or serves another
//     interaction (an earlier holder completed or re-claimed it as it
//     stopped): orphan, failed (every leg hung up, the agent released).
//
// ok is false for a callback interaction the scheduler takes over, and
// when the callback can not be read (nothing is decided on a doubt).
func (e *Engine) callbackToRebuild(ctx context.Context, sc seatCall) (seatCall, bool) {
	id := sc.Attached["callback_id"]
	if id == "" || e.callbacks == nil {
		return sc, false
	}
	cb, err := e.callbacks.Get(ctx, id)
	switch {
	case errors.Is(err, callbacks.ErrNotFound):
		sc.orphan = true
		return sc, true
	case err != nil:
		e.log.Warn("reconcile: read the callback of a callback call", "connection_id", sc.Conn, "callback_id", id, "err", err)
		return sc, false
	}
	if cb.Conn == sc.Conn && !cb.State.Terminal() {
		return sc, false // the scheduler's (callback_takeover.go)
	}
	n := len(cb.Attempts)
	if cb.Conn == sc.Conn && cb.State == callbacks.StateDone && n > 0 && cb.Attempts[n-1].Outcome == callbacks.OutcomeAnswered {
		// The customer answered: a call like any other, in whatever live
		// state it is (connected, or waiting in a queue after a blind
		// transfer). Its customer leg is the completed attempt's:
		// dialCustomer names it after the attempt's number.
		sc.CallerLeg = fmt.Sprintf("%s-c%d", sc.Conn, n)
		if sc.ANI == "" {
			sc.ANI = cb.Number
		}
		return sc, true
	}
	sc.orphan = true
	return sc, true
}

// rebuildLateCallbacks is a second look, at the end of the reconciliation,
// for callback interactions of the seat that became this engine's to
// rebuild after loadSeat read them: an earlier holder that was stopping
// completed the attempt (callbacks are fenced by their own lease, not the
// seat's token) a moment after this engine started.
func (e *Engine) rebuildLateCallbacks(ctx context.Context) {
	calls, err := e.store.SeatCalls(ctx, e.store.node)
	if err != nil {
		e.log.Warn("reconcile: read the seat's calls again", "err", err)
		return
	}
	n := 0
	for _, sc := range calls {
		if sc.Kind != "callback" {
			continue
		}
		e.mu.Lock()
		mine := e.calls[sc.Conn] != nil
		e.mu.Unlock()
		if mine {
			continue
		}
		if sc, ok := e.callbackToRebuild(ctx, sc); ok {
			e.addShell(sc)
			n++
		}
	}
	if n == 0 {
		return
	}
	e.log.Info("reconcile: callback calls to rebuild after the first look", "calls", n)
	if err := e.rebuild(ctx); err != nil {
		e.log.Error("reconcile: rebuild late callback calls", "err", err)
	}
}

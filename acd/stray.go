package acd

import (
	"context"
	"errors"
	"time"
)

// strayTimeout bounds the hand-back of one stray leg (continue, then
// hang-up): the driver bounds each request, this bounds both together.
const strayTimeout = 10 * time.Second

// sendBack hands a leg that is not Tandem's to handle (StrayArrived) back
// to the dialplan, or hangs it up if the PBX refuses that. Asterisk keeps a
// channel in Stasis until the application lets it go, so ignoring it would
// leave the caller ringing there until they give up. No interaction is
// created: the leg never was a call for this contact center.
//
// It runs on its own goroutine, owned by the engine's actor group (Run
// waits for it), because onEvent must not block on the PBX.
func (e *Engine) sendBack(ev StrayArrived) {
	e.mu.Lock()
	ctx := e.ctx
	if ctx == nil || ctx.Err() != nil {
		e.mu.Unlock()
		return
	}
	e.wg.Add(1)
	e.mu.Unlock()
	go func() {
		defer e.wg.Done()
		ctx, cancel := context.WithTimeout(ctx, strayTimeout)
		defer cancel()
		outcome := e.returnStray(ctx, ev)
		e.opts.Metrics.Strays.WithLabelValues(outcome).Inc()
	}()
}

// returnStray does sendBack's work and names its outcome for the counter.
func (e *Engine) returnStray(ctx context.Context, ev StrayArrived) string {
	log := e.log.With("leg", ev.Leg, "args", ev.Args)
	err := e.pbx.ContinueInDialplan(ctx, ev.Leg)
	switch {
	case err == nil:
		log.Warn("channel entered the application without being a call for Tandem; sent back to the dialplan")
		return "continued"
	case errors.Is(err, ErrLegGone):
		log.Info("channel entered the application without being a call for Tandem and is already gone")
		return "gone"
	}
	// Hangup reports a leg gone meanwhile as done: hung_up either way.
	herr := e.pbx.Hangup(ctx, ev.Leg, CauseNormal)
	if herr == nil {
		log.Warn("channel entered the application without being a call for Tandem; continue failed, hung up", "continue_err", err)
		return "hung_up"
	}
	log.Error("channel entered the application without being a call for Tandem; neither continue nor hang-up worked, it stays in the application", "continue_err", err, "hangup_err", herr)
	return "stuck"
}

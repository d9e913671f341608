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
	e.goBounded(func(ctx context.Context) {
		outcome := e.returnStray(ctx, ev)
		e.opts.Metrics.Strays.WithLabelValues(outcome).Inc()
	})
}

// goBounded runs fn on a goroutine the engine's actor group owns (Run
// waits for it), with a context bounded by strayTimeout; once the engine
// has stopped, fn does not run at all (a stop is a crash for the PBX).
func (e *Engine) goBounded(fn func(ctx context.Context)) {
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
		fn(ctx)
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

// hangupUnwanted hangs up an agent leg answered after no call wanted it
// any more: its call ended, or gave the ring up, and a hang-up sent then
// did not take (it timed out, or the leg was not created yet). Ignored,
// the agent would sit on an answered leg in Stasis with nobody on the
// other end, and the leg would stay there. Tandem chose the leg's id and
// the driver reports answers only for legs Tandem rang, so it is ours to
// end. Like sendBack, it runs on a goroutine the engine owns.
func (e *Engine) hangupUnwanted(leg string) {
	e.goBounded(func(ctx context.Context) {
		if err := e.pbx.Hangup(ctx, leg, CauseNormal); err != nil {
			e.log.Error("hang up an agent leg answered for no call", "leg", leg, "err", err)
			return
		}
		e.log.Warn("agent leg answered for no call (its call had ended or given the ring up); hung up", "leg", leg)
	})
}

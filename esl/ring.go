package esl

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/tandem-cc/tandem/acd"
)

// Ring originates an agent leg with the ACD's leg id as origination_uuid
// (bgapi, so the socket keeps delivering events while it rings). It
// returns once FreeSWITCH has shown it has the request: an event of the
// new leg (CHANNEL_CREATE comes within milliseconds) or the job's result
// (a failure: the endpoint is not registered, busy...). The outcome comes
// through Run: CHANNEL_ANSWER → LegAnswered; the job's "-ERR <CAUSE>" or
// the leg's hang-up before an answer → RingFailed.
//
// When neither comes within the request timeout (or the socket broke
// before the reply), FreeSWITCH may still create the leg later: Ring
// returns acd.ErrRingUnknown and the driver owns the leg from then on — it
// hangs it up whenever it shows up, never reports it answered, and reports
// its end as RingFailed if it ever existed (abandon.go).
func (d *Driver) Ring(ctx context.Context, req acd.RingRequest) error {
	arg, err := originateArg(d.opts.App, req)
	if err != nil {
		return err
	}
	seen := make(chan struct{})
	d.mu.Lock()
	d.legs[req.Leg] = &leg{owner: d.opts.App, agent: true, seenCh: seen}
	d.mu.Unlock()
	_, j, c, err := d.startJob(ctx, "originate "+arg, req.Leg)
	switch {
	case err == nil:
	case ctx.Err() != nil || errors.Is(err, errNotConnected) || !errors.Is(err, errConnLost):
		// Not sent (the engine is stopping, or there is no socket), or
		// refused: no leg will come of it.
		d.forgetRing(req.Leg)
		return fmt.Errorf("esl originate %s: %w", req.Leg, err)
	default:
		return d.ringUnknown(ctx, req.Leg, err)
	}
	t := time.NewTimer(d.opts.RequestTimeout)
	defer t.Stop()
	select {
	case <-seen:
		return nil
	case <-j.result:
		return nil // the outcome is delivered as the leg's event (translate)
	case <-c.lost:
		select {
		case <-seen:
			return nil
		default:
		}
		return d.ringUnknown(ctx, req.Leg, errConnLost)
	case <-t.C:
		return d.ringUnknown(ctx, req.Leg, fmt.Errorf("no event of the leg and no job result in %v", d.opts.RequestTimeout))
	case <-ctx.Done():
		// The engine is stopping, which must look like a crash: no PBX
		// command. The leg stays known, so its events are still reported.
		return fmt.Errorf("esl originate %s: %w", req.Leg, ctx.Err())
	}
}

// ringUnknown abandons a leg whose originate went unanswered, unless an
// event showed it exists meanwhile (then the ring goes on as usual).
func (d *Driver) ringUnknown(ctx context.Context, id string, cause error) error {
	d.mu.Lock()
	l := d.legs[id]
	existed := l == nil || l.seen // nil: it has ended and been reported already
	d.mu.Unlock()
	if existed {
		d.log.Warn("originate unconfirmed, but the leg exists; ringing as usual", "leg", id, "err", cause)
		return nil
	}
	if ctx.Err() != nil {
		return fmt.Errorf("esl originate %s: %w", id, ctx.Err())
	}
	d.abandon(ctx, id)
	return fmt.Errorf("esl originate %s: %w: %w", id, acd.ErrRingUnknown, cause)
}

func (d *Driver) forgetRing(id string) {
	d.mu.Lock()
	if l := d.legs[id]; l != nil && l.agent && !l.seen {
		delete(d.legs, id)
	}
	d.mu.Unlock()
}

// An abandoned leg: see Ring. This lives in the driver, not the ACD,
// because only the driver sees the events that show a leg being created
// and ringing; the ACD hears of an agent leg only when it is answered or
// ends, and by the answer it is too late.

// abandonedTTL is how long the driver watches for an abandoned leg that
// never appeared; the bound only keeps the table from growing.
const abandonedTTL = 10 * time.Minute

// abandon marks id abandoned and hangs it up at once (if FreeSWITCH does
// not have it yet, the kill finds nothing and the mark stays).
func (d *Driver) abandon(ctx context.Context, id string) {
	now := time.Now()
	d.mu.Lock()
	for other, l := range d.legs {
		if !l.abandoned.IsZero() && now.Sub(l.abandoned) > abandonedTTL {
			delete(d.legs, other)
		}
	}
	l := d.legs[id]
	if l == nil {
		l = &leg{owner: d.opts.App, agent: true}
		d.legs[id] = l
	}
	l.abandoned = now
	d.mu.Unlock()
	d.log.Warn("originate got no answer; hanging the leg up, and again whenever it appears", "leg", id)
	kctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), d.opts.RequestTimeout)
	defer cancel()
	d.killQuietly(kctx, id)
}

// abandonedEventLocked handles an event of an abandoned leg, and reports
// whether the leg must be hung up (again). Its first sight and its answer
// each get a hang-up; its end is a RingFailed, if it existed. d.mu must
// be held.
func (d *Driver) abandonedEventLocked(ev fsEvent, l *leg, out *[]acd.Event) (kill bool) {
	switch ev.Name {
	case "CHANNEL_HANGUP", "CHANNEL_HANGUP_COMPLETE", "CHANNEL_DESTROY":
		d.legEndLocked(ev.UUID, l, causeCode(ev.Cause), out)
		return false
	case "BACKGROUND_JOB":
		cause, failed := strings.CutPrefix(strings.TrimSpace(ev.Body), "-ERR ")
		switch {
		case failed && l.seen:
			d.legEndLocked(ev.UUID, l, causeCode(cause), out)
			return false
		case failed:
			d.endLocked(ev.UUID) // it never existed: nothing to report
			return false
		}
		return true // "+OK": answered
	case "DTMF", "CHANNEL_EXECUTE_COMPLETE":
		return false
	}
	answered := ev.Name == "CHANNEL_ANSWER" || ev.Name == "CHANNEL_PARK"
	kill = answered || !l.killed
	l.killed = true
	return kill
}

// killQuietly hangs a leg up, logging (not returning) a failure.
func (d *Driver) killQuietly(ctx context.Context, id string) {
	if err := d.Hangup(ctx, id, acd.CauseNormal); err != nil {
		d.log.Warn("hang up a leg whose originate got no answer", "leg", id, "err", err)
	}
}

// Abandoned returns how many abandoned legs the driver still watches for
// (metrics, tests).
func (d *Driver) Abandoned() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	n := 0
	for _, l := range d.legs {
		if !l.abandoned.IsZero() {
			n++
		}
	}
	return n
}

package esl

import (
	"context"
	"strings"
	"time"

	"github.com/percipia/eslgo"

	"github.com/tandem-cc/tandem/acd"
)

// onEvent is eslgo's listener. eslgo calls it in a new goroutine for every
// event, so it only files the event: job results go straight to the
// command waiting for them, everything else into the reorder buffer, which
// the delivery goroutine drains in Event-Sequence order.
func (d *Driver) onEvent(e *eslgo.Event) {
	d.intake(fromESL(e, d.opts.AttachedVars), time.Now())
}

func (d *Driver) intake(ev fsEvent, now time.Time) {
	ev, ok := d.accept(ev)
	if !ok {
		d.bufMu.Lock()
		d.buf.skip(ev.Seq) // nothing to deliver: hold nothing up for it
		d.bufMu.Unlock()
		d.wakeUp()
		return
	}
	d.sight(ev)
	d.bufMu.Lock()
	d.buf.push(ev, now)
	d.bufMu.Unlock()
	d.wakeUp()
}

func (d *Driver) wakeUp() {
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// forwarded is the relay's report that an event came off the socket.
func (d *Driver) forwarded(seq uint64, at time.Time) {
	d.bufMu.Lock()
	d.buf.forwarded(seq, at)
	d.bufMu.Unlock()
}

// accept routes a job result to the command waiting for it and reports
// whether ev goes on to the delivery goroutine (a ring's result does: it
// is also an event of the rung leg).
func (d *Driver) accept(ev fsEvent) (fsEvent, bool) {
	if ev.Name == "BACKGROUND_JOB" {
		d.mu.Lock()
		j := d.jobs[ev.JobUUID]
		if j != nil && j.ringLeg != "" {
			delete(d.jobs, ev.JobUUID) // nobody else waits for a ring's result
		}
		d.mu.Unlock()
		if j == nil {
			return ev, false // another client's job (every subscriber receives every result)
		}
		select {
		case j.result <- ev.Body:
		default:
		}
		ev.UUID = j.ringLeg // a ring's result is also an event of its leg
		return ev, ev.UUID != ""
	}
	return ev, ev.UUID != ""
}

// sight records, as it arrives, that an event showed a leg Tandem rang
// exists: Ring waits for that (or its job's result) before it counts the
// ring as accepted.
func (d *Driver) sight(ev fsEvent) {
	if ev.Name == "BACKGROUND_JOB" {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if l := d.legs[ev.UUID]; l != nil && l.agent && !l.seen {
		l.seen = true
		if l.seenCh != nil {
			close(l.seenCh)
		}
	}
}

// deliverLoop releases held events when due and translates them, until
// ctx ends. It is the one goroutine that delivers events of the socket.
func (d *Driver) deliverLoop(ctx context.Context, handle func(acd.Event)) {
	t := time.NewTimer(time.Hour)
	defer t.Stop()
	for {
		d.drain.Lock()
		d.bufMu.Lock()
		evs := d.buf.due(time.Now())
		next, ok := d.buf.next(time.Now())
		d.bufMu.Unlock()
		for _, ev := range evs {
			d.translate(ev, handle)
		}
		d.drain.Unlock()
		if len(evs) > 0 {
			continue // more may have come due meanwhile
		}
		wait := time.Hour
		if ok {
			wait = max(time.Until(next), 0)
		}
		t.Reset(wait)
		select {
		case <-ctx.Done():
			return
		case <-d.wake: // (Go ≥1.23: Reset drops a stale expiry)
		case <-t.C:
		}
	}
}

// flushHeld delivers every held event at once, in order: the socket is
// gone, so nothing older can still arrive, and a re-read follows.
func (d *Driver) flushHeld(handle func(acd.Event)) {
	d.drain.Lock()
	defer d.drain.Unlock()
	d.bufMu.Lock()
	evs := d.buf.flush()
	d.bufMu.Unlock()
	for _, ev := range evs {
		d.translate(ev, handle)
	}
}

// translate turns one FreeSWITCH event, in sequence order, into the
// port's events. Per leg it ignores what is stale: anything after the
// leg's end (an ANSWER or PARK that arrived after its HANGUP), and a
// state event older than one already delivered for the leg.
func (d *Driver) translate(ev fsEvent, handle func(acd.Event)) {
	var out []acd.Event
	d.mu.Lock()
	if _, dead := d.ended[ev.UUID]; dead {
		d.mu.Unlock()
		return
	}
	l := d.legs[ev.UUID]
	if l != nil && ev.Seq != 0 && ev.Name != "BACKGROUND_JOB" {
		if ev.Seq < l.lastSeq && ev.Name != "DTMF" {
			d.mu.Unlock()
			d.log.Debug("stale event dropped", "leg", ev.UUID, "event", ev.Name, "seq", ev.Seq, "last", l.lastSeq)
			return
		}
		l.lastSeq = max(l.lastSeq, ev.Seq)
	}
	if l != nil && !l.abandoned.IsZero() {
		kill := d.abandonedEventLocked(ev, l, &out)
		d.mu.Unlock()
		emit(handle, out)
		if kill {
			d.log.Warn("a leg whose originate got no answer appeared; hanging it up", "leg", ev.UUID, "event", ev.Name)
			d.goAsync(func(ctx context.Context) { d.killQuietly(ctx, ev.UUID) })
		}
		return
	}
	var rebridge *vbridge
	switch ev.Name {
	case "CHANNEL_PARK":
		switch {
		case l == nil:
			if !d.acceptsLocked(ev.App) {
				break
			}
			if ev.Inbound {
				d.legs[ev.UUID] = &leg{owner: ev.App}
				out = append(out, acd.CallArrived{Leg: ev.UUID, ANI: ev.ANI, DNIS: ev.DNIS, Queue: ev.Queue, Vars: ev.Vars})
				d.log.Info("call arrived", "leg", ev.UUID, "ani", ev.ANI, "dnis", ev.DNIS, "queue", ev.Queue)
			} else {
				d.legs[ev.UUID] = &leg{owner: ev.App, stray: true}
				out = append(out, acd.StrayArrived{Leg: ev.UUID})
				d.log.Info("stray leg parked for this owner", "leg", ev.UUID)
			}
		case l.agent && !l.up && ev.Answered:
			// The answer's own event was older and is late: the park
			// after &park() says it all the same.
			l.up = true
			out = append(out, acd.LegAnswered{Leg: ev.UUID})
		}
	case "CHANNEL_ANSWER":
		if l != nil && l.agent && !l.up {
			l.up = true
			out = append(out, acd.LegAnswered{Leg: ev.UUID})
		}
	case "CHANNEL_HANGUP", "CHANNEL_HANGUP_COMPLETE", "CHANNEL_DESTROY":
		if l == nil {
			if d.acceptsLocked(ev.App) {
				d.endLocked(ev.UUID) // a late PARK of it must not look like an arrival
			}
			break
		}
		rebridge = d.legEndLocked(ev.UUID, l, causeCode(ev.Cause), &out)
	case "BACKGROUND_JOB":
		// The result of the originate that rang this leg: "+OK <uuid>" once
		// answered (the ANSWER event reports it), "-ERR <CAUSE>" if the
		// ring failed — sometimes without any event of the leg at all (no
		// channel was created).
		cause, failed := strings.CutPrefix(strings.TrimSpace(ev.Body), "-ERR ")
		if l != nil && l.agent && !l.up && failed {
			rebridge = d.legEndLocked(ev.UUID, l, causeCode(cause), &out)
		}
	case "DTMF":
		if l != nil && !l.stray && ev.Digit != "" {
			out = append(out, acd.DTMFReceived{Leg: ev.UUID, Digit: ev.Digit})
		}
	case "CHANNEL_EXECUTE_COMPLETE":
		if p := d.playbacks[ev.AppUUID]; p != nil && ev.AppUUID != "" {
			delete(d.playbacks, ev.AppUUID)
			outcome := acd.PlaybackFailed
			switch {
			case ev.AppResponse == "FILE PLAYED" && p.stopping:
				outcome = acd.PlaybackStopped
			case ev.AppResponse == "FILE PLAYED":
				outcome = acd.PlaybackDone
			}
			out = append(out, acd.PlaybackFinished{Leg: p.leg, Playback: ev.AppUUID, Outcome: outcome})
		}
	}
	d.mu.Unlock()
	emit(handle, out)
	if rebridge != nil {
		d.goAsync(func(ctx context.Context) { d.rerealise(ctx, rebridge) })
	}
}

func emit(handle func(acd.Event), out []acd.Event) {
	for _, e := range out {
		handle(e)
	}
}

// legEndLocked reports the end of a leg: its playbacks failed, then
// RingFailed for a leg Tandem rang that was never answered, LegHungUp for
// any other. It returns the virtual bridge the leg was in if the members
// left need joining again. d.mu must be held.
func (d *Driver) legEndLocked(id string, l *leg, cause int, out *[]acd.Event) *vbridge {
	d.endLocked(id)
	for pid, p := range d.playbacks {
		if p.leg == id {
			delete(d.playbacks, pid)
			*out = append(*out, acd.PlaybackFinished{Leg: id, Playback: pid, Outcome: acd.PlaybackFailed})
		}
	}
	var rb *vbridge
	if b := d.bridges[l.bridge]; b != nil && l.bridge != "" {
		b.members = without(b.members, id)
		// realised belongs to the bridge's own lock: the re-realisation
		// (under it) reads the hang-up from gone.
		b.gone = append(b.gone, id)
		if len(b.members) >= 2 {
			rb = b
		}
	}
	defer d.ownerLegEndedLocked(l.owner)
	switch {
	case l.stray:
		return rb
	case l.agent && !l.up:
		*out = append(*out, acd.RingFailed{Leg: id, Cause: cause, Reason: reasonFor(cause)})
		d.log.Info("ring failed", "leg", id, "cause", cause)
	default:
		*out = append(*out, acd.LegHungUp{Leg: id, Cause: cause})
		d.log.Info("leg hung up", "leg", id, "cause", cause)
	}
	return rb
}

// acceptsLocked reports whether legs of owner are this driver's: its own,
// or one it took over. d.mu must be held.
func (d *Driver) acceptsLocked(owner string) bool {
	if owner == "" {
		return false
	}
	if owner == d.opts.App {
		return true
	}
	_, ok := d.owners[owner]
	return ok
}

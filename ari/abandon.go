package ari

import (
	"context"
	"time"

	ariv5 "github.com/CyCoreSystems/ari/v5"

	"github.com/tandem-cc/tandem/acd"
)

// An abandoned leg is an agent leg whose originate got no answer in time
// (acd.ErrRingUnknown). Asterisk may have received the request and create
// the leg later — seconds later on a CPU-starved machine (ARCHITECTURE §9),
// after a DELETE sent at once found nothing (404). The ACD has given the
// ring up, so nobody would ever answer for that leg: the driver hangs it
// up as soon as any event shows it exists, never reports it answered, and
// reports its end as a failed ring (RingFailed), which is what the ACD
// waits for before offering the call again.
//
// This lives in the driver, not the ACD, because only the driver sees the
// events that show a leg being created and ringing (Dial, ChannelStateChange):
// the ACD only hears of an agent leg when it is answered or ends, and by
// the answer it is too late — the agent has picked up.

// abandonedTTL is how long the driver watches for an abandoned leg that
// never appeared. Asterisk handles or drops a request long before; the
// bound only keeps the map from growing with legs that never existed.
const abandonedTTL = 10 * time.Minute

type abandonedLeg struct {
	since time.Time
	// hungUp: a hang-up was sent after the leg was seen; further ringing
	// events need no other.
	hungUp bool
}

// abandon marks id abandoned and hangs it up at once (a 404 now may only
// mean "not created yet", so the mark stays until its ChannelDestroyed).
// The hang-up is bounded by the request timeout, even if ctx has ended.
func (d *Driver) abandon(ctx context.Context, id string) {
	now := time.Now()
	d.mu.Lock()
	for other, a := range d.abandoned {
		if now.Sub(a.since) > abandonedTTL {
			delete(d.abandoned, other)
			if l := d.legs[other]; l != nil && l.agent && !l.up {
				delete(d.legs, other)
			}
		}
	}
	if d.legs[id] == nil {
		d.legs[id] = &leg{app: d.opts.App, agent: true}
	}
	d.abandoned[id] = &abandonedLeg{since: now}
	d.mu.Unlock()
	d.log.Warn("originate got no answer; hanging the leg up, and again whenever it appears", "leg", id)
	if err := d.Hangup(context.WithoutCancel(ctx), id, acd.CauseNormal); err != nil {
		d.log.Warn("hang up a leg whose originate got no answer", "leg", id, "err", err)
	}
}

// existed reports whether an event showed that the PBX created the agent
// leg id (it rang, was answered, or has already ended and been reported):
// events often arrive before the HTTP response of the request that caused
// them (ARCHITECTURE §9), so an originate whose answer came too late may
// have a known outcome after all.
func (d *Driver) existed(id string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	l := d.legs[id]
	return l == nil || l.up || l.seen
}

// sightAbandoned handles an event that shows an abandoned leg exists
// (ringing, answered) and reports whether ev was about one. The leg is hung
// up on first sight and again on its answer (a hang-up that raced the
// answer); the answer is never reported. Its end (ChannelDestroyed) goes
// the usual way: a RingFailed.
func (d *Driver) sightAbandoned(ev ariv5.Event) bool {
	var id string
	answered := false
	switch e := ev.(type) {
	case *ariv5.StasisStart:
		id, answered = e.Channel.ID, true
	case *ariv5.Dial:
		id = e.Peer.ID
	case *ariv5.ChannelStateChange:
		id = e.Channel.ID
	case *ariv5.ChannelVarset:
		id = e.Channel.ID
	default:
		return false
	}
	d.mu.Lock()
	a := d.abandoned[id]
	if a == nil {
		if l := d.legs[id]; l != nil {
			l.seen = true
		}
		d.mu.Unlock()
		return false
	}
	again := answered || !a.hungUp
	a.hungUp = true
	d.mu.Unlock()
	if again {
		d.log.Warn("a leg whose originate got no answer appeared; hanging it up", "leg", id, "event", ev.GetType())
		d.hangupAsync(id)
	}
	// A Dial event still carries the ring's outcome; let translate see it.
	_, dial := ev.(*ariv5.Dial)
	return !dial
}

// hangupAsync hangs id up without holding up event delivery. The goroutine
// belongs to Run: it ends with Run's context and Run waits for it.
func (d *Driver) hangupAsync(id string) {
	d.mu.Lock()
	r := d.run
	if r == nil || r.ctx.Err() != nil {
		d.mu.Unlock()
		return
	}
	d.readers.Add(1)
	d.mu.Unlock()
	go func() {
		defer d.readers.Done()
		if err := d.Hangup(r.ctx, id, acd.CauseNormal); err != nil {
			d.log.Warn("hang up a leg whose originate got no answer", "leg", id, "err", err)
		}
	}()
}

// Abandoned returns how many abandoned legs the driver still watches for
// (metrics, tests).
func (d *Driver) Abandoned() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.abandoned)
}

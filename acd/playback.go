package acd

import (
	"context"
	"fmt"
	"time"

	"github.com/tandem-cc/tandem/internal/clock"
	"github.com/tandem-cc/tandem/media"
)

// Media never blocks a call: the actor starts a playback and goes on with
// its mailbox (offers, digits, hang-ups); the playback's end comes back as
// a PlaybackFinished message and runs what was to follow it.

// playback is a playback this call started and has not seen end.
type playback struct {
	leg   string
	timer clock.Timer
	// then runs in the actor when the playback ends (nil: nothing follows).
	then func(ctx context.Context, out PlaybackOutcome)
}

// playbackTimeout: a playback has not ended within its bound.
type playbackTimeout struct{ id string }

// Bounds of a playback. Asterisk never reports the end of media it cannot
// play (an unknown scheme), so the actor never waits longer than this for
// a PlaybackFinished; then it stops the playback and goes on as failed.
const (
	playbackBound   = time.Minute
	playbackPerItem = 30 * time.Second
)

// startMedia plays items (zero values are skipped) to leg as one playback
// and returns its id at once; then runs in the actor when it ends. With
// nothing to play, or when the PBX refuses the request, then runs before
// startMedia returns (done, or failed) and the id is "".
func (c *call) startMedia(ctx context.Context, leg string, then func(context.Context, PlaybackOutcome), items ...media.Media) string {
	return c.startMediaWithin(ctx, leg, 0, then, items...)
}

// startMediaWithin is startMedia for media longer than a prompt (a
// recorded message): bound replaces the default bound when longer.
func (c *call) startMediaWithin(ctx context.Context, leg string, bound time.Duration, then func(context.Context, PlaybackOutcome), items ...media.Media) string {
	list := make([]media.Media, 0, len(items))
	for _, m := range items {
		if !m.IsZero() {
			list = append(list, m)
		}
	}
	if len(list) == 0 {
		if then != nil {
			then(ctx, PlaybackDone)
		}
		return ""
	}
	c.playSeq++
	id := fmt.Sprintf("%s-p%d", c.conn, c.playSeq)
	if c.playbacks == nil {
		c.playbacks = map[string]*playback{}
	}
	p := &playback{leg: leg, then: then}
	c.playbacks[id] = p
	if err := c.e.pbx.StartMedia(ctx, leg, id, list...); err != nil {
		delete(c.playbacks, id)
		c.log.Warn("play", "leg", leg, "media", fmt.Sprint(list), "err", err)
		if then != nil {
			then(ctx, PlaybackFailed)
		}
		return ""
	}
	bound = max(bound, playbackBound+time.Duration(len(list)-1)*playbackPerItem)
	p.timer = c.after(bound, playbackTimeout{id: id})
	return id
}

// onPlaybackFinished runs what follows a playback that ended. A playback
// the actor has stopped, or given up on, is no longer known: its late end
// is ignored.
func (c *call) onPlaybackFinished(ctx context.Context, ev PlaybackFinished) {
	p := c.forgetPlayback(ev.Playback)
	if p == nil {
		return
	}
	if ev.Outcome == PlaybackFailed {
		c.log.Warn("playback failed", "leg", p.leg, "playback", ev.Playback)
	}
	if p.then != nil {
		p.then(ctx, ev.Outcome)
	}
}

func (c *call) onPlaybackTimeout(ctx context.Context, m playbackTimeout) {
	p := c.forgetPlayback(m.id)
	if p == nil {
		return
	}
	c.log.Warn("playback did not end in time; stopping it", "leg", p.leg, "playback", m.id)
	if err := c.e.pbx.StopMedia(ctx, m.id); err != nil {
		c.log.Warn("stop playback", "playback", m.id, "err", err)
	}
	if p.then != nil {
		p.then(ctx, PlaybackFailed)
	}
}

// stopMedia stops a playback on the PBX; what was to follow it does not
// run (the caller of stopMedia decides what comes next). Stopping "" or a
// playback that has ended does nothing.
func (c *call) stopMedia(ctx context.Context, id string) {
	if c.forgetPlayback(id) == nil {
		return
	}
	if err := c.e.pbx.StopMedia(ctx, id); err != nil {
		c.log.Warn("stop playback", "playback", id, "err", err)
	}
}

func (c *call) forgetPlayback(id string) *playback {
	p := c.playbacks[id]
	if p == nil {
		return nil
	}
	delete(c.playbacks, id)
	if p.timer != nil {
		p.timer.Stop()
	}
	return p
}

// endPlaybacksOf runs, as failed, what follows the playbacks of a leg that
// is gone (the PBX ends them with it; their own end may come later, or, for
// media the PBX cannot play, never).
func (c *call) endPlaybacksOf(ctx context.Context, leg string) {
	for id, p := range c.playbacks {
		if p.leg != leg {
			continue
		}
		c.forgetPlayback(id)
		if p.then != nil {
			p.then(ctx, PlaybackFailed)
		}
	}
}

// stopPlaybackTimers disarms the bounds of the playbacks still running
// when the actor ends (the PBX ends them with their legs).
func (c *call) stopPlaybackTimers() {
	for id := range c.playbacks {
		c.forgetPlayback(id)
	}
}

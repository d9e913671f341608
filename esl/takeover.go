package esl

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/tandem-cc/tandem/acd"
)

// ErrNotRunning: Takeover was called while Run was not running; a
// takeover's events go through Run's handler.
var ErrNotRunning = errors.New("esl driver not running")

// ownerUse counts what keeps a taken-over owner accepted: Takeover calls
// whose ctx has not ended. Its legs keep it too (hasLegsLocked).
type ownerUse struct{ users int }

// Takeover makes this driver handle the legs of owner, a dead replica's
// Owner(), until ctx ends (and after, while legs of it remain), and reports
// the state of legs, which owner had rung.
//
// Every event socket sees every call on FreeSWITCH; which replica handles
// a leg is only the tandem_app variable and each socket's filter. So taking
// over is accepting owner's legs and adding `filter variable_tandem_app
// <owner>` to the socket (and to every socket opened after a reconnect).
// Each leg is then read once (uuid_dump: its Answer-State): gone → Gone, set
// → Up, else it is still ringing and reports its answer or failure through
// Run's handler, like a leg Ring started. Calls the dialplan still parks
// for owner are reported as arrivals.
//
// FreeSWITCH has no counterpart of Asterisk's ApplicationReplaced: a
// second socket does not evict the first, so nothing on the PBX stops
// owner if it is in fact alive. Fencing is the seat token in Redis: the
// engine of a replica that lost its seat stops sending commands.
func (d *Driver) Takeover(ctx context.Context, owner string, legs []string) ([]acd.LegState, error) {
	if owner == "" {
		return nil, errors.New("esl takeover: no owner named")
	}
	if err := d.waitConnected(ctx); err != nil {
		return nil, fmt.Errorf("esl takeover %s: wait for the event socket: %w", owner, err)
	}
	d.mu.Lock()
	if d.run == nil {
		d.mu.Unlock()
		return nil, fmt.Errorf("esl takeover %s: %w", owner, ErrNotRunning)
	}
	added := false
	if owner != d.opts.App {
		u := d.owners[owner]
		if u == nil {
			u = &ownerUse{}
			d.owners[owner] = u
			added = true
		}
		u.users++
	}
	for _, id := range legs {
		if d.legs[id] == nil {
			d.legs[id] = &leg{owner: owner, agent: true}
		}
	}
	c := d.conn
	d.mu.Unlock()
	if owner != d.opts.App {
		context.AfterFunc(ctx, func() {
			d.mu.Lock()
			defer d.mu.Unlock()
			if u := d.owners[owner]; u != nil {
				u.users--
			}
			d.ownerLegEndedLocked(owner)
		})
	}
	if added && c != nil {
		// A socket opened from now on subscribes with owner's filter too.
		resp, err := c.send(ctx, "filter variable_tandem_app "+owner)
		if err == nil && !resp.IsOk() {
			err = errors.New(resp.GetReply())
		}
		if err != nil {
			return nil, fmt.Errorf("esl takeover %s: filter: %w", owner, err)
		}
		d.log.Info("took over owner", "owner", owner)
	}
	return d.legStates(ctx, owner, legs)
}

// legStates reads each leg once, after the filter is in place (so a
// change after the read is reported as an event).
func (d *Driver) legStates(ctx context.Context, owner string, legs []string) ([]acd.LegState, error) {
	states := make([]acd.LegState, len(legs))
	errs := make([]error, len(legs))
	d.forEach(ctx, len(legs), func(i int) {
		id := legs[i]
		up, err := d.answered(ctx, id)
		st := acd.LegState{Leg: id}
		switch {
		case errIsGone(err):
			st.Gone = true
			// Not there may be not there yet: owner's Ring may have sent
			// its bgapi originate just before it died, and FreeSWITCH
			// creates the leg when it runs the job. The ACD gives the
			// offer back and may ring the agent again, so such a leg is
			// abandoned: hung up whenever it appears, never reported
			// answered (as a Ring whose outcome is unknown).
			d.mu.Lock()
			if l := d.legs[id]; l != nil && l.owner == owner && l.abandoned.IsZero() {
				l.abandoned = time.Now()
			}
			d.mu.Unlock()
		case err != nil:
			errs[i] = err
		case up:
			st.Up = true
			d.markAnswered(id) // reported by the caller, through st.Up
		}
		states[i] = st
	})
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	for i := range legs {
		if errs[i] != nil {
			return nil, fmt.Errorf("esl takeover %s: %w", owner, errs[i])
		}
	}
	return states, nil
}

// ownerLegEndedLocked stops accepting a taken-over owner once no Takeover
// holds it and none of its legs remain; its filter goes at the next
// reconnect (an extra filter only lets through events the driver then
// ignores). d.mu must be held.
func (d *Driver) ownerLegEndedLocked(owner string) {
	u := d.owners[owner]
	if u == nil || u.users > 0 {
		return
	}
	for _, l := range d.legs {
		if l.owner == owner {
			return
		}
	}
	delete(d.owners, owner)
	d.log.Info("takeover ended", "owner", owner)
}

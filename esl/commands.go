package esl

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/tandem-cc/tandem/acd"
)

// Answer answers an inbound leg (uuid_answer).
func (d *Driver) Answer(ctx context.Context, id string) error {
	_, err := d.api(ctx, "uuid_answer "+id)
	if err == nil {
		d.markAnswered(id)
	}
	return err
}

// markAnswered records that a leg is up: a caller's leg taken back by
// Takeover before it was answered ends, from now on, as a hang-up.
func (d *Driver) markAnswered(id string) {
	d.mu.Lock()
	if l := d.legs[id]; l != nil && l.abandoned.IsZero() {
		l.up = true
	}
	d.mu.Unlock()
}

// StartMusic plays hold music: a local_stream class broadcast to the leg
// (aleg: to the leg itself, not to a bridge peer). Not uuid_hold: on
// FreeSWITCH 1.10 it cannot be undone reliably and its music does not
// play while bridged (esl-traces scenario 05). Whatever the leg played
// before is broken off first, so music never queues behind a prompt.
func (d *Driver) StartMusic(ctx context.Context, id, class string) error {
	if class == "" {
		class = "default"
	}
	if strings.ContainsAny(class, " \t\r\n/") {
		return fmt.Errorf("esl moh %s: bad music class %q", id, class)
	}
	if _, err := d.api(ctx, "uuid_break "+id+" all"); err != nil {
		return err
	}
	_, err := d.api(ctx, "uuid_broadcast "+id+" local_stream://"+class+" aleg")
	return err
}

// StopMusic stops hold music (uuid_break; nothing playing is fine). It
// also breaks off a prompt the leg plays: the ACD never plays both.
func (d *Driver) StopMusic(ctx context.Context, id string) error {
	_, err := d.api(ctx, "uuid_break "+id+" all")
	return err
}

// Hangup ends a leg with the cause's FreeSWITCH name (uuid_kill); a leg
// that is already gone is fine.
func (d *Driver) Hangup(ctx context.Context, id string, cause acd.HangupCause) error {
	_, err := d.api(ctx, "uuid_kill "+id+" "+killCause(cause))
	if errors.Is(err, acd.ErrLegGone) {
		err = nil
	}
	if err == nil {
		d.leaveOnHangup(ctx, id)
	}
	return err
}

// ContinueInDialplan sends the leg where its tandem_continue variable says
// (`<ext> XML <context>`, uuid_transfer's arguments), the FreeSWITCH way
// of Asterisk's "priority after Stasis()": the dialplan parked the call, so
// there is no next step unless the dialplan named one. Without the variable
// the leg is hung up (NORMAL_CLEARING). A leg that is gone is ErrLegGone.
func (d *Driver) ContinueInDialplan(ctx context.Context, id string) error {
	body, err := d.api(ctx, "uuid_getvar "+id+" tandem_continue")
	if err != nil {
		return err
	}
	dest := strings.TrimSpace(body)
	if dest == "" || dest == "_undef_" {
		_, err := d.api(ctx, "uuid_kill "+id+" NORMAL_CLEARING")
		return err
	}
	if _, err := d.api(ctx, "uuid_transfer "+id+" "+dest); err != nil {
		return err
	}
	d.leftForDialplan(id)
	return nil
}

// leftForDialplan reports that a leg handed back to the dialplan has left
// Tandem (LegHungUp with cause 0, as Asterisk's StasisEnd is reported),
// and forgets it without marking it ended: if the dialplan parks it for
// Tandem again, that is a new arrival.
func (d *Driver) leftForDialplan(id string) {
	d.mu.Lock()
	l := d.legs[id]
	delete(d.legs, id)
	r := d.run
	d.mu.Unlock()
	if l == nil || l.stray || r == nil {
		return
	}
	// Not from the caller's goroutine: the ACD may call this while it
	// cannot take an event.
	d.goAsync(func(context.Context) { r.handle(acd.LegHungUp{Leg: id}) })
}

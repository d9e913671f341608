package esl

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/tandem-cc/tandem/acd"
	"github.com/tandem-cc/tandem/media"
)

// playback is a StartMedia playback FreeSWITCH has not reported ended.
type playback struct {
	leg      string
	stopping bool // StopMedia asked for its end: "FILE PLAYED" means stopped
}

// StartMedia plays items, as one playback, on a leg: what it played is
// broken off first (uuid_break all), then a `sendmsg` executes the
// playback application with the ACD's playback id as its event-uuid, so
// its CHANNEL_EXECUTE_COMPLETE carries the id (Application-UUID): "FILE
// PLAYED" → done (stopped, if StopMedia cut it), anything else → failed.
// Several items play as one file_string:// list. See media_map.go for how
// the port's media become FreeSWITCH files.
func (d *Driver) StartMedia(ctx context.Context, leg, id string, items ...media.Media) error {
	arg, err := d.media.playArg(items)
	if err != nil {
		return fmt.Errorf("esl play on %s: %w", leg, err)
	}
	if strings.ContainsAny(id, " \r\n") {
		return fmt.Errorf("esl play on %s: bad playback id %q", leg, id)
	}
	if _, err := d.api(ctx, "uuid_break "+leg+" all"); err != nil {
		return err
	}
	c, err := d.currentConn()
	if err != nil {
		return fmt.Errorf("esl play on %s: %w", leg, err)
	}
	d.mu.Lock()
	d.playbacks[id] = &playback{leg: leg}
	d.mu.Unlock()
	resp, err := c.send(ctx, "sendmsg "+leg+"\r\ncall-command: execute\r\nexecute-app-name: playback\r\nexecute-app-arg: "+arg+"\r\nevent-uuid: "+id)
	if err == nil && !resp.IsOk() {
		err = bodyErr(resp.GetReply())
		if err == nil {
			err = errors.New(resp.GetReply())
		}
	}
	if err != nil {
		d.mu.Lock()
		delete(d.playbacks, id)
		d.mu.Unlock()
		return fmt.Errorf("esl play %s on %s: %w", arg, leg, err)
	}
	d.log.Debug("playback started", "leg", leg, "playback", id, "media", arg)
	return nil
}

// StopMedia breaks off a playback (uuid_break on its leg); one that has
// ended is fine. Its end is still reported, as PlaybackStopped.
func (d *Driver) StopMedia(ctx context.Context, id string) error {
	d.mu.Lock()
	p := d.playbacks[id]
	if p == nil {
		d.mu.Unlock()
		return nil
	}
	p.stopping = true
	leg := p.leg
	d.mu.Unlock()
	_, err := d.api(ctx, "uuid_break "+leg)
	if errors.Is(err, acd.ErrLegGone) {
		return nil // its end is reported with the leg's
	}
	if err != nil {
		d.mu.Lock()
		p.stopping = false
		d.mu.Unlock()
	}
	return err
}

package ari

import (
	"context"
	"errors"
	"fmt"
	"time"

	ariv5 "github.com/CyCoreSystems/ari/v5"
	"github.com/CyCoreSystems/ari/v5/rid"

	"github.com/tandem-cc/tandem/acd"
)

// AddToBridge joins a leg to a bridge. Asterisk moves a channel that is in
// another bridge (204), so this is also how a leg changes bridges.
func (d *Driver) AddToBridge(ctx context.Context, bridge, leg string) error {
	return addErr(d.call(ctx, "add "+leg+" to bridge "+bridge, func() error {
		return d.client.Bridge().AddChannel(key(ariv5.BridgeKey, bridge), leg)
	}))
}

// addErr maps addChannel's 400 to ErrLegGone: Asterisk answers 400
// "Channel not found" (not 404) when the channel no longer exists (trace
// 12), e.g. a caller who hung up as their agent answered.
func addErr(err error) error {
	if statusOf(err) == 400 {
		return fmt.Errorf("%w: %w", acd.ErrLegGone, err)
	}
	return err
}

// RemoveFromBridge takes a leg out of a bridge. Asterisk answers 422 when
// the channel is not in that bridge and 400 when it is gone: both mean
// there is nothing to remove.
func (d *Driver) RemoveFromBridge(ctx context.Context, bridge, leg string) error {
	err := d.call(ctx, "remove "+leg+" from bridge "+bridge, func() error {
		return d.client.Bridge().RemoveChannel(key(ariv5.BridgeKey, bridge), leg)
	})
	if code := statusOf(err); code == 422 || code == 400 {
		return nil
	}
	return err
}

// Play plays media to a leg and waits for Asterisk's PlaybackFinished. An
// unknown media scheme never finishes on Asterisk 22 (no event at all), so
// the wait is always bounded: by ctx, or by a minute when ctx has no
// deadline.
func (d *Driver) Play(ctx context.Context, leg, media string) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, time.Minute)
		defer cancel()
	}
	id := rid.New(rid.Playback)
	done := make(chan string, 1)
	d.mu.Lock()
	d.playbacks[id] = done
	d.mu.Unlock()
	defer func() {
		d.mu.Lock()
		delete(d.playbacks, id)
		d.mu.Unlock()
	}()
	if err := d.call(ctx, "play "+media+" on "+leg, func() error {
		_, err := d.client.Channel().Play(key(ariv5.ChannelKey, leg), id, media)
		return err
	}); err != nil {
		return err
	}
	select {
	case state := <-done:
		if state == "failed" {
			return fmt.Errorf("ari play %s on %s: playback failed", media, leg)
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("ari play %s on %s: %w", media, leg, ctx.Err())
	}
}

// StartRecording records a bridge into name. The format is always sent:
// POST /bridges/{id}/record without one crashes Asterisk 22.10.1.
func (d *Driver) StartRecording(ctx context.Context, bridge, name string) error {
	if d.opts.RecordingFormat == "" {
		return errors.New("ari record: no recording format configured")
	}
	return d.call(ctx, "record bridge "+bridge, func() error {
		_, err := d.client.Bridge().Record(key(ariv5.BridgeKey, bridge), name,
			&ariv5.RecordingOptions{Format: d.opts.RecordingFormat, Exists: "fail"})
		return err
	})
}

// PauseRecording pauses a live recording (no event follows).
func (d *Driver) PauseRecording(ctx context.Context, name string) error {
	return d.call(ctx, "pause recording "+name, func() error {
		return d.client.LiveRecording().Pause(key(ariv5.LiveRecordingKey, name))
	})
}

// ResumeRecording resumes a paused recording (no event follows).
func (d *Driver) ResumeRecording(ctx context.Context, name string) error {
	return d.call(ctx, "resume recording "+name, func() error {
		return d.client.LiveRecording().Resume(key(ariv5.LiveRecordingKey, name))
	})
}

// StopRecording stops a recording and keeps the file. A recording that has
// already ended (its bridge went away) is 404: nothing to stop.
func (d *Driver) StopRecording(ctx context.Context, name string) error {
	err := d.call(ctx, "stop recording "+name, func() error {
		return d.client.LiveRecording().Stop(key(ariv5.LiveRecordingKey, name))
	})
	if statusOf(err) == 404 {
		return nil
	}
	return err
}

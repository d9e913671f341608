package ari

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	ariv5 "github.com/CyCoreSystems/ari/v5"

	"github.com/tandem-cc/tandem/acd"
	"github.com/tandem-cc/tandem/media"
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

// StartMedia starts one playback of items on a leg, under the id the ACD
// chose, and returns once Asterisk has accepted it (201); its end comes
// back through Run as acd.PlaybackFinished.
//
// A single item goes through ari/v5's Play. Several go out as one request
// with a JSON array: ari/v5 v5.3.1 sends media as one JSON string, and
// Asterisk splits only the query-string form on commas, never a JSON string
// (res_ari_channels.c, play parse_body), so "a,b" in ari/v5's body would be
// one unplayable file. The array form is the one trace 08 (B2) recorded.
func (d *Driver) StartMedia(ctx context.Context, leg, playback string, items ...media.Media) error {
	uris := make([]string, len(items))
	for i, m := range items {
		u, err := mediaURI(m)
		if err != nil {
			return fmt.Errorf("ari play on %s: %w", leg, err)
		}
		uris[i] = u
	}
	what := "play " + strings.Join(uris, ",") + " on " + leg
	switch len(uris) {
	case 0:
		return fmt.Errorf("ari %s: nothing to play", what)
	case 1:
		return d.call(ctx, what, func() error {
			_, err := d.client.Channel().Play(key(ariv5.ChannelKey, leg), playback, uris[0])
			return err
		})
	}
	return d.call(ctx, what, func() error { return d.playList(ctx, leg, playback, uris) })
}

// playList is POST /channels/{leg}/play/{playback} with {"media": [...]}.
func (d *Driver) playList(ctx context.Context, leg, playback string, uris []string) error {
	body, err := json.Marshal(struct {
		Media []string `json:"media"`
	}{uris})
	if err != nil {
		return err
	}
	u := strings.TrimSuffix(d.opts.URL, "/") + "/channels/" + url.PathEscape(leg) + "/play/" + url.PathEscape(playback)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.SetBasicAuth(d.opts.Username, d.opts.Password)
	resp, err := d.http.Do(req)
	if err != nil {
		return err
	}
	defer func() { _ = resp.Body.Close() }()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	switch {
	case resp.StatusCode == http.StatusNotFound:
		// A channel hung up a moment ago (as ari/v5's errors say it).
		return fmt.Errorf("%w: 404 %s", acd.ErrLegGone, bytes.TrimSpace(msg))
	case resp.StatusCode/100 != 2:
		return fmt.Errorf("%s: %s", resp.Status, bytes.TrimSpace(msg))
	}
	return nil
}

// mediaURI is m in ARI's media URI syntax. Asterisk has no speech
// synthesis of its own (ARI plays sound, recording, number, digits,
// characters and tone only; anything else starts and never ends), so text
// is refused here rather than left to hang.
func mediaURI(m media.Media) (string, error) {
	switch m.Kind {
	case media.Sound, media.Number, media.Digits, media.Characters, media.Recording, media.Tone:
		return m.String(), nil
	case media.Text:
		return "", fmt.Errorf("%q: Asterisk has no text-to-speech media; use a sound", m.String())
	}
	return "", fmt.Errorf("nothing to play (%v)", m.Kind)
}

// StopMedia stops a playback (DELETE /playbacks/{id}); Asterisk then
// reports it finished with state "done", which Run reports as stopped. One
// that has already ended is 404: nothing to stop.
func (d *Driver) StopMedia(ctx context.Context, playback string) error {
	now := time.Now()
	d.mu.Lock()
	// A playback Asterisk never reports the end of (trace 12: a recording
	// that does not exist) would stay here: marks older than any playback
	// the ACD waits for are dropped.
	for id, at := range d.stopping {
		if now.Sub(at) > stoppingKept {
			delete(d.stopping, id)
		}
	}
	d.stopping[playback] = now
	d.mu.Unlock()
	err := d.call(ctx, "stop playback "+playback, func() error {
		return d.client.Playback().Stop(key(ariv5.PlaybackKey, playback))
	})
	if err != nil {
		d.mu.Lock()
		delete(d.stopping, playback)
		d.mu.Unlock()
		if statusOf(err) == 404 {
			return nil
		}
	}
	return err
}

// stoppingKept is how long a stop waits for Asterisk's PlaybackFinished.
const stoppingKept = 10 * time.Minute

// playbackFinished turns Asterisk's PlaybackFinished into the port's
// event. Only playbacks on channels are the ACD's.
func (d *Driver) playbackFinished(p ariv5.PlaybackData) (acd.PlaybackFinished, bool) {
	leg, ok := strings.CutPrefix(p.TargetURI, "channel:")
	if !ok {
		return acd.PlaybackFinished{}, false
	}
	d.mu.Lock()
	_, stopped := d.stopping[p.ID]
	delete(d.stopping, p.ID)
	d.mu.Unlock()
	out := acd.PlaybackDone
	switch {
	case p.State == "failed":
		out = acd.PlaybackFailed
	case stopped:
		// Asterisk says "done" for a playback cut short (trace 08 C, D).
		out = acd.PlaybackStopped
	}
	return acd.PlaybackFinished{Leg: leg, Playback: p.ID, Outcome: out}, true
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

package esl

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/tandem-cc/tandem/acd"
)

// recording is a live uuid_record: FreeSWITCH records a leg, not a bridge,
// so a bridge's recording follows one leg, chosen when it starts: the
// customer's (the first member Tandem did not ring), else the first
// member. It holds everything that leg hears and says, whichever legs come
// and go — through a transfer to another agent too. mu serialises its
// commands.
type recording struct {
	mu   sync.Mutex
	leg  string
	path string
}

// StartRecording records the bridge's first member into
// <RecordingsDir>/<name>.<RecordingFormat>.
func (d *Driver) StartRecording(ctx context.Context, bridge, name string) error {
	if name == "" || strings.ContainsAny(name, " /\\\r\n") {
		return fmt.Errorf("esl record %s: bad recording name %q", bridge, name)
	}
	d.mu.Lock()
	b := d.bridges[bridge]
	if b == nil || len(b.members) == 0 {
		d.mu.Unlock()
		return fmt.Errorf("esl record %s: no such bridge, or nobody in it", bridge)
	}
	r := &recording{leg: d.recordedLegLocked(b.members), path: d.media.recording(name)}
	if d.recordings[name] != nil {
		d.mu.Unlock()
		return fmt.Errorf("esl record %s: recording %q already runs", bridge, name)
	}
	d.recordings[name] = r
	d.mu.Unlock()
	if _, err := d.api(ctx, "uuid_record "+r.leg+" start "+r.path); err != nil {
		d.mu.Lock()
		delete(d.recordings, name)
		d.mu.Unlock()
		return err
	}
	d.log.Info("recording started", "bridge", bridge, "leg", r.leg, "path", r.path)
	return nil
}

// recordedLegLocked picks the leg a bridge's recording follows: the first
// member that is a caller (not rung by Tandem), else the first member.
// d.mu must be held.
func (d *Driver) recordedLegLocked(members []string) string {
	for _, m := range members {
		if l := d.legs[m]; l != nil && !l.agent {
			return m
		}
	}
	return members[0]
}

// PauseRecording pauses a recording: FreeSWITCH drops the audio meanwhile
// (no silent gap) and reports no event.
func (d *Driver) PauseRecording(ctx context.Context, name string) error {
	return d.recordCmd(ctx, name, "pause")
}

// ResumeRecording resumes a paused recording (no event).
func (d *Driver) ResumeRecording(ctx context.Context, name string) error {
	return d.recordCmd(ctx, name, "resume")
}

func (d *Driver) recordCmd(ctx context.Context, name, verb string) error {
	d.mu.Lock()
	r := d.recordings[name]
	d.mu.Unlock()
	if r == nil {
		return fmt.Errorf("esl %s recording %s: no such recording", verb, name)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	_, err := d.api(ctx, "uuid_record "+r.leg+" "+verb+" "+r.path)
	return err
}

// StopRecording stops a recording and keeps the file; one that has ended
// (its leg hung up, or stopped already) is fine.
func (d *Driver) StopRecording(ctx context.Context, name string) error {
	d.mu.Lock()
	r := d.recordings[name]
	d.mu.Unlock()
	if r == nil {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	body, err := d.api(ctx, "uuid_record "+r.leg+" stop "+r.path)
	if err != nil && !errors.Is(err, acd.ErrLegGone) && !strings.HasPrefix(strings.TrimSpace(body), "-ERR Cannot stop record session") {
		return err
	}
	d.mu.Lock()
	if d.recordings[name] == r {
		delete(d.recordings, name)
	}
	d.mu.Unlock()
	return nil
}

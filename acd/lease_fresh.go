package acd

import (
	"context"
	"fmt"
	"time"

	"github.com/tandem-cc/tandem/errs"
	"github.com/tandem-cc/tandem/media"
)

// PBX commands of a holder whose lease may have lapsed.
//
// The scripts refuse a stale fencing token, but the PBX has no fence: any
// process may command any channel. A holder that was paused past its
// lease (SIGSTOP, a long GC or VM pause, a partition) resumes in the middle
// of whatever it was doing, and its next PBX command — ringing an agent
// the recoverer has freed and another replica may be ringing, hanging up a
// caller the next holder serves — would go out before its first script
// answers FENCED. So every command first checks that the hold cannot have
// lapsed: each acquisition and renewal records the time its request was
// sent plus the lease duration, on the monotonic clock, which keeps
// counting while the process is stopped; Redis cannot have expired the
// key earlier. A command past that moment is refused (errs.ErrFenced)
// until a renewal succeeds again, or the seat is found lost and the engine
// stops. The check and the request are not atomic: a pause between them
// still lets one command through, a window of microseconds instead of the
// whole pause.

// heldFrom records a successful acquisition or renewal whose request was
// sent at sent.
func (l *Lease) heldFrom(sent time.Time) {
	l.mu.Lock()
	l.validUntil = sent.Add(l.ttl)
	l.mu.Unlock()
}

// ValidUntil is the moment before which the hold cannot have lapsed (zero:
// never held).
func (l *Lease) ValidUntil() time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.validUntil
}

// bind ties the fence to the lease its tokens come from.
func (f *fence) bind(l *Lease) {
	f.mu.Lock()
	f.lease = l
	f.mu.Unlock()
}

// lapsed says whether the current token's hold may have lapsed: refused
// already, or not renewed in time. A fence with no token or no bound lease
// (tests, tools) never lapses.
func (f *fence) lapsed(now time.Time) error {
	f.mu.Lock()
	token, tripped, l := f.token, f.tripped, f.lease
	f.mu.Unlock()
	if token == 0 || l == nil {
		return nil
	}
	if tripped {
		return fmt.Errorf("seat token %d refused: %w", token, errs.ErrFenced)
	}
	if until := l.ValidUntil(); !until.IsZero() && !now.Before(until) {
		return fmt.Errorf("seat token %d: lease not renewed since %v, it may be another holder's: %w", token, until.Add(-l.ttl).Format(time.RFC3339Nano), errs.ErrFenced)
	}
	return nil
}

// fencedPBX refuses every command while the fence's hold may have lapsed;
// Run, Owner and Takeover (which only reads and subscribes) pass.
type fencedPBX struct {
	PBX
	f *fence
}

func guardPBX(p PBX, f *fence) PBX {
	if p == nil || f == nil {
		return p
	}
	return fencedPBX{PBX: p, f: f}
}

func (p fencedPBX) ok() error { return p.f.lapsed(time.Now()) }

func (p fencedPBX) Answer(ctx context.Context, leg string) error {
	if err := p.ok(); err != nil {
		return err
	}
	return p.PBX.Answer(ctx, leg)
}

func (p fencedPBX) StartMusic(ctx context.Context, leg, class string) error {
	if err := p.ok(); err != nil {
		return err
	}
	return p.PBX.StartMusic(ctx, leg, class)
}

func (p fencedPBX) StopMusic(ctx context.Context, leg string) error {
	if err := p.ok(); err != nil {
		return err
	}
	return p.PBX.StopMusic(ctx, leg)
}

func (p fencedPBX) Ring(ctx context.Context, req RingRequest) error {
	if err := p.ok(); err != nil {
		return err
	}
	return p.PBX.Ring(ctx, req)
}

func (p fencedPBX) Bridge(ctx context.Context, bridge string, legs ...string) error {
	if err := p.ok(); err != nil {
		return err
	}
	return p.PBX.Bridge(ctx, bridge, legs...)
}

func (p fencedPBX) DestroyBridge(ctx context.Context, bridge string) error {
	if err := p.ok(); err != nil {
		return err
	}
	return p.PBX.DestroyBridge(ctx, bridge)
}

func (p fencedPBX) Hangup(ctx context.Context, leg string, cause HangupCause) error {
	if err := p.ok(); err != nil {
		return err
	}
	return p.PBX.Hangup(ctx, leg, cause)
}

func (p fencedPBX) ContinueInDialplan(ctx context.Context, leg string) error {
	if err := p.ok(); err != nil {
		return err
	}
	return p.PBX.ContinueInDialplan(ctx, leg)
}

func (p fencedPBX) AddToBridge(ctx context.Context, bridge, leg string) error {
	if err := p.ok(); err != nil {
		return err
	}
	return p.PBX.AddToBridge(ctx, bridge, leg)
}

func (p fencedPBX) RemoveFromBridge(ctx context.Context, bridge, leg string) error {
	if err := p.ok(); err != nil {
		return err
	}
	return p.PBX.RemoveFromBridge(ctx, bridge, leg)
}

func (p fencedPBX) StartMedia(ctx context.Context, leg, playback string, items ...media.Media) error {
	if err := p.ok(); err != nil {
		return err
	}
	return p.PBX.StartMedia(ctx, leg, playback, items...)
}

func (p fencedPBX) StopMedia(ctx context.Context, playback string) error {
	if err := p.ok(); err != nil {
		return err
	}
	return p.PBX.StopMedia(ctx, playback)
}

func (p fencedPBX) StartRecording(ctx context.Context, bridge, name string) error {
	if err := p.ok(); err != nil {
		return err
	}
	return p.PBX.StartRecording(ctx, bridge, name)
}

func (p fencedPBX) PauseRecording(ctx context.Context, name string) error {
	if err := p.ok(); err != nil {
		return err
	}
	return p.PBX.PauseRecording(ctx, name)
}

func (p fencedPBX) ResumeRecording(ctx context.Context, name string) error {
	if err := p.ok(); err != nil {
		return err
	}
	return p.PBX.ResumeRecording(ctx, name)
}

func (p fencedPBX) StopRecording(ctx context.Context, name string) error {
	if err := p.ok(); err != nil {
		return err
	}
	return p.PBX.StopRecording(ctx, name)
}

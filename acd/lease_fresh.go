package acd

import (
	"fmt"
	"time"

	"github.com/tandem-cc/tandem/errs"
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
// key earlier. A command past that moment is refused (errs.ErrFenced), and
// the refusal trips the fence: the engine stops and the seat is taken
// again under a new token, whose reconciliation clears what the refused
// command would have (a leg to hang up, a bridge to destroy). Renewing
// the same term instead, when nobody took the seat in the gap, left those
// behind for good (chaos sigstop: an ended call's bridge and agent leg).
// The check and the request are not atomic: a pause between them still
// lets one command through, a window of microseconds instead of the whole
// pause.

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
// already, or not renewed in time (then it trips the fence: see above). A
// fence with no token or no bound lease (tests, tools) never lapses.
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
		f.trip(token)
		return fmt.Errorf("seat token %d: lease not renewed since %v, it may be another holder's: %w", token, until.Add(-l.ttl).Format(time.RFC3339Nano), errs.ErrFenced)
	}
	return nil
}

// guardPBX refuses every command (commandPBX) while the fence's hold may
// have lapsed; Run, Owner and Takeover (which only reads and subscribes)
// pass.
func guardPBX(p PBX, f *fence) PBX {
	if p == nil || f == nil {
		return p
	}
	return commandPBX{PBX: p, around: func(_ string, cmd func() error) error {
		if err := f.lapsed(time.Now()); err != nil {
			return err
		}
		return cmd()
	}}
}

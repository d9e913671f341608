package esl

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/tandem-cc/tandem/acd"
)

// FreeSWITCH has no named, persistent mixing bridge: two legs share media
// through uuid_bridge, and a leg whose peer leaves is parked (both sides
// carry park_after_bridge=true) instead of hung up. The port's bridge
// verbs keep their meaning through a *virtual bridge*: an ordered member
// list per bridge id, kept by the driver and realised on FreeSWITCH as
//
//	1 member  → parked
//	2 members → uuid_bridge <first> <second>
//	3 members → the pair, plus uuid_transfer <third> three_way:<first>,park inline
//
// Four is refused (ErrBridgeFull): three_way joins one listener to one
// pair. mod_conference would allow more, but it is a module a deployment
// may not load (the traced FreeSWITCH had none), puts every call through a
// mixer, and turns every hold, consult and transfer into conference API
// commands with their own events; Tandem's calls are two-party nearly
// always, so plain bridging keeps FreeSWITCH's own (and cheapest) media path.
//
// Every member carries tandem_bridge=<id> while it is one, so a driver
// that starts later lists the bridges (Resynced.Bridges) and rebuilds
// their member lists.

// ErrBridgeFull is wrapped when a fourth leg would join a virtual bridge.
var ErrBridgeFull = errors.New("esl virtual bridge full: FreeSWITCH three_way joins at most 3 legs")

type vbridge struct {
	id string
	// mu serialises the realisation of this bridge (its commands).
	mu sync.Mutex
	// members is what the ACD asked for (under Driver.mu); realised is
	// what FreeSWITCH has, as far as the driver knows (under mu).
	members  []string
	realised []string
	gone     []string // members that hung up, not yet taken out of realised (under Driver.mu)
}

// plan returns the commands that take FreeSWITCH from the members joined
// as from to the members to: leavers are parked (uuid_park; the peer they
// leave parks by itself thanks to park_after_bridge), the first two are
// bridged unless they already are, a third joins the first through
// three_way.
func plan(from, to []string) []string {
	var cmds []string
	for _, l := range from {
		if !slices.Contains(to, l) {
			cmds = append(cmds, "uuid_park "+l)
		}
	}
	samePair := len(from) >= 2 && len(to) >= 2 && from[0] == to[0] && from[1] == to[1]
	if len(to) >= 2 && !samePair {
		cmds = append(cmds, "uuid_bridge "+to[0]+" "+to[1])
	}
	thirdJoined := samePair && len(from) == 3 && len(to) == 3 && from[2] == to[2]
	if len(to) == 3 && !thirdJoined {
		// ",park": an inline dialplan that runs out hangs the leg up, so
		// the third leg parks when the call it joined ends.
		cmds = append(cmds, "uuid_transfer "+to[2]+" three_way:"+to[0]+",park inline")
	}
	return cmds
}

// afterHangup is what remains joined of realised once leg hung up: a
// member of the pair takes the pair down (its peer parks, and a third
// member's three_way loses its pair), a third member leaves the pair as
// it was.
func afterHangup(realised []string, leg string) []string {
	i := slices.Index(realised, leg)
	switch {
	case i < 0:
		return realised
	case i < 2:
		return nil
	}
	return without(realised, leg)
}

func without(s []string, x string) []string {
	out := make([]string, 0, len(s))
	for _, v := range s {
		if v != x {
			out = append(out, v)
		}
	}
	return out
}

// Bridge creates the virtual bridge id with legs as its members.
func (d *Driver) Bridge(ctx context.Context, id string, legs ...string) error {
	var members []string
	for _, l := range legs {
		if !slices.Contains(members, l) {
			members = append(members, l)
		}
	}
	if len(members) > 3 {
		return fmt.Errorf("esl bridge %s: %d legs: %w", id, len(members), ErrBridgeFull)
	}
	for _, l := range members {
		if err := d.leaveOther(ctx, id, l); err != nil {
			return err
		}
	}
	d.mu.Lock()
	b := d.bridges[id]
	if b == nil {
		b = &vbridge{id: id}
		d.bridges[id] = b
	}
	b.members = members
	d.setBridgeLocked(id, members)
	d.mu.Unlock()
	return d.realise(ctx, b, members...)
}

// AddToBridge joins leg to bridge id, taking it out of any other bridge
// first.
func (d *Driver) AddToBridge(ctx context.Context, id, leg string) error {
	if err := d.leaveOther(ctx, id, leg); err != nil {
		return err
	}
	d.mu.Lock()
	b := d.bridges[id]
	switch {
	case b == nil:
		d.mu.Unlock()
		return fmt.Errorf("esl add %s to bridge %s: no such bridge", leg, id)
	case slices.Contains(b.members, leg):
		d.mu.Unlock()
		return nil
	case len(b.members) >= 3:
		d.mu.Unlock()
		return fmt.Errorf("esl add %s to bridge %s: %w", leg, id, ErrBridgeFull)
	}
	b.members = append(slices.Clone(b.members), leg)
	d.setBridgeLocked(id, []string{leg})
	d.mu.Unlock()
	return d.realise(ctx, b, leg)
}

// RemoveFromBridge takes leg out of bridge id (it is parked); a leg not in
// it is fine.
func (d *Driver) RemoveFromBridge(ctx context.Context, id, leg string) error {
	d.mu.Lock()
	b := d.bridges[id]
	if b == nil || !slices.Contains(b.members, leg) {
		d.mu.Unlock()
		return nil
	}
	b.members = without(b.members, leg)
	if l := d.legs[leg]; l != nil && l.bridge == id {
		l.bridge = ""
	}
	d.mu.Unlock()
	err := d.realise(ctx, b)
	d.clearBridgeVar(ctx, leg)
	return err
}

// DestroyBridge parks the members still joined and forgets the bridge; an
// unknown bridge is fine.
func (d *Driver) DestroyBridge(ctx context.Context, id string) error {
	d.mu.Lock()
	b := d.bridges[id]
	if b == nil {
		d.mu.Unlock()
		return nil
	}
	delete(d.bridges, id)
	left := b.members
	b.members = nil
	for _, m := range left {
		if l := d.legs[m]; l != nil && l.bridge == id {
			l.bridge = ""
		}
	}
	d.mu.Unlock()
	err := d.realise(ctx, b)
	for _, m := range left {
		d.clearBridgeVar(ctx, m)
	}
	return err
}

// leaveOther takes leg out of any bridge other than id.
func (d *Driver) leaveOther(ctx context.Context, id, leg string) error {
	d.mu.Lock()
	var other string
	for bid, b := range d.bridges {
		if bid != id && slices.Contains(b.members, leg) {
			other = bid
		}
	}
	d.mu.Unlock()
	if other == "" {
		return nil
	}
	return d.RemoveFromBridge(ctx, other, leg)
}

// setBridgeLocked records that legs are members of bridge id. d.mu must
// be held.
func (d *Driver) setBridgeLocked(id string, legs []string) {
	for _, m := range legs {
		if l := d.legs[m]; l != nil {
			l.bridge = id
		}
	}
}

// realise brings FreeSWITCH to the bridge's member list. A leaver that is
// gone is fine. A member that is gone (hung up a moment ago, its hang-up
// not delivered yet) is dropped from the list and the rest joined without
// it; if it is subject, the leg the caller is adding, the result is
// acd.ErrLegGone, as Asterisk answers for a channel that no longer exists.
func (d *Driver) realise(ctx context.Context, b *vbridge, subject ...string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	err := d.realiseOnce(ctx, b)
	if err == nil || !errors.Is(err, acd.ErrLegGone) {
		return err
	}
	// FreeSWITCH's error does not say which leg is gone (uuid_bridge's
	// "Invalid uuid" is about either), and the engine reads ErrLegGone as
	// "the leg I added is gone": a live caller taken for gone would be
	// left parked for good. So the subject is asked for first.
	if d.dropGoneSubject(ctx, b, subject) {
		return err
	}
	// The subject is there, so another member is what is gone or going:
	// one whose end was handled meanwhile is out of the members already
	// (its hang-up took it out), one FreeSWITCH no longer has is dropped
	// now, and if every member still answers (one is hanging up) the
	// others are. The subject is joined without them.
	gone := d.pruneGone(ctx, b)
	if len(gone) == 0 && d.pendingEnds(b) == 0 {
		gone = d.dropOthers(b, subject)
	}
	d.log.Info("bridge members gone; joining the others", "bridge", b.id, "gone", gone)
	if err := d.realiseOnce(ctx, b); err != nil {
		// The subject may have gone since it was asked for: an agent's
		// phone put down while a loaded machine joined it. That is the
		// subject's answer (the engine puts the caller back in the
		// queue), not a bridge that cannot be made (the engine fails the
		// call).
		if errors.Is(err, acd.ErrLegGone) && d.dropGoneSubject(ctx, b, subject) {
			return err
		}
		return notGone(err, subject)
	}
	return nil
}

// dropGoneSubject reports whether one of subject is gone, and takes it out
// of b's members: the caller hears ErrLegGone as "not joined", so the leg
// must not stay a member (a leg whose end the driver handled before it
// was added has no hang-up to come that would take it out, and every
// later join would first trip on it). b.mu must be held.
func (d *Driver) dropGoneSubject(ctx context.Context, b *vbridge, subject []string) bool {
	for _, s := range subject {
		if !d.legGone(ctx, s) {
			continue
		}
		d.mu.Lock()
		b.members = without(b.members, s)
		b.realised = afterHangup(b.realised, s)
		if l := d.legs[s]; l != nil && l.bridge == b.id {
			l.bridge = ""
		}
		d.mu.Unlock()
		return true
	}
	return false
}

// pendingEnds is how many members' hang-ups the next realisation has to
// take into account.
func (d *Driver) pendingEnds(b *vbridge) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(b.gone)
}

// legGone says whether a leg is gone: its end was handled, or FreeSWITCH
// no longer has it.
func (d *Driver) legGone(ctx context.Context, leg string) bool {
	if d.hasEnded(leg) {
		return true
	}
	_, err := d.getvar(ctx, leg, "uuid")
	return errors.Is(err, acd.ErrLegGone)
}

// dropOthers takes every member but keep out of b and returns them; b.mu
// must be held.
func (d *Driver) dropOthers(b *vbridge, keep []string) []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	var gone []string
	for _, m := range slices.Clone(b.members) {
		if !slices.Contains(keep, m) {
			gone = append(gone, m)
			b.members = without(b.members, m)
			b.realised = afterHangup(b.realised, m)
		}
	}
	return gone
}

// realiseOnce is one pass of realise; b.mu must be held.
func (d *Driver) realiseOnce(ctx context.Context, b *vbridge) error {
	d.mu.Lock()
	to := slices.Clone(b.members)
	gone := b.gone
	b.gone = nil
	d.mu.Unlock()
	for _, g := range gone {
		b.realised = afterHangup(b.realised, g)
	}
	for _, m := range to {
		if !slices.Contains(b.realised, m) {
			if _, err := d.api(ctx, "uuid_setvar "+m+" tandem_bridge "+b.id); err != nil {
				b.realised = without(b.realised, m)
				return fmt.Errorf("esl bridge %s: %w", b.id, err)
			}
		}
	}
	for _, cmd := range plan(b.realised, to) {
		_, err := d.api(ctx, cmd)
		leaverGone := errors.Is(err, acd.ErrLegGone) && firstWord(cmd) == "uuid_park"
		if err != nil && !leaverGone {
			b.realised = nil // unknown: the next realisation joins everything again
			return fmt.Errorf("esl bridge %s: %w", b.id, err)
		}
	}
	b.realised = to
	return nil
}

// pruneGone drops the members FreeSWITCH no longer has and returns them:
// those whose end the driver has handled, then those uuid_getvar finds
// gone; b.mu must be held.
func (d *Driver) pruneGone(ctx context.Context, b *vbridge) []string {
	d.mu.Lock()
	members := slices.Clone(b.members)
	d.mu.Unlock()
	var gone []string
	for _, m := range members {
		if d.legGone(ctx, m) {
			gone = append(gone, m)
		}
	}
	d.mu.Lock()
	for _, g := range gone {
		b.members = without(b.members, g)
		b.realised = afterHangup(b.realised, g)
	}
	d.mu.Unlock()
	return gone
}

// hasEnded says whether the driver has handled the end of leg.
func (d *Driver) hasEnded(leg string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	_, ok := d.ended[leg]
	return ok
}

// leaveOnHangup takes a leg Tandem hung up out of its bridge at once,
// without waiting for its hang-up event: the ACD's next verb on the bridge
// (a consult transfer hangs the first agent up, then joins the others)
// must not build on it. If two or more members remain, they are joined
// again before Hangup returns (a conference whose first member leaves goes
// on between the other two).
func (d *Driver) leaveOnHangup(ctx context.Context, id string) {
	d.mu.Lock()
	var rb *vbridge
	for _, b := range d.bridges {
		if slices.Contains(b.members, id) {
			b.members = without(b.members, id)
			b.gone = append(b.gone, id)
			if len(b.members) >= 2 {
				rb = b
			}
		}
	}
	if l := d.legs[id]; l != nil {
		l.bridge = ""
	}
	d.mu.Unlock()
	if rb != nil {
		d.rerealise(ctx, rb)
	}
}

// rerealise joins again the members left after one hung up.
func (d *Driver) rerealise(ctx context.Context, b *vbridge) {
	if err := d.realise(ctx, b); err != nil {
		d.log.Warn("re-join the members left in a bridge", "bridge", b.id, "err", err)
	}
}

// clearBridgeVar unsets tandem_bridge on a leg that left its bridge (a
// leg that is gone is fine).
func (d *Driver) clearBridgeVar(ctx context.Context, leg string) {
	if _, err := d.api(ctx, "uuid_setvar "+leg+" tandem_bridge"); err != nil && !errors.Is(err, acd.ErrLegGone) {
		d.log.Warn("clear tandem_bridge", "leg", leg, "err", err)
	}
}

// notGone is a join's error once the subject was not found gone: it no
// longer wraps acd.ErrLegGone, which the engine would read as "the leg I
// added is gone" (a caller taken for gone is left parked for good).
func notGone(err error, subject []string) error {
	if len(subject) == 0 || !errors.Is(err, acd.ErrLegGone) {
		return err
	}
	return fmt.Errorf("esl join %v: a member could not be joined and none was found gone: %v", subject, err)
}

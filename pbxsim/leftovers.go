package pbxsim

import (
	"fmt"
	"slices"
	"strings"
)

// Leftovers are the objects the PBX still holds that a call can leave
// behind once nobody is on it any more. Asterisk keeps an ARI bridge until
// it is destroyed, empty or not (GET /ari/bridges lists it for ever); a
// snoop channel lives as long as the channel it snoops; a live recording
// of a bridge runs as long as the bridge does. Channels themselves are not
// in the list: callers and phones hang up on their own, and tests count
// them apart (Channels).
type Leftovers struct {
	Bridges    []BridgeView
	Snoops     []ChannelView
	Recordings []RecordingView
}

// RecordingView is a snapshot of a live recording for tests.
type RecordingView struct {
	Name   string
	Target string // "bridge:<id>" or "channel:<id>", as ARI's target_uri
	State  string // recording or paused
}

// Empty says whether nothing is left.
func (l Leftovers) Empty() bool {
	return len(l.Bridges) == 0 && len(l.Snoops) == 0 && len(l.Recordings) == 0
}

// String lists what is left, for a test's failure message.
func (l Leftovers) String() string {
	var parts []string
	for _, b := range l.Bridges {
		parts = append(parts, fmt.Sprintf("bridge %s with %v", b.ID, b.Channels))
	}
	for _, c := range l.Snoops {
		parts = append(parts, fmt.Sprintf("snoop %s (%s)", c.ID, c.Name))
	}
	for _, r := range l.Recordings {
		parts = append(parts, fmt.Sprintf("recording %s of %s (%s)", r.Name, r.Target, r.State))
	}
	if len(parts) == 0 {
		return "nothing"
	}
	return strings.Join(parts, "; ")
}

// Leftovers returns the bridges, snoop channels and live recordings the
// simulator holds now.
func (s *Sim) Leftovers() Leftovers {
	return Leftovers{Bridges: s.Bridges(), Snoops: s.Snoops(), Recordings: s.LiveRecordings()}
}

// Snoops returns snapshots of the live snoop channels (POST
// /channels/{id}/snoop), in creation order.
func (s *Sim) Snoops() []ChannelView {
	var out []ChannelView
	for _, c := range s.Channels() {
		if strings.HasPrefix(c.Name, "Snoop/") {
			out = append(out, c)
		}
	}
	return out
}

// LiveRecordings returns the recordings under way (recording or paused),
// by name: what GET /recordings/live/{name} still finds.
func (s *Sim) LiveRecordings() []RecordingView {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]RecordingView, 0, len(s.liveRecs))
	for _, r := range s.liveRecs {
		out = append(out, RecordingView{Name: r.name, Target: r.targetURI, State: r.state})
	}
	slices.SortFunc(out, func(a, b RecordingView) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// HangUp hangs channel id up as its far end would: the caller of an
// inbound call, or the phone behind a dialled leg, puts the receiver down
// (cause 16, normal clearing). A snoop channel has no far end: it goes
// with the channel it snoops. It is an error for a channel that is gone
// or already hanging up.
func (s *Sim) HangUp(id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.liveChannel(id)
	if c == nil || c.hangingUp {
		return fmt.Errorf("hang up %s: channel not found", id)
	}
	if c.tech == "Snoop" {
		return fmt.Errorf("hang up %s: a snoop channel has no far end", id)
	}
	s.hangup(c, 16, byFarEnd)
	return nil
}

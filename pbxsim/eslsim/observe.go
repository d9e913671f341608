package eslsim

import (
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/tandem-cc/tandem/pbxsim"
)

// Channel returns a snapshot of a live or hung-up channel.
func (s *Sim) Channel(uuid string) (pbxsim.ChannelView, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.channels[uuid]
	if c == nil {
		c = s.gone[uuid]
	}
	if c == nil {
		return pbxsim.ChannelView{}, false
	}
	return s.view(c), true
}

func (s *Sim) view(c *channel) pbxsim.ChannelView {
	v := pbxsim.ChannelView{
		ID: c.uuid, Name: c.name, Endpoint: c.endpoint, App: c.vars["tandem_app"],
		BridgeID: c.vars["tandem_bridge"], HungUp: c.destroyed || c.hangingUp,
		Vars: maps.Clone(c.vars), CallerID: c.cidNum, Created: c.created,
		InStasis: c.live() && (c.parked || c.peer != nil || c.threeWay != nil),
	}
	switch {
	case v.HungUp:
		v.State, v.Cause = "Down", causes[c.cause]
	case !c.answered.IsZero():
		v.State = "Up"
	case c.direction == "inbound":
		v.State = "Ring"
	default:
		v.State = "Ringing"
	}
	if p := c.playing; p != nil && isStream(p.path) {
		v.MOHClass = strings.TrimPrefix(p.path, "local_stream://")
	}
	return v
}

// Channels returns snapshots of the live channels in creation order.
func (s *Sim) Channels() []pbxsim.ChannelView {
	s.mu.Lock()
	defer s.mu.Unlock()
	var cs []*channel
	for _, c := range s.channels {
		cs = append(cs, c)
	}
	slices.SortFunc(cs, func(a, b *channel) int { return a.seq - b.seq })
	out := make([]pbxsim.ChannelView, 0, len(cs))
	for _, c := range cs {
		out = append(out, s.view(c))
	}
	return out
}

// BridgedWith returns the legs that ever shared media with uuid (a
// uuid_bridge peer, three_way parties), sorted.
func (s *Sim) BridgedWith(uuid string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.channels[uuid]
	if c == nil {
		c = s.gone[uuid]
	}
	if c == nil {
		return nil
	}
	return slices.Sorted(maps.Keys(c.shared))
}

// LiveLegs returns the live legs originated to endpoint.
func (s *Sim) LiveLegs(endpoint string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var ids []string
	for _, c := range s.channels {
		if c.endpoint == endpoint && c.live() {
			ids = append(ids, c.uuid)
		}
	}
	slices.Sort(ids)
	return ids
}

// MediaLog returns what played on a channel: moh_start/moh_stop for
// local_stream, playback_start/playback_end (PlaybackID = Application-UUID).
func (s *Sim) MediaLog(uuid string) []pbxsim.MediaEntry {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.media[uuid])
}

// Stats returns a copy of the counters.
func (s *Sim) Stats() pbxsim.Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stats
	st.OriginatesByEndpoint = maps.Clone(s.stats.OriginatesByEndpoint)
	return st
}

// Originates returns every accepted originate, in order.
func (s *Sim) Originates() []pbxsim.Originate {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.originates)
}

// Leftovers returns the live recordings (Target "channel:<uuid>") and the
// three_way sessions (as Snoops: the joining leg) FreeSWITCH still runs.
// FreeSWITCH has no persistent bridges, so Bridges is always empty.
func (s *Sim) Leftovers() pbxsim.Leftovers {
	s.mu.Lock()
	defer s.mu.Unlock()
	var l pbxsim.Leftovers
	l.Recordings = s.liveRecordings()
	slices.SortFunc(l.Recordings, func(a, b pbxsim.RecordingView) int { return strings.Compare(a.Name, b.Name) })
	for _, c := range s.channels {
		if c.threeWay != nil {
			l.Snoops = append(l.Snoops, s.view(c))
		}
	}
	return l
}

// WaitIdle waits until no channel is alive or the timeout passes.
func (s *Sim) WaitIdle(timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for {
		s.mu.Lock()
		n := len(s.channels)
		s.mu.Unlock()
		if n == 0 {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// SharingMedia returns the live legs that share media with uuid now: its
// uuid_bridge peer, and the parties of a three_way it is part of (the leg
// whose call was joined, that leg's peer, and every leg that joined it).
// BridgedWith, like pbxsim's, keeps everyone it ever shared with.
func (s *Sim) SharingMedia(uuid string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.channels[uuid]
	if !c.live() {
		return nil
	}
	set := map[string]bool{}
	add := func(o *channel) {
		if o.live() && o != c {
			set[o.uuid] = true
		}
	}
	// The call a three_way hangs off: c's own, or the one c joined.
	host := c
	if c.threeWay != nil {
		host = c.threeWay
	}
	add(host)
	add(host.peer)
	for _, g := range host.guests {
		add(g)
	}
	if host != c {
		// A guest hears the host's call; the host's peer is already in.
		return slices.Sorted(maps.Keys(set))
	}
	add(c.peer)
	// c bridged to a leg that hosts a three_way: c hears its guests too.
	if p := c.peer; p != nil {
		for _, g := range p.guests {
			add(g)
		}
	}
	return slices.Sorted(maps.Keys(set))
}

// RecordingStored says whether a recording to path was made and finished
// (uuid_record stop, its limit, or the leg's hangup): what a client would
// find on the FreeSWITCH host's disk.
func (s *Sim) RecordingStored(path string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.recorded[path]
}

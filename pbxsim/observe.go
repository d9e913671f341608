package pbxsim

import (
	"maps"
	"slices"
	"time"
)

// ChannelView is a snapshot of a channel for tests.
type ChannelView struct {
	ID, Name string
	State    string
	Endpoint string // "" for inbound calls
	InStasis bool
	App      string // the Stasis app, "" if never in Stasis
	MOHClass string // class of music playing to the channel, "" if none
	BridgeID string
	Holding  bool
	HungUp   bool
	Cause    int // hangup cause once HungUp
	Vars     map[string]string
	CallerID string    // caller id number the channel carries
	Created  time.Time // when the simulator created it
}

// BridgeView is a snapshot of a bridge for tests.
type BridgeView struct {
	ID, Name, Type string
	Channels       []string
	MOHClass       string
}

// Stats are the simulator's counters.
type Stats struct {
	CallsPlaced    int // Call invocations
	CallsFailed    int // calls no app could take
	CallsAbandoned int // callers whose patience ran out before a bridge
	CallsBridged   int // calls that shared a bridge with another channel
	Originates     int // originate and create requests accepted
	// OriginatesByEndpoint counts accepted originates per endpoint.
	OriginatesByEndpoint map[string]int
	// DoubleOffers counts originates carrying TANDEM_CONNECTION_ID=X while
	// another live leg carries the same X.
	DoubleOffers int
	// AgentsWithTwoCalls counts originates to an endpoint that already had
	// a live leg.
	AgentsWithTwoCalls int
	Hangups            int // channels destroyed
}

// Originate is what one accepted originate (POST /channels) or create
// (POST /channels/create) request carried.
type Originate struct {
	Kind       string // "originate" or "create"
	Channel    string // id of the channel it created
	Endpoint   string
	Originator string // the originator parameter, "" if none
	Formats    string // the formats parameter, "" if none
}

// Originates returns every accepted originate and create, in order.
func (s *Sim) Originates() []Originate {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.originates)
}

// Channel returns a snapshot of a live or hung-up channel.
func (s *Sim) Channel(id string) (ChannelView, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.channels[id]
	if c == nil {
		c = s.gone[id]
	}
	if c == nil {
		return ChannelView{}, false
	}
	v := ChannelView{
		ID: c.id, Name: c.name, State: c.state, Endpoint: c.endpoint,
		InStasis: c.inStasis, App: c.stasisApp, Holding: c.holding,
		HungUp: c.destroyed, Vars: maps.Clone(c.vars), CallerID: c.callerNum, Created: c.created,
	}
	if c.mohOn {
		v.MOHClass = c.mohClass
	}
	if c.bridge != nil {
		v.BridgeID = c.bridge.id
		if c.bridge.mohOn && v.MOHClass == "" {
			v.MOHClass = c.bridge.mohClass
		}
	}
	if c.destroyed {
		v.Cause = c.cause
	}
	return v, true
}

// Channels returns snapshots of the live channels in creation order.
func (s *Sim) Channels() []ChannelView {
	s.mu.Lock()
	ids := make([]*channel, 0, len(s.channels))
	for _, c := range s.channels {
		ids = append(ids, c)
	}
	s.mu.Unlock()
	slices.SortFunc(ids, func(a, b *channel) int { return a.seq - b.seq })
	out := make([]ChannelView, 0, len(ids))
	for _, c := range ids {
		if v, ok := s.Channel(c.id); ok {
			out = append(out, v)
		}
	}
	return out
}

// Bridge returns a snapshot of a bridge.
func (s *Sim) Bridge(id string) (BridgeView, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.bridges[id]
	if b == nil {
		return BridgeView{}, false
	}
	v := BridgeView{ID: b.id, Name: b.name, Type: b.typ}
	for _, c := range b.channels {
		v.Channels = append(v.Channels, c.id)
	}
	if b.mohOn {
		v.MOHClass = b.mohClass
	}
	return v, true
}

// Bridges returns a snapshot of every bridge, by id: what GET /bridges
// lists (tests check that nothing is left behind).
func (s *Sim) Bridges() []BridgeView {
	s.mu.Lock()
	ids := make([]string, 0, len(s.bridges))
	for id := range s.bridges {
		ids = append(ids, id)
	}
	s.mu.Unlock()
	slices.Sort(ids)
	out := make([]BridgeView, 0, len(ids))
	for _, id := range ids {
		if v, ok := s.Bridge(id); ok {
			out = append(out, v)
		}
	}
	return out
}

// AppView is a snapshot of a Stasis application for tests.
type AppView struct {
	Name string
	// Active: a WebSocket receives the app's events, and Stasis() into it
	// works. An inactive app keeps its channels (trace 14 b).
	Active   bool
	Channels []string // as GET /applications/{name} lists them
}

// App returns a snapshot of a Stasis application; false if there is none
// (never registered, or destroyed once its last socket left it empty).
func (s *Sim) App(name string) (AppView, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.apps[name]
	if a == nil {
		return AppView{}, false
	}
	return AppView{Name: name, Active: a.active(), Channels: s.appChannelIDs(name)}, true
}

// Stats returns a copy of the counters.
func (s *Sim) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stats
	st.OriginatesByEndpoint = maps.Clone(s.stats.OriginatesByEndpoint)
	return st
}

// BridgedWith returns the ids of the channels that were ever in a bridge
// together with the live or hung-up channel id, sorted: what the PBX saw,
// whatever the application believed.
func (s *Sim) BridgedWith(id string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.channels[id]
	if c == nil {
		c = s.gone[id]
	}
	if c == nil {
		return nil
	}
	return slices.Sorted(maps.Keys(c.sharedWith))
}

// LiveLegs returns the ids of live channels dialled to endpoint.
func (s *Sim) LiveLegs(endpoint string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var ids []string
	for _, c := range s.channels {
		if c.endpoint == endpoint && !c.hangingUp {
			ids = append(ids, c.id)
		}
	}
	slices.Sort(ids)
	return ids
}

// WaitIdle waits until no channel is alive or the timeout passes; it
// reports whether the world is idle.
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

// idByName finds a live or hung-up channel by name (trace replays map the
// tracer's channel names onto the simulator's).
func (s *Sim) idByName(name string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, m := range []map[string]*channel{s.channels, s.gone} {
		for id, c := range m {
			if c.name == name {
				return id, true
			}
		}
	}
	return "", false
}

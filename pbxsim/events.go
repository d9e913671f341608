package pbxsim

import (
	"maps"
	"slices"
	"time"
)

// Event delivery. An event reaches an app when the app is subscribed to the
// object it is about: a channel in the app's Stasis, a channel or bridge the
// app subscribed to explicitly (originate/create with app= subscribes the
// dialled channels), or a bridge one of the app's channels is in. Events for
// an app without an active socket are dropped, as Asterisk does.

// chanApps returns the apps that receive events about c.
func (s *Sim) chanApps(c *channel) map[string]bool {
	to := map[string]bool{}
	if c.inStasis && c.stasisApp != "" {
		to[c.stasisApp] = true
	}
	for a := range c.subs {
		to[a] = true
	}
	return to
}

func (s *Sim) bridgeApps(b *bridge, c *channel) map[string]bool {
	to := map[string]bool{}
	if c != nil {
		maps.Copy(to, s.chanApps(c))
	}
	for a := range b.subs {
		to[a] = true
	}
	return to
}

// emit sends one event to the given apps; head holds the event's own fields
// in Asterisk's order, asterisk_id and application are appended per app.
func (s *Sim) emit(to map[string]bool, head obj) {
	names := slices.Sorted(maps.Keys(to))
	for _, name := range names {
		a := s.apps[name]
		if !a.active() {
			continue
		}
		ev := append(slices.Clip(head), kv{"asterisk_id", s.opts.EntityID}, kv{"application", name})
		a.sock.send(marshal(ev))
	}
}

func now() string { return ts(time.Now()) }

func (s *Sim) evChannel(typ string, c *channel) {
	s.emit(s.chanApps(c), obj{{"type", typ}, {"timestamp", now()}, {"channel", c.json()}})
}

func (s *Sim) setState(c *channel, state string) {
	if c.state == state {
		return
	}
	c.state = state
	s.evChannel("ChannelStateChange", c)
}

func (s *Sim) evVarset(c *channel, name, value string) {
	s.emit(s.chanApps(c), obj{{"variable", name}, {"value", value}, {"type", "ChannelVarset"}, {"timestamp", now()}, {"channel", c.json()}})
}

// setVar sets a channel variable and emits ChannelVarset, as Set() does.
func (s *Sim) setVar(c *channel, name, value string) {
	if c.vars == nil {
		c.vars = map[string]string{}
	}
	c.vars[name] = value
	if name == connVar {
		s.indexConn(c, value)
	}
	s.evVarset(c, name, value)
}

func (s *Sim) evCallerID(c *channel) {
	s.emit(s.chanApps(c), obj{{"type", "ChannelCallerId"}, {"timestamp", now()}, {"caller_presentation", 0}, {"caller_presentation_txt", "Presentation Allowed, Not Screened"}, {"channel", c.json()}})
}

func (s *Sim) evHangupRequest(c *channel, cause int, soft bool) {
	head := obj{{"cause", cause}}
	if soft {
		head = head.set("soft", true)
	}
	head = append(head, kv{"type", "ChannelHangupRequest"}, kv{"timestamp", now()}, kv{"channel", c.json()})
	s.emit(s.chanApps(c), head)
}

func (s *Sim) evDestroyed(c *channel, cause int) {
	s.emit(s.chanApps(c), obj{{"type", "ChannelDestroyed"}, {"timestamp", now()}, {"cause", cause}, {"cause_txt", causeText(cause)}, {"channel", c.json()}})
}

func (s *Sim) evDialplan(c *channel, app, data string) {
	s.emit(s.chanApps(c), obj{{"type", "ChannelDialplan"}, {"timestamp", now()}, {"dialplan_app", app}, {"dialplan_app_data", data}, {"channel", c.json()}})
}

func (s *Sim) evStasisStart(c *channel) {
	args := c.stasisArgs
	if args == nil {
		args = []string{}
	}
	s.emit(map[string]bool{c.stasisApp: true}, obj{{"type", "StasisStart"}, {"timestamp", now()}, {"args", args}, {"channel", c.json()}})
}

func (s *Sim) evStasisEnd(c *channel, app string) {
	s.emit(map[string]bool{app: true}, obj{{"type", "StasisEnd"}, {"timestamp", now()}, {"channel", c.json()}})
}

// evDial reports the progress of dialling peer. The first event of a dial
// carries the dial string; on /dial the later ones carry "" (trace 02-B).
func (s *Sim) evDial(peer *channel, status, dialstring string) {
	s.emit(s.chanApps(peer), obj{{"type", "Dial"}, {"timestamp", now()}, {"dialstatus", status}, {"forward", ""}, {"dialstring", dialstring}, {"peer", peer.json()}})
}

// evBridge reports a channel entering or leaving a bridge. These events go
// to the bridge's subscribers only: a channel moved to another app while
// bridged does not tell its new app (trace 13), and in a bridge shared by two
// apps each sees entries from when it subscribed (trace 15).
func (s *Sim) evBridge(typ string, b *bridge, c *channel) {
	s.emit(b.subs, obj{{"type", typ}, {"timestamp", now()}, {"bridge", b.json()}, {"channel", c.json()}})
}

func (s *Sim) evPlayback(typ string, p *playback) {
	var to map[string]bool
	if p.ch != nil {
		to = s.chanApps(p.ch)
	} else {
		to = s.bridgeApps(p.br, nil)
	}
	s.emit(to, obj{{"type", typ}, {"timestamp", now()}, {"playback", p.json()}})
}

func (s *Sim) evDTMF(c *channel, digit string, durationMS int) {
	s.emit(s.chanApps(c), obj{{"type", "ChannelDtmfReceived"}, {"timestamp", now()}, {"digit", digit}, {"duration_ms", durationMS}, {"channel", c.json()}})
}

// causeText is Asterisk's ast_cause2str for the causes the simulator uses.
func causeText(cause int) string {
	switch cause {
	case 0:
		return "Unknown"
	case 1:
		return "Unallocated (unassigned) number"
	case 3:
		return "No route to destination"
	case 16:
		return "Normal Clearing"
	case 17:
		return "User busy"
	case 18:
		return "No user responding"
	case 19:
		return "User alerting, no answer"
	case 20:
		return "Subscriber absent"
	case 21:
		return "Call Rejected"
	case 26:
		return "Answered elsewhere"
	case 27:
		return "Destination out of order"
	case 28:
		return "Invalid number format (incomplete number)"
	case 31:
		return "Normal, unspecified"
	case 34:
		return "Circuit/channel congestion"
	case 38:
		return "Network out of order"
	case 58:
		return "Bearer capability not available"
	case 127:
		return "Interworking, unspecified"
	}
	return "Unknown"
}

// dialStatusForCause maps the cause that ended an unanswered dial to the
// dialstatus Asterisk's Dial reports.
func dialStatusForCause(cause int) string {
	switch cause {
	case 17:
		return "BUSY"
	case 34:
		return "CONGESTION"
	case 3, 20, 27:
		return "CHANUNAVAIL"
	}
	return "NOANSWER"
}

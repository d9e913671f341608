package pbxsim

import "slices"

// app is a Stasis application. It exists from its first WebSocket until a
// socket disconnects while it has no channels; without a socket it is
// inactive: its channels stay, but events are lost and Stasis() fails.
type app struct {
	name string
	sock *socket
}

// active reports whether the app has a working socket. A socket that was
// cut but whose handler has not noticed yet already counts as gone, so no
// event or call is handed to it.
func (a *app) active() bool { return a != nil && a.sock != nil && !a.sock.isClosed() }

// appChannelIDs lists the channels app is subscribed to, implicitly (in its
// Stasis) or explicitly, in creation order.
func (s *Sim) appChannelIDs(name string) []string {
	var cs []*channel
	for _, c := range s.channels {
		if (c.inStasis && c.stasisApp == name) || c.subs[name] {
			cs = append(cs, c)
		}
	}
	slices.SortFunc(cs, func(a, b *channel) int { return a.seq - b.seq })
	ids := make([]string, 0, len(cs))
	for _, c := range cs {
		ids = append(ids, c.id)
	}
	return ids
}

func (s *Sim) appBridgeIDs(name string) []string {
	ids := []string{}
	for id, b := range s.bridges {
		if b.subs[name] {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return ids
}

func (s *Sim) appJSON(name string) obj {
	return obj{
		{"name", name},
		{"channel_ids", nonNil(s.appChannelIDs(name))},
		{"bridge_ids", s.appBridgeIDs(name)},
		{"endpoint_ids", []string{}},
		{"device_names", []string{}},
		{"events_allowed", []any{}},
		{"events_disallowed", []any{}},
	}
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

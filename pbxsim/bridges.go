package pbxsim

import (
	"slices"
	"strings"
	"time"
)

// newBridge creates a bridge. typ is the first recognised ARI bridge type.
func (s *Sim) newBridge(id, name, typ string) *bridge {
	b := &bridge{id: id, name: name, typ: typ, created: time.Now(), subs: map[string]bool{}}
	b.technology = "simple_bridge"
	if typ == "holding" {
		b.technology = "holding_bridge"
	}
	s.bridges[id] = b
	return b
}

// addToBridge puts c into b, moving it out of any bridge it is in (a channel
// re-added to its own bridge leaves and re-enters, trace 12).
func (s *Sim) addToBridge(b *bridge, c *channel, role string) {
	if c.bridge != nil {
		s.leaveBridge(c, true) // moving a channel ends the old subscription (trace 12)
	}
	c.bridge = b
	c.role = role
	for _, x := range b.channels {
		shareBridge(c, x)
	}
	b.channels = append(b.channels, c)
	if c.inStasis {
		b.subs[c.stasisApp] = true
	}
	s.evBridge("ChannelEnteredBridge", b, c)
	s.updateBridgePeers(b)
	if b.typ == "mixing" && len(b.channels) == 2 {
		x := b.channels[0]
		// The newcomer's connected line becomes the other party; a Local
		// half passes that on to its peer as caller id (trace 06).
		c.connName, c.connNum = x.callerName, x.callerNum
		s.evChannel("ChannelConnectedLine", c)
		if p := c.peer; p.live() {
			p.callerName, p.callerNum = c.connName, c.connNum
			s.evCallerID(p)
		}
	}
	for _, x := range b.channels {
		if x.script != nil {
			s.scriptBridgeChanged(x)
		}
	}
}

// shareBridge notes that a and b are in one bridge together.
func shareBridge(a, b *channel) {
	if a.sharedWith == nil {
		a.sharedWith = map[string]bool{}
	}
	if b.sharedWith == nil {
		b.sharedWith = map[string]bool{}
	}
	a.sharedWith[b.id], b.sharedWith[a.id] = true, true
}

// leaveBridge takes c out of its bridge. An app stops receiving the bridge's
// events when its last channel is removed by the app (removeChannel, bridge
// DELETE), but not when the channel hangs up (traces 06 and 07).
func (s *Sim) leaveBridge(c *channel, unsubscribe bool) {
	b := c.bridge
	if b == nil {
		return
	}
	if c.vars["BRIDGEPEER"] != "" {
		s.setVar(c, "BRIDGEPEER", "")
	}
	b.channels = slices.DeleteFunc(b.channels, func(x *channel) bool { return x == c })
	c.bridge = nil
	c.role = ""
	s.evBridge("ChannelLeftBridge", b, c)
	s.updateBridgePeers(b)
	if unsubscribe && c.inStasis {
		still := false
		for _, x := range b.channels {
			if x.inStasis && x.stasisApp == c.stasisApp {
				still = true
			}
		}
		if !still {
			delete(b.subs, c.stasisApp)
		}
	}
	for _, x := range b.channels {
		if x.script != nil {
			s.scriptBridgeChanged(x)
		}
	}
}

// destroyBridge removes every channel, then tells the apps still subscribed.
func (s *Sim) destroyBridge(b *bridge) {
	for _, c := range slices.Clone(b.channels) {
		s.leaveBridge(c, true)
	}
	s.stopBridgeMOH(b)
	for _, r := range s.recordingsOf(nil, b) {
		s.finishRecording(r, true)
	}
	for _, p := range slices.Clone(b.playQueue) {
		s.cancel(p.timer)
		if p.state == "playing" || p.state == "paused" {
			p.state = "done"
			s.evPlayback("PlaybackFinished", p)
		}
		s.forgetPlayback(p)
	}
	b.playQueue = nil
	b.destroyed = true
	s.emit(b.subs, obj{{"type", "BridgeDestroyed"}, {"timestamp", now()}, {"bridge", b.json()}})
	delete(s.bridges, b.id)
}

// updateBridgePeers keeps BRIDGEPEER of a mixing bridge's channels: the
// other participants, newest first, including the Announcer and Recorder
// channels Asterisk bridges in for music, playbacks and recordings. A channel
// left alone keeps its old value, as in Asterisk (trace 06).
func (s *Sim) updateBridgePeers(b *bridge) {
	if b.typ != "mixing" {
		return
	}
	for _, x := range b.channels {
		var peers []string
		for i := len(b.hidden) - 1; i >= 0; i-- {
			peers = append(peers, b.hidden[i])
		}
		for i := len(b.channels) - 1; i >= 0; i-- {
			if y := b.channels[i]; y != x {
				peers = append(peers, y.name)
			}
		}
		v := strings.Join(peers, ",")
		if v != "" && v != x.vars["BRIDGEPEER"] {
			s.setVar(x, "BRIDGEPEER", v)
		}
	}
}

// addHidden bridges in a helper channel (Announcer, Recorder).
func (s *Sim) addHidden(b *bridge, name string) {
	b.hidden = append(b.hidden, name)
	s.updateBridgePeers(b)
}

func (s *Sim) removeHidden(b *bridge, name string) {
	b.hidden = slices.DeleteFunc(b.hidden, func(h string) bool { return h == name })
	s.updateBridgePeers(b)
}

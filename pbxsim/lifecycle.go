package pbxsim

import (
	"strings"
	"time"
)

// newChannel creates and registers a channel. Callers hold s.mu.
func (s *Sim) newChannel(id, name, tech string) *channel {
	if id == "" {
		id = s.newUniqueID()
	}
	s.uniqSeq++ // keep ids unique even when the caller chose one
	c := &channel{
		id:       id,
		name:     name,
		tech:     tech,
		state:    "Down",
		created:  time.Now(),
		vars:     map[string]string{},
		subs:     map[string]bool{},
		priority: 1,
		seq:      s.uniqSeq,
		cause:    -1,
	}
	c.linkedid = id
	s.channels[id] = c
	return c
}

// enterStasis hands c to app. It fails, as Stasis() does, when the app does
// not exist or has no WebSocket. Callers hold s.mu.
func (s *Sim) enterStasis(c *channel, appName string, args []string, via stasisVia) bool {
	if !s.apps[appName].active() {
		s.log.Warn("stasis app not active", "app", appName, "channel", c.name)
		return false
	}
	s.setVar(c, "STASISSTATUS", "")
	c.inStasis = true
	c.stasisApp = appName
	c.stasisArgs = args
	c.via = via
	c.pbxApp = ""
	s.evStasisStart(c)
	if c.script != nil {
		s.scriptEnteredStasis(c)
	}
	return true
}

// leaveStasis ends c's Stasis session (StasisEnd, STASISSTATUS). Callers
// hold s.mu.
func (s *Sim) leaveStasis(c *channel) {
	if !c.inStasis {
		return
	}
	app := c.stasisApp
	c.inStasis = false
	s.evStasisEnd(c, app)
	s.setVar(c, "STASISSTATUS", "SUCCESS")
}

// hangupHow says what started a hangup, which decides the first
// ChannelHangupRequest the channel shows.
type hangupHow int

const (
	byAPI      hangupHow = iota // DELETE /channels/{id}: {"cause":32,"soft":true}
	byPeer                      // the other half went away: the real cause
	byDialplan                  // Hangup() in the dialplan: no request of its own
	byDialer                    // the dialler gave up (timeout): none either
	byFarEnd                    // the remote phone hung up: the real cause
)

// hangup tears c down with cause, following the event order of the traces:
// the channel's own request, its teardown (bridge, Stasis, dialplan), the
// Local peer's request, c's ChannelDestroyed, then the peer's teardown and
// ChannelDestroyed. Callers hold s.mu.
func (s *Sim) hangup(c *channel, cause int, how hangupHow) {
	if !c.live() || c.hangingUp {
		return
	}
	c.hangingUp = true
	switch how {
	case byAPI:
		s.evHangupRequest(c, 32, true)
	case byPeer, byFarEnd:
		s.evHangupRequest(c, cause, false)
	}
	s.finishDial(c, cause)
	s.teardown(c, how)

	peer := c.peer
	if peer.live() && !peer.hangingUp {
		peer.hangingUp = true
		s.evHangupRequest(peer, cause, false)
		s.finishDial(peer, cause)
		s.destroy(c, cause)
		s.teardown(peer, byPeer)
		s.destroy(peer, cause)
		return
	}
	s.destroy(c, cause)
}

// finishDial reports the final Dial status of an unanswered originated
// channel that is going away (trace 01-C: BUSY, 03-C and 05: NOANSWER).
// Originate timeouts and /dial legs report none.
func (s *Sim) finishDial(c *channel, cause int) {
	d := c.dial
	if d == nil || d.done {
		return
	}
	d.done = true
	s.cancel(d.timeout)
	if d.viaCreate {
		return
	}
	s.evDial(c, dialStatusForCause(cause), d.dialstring)
}

// teardown stops what the channel was doing: media, bridge, Stasis and the
// dialplan application it was blocked in.
func (s *Sim) teardown(c *channel, how hangupHow) {
	dialplanStasis := c.inStasis && c.via == viaDialplan
	s.stopChannelMedia(c)
	for _, r := range s.recordingsOf(c, nil) {
		s.finishRecording(r, true) // the file is kept (trace 10)
	}
	if c.bridge != nil {
		s.leaveBridge(c, false)
	}
	s.leaveStasis(c)
	if c.deferStasisStatus {
		c.deferStasisStatus = false
		s.setVar(c, "STASISSTATUS", "SUCCESS")
	}
	switch c.pbxApp {
	case "Playback":
		s.setVar(c, "PLAYBACKSTATUS", "SUCCESS")
	}
	c.pbxApp = ""
	if c.runsPBX && (how != byAPI || dialplanStasis) {
		// The PBX thread notices the hangup and ends the dialplan with a
		// soft hangup of its own. A dialplan application hung up directly
		// over ARI shows none (trace 13 F).
		s.evHangupRequest(c, 16, true)
	}
	c.runsPBX = false
}

// destroy removes c from the world with ChannelDestroyed to its subscribers.
func (s *Sim) destroy(c *channel, cause int) {
	if c.destroyed {
		return
	}
	if c.cause >= 0 {
		cause = c.cause // a cause the channel set itself (Busy() sets 17)
	}
	c.cause = cause
	s.evDestroyed(c, cause)
	c.destroyed = true
	c.destroyedAt = time.Now()
	for _, t := range c.timers {
		s.cancel(t)
	}
	c.timers = nil
	if c.dial != nil {
		s.cancel(c.dial.timeout)
	}
	delete(s.channels, c.id)
	s.unindex(c)
	s.gone[c.id] = c
	s.stats.Hangups++
	if c.peer != nil {
		c.peer.peer = nil
	}
	// Snoop channels of a channel that goes away only see StasisEnd
	// (trace 11).
	for _, sn := range c.snoops {
		if sn.live() && !sn.hangingUp {
			sn.hangingUp = true
			s.teardown(sn, byPeer)
			s.destroy(sn, 16)
		}
	}
	s.log.Debug("channel destroyed", "channel", c.name, "id", c.id, "cause", cause)
}

// localPair creates the two halves of a Local channel for "exten@context".
func (s *Sim) localPair(resource, id1, id2 string) (*channel, *channel) {
	exten, ctx, ok := strings.Cut(resource, "@")
	if !ok {
		ctx = "default"
	}
	base := "Local/" + exten + "@" + ctx + "-" + s.newLocalSuffix()
	a := s.newChannel(id1, base+";1", "Local")
	b := s.newChannel(id2, base+";2", "Local")
	a.half, b.half = 1, 2
	a.peer, b.peer = b, a
	a.context, a.exten, a.appName, a.appData = ctx, exten, "AppDial2", "(Outgoing Line)"
	b.context, b.exten = ctx, exten
	b.state = "Ring"
	b.linkedid = a.id
	return a, b
}

// parseArgs splits Stasis application arguments the way Asterisk does.
func parseArgs(s string) []string {
	if s == "" {
		return []string{}
	}
	return strings.Split(s, ",")
}

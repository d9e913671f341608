package eslsim

import (
	"strconv"
	"strings"
)

// hangup ends c with cause in FreeSWITCH's order (traces 03, 04):
// CHANNEL_HANGUP; CHANNEL_UNBRIDGE on the bridge's first leg; a playback's
// PLAYBACK_STOP and CHANNEL_EXECUTE_COMPLETE; CHANNEL_UNPARK and the park
// application's CHANNEL_EXECUTE_COMPLETE; RECORD_STOP/MEDIA_BUG_STOP of its
// recordings; CHANNEL_STATE CS_HANGUP, CHANNEL_CALLSTATE HANGUP,
// CHANNEL_STATE CS_REPORTING, CHANNEL_HANGUP_COMPLETE, CHANNEL_DESTROY,
// CHANNEL_STATE CS_DESTROY. Then the bridge peer parks (park_after_bridge)
// or is hung up too, and three_way guests leave. Callers hold s.mu.
func (s *Sim) hangup(c *channel, cause string) {
	if !c.live() {
		return
	}
	c.hangingUp = true
	for _, t := range c.timers {
		s.cancelTimer(t)
	}
	c.cause, c.answerState = cause, "hangup"
	c.setVar("hangup_cause", cause)
	c.setVar("hangup_cause_q850", itoa(causes[cause]))
	s.emit(c, "CHANNEL_HANGUP", evOpt{file: "switch_channel.c", fn: "switch_channel_perform_hangup"})
	s.resolve(c, "-ERR "+cause+"\n")
	peer := c.peer
	if peer != nil {
		leader := c
		if !c.leader {
			leader = peer
		}
		if leader == c {
			s.emitBridgeEvent(c, "CHANNEL_UNBRIDGE")
		}
	}
	s.stopPlayback(c, "PLAYBACK ERROR", "done", true)
	c.playQ = nil
	s.unpark(c)
	if c.threeWay != nil {
		s.leaveThreeWay(c)
	}
	s.stopAllRecordings(c)
	s.emitState(c, "CS_HANGUP")
	s.emitCallState(c, "HANGUP")
	s.emitState(c, "CS_REPORTING")
	if !c.answered.IsZero() {
		// FreeSWITCH computes answer_epoch with the other call-detail
		// variables at hangup: a live answered leg has none (traces
		// 03–08), so `uuid_getvar <leg> answer_epoch` answers _undef_.
		c.setVar("answer_epoch", strconv.FormatInt(c.answered.Unix(), 10))
	}
	s.emit(c, "CHANNEL_HANGUP_COMPLETE", evOpt{pre: []Header{{"Hangup-Cause", cause}}, file: "switch_core_state_machine.c", fn: "switch_core_session_reporting_state"})
	s.emit(c, "CHANNEL_DESTROY", evOpt{file: "switch_core_session.c", fn: "switch_core_session_perform_destroy"})
	c.destroyed = true
	s.emitState(c, "CS_DESTROY")
	delete(s.channels, c.uuid)
	s.gone[c.uuid] = c
	s.stats.Hangups++
	if peer != nil && peer.live() {
		if peer.leader {
			s.emitBridgeEvent(peer, "CHANNEL_UNBRIDGE")
		}
		c.peer, peer.peer, c.leader, peer.leader = nil, nil, false, false
		s.survive(peer)
	}
	for _, g := range c.guests {
		if g.live() {
			s.leaveThreeWay(g)
			s.afterThreeWay(g)
		}
	}
	c.guests = nil
	if c.outSock {
		uuid := c.uuid
		s.queueFunc(func() { s.proto.channelHungUp(uuid) })
	}
}

// afterThreeWay is a leg whose three_way ended because the leg it joined
// hung up: its inline dialplan goes on with what followed three_way, and
// one with nothing left hangs up (NORMAL_CLEARING), as any dialplan that
// runs out does. park_after_bridge does not apply: three_way is an
// eavesdrop, not a bridge. Tandem's driver sends `three_way:<uuid>,park`.
func (s *Sim) afterThreeWay(c *channel) {
	then := c.twThen
	c.twThen = ""
	if strings.HasPrefix(then, "park") {
		s.parkApp(c)
		return
	}
	s.hangup(c, "NORMAL_CLEARING")
}

// survive is a leg whose bridge ended under it: with park_after_bridge it
// parks (CHANNEL_STATE CS_PARK, CHANNEL_PARK); without, FreeSWITCH hangs
// it up NORMAL_CLEARING at once, from the state it is in (traces 04, 05, 08).
func (s *Sim) survive(c *channel) {
	if c.vars["park_after_bridge"] == "true" {
		s.parkState(c)
		return
	}
	if c.state == "CS_SOFT_EXECUTE" {
		// The bridge's first leg returns to its execute loop before it
		// hangs up (trace 04); the other one hangs up in CS_EXCHANGE_MEDIA.
		s.emitState(c, "CS_EXECUTE")
	}
	s.hangup(c, "NORMAL_CLEARING")
}

// unbridge takes c out of its uuid_bridge (uuid_park, uuid_transfer, a
// new uuid_bridge): CHANNEL_UNBRIDGE on the first leg, then the peer
// parks or hangs up. Callers hold s.mu.
func (s *Sim) unbridge(c *channel) {
	p := c.peer
	if p == nil {
		return
	}
	if c.leader {
		s.emitBridgeEvent(c, "CHANNEL_UNBRIDGE")
	} else {
		s.emitBridgeEvent(p, "CHANNEL_UNBRIDGE")
	}
	c.peer, p.peer, c.leader, p.leader = nil, nil, false, false
	if p.live() {
		s.survive(p)
	}
}

// emitBridgeEvent sends CHANNEL_BRIDGE/UNBRIDGE on the first leg x, with
// Bridge-A-Unique-ID x and Bridge-B-Unique-ID its peer.
func (s *Sim) emitBridgeEvent(x *channel, name string) {
	b := ""
	if x.peer != nil {
		b = x.peer.uuid
	}
	s.emit(x, name, evOpt{pre: []Header{{"Bridge-A-Unique-ID", x.uuid}, {"Bridge-B-Unique-ID", b}}, file: "switch_ivr_bridge.c", fn: "audio_bridge_thread"})
}

package pbxsim

import (
	"fmt"
	"strings"
	"time"
)

// PhoneMode is how a scripted phone reacts when it is dialled.
type PhoneMode int

const (
	// Answer rings for RingFor, then answers.
	Answer PhoneMode = iota
	// NoAnswer rings until the caller gives up.
	NoAnswer
	// Busy reports busy (cause 17).
	Busy
	// Reject declines the call (cause 21) after RingFor.
	Reject
	// Unreachable fails at once (cause 20, dialstatus CHANUNAVAIL).
	Unreachable
)

func (m PhoneMode) String() string {
	switch m {
	case Answer:
		return "answer"
	case NoAnswer:
		return "noanswer"
	case Busy:
		return "busy"
	case Reject:
		return "reject"
	case Unreachable:
		return "unreachable"
	}
	return "unknown"
}

// Phone scripts an agent's phone behind an endpoint.
type Phone struct {
	Mode    PhoneMode
	RingFor time.Duration
	// TalkFor makes the phone hang up this long after answering; 0 keeps
	// it up until the other side hangs up.
	TalkFor time.Duration
}

// SetPhone registers (or replaces) the phone behind endpoint, for example
// "PJSIP/1001", "SIP/agent7" or "Local/agent1@sim-agent". Originating to a
// PJSIP or SIP endpoint without a phone fails like an unknown endpoint.
func (s *Sim) SetPhone(endpoint string, p Phone) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.phones[endpoint] = p
}

// AnswerPhone picks up the phone ringing behind dialled leg id, as a
// person would by hand: the leg goes Up and the dialler sees ANSWER, as
// with a phone scripted Answer once its RingFor is over. It is for phones
// scripted NoAnswer, whose answer a test (a browser test answering an
// agent's phone when the desktop shows the call) decides itself. It is an
// error for a channel that is gone, was not dialled to such a phone, or is
// no longer ringing.
func (s *Sim) AnswerPhone(id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.liveChannel(id)
	switch {
	case a == nil:
		return fmt.Errorf("answer %s: channel not found", id)
	case a.phone == nil || a.phone.Mode != NoAnswer:
		return fmt.Errorf("answer %s: not a leg to a phone scripted NoAnswer", id)
	case a.dial == nil || a.dial.done || a.state == "Up":
		return fmt.Errorf("answer %s: not ringing", id)
	}
	if b := a.peer; a.half == 1 && b.live() {
		// A Local leg: the phone is the ;2 half, waiting in Wait().
		s.dp(b, 3, "Answer", "")
		s.answerLocal(b)
		s.dp(b, 4, "Playback", "acd-agent-talk")
		b.pbxApp = "Playback"
		return nil
	}
	s.answerLeg(a)
	return nil
}

// ringLeg makes a dialled channel ring: ChannelStateChange Ringing and Dial
// RINGING (the dial string is repeated on originate, empty on /dial).
func (s *Sim) ringLeg(a *channel) {
	if !a.live() || a.state == "Up" {
		return
	}
	s.setState(a, "Ringing")
	if d := a.dial; d != nil && !d.done {
		d.status = "RINGING"
		s.evDial(a, "RINGING", d.laterDialstring())
	}
}

func (d *dialState) laterDialstring() string {
	if d.viaCreate {
		return ""
	}
	return d.dialstring
}

// answerLeg is the far end answering dialled channel a: a goes Up, Dial
// reports ANSWER, and an originated channel proceeds to its app or dialplan.
func (s *Sim) answerLeg(a *channel) {
	if !a.live() {
		return
	}
	s.setState(a, "Up")
	d := a.dial
	if d == nil || d.done {
		return
	}
	d.done = true
	d.status = "ANSWER"
	s.cancel(d.timeout)
	s.evDial(a, "ANSWER", d.laterDialstring())
	if d.viaCreate {
		return // the channel is already in Stasis
	}
	if d.app != "" {
		if !s.enterStasis(a, d.app, d.appArgs, viaOriginate) {
			s.hangup(a, 16, byDialplan)
			return
		}
		if a.phone != nil && a.phone.TalkFor > 0 {
			s.scheduleFarEndHangup(a, a.phone.TalkFor)
		}
		return
	}
	s.runDialplan(a, d.context, d.exten, d.priority)
}

// scheduleFarEndHangup makes the phone side of leg a hang up after d.
func (s *Sim) scheduleFarEndHangup(a *channel, d time.Duration) {
	s.after(d, a, func() {
		if b := a.peer; b.live() {
			s.hangup(b, 16, byDialplan)
			return
		}
		s.hangup(a, 16, byFarEnd)
	})
}

// startPhone runs the scripted phone p behind dialled channel a. For a
// Local leg the phone is the ;2 half b; otherwise a itself is the remote.
func (s *Sim) startPhone(a, b *channel, p Phone) {
	settle := s.timing.AnswerSettle
	switch p.Mode {
	case Answer:
		s.ringLeg(a)
		ring := max(p.RingFor, settle)
		s.after(ring, a, func() {
			if b != nil {
				s.answerLocal(b)
			} else {
				s.answerLeg(a)
			}
		})
	case NoAnswer:
		s.ringLeg(a)
	case Busy:
		s.after(settle, a, func() { s.legBusy(a, b) })
	case Reject:
		s.after(max(p.RingFor, settle), a, func() { s.legFails(a, b, 21) })
	case Unreachable:
		s.after(s.timing.Unreachable, a, func() { s.legFails(a, b, 20) })
	}
}

// legBusy is the far end signalling busy. An originate gives up at once; a
// /dial leg stays until its timeout or until the far end hangs up (trace 04).
func (s *Sim) legBusy(a, b *channel) {
	if !a.live() {
		return
	}
	if b != nil {
		b.cause = 17
		s.setState(b, "Busy")
	}
	if d := a.dial; d != nil && !d.done {
		d.status = "BUSY"
		s.evDial(a, "BUSY", d.laterDialstring())
		if d.viaCreate {
			if b != nil {
				s.after(s.timing.BusyTone, b, func() { s.hangup(b, 17, byDialplan) })
			} else {
				s.after(s.timing.BusyTone, a, func() { s.hangup(a, 17, byFarEnd) })
			}
			d.done = true
			return
		}
		d.done = true
	}
	if b != nil {
		s.hangup(a, 0, byDialer) // the dialler hangs up with cause 0, trace 04-A
		return
	}
	s.hangup(a, 17, byFarEnd)
}

// legFails is the far end refusing the call with cause.
func (s *Sim) legFails(a, b *channel, cause int) {
	if b.live() {
		s.hangup(b, cause, byDialplan)
		return
	}
	if a.live() {
		s.hangup(a, cause, byFarEnd)
	}
}

// answerLocal answers the ;2 half of a Local pair, which answers the ;1 half
// (Local channels pass the answer through).
func (s *Sim) answerLocal(b *channel) {
	if !b.live() {
		return
	}
	s.setState(b, "Up")
	if a := b.peer; a.live() {
		s.answerLeg(a)
	}
}

// localRinging is Ringing() on the ;2 half: the ;1 half rings.
func (s *Sim) localRinging(b *channel) {
	if a := b.peer; a.live() {
		s.ringLeg(a)
	}
}

// originateTimeout fires when an originated channel was not answered in time:
// the dialler hangs it up with cause 19 and reports no final Dial status.
func (s *Sim) originateTimeout(a *channel) {
	if !a.live() || a.dial == nil || a.dial.done {
		return
	}
	a.dial.done = true
	if a.peer == nil {
		s.evHangupRequest(a, 19, false)
	}
	s.hangup(a, 19, byDialer)
}

// dialTimeout fires when a /dial was not answered in time: the channel is
// hung up like an API hangup, with cause 19 (trace 03-B, 04-B).
func (s *Sim) dialTimeout(a *channel) {
	if !a.live() || a.state == "Up" {
		return
	}
	if a.dial != nil {
		a.dial.done = true
	}
	s.hangup(a, 19, byAPI)
}

// splitEndpoint splits "Tech/resource".
func splitEndpoint(ep string) (tech, resource string) {
	tech, resource, _ = strings.Cut(ep, "/")
	return tech, resource
}

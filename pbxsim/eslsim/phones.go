package eslsim

import (
	"github.com/tandem-cc/tandem/pbxsim"
)

// SetPhone registers (or replaces) the phone behind a dial string such as
// "user/1001". Originating to a dial string without a phone fails like an
// unknown directory user: -ERR SUBSCRIBER_ABSENT and no channel.
func (s *Sim) SetPhone(endpoint string, p pbxsim.Phone) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.phones[endpoint] = p
}

// startPhone runs the phone behind an originated leg (trace 04): Answer
// rings (CHANNEL_PROGRESS, CALLSTATE RINGING) then answers after RingFor;
// NoAnswer rings until originate_timeout; Busy hangs up USER_BUSY without
// ringing; Reject hangs up CALL_REJECTED after RingFor; Unreachable fails
// as trace 04's "no route" case (NO_ROUTE_DESTINATION).
func (s *Sim) startPhone(c *channel, p pbxsim.Phone) {
	settle := s.timing.AnswerSettle
	switch p.Mode {
	case pbxsim.Answer:
		s.ring(c)
		s.after(max(p.RingFor, settle), c, func() { s.answerOriginated(c) })
	case pbxsim.NoAnswer:
		s.ring(c)
	case pbxsim.Busy:
		s.after(settle, c, func() { s.hangup(c, "USER_BUSY") })
	case pbxsim.Reject:
		s.after(max(p.RingFor, settle), c, func() { s.hangup(c, "CALL_REJECTED") })
	case pbxsim.Unreachable:
		s.after(s.timing.Unreachable, c, func() { s.hangup(c, "NO_ROUTE_DESTINATION") })
	}
}

// ring is the far end ringing (ring_ready): CHANNEL_PROGRESS then
// CHANNEL_CALLSTATE RINGING, even with ignore_early_media (trace 04).
func (s *Sim) ring(c *channel) {
	s.emit(c, "CHANNEL_PROGRESS", evOpt{file: "switch_channel.c", fn: "switch_channel_perform_mark_ring_ready_value"})
	s.emitCallState(c, "RINGING")
}

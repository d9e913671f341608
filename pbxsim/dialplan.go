package pbxsim

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// The lab dialplan of the traces, as code. Each context moves a channel
// through its priorities, announcing each step with ChannelDialplan (seen
// only by apps subscribed to the channel), and blocks in an application
// (Playback, Wait, Echo, ...) by arming timers.
//
//	[acd-inbound]        NoOp, Set(CALLERID(num)), Set(CALLERID(name)), Stasis(acd,inbound,${EXTEN}), Hangup()
//	[sim-customer]       s: Answer, Playback(acd-customer-talk) (loops); other extens: Goto(s,1)
//	[sim-agent]          NoOp, GotoIf(${RING_SECS}=0?answer), Ringing, Wait(${RING_SECS}), answer: Answer, Playback(acd-agent-talk)
//	[sim-agent-noanswer] Ringing, Wait(3600)
//	[sim-agent-busy]     Busy(5), Hangup(17)
//	[sim-agent-reject]   Hangup(21)
//	[sim-echo]           Answer, Echo
//	[sim-hello]          Answer, Playback(hello-world), Hangup()
//	[default]            Hangup(1) (Asterisk's fallback for Local/123 without a context)
//
// A channel registered with SetPhone under its Local endpoint runs that
// phone instead of the context.

// knownContext reports whether the lab dialplan has the context.
func knownContext(ctx string) bool {
	switch ctx {
	case "acd-inbound", "sim-customer", "sim-agent", "sim-agent-noanswer", "sim-agent-busy",
		"sim-agent-reject", "sim-echo", "sim-hello", "default":
		return true
	}
	return false
}

// dp moves c to a priority and announces it.
func (s *Sim) dp(c *channel, prio int, app, data string) {
	c.priority, c.appName, c.appData = prio, app, data
	s.evDialplan(c, app, data)
}

// runDialplan starts c at context/exten/priority.
func (s *Sim) runDialplan(c *channel, ctx, exten string, prio int) {
	if !c.live() {
		return
	}
	if prio <= 0 {
		prio = 1
	}
	c.context, c.exten = ctx, exten
	c.runsPBX = true
	switch ctx {
	case "acd-inbound":
		s.ctxInbound(c, prio)
	case "sim-customer":
		s.ctxCustomer(c, prio)
	case "sim-agent":
		s.ctxAgent(c, prio)
	case "sim-agent-noanswer":
		s.dp(c, 1, "Ringing", "")
		s.localRinging(c)
		s.dp(c, 2, "Wait", "3600")
		c.pbxApp = "Wait"
	case "sim-agent-busy":
		s.dp(c, 1, "Busy", strconv.Itoa(int(s.timing.BusyTone/s.timing.Second)))
		c.pbxApp = "Busy"
		if a := c.peer; a.live() {
			s.legBusy(a, c)
		}
	case "sim-agent-reject":
		s.dp(c, 1, "Hangup", "21")
		s.hangup(c, 21, byDialplan)
	case "sim-echo":
		s.dp(c, 1, "Answer", "")
		s.answerLocal(c)
		s.dp(c, 2, "Echo", "")
		c.pbxApp = "Echo"
	case "sim-hello":
		if len(exten) < 2 {
			// [sim-hello] matches _[0-9a-zA-Z]. only: no extension.
			s.hangup(c, 16, byDialplan)
			return
		}
		s.dp(c, 1, "Answer", "")
		s.answerLocal(c)
		s.dp(c, 2, "Playback", "hello-world")
		c.pbxApp = "Playback"
		s.after(s.timing.Playback, c, func() {
			s.setVar(c, "PLAYBACKSTATUS", "SUCCESS")
			c.pbxApp = ""
			s.dp(c, 3, "Hangup", "")
			s.hangup(c, 16, byDialplan)
		})
	case "default":
		s.dp(c, 1, "Hangup", "1")
		s.hangup(c, 1, byDialplan)
	default:
		// No such context: the channel is torn down with cause 0 (trace 12).
		s.hangup(c, 0, byDialplan)
	}
}

func (s *Sim) ctxInbound(c *channel, prio int) {
	if prio <= 4 {
		s.dp(c, 1, "NoOp", fmt.Sprintf("ACD inbound %s from \"%s\" <%s>", c.exten, c.callerName, c.callerNum))
		s.dp(c, 2, "Set", "CALLERID(num)="+c.exten)
		c.callerNum = c.exten
		s.evCallerID(c)
		name := c.vars["CUSTNAME"]
		if name == "" {
			name = "Customer " + c.exten
		}
		s.dp(c, 3, "Set", "CALLERID(name)="+name)
		c.callerName = name
		s.evCallerID(c)
		s.dp(c, 4, "Stasis", "acd,inbound,"+c.exten)
		if s.enterStasis(c, "acd", []string{"inbound", c.exten}, viaDialplan) {
			return
		}
	}
	// Stasis failed (or continue past it): fall through to Hangup().
	s.after(s.timing.StasisFail, c, func() {
		s.dp(c, 5, "Hangup", "")
		s.hangup(c, 16, byDialplan)
	})
}

func (s *Sim) ctxCustomer(c *channel, prio int) {
	if c.exten != "s" {
		s.dp(c, 1, "Goto", "s,1")
		c.exten = "s"
	}
	if prio <= 1 {
		s.dp(c, 1, "Answer", "")
		if c.half == 2 {
			s.answerLocal(c)
		} else {
			s.setState(c, "Up")
		}
	}
	s.dp(c, 2, "Playback", "acd-customer-talk")
	c.pbxApp = "Playback"
}

func (s *Sim) ctxAgent(c *channel, prio int) {
	if p, ok := s.phones["Local/"+c.exten+"@sim-agent"]; ok && c.half == 2 {
		s.runPhoneOnLocal(c, p)
		return
	}
	ring, _ := strconv.Atoi(strings.TrimSpace(c.vars["RING_SECS"]))
	s.dp(c, 1, "NoOp", "Simulated agent phone "+c.exten)
	cond := 0
	if ring == 0 {
		cond = 1
	}
	s.dp(c, 2, "GotoIf", fmt.Sprintf("%d?answer", cond))
	answer := func() {
		s.dp(c, 5, "Answer", "")
		s.answerLocal(c)
		s.dp(c, 6, "Playback", "acd-agent-talk")
		c.pbxApp = "Playback"
	}
	if ring == 0 {
		answer()
		return
	}
	s.dp(c, 3, "Ringing", "")
	s.localRinging(c)
	s.dp(c, 4, "Wait", strconv.Itoa(ring))
	c.pbxApp = "Wait"
	s.after(time.Duration(ring)*s.timing.Second, c, answer)
}

// runPhoneOnLocal runs a SetPhone phone as the ;2 half of a Local leg, with
// the dialplan steps [sim-agent] would show.
func (s *Sim) runPhoneOnLocal(b *channel, p Phone) {
	a := b.peer
	switch p.Mode {
	case Answer:
		s.dp(b, 1, "NoOp", "Simulated agent phone "+b.exten)
		s.dp(b, 3, "Ringing", "")
		s.localRinging(b)
		s.dp(b, 4, "Wait", "")
		b.pbxApp = "Wait"
		s.after(max(p.RingFor, s.timing.AnswerSettle), b, func() {
			s.dp(b, 5, "Answer", "")
			s.answerLocal(b)
			s.dp(b, 6, "Playback", "acd-agent-talk")
			b.pbxApp = "Playback"
			if p.TalkFor > 0 {
				s.after(p.TalkFor, b, func() { s.hangup(b, 16, byDialplan) })
			}
		})
	case NoAnswer:
		s.dp(b, 1, "Ringing", "")
		s.localRinging(b)
		s.dp(b, 2, "Wait", "3600")
		b.pbxApp = "Wait"
	case Busy:
		s.after(s.timing.AnswerSettle, b, func() {
			s.dp(b, 1, "Busy", "5")
			b.pbxApp = "Busy"
			if a.live() {
				s.legBusy(a, b)
			}
		})
	case Reject:
		s.after(max(p.RingFor, s.timing.AnswerSettle), b, func() {
			s.dp(b, 1, "Hangup", "21")
			s.hangup(b, 21, byDialplan)
		})
	case Unreachable:
		s.after(s.timing.Unreachable, b, func() {
			s.dp(b, 1, "Hangup", "20")
			s.hangup(b, 20, byDialplan)
		})
	}
}

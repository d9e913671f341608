package acd

import (
	"testing"
)

func TestTalkMachineTransitions(t *testing.T) {
	cases := []transitionCase[talkState, talkEvent]{
		// Every legal transition.
		{talkIdle, tevJoin, talkTalking},
		{talkIdle, tevLeave, talkIdle},
		{talkTalking, tevLeave, talkIdle},
		{talkHeld, tevLeave, talkIdle},
		{talkTalking, tevHold, talkHeld},
		{talkHeld, tevResume, talkTalking},
		{talkConsultRinging, tevResume, talkConsultRingingBack},
		{talkConsulting, tevResume, talkConsultOnHold},
		{talkConsultOnHold, tevResume, talkConsulting},
		{talkTalking, tevConsult, talkConsultRinging},
		{talkHeld, tevConsult, talkConsultRinging},
		{talkConsultRinging, tevConsultAnswer, talkConsulting},
		{talkConsultRingingBack, tevConsultAnswer, talkConsultOnHold},
		{talkConsultRinging, tevConsultFail, talkHeld},
		{talkConsultRingingBack, tevConsultFail, talkTalking},
		{talkConsultRinging, tevConsultRequeue, talkConsultRinging},
		{talkConsultRingingBack, tevConsultRequeue, talkConsultRingingBack},
		{talkConsultRinging, tevConsultEnd, talkHeld},
		{talkConsultRingingBack, tevConsultEnd, talkTalking},
		{talkConsulting, tevConsultEnd, talkHeld},
		{talkConsultOnHold, tevConsultEnd, talkTalking},
		{talkConference, tevConsultEnd, talkTalking},
		{talkConsulting, tevConference, talkConference},
		{talkConsultOnHold, tevConference, talkConference},
		{talkConsulting, tevHandOver, talkTalking},
		{talkConsultOnHold, tevHandOver, talkTalking},
		{talkConference, tevHandOver, talkTalking},
		// A sample of illegal ones.
		{talkTalking, tevJoin, ""},
		{talkHeld, tevHold, ""},
		{talkConference, tevHold, ""},
		{talkConsulting, tevHold, ""},
		{talkTalking, tevResume, ""},
		{talkConference, tevResume, ""},
		{talkConsultRingingBack, tevResume, ""},
		{talkConsultRinging, tevConsult, ""},
		{talkConference, tevConsult, ""},
		{talkIdle, tevConsult, ""},
		{talkConsultRinging, tevConference, ""},
		{talkConference, tevConference, ""},
		{talkConsultRinging, tevHandOver, ""},
		{talkTalking, tevHandOver, ""},
		{talkConsulting, tevLeave, ""},
		{talkConference, tevLeave, ""},
		{talkTalking, tevConsultEnd, ""},
		{talkConsulting, tevConsultFail, ""},
		{talkConsulting, tevConsultAnswer, ""},
	}
	checkMachine(t, cases, nextTalk, talkTransitions)
}

// TestTalkMachineWhoIsHeld: who is on hold music follows from the state
// alone (the flags it replaced).
func TestTalkMachineWhoIsHeld(t *testing.T) {
	for _, c := range []struct {
		s                                     talkState
		consulting, answered, custHeld, cHeld bool
	}{
		{talkIdle, false, false, false, false},
		{talkTalking, false, false, false, false},
		{talkHeld, false, false, true, false},
		{talkConsultRinging, true, false, true, false},
		{talkConsultRingingBack, true, false, false, false},
		{talkConsulting, true, true, true, false},
		{talkConsultOnHold, true, true, false, true},
		{talkConference, true, true, false, false},
	} {
		if c.s.consulting() != c.consulting || c.s.consultAnswered() != c.answered ||
			c.s.customerHeld() != c.custHeld || c.s.consultHeld() != c.cHeld {
			t.Errorf("%s: consulting %v answered %v customer held %v consulted held %v", c.s,
				c.s.consulting(), c.s.consultAnswered(), c.s.customerHeld(), c.s.consultHeld())
		}
	}
}

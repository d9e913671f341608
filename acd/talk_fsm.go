package acd

// The talk machine: who talks with whom once an agent (or an outside
// number) has the customer — hold, consult and conference. The call's actor
// asks it before every PBX command that moves a party in or out of the
// call's bridge, and records the interaction's talk state (held, consulting,
// conferenced) in Redis when it changes. It replaces the actor's former
// customerHeld, conference, consult.answered and consult.held flags: a
// consult is active exactly while the state says so (talkState.consulting),
// and who is on hold follows from the state.
type talkState string

const (
	// talkIdle: nobody talks with the customer here: before an agent
	// answers, or between agents during a blind transfer (the customer
	// waits on music, out of the bridge).
	talkIdle talkState = "idle"
	// talkTalking: the customer is bridged with the agent.
	talkTalking talkState = "talking"
	// talkHeld: the customer is on hold, no consult.
	talkHeld talkState = "held"
	// talkConsultRinging: the customer is on hold and the consulted party
	// is being rung (or, for a consult to a queue, waits for an agent).
	talkConsultRinging talkState = "consult_ringing"
	// talkConsultRingingBack: the agent took the customer back while the
	// consulted party still rings.
	talkConsultRingingBack talkState = "consult_ringing_back"
	// talkConsulting: the agent talks with the consulted party, the
	// customer on hold.
	talkConsulting talkState = "consulting"
	// talkConsultOnHold: the agent talks with the customer again, the
	// consulted party on hold.
	talkConsultOnHold talkState = "consult_on_hold"
	// talkConference: customer, agent and consulted party together.
	talkConference talkState = "conference"
)

// talkEvent is what moves the talk machine.
type talkEvent string

const (
	tevJoin    talkEvent = "join"   // the customer was bridged with whoever answered
	tevLeave   talkEvent = "leave"  // the agent left (blind transfer, refused answer)
	tevHold    talkEvent = "hold"   // the agent put the customer on hold
	tevResume  talkEvent = "resume" // take the customer back (during a consult: switch parties)
	tevConsult talkEvent = "consult"
	// tevConsultAnswer: the consulted party answered.
	tevConsultAnswer talkEvent = "consult_answer"
	// tevConsultFail: an agent or number consulted did not answer; the
	// consult is over.
	tevConsultFail talkEvent = "consult_fail"
	// tevConsultRequeue: the agent a consult to a queue rang did not
	// answer; the consult waits in that queue again.
	tevConsultRequeue talkEvent = "consult_requeue"
	tevConsultEnd     talkEvent = "consult_end"
	tevConference     talkEvent = "conference"
	// tevHandOver: the consulted party takes the customer (a consult
	// transfer, or the agent left a conference or hung up during a consult).
	tevHandOver talkEvent = "hand_over"
)

// talkTransitions is the whole talk machine: event → from-state → to-state.
var talkTransitions = map[talkEvent]map[talkState]talkState{
	tevJoin:  {talkIdle: talkTalking},
	tevLeave: {talkIdle: talkIdle, talkTalking: talkIdle, talkHeld: talkIdle},
	tevHold:  {talkTalking: talkHeld},
	tevResume: {
		talkHeld:           talkTalking,
		talkConsultRinging: talkConsultRingingBack,
		talkConsulting:     talkConsultOnHold,
		talkConsultOnHold:  talkConsulting,
	},
	tevConsult:        {talkTalking: talkConsultRinging, talkHeld: talkConsultRinging},
	tevConsultAnswer:  {talkConsultRinging: talkConsulting, talkConsultRingingBack: talkConsultOnHold},
	tevConsultFail:    {talkConsultRinging: talkHeld, talkConsultRingingBack: talkTalking},
	tevConsultRequeue: {talkConsultRinging: talkConsultRinging, talkConsultRingingBack: talkConsultRingingBack},
	// The customer stays as they were: on hold until the agent resumes.
	tevConsultEnd: {
		talkConsultRinging:     talkHeld,
		talkConsultRingingBack: talkTalking,
		talkConsulting:         talkHeld,
		talkConsultOnHold:      talkTalking,
		talkConference:         talkTalking,
	},
	tevConference: {talkConsulting: talkConference, talkConsultOnHold: talkConference},
	tevHandOver:   {talkConsulting: talkTalking, talkConsultOnHold: talkTalking, talkConference: talkTalking},
}

// nextTalk applies ev to the talk machine in state from.
func nextTalk(from talkState, ev talkEvent) (talkState, error) {
	return step("talk", talkTransitions, from, ev)
}

// consulting: a consulted party is part of the call (ringing, answered or
// in conference).
func (s talkState) consulting() bool {
	switch s {
	case talkConsultRinging, talkConsultRingingBack, talkConsulting, talkConsultOnHold, talkConference:
		return true
	}
	return false
}

// consultAnswered: the consulted party answered.
func (s talkState) consultAnswered() bool {
	return s == talkConsulting || s == talkConsultOnHold || s == talkConference
}

// customerHeld: the customer is out of the bridge, on hold music.
func (s talkState) customerHeld() bool {
	return s == talkHeld || s == talkConsultRinging || s == talkConsulting
}

// consultHeld: the consulted party answered and is on hold music.
func (s talkState) consultHeld() bool { return s == talkConsultOnHold }

// recorded is the interaction's talk state as Redis and the history keep
// it (interaction_fsm.go: TalkTalking … TalkConferenced); "" while nobody
// talks with the customer here.
func (s talkState) recorded() string {
	switch s {
	case talkIdle:
		return ""
	case talkTalking:
		return TalkTalking
	case talkHeld:
		return TalkHeld
	case talkConference:
		return TalkConferenced
	}
	return TalkConsulting
}

package acd

import "fmt"

// Interaction states. The scripts in scripts/ move an interaction between
// them atomically; this table is the map a reader scans, and tests check
// every transition recorded in the event stream against it.
const (
	StateArrived   = "arrived"   // Tandem has the call; no queue yet
	StateQueued    = "queued"    // waiting in a queue (again, after a RONA)
	StateOffered   = "offered"   // bound to one agent, whose phone rings
	StateConnected = "connected" // caller and agent bridged
	StateEnded     = "ended"     // a connected call finished
	StateAbandoned = "abandoned" // the caller hung up before an agent answered
	StateFailed    = "failed"    // Tandem could not serve the call
	// StateCallback: the caller left the queue to give a callback number
	// (start callback); register ends the call, cancel puts it back in
	// its place.
	StateCallback = "callback"
)

// interactionTransitions lists every legal from → to, with the script that
// performs it.
var interactionTransitions = map[string]map[string]string{
	"": {StateArrived: "arrive"},
	StateArrived: {StateQueued: "enqueue", StateAbandoned: "finish", StateFailed: "finish",
		StateEnded: "finish (self-service in the IVR, or a treatment before queueing)", StateCallback: "callback_start"},
	StateQueued: {StateOffered: "enqueue/set_state/finish/no_answer/sweep (routing)", StateAbandoned: "finish", StateFailed: "finish",
		StateQueued: "move_queue (overflow)", StateEnded: "finish (a treatment that played its message)", StateCallback: "callback_start"},
	StateCallback: {StateQueued: "callback_cancel", StateEnded: "finish (callback registered)",
		StateAbandoned: "finish (hung up before registering)", StateFailed: "finish"},
	StateOffered: {StateConnected: "connect", StateQueued: "no_answer (RONA)", StateAbandoned: "finish", StateFailed: "finish",
		StateEnded: "finish (a callback cancelled while its agent's phone rang)"},
	StateConnected: {StateEnded: "finish", StateQueued: "transfer_queue", StateOffered: "transfer_agent",
		StateConnected: "hand_over (consult transfer, agent leaves a conference)"},
}

// Talk states: where a connected interaction is (ARCHITECTURE §4's held,
// consulting and conferenced). They are kept in the interaction's
// talk_state field, not in state: state stays StateConnected, so every
// script and reader that serves a connected call is unchanged. talk.lua
// moves them (one script per change) and appends each move to the history
// as kind "talk"; connect.lua and hand_over.lua start them over at
// TalkTalking, and leaving StateConnected deletes the field.
const (
	TalkTalking     = "talking"     // the customer talks with the agent (or an outside party)
	TalkHeld        = "held"        // the customer is on hold, no consult
	TalkConsulting  = "consulting"  // a consulted party rings, talks, or waits on hold
	TalkConferenced = "conferenced" // customer, agent and consulted party together
)

// talkStateTransitions lists every legal talk-state move, with the call's
// talk-machine event that makes it (talk_fsm.go has the actor's finer
// machine; its states map onto these four).
var talkStateTransitions = map[string]map[string]string{
	TalkTalking:     {TalkHeld: "hold", TalkConsulting: "consult"},
	TalkHeld:        {TalkTalking: "resume", TalkConsulting: "consult"},
	TalkConsulting:  {TalkHeld: "consult_end, consult_fail", TalkTalking: "consult_end, consult_fail (customer taken back)", TalkConferenced: "conference"},
	TalkConferenced: {TalkTalking: "consult_end (the consulted party left)"},
}

// CheckTalkTransition returns ErrIllegalTransition unless the talk-state
// move from → to is in the table.
func CheckTalkTransition(from, to string) error {
	if _, ok := talkStateTransitions[from][to]; !ok {
		return fmt.Errorf("talk %q → %q: %w", from, to, ErrIllegalTransition)
	}
	return nil
}

// CheckInteractionTransition returns ErrIllegalTransition unless from → to
// is in the table.
func CheckInteractionTransition(from, to string) error {
	if _, ok := interactionTransitions[from][to]; !ok {
		return fmt.Errorf("interaction %q → %q: %w", from, to, ErrIllegalTransition)
	}
	return nil
}

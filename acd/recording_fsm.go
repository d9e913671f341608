package acd

// The recording machine: the call's recording as the actor runs it. It
// replaces the former recording's paused and privacy flags; the actor asks
// it before every PBX recording command and keeps the recording's name,
// pauses and privacy-shield timer (call.rec) only while it is not off.
type recState string

const (
	recOff    recState = "off"       // not recording (not configured, not started yet, or stopped)
	recOn     recState = "recording" // the call's bridge is being recorded
	recPaused recState = "paused"    // paused by the agent until they resume
	// recShielded: paused for privacy (a card number being read); resumes
	// by itself once the privacy shield time has passed.
	recShielded recState = "privacy_shield"
)

// recEvent is what moves the recording machine.
type recEvent string

const (
	revStart  recEvent = "start"  // an agent has the customer and the queue records
	revPause  recEvent = "pause"  // the agent pauses
	revShield recEvent = "shield" // the agent pauses for privacy
	revResume recEvent = "resume" // the agent resumes
	// revAutoResume: the privacy shield time passed.
	revAutoResume recEvent = "auto_resume"
	// revStop: the agent left (transfer, end of the call).
	revStop recEvent = "stop"
)

// recTransitions is the whole recording machine: event → from-state → to-state.
var recTransitions = map[recEvent]map[recState]recState{
	revStart:      {recOff: recOn},
	revPause:      {recOn: recPaused},
	revShield:     {recOn: recShielded},
	revResume:     {recPaused: recOn, recShielded: recOn},
	revAutoResume: {recShielded: recOn},
	revStop:       {recOn: recOff, recPaused: recOff, recShielded: recOff},
}

// nextRec applies ev to the recording machine in state from.
func nextRec(from recState, ev recEvent) (recState, error) {
	return step("recording", recTransitions, from, ev)
}

// paused: the recording is paused, by the agent or for privacy.
func (s recState) paused() bool { return s == recPaused || s == recShielded }

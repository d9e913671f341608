package agents

import (
	"fmt"

	"github.com/tandem-cc/tandem/errs"
)

// State is where an agent is in its working day.
type State string

const (
	LoggedOut State = "logged_out"
	Idle      State = "idle"      // logged in, not taking calls (reason code)
	Available State = "available" // waiting for a call; ordered by idle time
	Reserved  State = "reserved"  // chosen for a call, phone not ringing yet
	Ringing   State = "ringing"
	Connected State = "connected"
	// WrapUp is after-call work: the call is over, the agent finishes its
	// notes and gives a reason code (or the wrap-up time runs out).
	WrapUp State = "wrapup"
	// RONA: redirected on no answer. The agent left Available because a call
	// rang out; only the agent (or a supervisor) makes them available again.
	RONA State = "rona"
)

// Event is what moves an agent between states.
type Event string

const (
	EvLogin     Event = "login"
	EvAvailable Event = "available"
	EvIdle      Event = "idle"
	EvLogout    Event = "logout"
	EvReserve   Event = "reserve" // the routing script picked the agent
	EvRing      Event = "ring"    // the agent's phone is ringing
	EvConnect   Event = "connect" // the agent answered
	EvNoAnswer  Event = "no_answer"
	EvRelease   Event = "release" // the call ended or was withdrawn
	// EvPick: a named agent is picked for a consult (available or idle) or
	// a blind transfer (available).
	EvPick     Event = "pick"
	EvWrapUp   Event = "wrapup"      // a reason code given, or the wrap-up time ran out
	EvWrapIdle Event = "wrapup_idle" // ditto, and the agent asked for idle during the call
	// EvReleaseNoWrapUp: a call ended and no wrap-up time is configured.
	EvReleaseNoWrapUp Event = "release_no_wrapup"
)

// transitions is the whole agent state machine: event → from-state → to-state.
// The Redis scripts enforce it atomically: Go passes them the allowed
// from-states of an event (From), so the table lives in one place.
var transitions = map[Event]map[State]State{
	EvLogin:     {LoggedOut: Idle},
	EvAvailable: {Idle: Available, RONA: Available},
	EvIdle:      {Available: Idle, Idle: Idle, RONA: Idle},
	EvLogout:    {Idle: LoggedOut, Available: LoggedOut, RONA: LoggedOut},
	EvReserve:   {Available: Reserved},
	EvRing:      {Reserved: Ringing},
	EvConnect:   {Reserved: Connected, Ringing: Connected},
	EvNoAnswer:  {Reserved: RONA, Ringing: RONA},
	EvRelease:   {Reserved: Available, Ringing: Available, Connected: WrapUp},
	// With no wrap-up time configured, a call's end frees the agent at once.
	EvReleaseNoWrapUp: {Connected: Available},
	EvPick:            {Available: Reserved, Idle: Reserved},
	EvWrapUp:          {WrapUp: Available},
	EvWrapIdle:        {WrapUp: Idle, Reserved: Idle, Ringing: Idle},
}

// Next applies ev to an agent in state from.
func Next(from State, ev Event) (State, error) {
	to, ok := transitions[ev][from]
	if !ok {
		return "", fmt.Errorf("agent %s on %s: %w", from, ev, errs.ErrIllegalTransition)
	}
	return to, nil
}

// From lists the states in which ev is legal, and the state each leads to,
// as the flat list the Lua scripts take: from1, to1, from2, to2, ...
func From(ev Event) []string {
	var out []string
	for from, to := range transitions[ev] {
		out = append(out, string(from), string(to))
	}
	return out
}

// CheckTransition returns errs.ErrIllegalTransition unless some event moves an
// agent from → to (used to audit recorded histories).
func CheckTransition(from, to State) error {
	for _, m := range transitions {
		if m[from] == to {
			return nil
		}
	}
	return fmt.Errorf("agent %s → %s: %w", from, to, errs.ErrIllegalTransition)
}

package acd

// The callback attempt machine: a claimed callback's attempt as the actor
// serving it sees it, from the claim (the lease is this replica's) to the
// moment its outcome is recorded or the callback leaves this replica. It
// replaces the former cbCall flags accept and completed and the pending
// outcome's "" test: the lease ticks run while the attempt is held,
// accepting or pending, and the actor outlives its call while one is
// pending. Where the dial itself is (agent up, customer ringing, answered)
// is the route machine's (route_fsm.go).
type attemptState string

const (
	// attemptHeld: the lease is this replica's and no outcome is chosen.
	attemptHeld attemptState = "held"
	// attemptAccepting: the agent heard the caller's message and the
	// queue wants them to accept before the customer is dialled.
	attemptAccepting attemptState = "accepting"
	// attemptPending: an outcome is chosen but Redis has not recorded it;
	// every lease tick tries again (call.cb.pending holds it).
	attemptPending attemptState = "pending"
	// attemptSettled: the outcome is recorded, or the callback was
	// released or taken by another replica: the lease is gone.
	attemptSettled attemptState = "settled"
)

// attemptEvent is what moves the callback attempt machine.
type attemptEvent string

const (
	aevWaitAccept attemptEvent = "wait_accept" // the agent must accept first
	aevDial       attemptEvent = "dial"        // the customer is dialled (accepted, or no acceptance needed)
	// aevNotRecorded: Redis did not record the outcome; it is kept.
	aevNotRecorded attemptEvent = "not_recorded"
	// aevSettle: the outcome recorded, the callback released, or the lease
	// lost. A second one (an agent's hang-up after the outcome) changes
	// nothing.
	aevSettle attemptEvent = "settle"
)

// attemptTransitions is the whole callback attempt machine: event →
// from-state → to-state.
var attemptTransitions = map[attemptEvent]map[attemptState]attemptState{
	aevWaitAccept:  {attemptHeld: attemptAccepting},
	aevDial:        {attemptHeld: attemptHeld, attemptAccepting: attemptHeld},
	aevNotRecorded: {attemptHeld: attemptPending, attemptAccepting: attemptPending, attemptPending: attemptPending},
	aevSettle: {
		attemptHeld: attemptSettled, attemptAccepting: attemptSettled, attemptPending: attemptSettled,
		attemptSettled: attemptSettled,
	},
}

// nextAttempt applies ev to the callback attempt machine in state from.
func nextAttempt(from attemptState, ev attemptEvent) (attemptState, error) {
	return step("callback attempt", attemptTransitions, from, ev)
}

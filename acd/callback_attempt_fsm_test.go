package acd

import (
	"testing"
)

func TestCallbackAttemptMachineTransitions(t *testing.T) {
	cases := []transitionCase[attemptState, attemptEvent]{
		// Every legal transition.
		{attemptHeld, aevWaitAccept, attemptAccepting},
		{attemptHeld, aevDial, attemptHeld},
		{attemptAccepting, aevDial, attemptHeld},
		{attemptHeld, aevNotRecorded, attemptPending},
		{attemptAccepting, aevNotRecorded, attemptPending},
		{attemptPending, aevNotRecorded, attemptPending},
		{attemptHeld, aevSettle, attemptSettled},
		{attemptAccepting, aevSettle, attemptSettled},
		{attemptPending, aevSettle, attemptSettled},
		{attemptSettled, aevSettle, attemptSettled},
		// A sample of illegal ones.
		{attemptAccepting, aevWaitAccept, ""},
		{attemptPending, aevWaitAccept, ""},
		{attemptSettled, aevWaitAccept, ""},
		{attemptPending, aevDial, ""}, // an outcome is chosen: no new dial
		{attemptSettled, aevDial, ""}, // the lease is gone
		{attemptSettled, aevNotRecorded, ""},
	}
	checkMachine(t, cases, nextAttempt, attemptTransitions)
}

package acd

import (
	"errors"
	"testing"

	"github.com/tandem-cc/tandem/errs"
)

func TestCallbackAttemptMachineTransitions(t *testing.T) {
	cases := []struct {
		from attemptState
		ev   attemptEvent
		to   attemptState // "" = illegal
	}{
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
	legal := 0
	for _, c := range cases {
		got, err := nextAttempt(c.from, c.ev)
		if c.to == "" {
			if !errors.Is(err, errs.ErrIllegalTransition) {
				t.Errorf("%s on %s: got %s, %v; want illegal", c.from, c.ev, got, err)
			}
			continue
		}
		legal++
		if err != nil || got != c.to {
			t.Errorf("%s on %s: got %s, %v; want %s", c.from, c.ev, got, err, c.to)
		}
	}
	table := 0
	for _, m := range attemptTransitions {
		table += len(m)
	}
	if legal != table {
		t.Errorf("%d legal cases, the table has %d transitions", legal, table)
	}
}

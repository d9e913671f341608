package callbacks

import (
	"errors"
	"strings"
	"testing"
)

func TestTransitionTable(t *testing.T) {
	cases := []struct {
		from State
		ev   Event
		to   State
		ok   bool
	}{
		{StatePending, EventClaim, StateDialing, true},
		{StatePending, EventCancel, StateCancelled, true},
		{StatePending, EventExpire, StateExpired, true},
		{StateDialing, EventAnswered, StateDone, true},
		{StateDialing, EventRetry, StatePending, true},
		{StateDialing, EventExhausted, StateFailed, true},
		{StateDialing, EventLeaseExpired, StatePending, true},
		{StateDialing, EventCancel, StateCancelled, true}, // guarded by cancel.lua: no dial started
		{StateDone, EventCancel, StateDone, false},
		{StatePending, EventAnswered, StatePending, false},
		{StateFailed, EventClaim, StateFailed, false},
	}
	for _, c := range cases {
		to, err := Transition(c.from, c.ev)
		if to != c.to || (err == nil) != c.ok {
			t.Errorf("%s + %s = %s, %v; want %s ok=%v", c.from, c.ev, to, err, c.to, c.ok)
		}
		if !c.ok && (!errors.Is(err, ErrIllegalTransition) || !strings.Contains(err.Error(), string(c.from))) {
			t.Errorf("%s + %s: error %v should wrap ErrIllegalTransition and name the state", c.from, c.ev, err)
		}
	}
	for from, evs := range transitions {
		if from.Terminal() {
			t.Errorf("terminal state %s has transitions", from)
		}
		for _, to := range evs {
			if _, ok := transitions[to]; !ok && !to.Terminal() {
				t.Errorf("state %s is neither terminal nor has transitions", to)
			}
		}
	}
}

func TestStatusTellsQueuedFromDialing(t *testing.T) {
	for _, c := range []struct {
		cb   Callback
		want string
	}{
		{Callback{State: StatePending}, "pending"},
		{Callback{State: StateDialing}, "queued"},
		{Callback{State: StateDialing, DialStarted: 1}, "dialing"},
		{Callback{State: StateDone, DialStarted: 0}, "done"},
	} {
		if got := c.cb.Status(); got != c.want {
			t.Errorf("%s started %d: %q, want %q", c.cb.State, c.cb.DialStarted, got, c.want)
		}
	}
}

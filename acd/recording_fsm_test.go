package acd

import (
	"errors"
	"testing"

	"github.com/tandem-cc/tandem/errs"
)

func TestRecordingMachineTransitions(t *testing.T) {
	cases := []struct {
		from recState
		ev   recEvent
		to   recState // "" = illegal
	}{
		// Every legal transition.
		{recOff, revStart, recOn},
		{recOn, revPause, recPaused},
		{recOn, revShield, recShielded},
		{recPaused, revResume, recOn},
		{recShielded, revResume, recOn},
		{recShielded, revAutoResume, recOn},
		{recOn, revStop, recOff},
		{recPaused, revStop, recOff},
		{recShielded, revStop, recOff},
		// A sample of illegal ones.
		{recOn, revStart, ""},
		{recPaused, revStart, ""},
		{recOff, revPause, ""},
		{recPaused, revPause, ""},
		{recShielded, revShield, ""},
		{recPaused, revShield, ""},
		{recOn, revResume, ""},
		{recOff, revResume, ""},
		{recPaused, revAutoResume, ""}, // an agent's pause never ends by itself
		{recOn, revAutoResume, ""},
		{recOff, revStop, ""},
	}
	legal := 0
	for _, c := range cases {
		got, err := nextRec(c.from, c.ev)
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
	for _, m := range recTransitions {
		table += len(m)
	}
	if legal != table {
		t.Errorf("%d legal cases, the table has %d transitions", legal, table)
	}
	for s, want := range map[recState]bool{recOff: false, recOn: false, recPaused: true, recShielded: true} {
		if s.paused() != want {
			t.Errorf("%s paused: %v", s, s.paused())
		}
	}
}

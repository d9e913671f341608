package acd

import (
	"testing"
)

func TestRecordingMachineTransitions(t *testing.T) {
	cases := []transitionCase[recState, recEvent]{
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
	checkMachine(t, cases, nextRec, recTransitions)
	for s, want := range map[recState]bool{recOff: false, recOn: false, recPaused: true, recShielded: true} {
		if s.paused() != want {
			t.Errorf("%s paused: %v", s, s.paused())
		}
	}
}

package agents

import (
	"errors"
	"testing"

	"github.com/tandem-cc/tandem/errs"
)

func TestAgentTransitions(t *testing.T) {
	cases := []struct {
		from State
		ev   Event
		to   State // "" = illegal
	}{
		{LoggedOut, EvLogin, Idle},
		{Idle, EvAvailable, Available},
		{Available, EvIdle, Idle},
		{Idle, EvIdle, Idle}, // change of reason code
		{RONA, EvAvailable, Available},
		{RONA, EvIdle, Idle},
		{Available, EvReserve, Reserved},
		{Reserved, EvRing, Ringing},
		{Ringing, EvConnect, Connected},
		{Ringing, EvNoAnswer, RONA},
		{Connected, EvRelease, WrapUp},
		{WrapUp, EvWrapUp, Available},
		{WrapUp, EvWrapIdle, Idle},
		{Idle, EvPick, Reserved},
		{WrapUp, EvLogout, ""},
		{WrapUp, EvAvailable, ""},
		{Ringing, EvRelease, Available},
		{Available, EvLogout, LoggedOut},
		{Available, EvAvailable, ""},
		{Ringing, EvLogout, ""},
		{Reserved, EvLogout, ""},
		{Connected, EvLogout, ""},
		{Connected, EvIdle, ""},
		{LoggedOut, EvAvailable, ""},
		{Idle, EvLogin, ""},
		{RONA, EvReserve, ""},
	}
	for _, c := range cases {
		got, err := Next(c.from, c.ev)
		if c.to == "" {
			if !errors.Is(err, errs.ErrIllegalTransition) {
				t.Errorf("%s on %s: got %s, %v; want illegal", c.from, c.ev, got, err)
			}
			continue
		}
		if err != nil || got != c.to {
			t.Errorf("%s on %s: got %s, %v; want %s", c.from, c.ev, got, err, c.to)
		}
	}
}

func TestFromListsPairsTheScriptsEnforce(t *testing.T) {
	pairs := From(EvAvailable)
	if len(pairs) != 4 {
		t.Fatalf("pairs %v", pairs)
	}
	for i := 0; i < len(pairs); i += 2 {
		if to, err := Next(State(pairs[i]), EvAvailable); err != nil || string(to) != pairs[i+1] {
			t.Fatalf("pair %s→%s disagrees with Next", pairs[i], pairs[i+1])
		}
	}
}

func TestCheckTransition(t *testing.T) {
	if err := CheckTransition(Connected, WrapUp); err != nil {
		t.Fatal(err)
	}
	if err := CheckTransition(LoggedOut, Connected); !errors.Is(err, errs.ErrIllegalTransition) {
		t.Fatal("logged out → connected accepted")
	}
}

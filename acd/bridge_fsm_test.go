package acd

import (
	"errors"
	"testing"

	"github.com/tandem-cc/tandem/errs"
)

func TestBridgeMachineTransitions(t *testing.T) {
	cases := []struct {
		from bridgeState
		ev   bridgeEvent
		to   bridgeState // "" = illegal
	}{
		// Every legal transition.
		{bridgeNone, brCreate, bridgeUp},
		{bridgeNone, brDestroy, bridgeDestroyed},
		{bridgeUp, brDestroy, bridgeDestroyed},
		{bridgeDestroyed, brDestroy, bridgeDestroyed},
		// A sample of illegal ones.
		{bridgeUp, brCreate, ""},        // one bridge per call; hand-overs reuse it
		{bridgeDestroyed, brCreate, ""}, // the call is over
	}
	legal := 0
	for _, c := range cases {
		got, err := nextBridge(c.from, c.ev)
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
	for _, m := range bridgeTransitions {
		table += len(m)
	}
	if legal != table {
		t.Errorf("%d legal cases, the table has %d transitions", legal, table)
	}
}

func TestCounterpartMachineTransitions(t *testing.T) {
	cases := []struct {
		from counterpart
		ev   counterpartEvent
		to   counterpart // "" = illegal
	}{
		// Every legal transition.
		{counterpartNone, cpAgent, counterpartAgent},
		{counterpartAgent, cpAgent, counterpartAgent},
		{counterpartNone, cpOutside, counterpartOutside},
		{counterpartAgent, cpOutside, counterpartOutside},
		// A sample of illegal ones: nobody is left to hand an outside
		// number's call on.
		{counterpartOutside, cpAgent, ""},
		{counterpartOutside, cpOutside, ""},
	}
	legal := 0
	for _, c := range cases {
		got, err := nextCounterpart(c.from, c.ev)
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
	for _, m := range counterpartTransitions {
		table += len(m)
	}
	if legal != table {
		t.Errorf("%d legal cases, the table has %d transitions", legal, table)
	}
}

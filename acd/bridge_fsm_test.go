package acd

import (
	"testing"
)

func TestBridgeMachineTransitions(t *testing.T) {
	cases := []transitionCase[bridgeState, bridgeEvent]{
		// Every legal transition.
		{bridgeNone, brAsk, bridgeAsked},
		{bridgeNone, brCreate, bridgeUp},
		{bridgeAsked, brCreate, bridgeUp},
		{bridgeNone, brDestroy, bridgeDestroyed},
		{bridgeAsked, brDestroy, bridgeDestroyed},
		{bridgeUp, brDestroy, bridgeDestroyed},
		{bridgeDestroyed, brDestroy, bridgeDestroyed},
		// A sample of illegal ones.
		{bridgeUp, brCreate, ""},        // one bridge per call; hand-overs reuse it
		{bridgeDestroyed, brCreate, ""}, // the call is over
		{bridgeAsked, brAsk, ""},        // asked once: the call fails if it was refused
		{bridgeUp, brAsk, ""},
		{bridgeDestroyed, brAsk, ""},
	}
	checkMachine(t, cases, nextBridge, bridgeTransitions)
}

func TestCounterpartMachineTransitions(t *testing.T) {
	cases := []transitionCase[counterpart, counterpartEvent]{
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
	checkMachine(t, cases, nextCounterpart, counterpartTransitions)
}

package acd

import (
	"testing"
)

func TestOutcomeMachineTransitions(t *testing.T) {
	cases := []transitionCase[outcomeState, outcomeEvent]{
		// Every legal transition.
		{outcomeOpen, ocBlindTransfer, outcomeBlindOffer},
		{outcomeBlindOffer, ocBlindTransfer, outcomeBlindOffer},
		{outcomeOpen, ocOfferEnd, outcomeOpen},
		{outcomeBlindOffer, ocOfferEnd, outcomeOpen},
		{outcomeOpen, ocSelfService, outcomeSelfService},
		{outcomeOpen, ocRegister, outcomeRegistered},
		{outcomeBlindOffer, ocRegister, outcomeRegistered},
		{outcomeOpen, ocWithdraw, outcomeWithdrawn},
		{outcomeBlindOffer, ocWithdraw, outcomeWithdrawn},
		{outcomeWithdrawn, ocWithdraw, outcomeWithdrawn},
		{outcomeOpen, ocFinish, outcomeFinished},
		{outcomeBlindOffer, ocFinish, outcomeFinished},
		{outcomeSelfService, ocFinish, outcomeFinished},
		{outcomeRegistered, ocFinish, outcomeFinished},
		{outcomeWithdrawn, ocFinish, outcomeFinished},
		{outcomeFinished, ocFinish, outcomeFinished},
		// A sample of illegal ones.
		{outcomeFinished, ocBlindTransfer, ""}, // nothing moves a finished call
		{outcomeFinished, ocOfferEnd, ""},
		{outcomeFinished, ocRegister, ""},
		{outcomeFinished, ocWithdraw, ""},
		{outcomeSelfService, ocBlindTransfer, ""}, // no agent to transfer it
		{outcomeRegistered, ocBlindTransfer, ""},
		{outcomeRegistered, ocRegister, ""}, // one registration per call
		{outcomeSelfService, ocRegister, ""},
		{outcomeBlindOffer, ocSelfService, ""}, // the IVR is behind a transferred call
		{outcomeRegistered, ocOfferEnd, ""},
		{outcomeSelfService, ocWithdraw, ""},
	}
	checkMachine(t, cases, nextOutcome, outcomeTransitions)
}

// TestOutcomeServed: only a caller served without an agent ends as
// completed; an ordinary or blind-transfer end is a hang-up, and a
// finished call is not asked.
func TestOutcomeServed(t *testing.T) {
	for s, want := range map[outcomeState]bool{
		outcomeOpen: false, outcomeBlindOffer: false, outcomeSelfService: true,
		outcomeRegistered: true, outcomeWithdrawn: true, outcomeFinished: false,
	} {
		if got := s.served(); got != want {
			t.Errorf("%s served = %v, want %v", s, got, want)
		}
	}
}

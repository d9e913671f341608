package acd

// The outcome machine: how the call will end, and whether it has ended in
// Redis. Until finish runs, it says what an end means: an ordinary
// hang-up, a blind transfer's offer whose no-answer ends the call (unless
// the engine requeues it), or a caller already served — by the IVR (sent
// to an outside number), by a registered callback, or a claimed callback
// withdrawn by its cancellation — whose end is recorded as completed, not
// abandoned. Once finish has run (the interaction is over in Redis), it is
// finished and nothing moves it back: a second finish is not tried. It
// replaces the actor's former flags finished, blindTransfer, selfService,
// registered and the callback's withdrawn.
type outcomeState string

const (
	outcomeOpen outcomeState = "open" // an end now is an ordinary hang-up
	// outcomeBlindOffer: the offer the call waits for (or rings) comes from
	// a blind transfer to a named agent.
	outcomeBlindOffer  outcomeState = "blind_offer"
	outcomeSelfService outcomeState = "self_service" // the IVR sent the caller to an outside number
	outcomeRegistered  outcomeState = "registered"   // the caller registered a callback
	// outcomeWithdrawn: a claimed callback cancelled while it waited for
	// an agent.
	outcomeWithdrawn outcomeState = "withdrawn"
	outcomeFinished  outcomeState = "finished" // finish ran: the interaction is over in Redis
)

// served reports whether the call's end is recorded as completed (the
// caller was served without an agent) rather than as a hang-up.
func (s outcomeState) served() bool {
	return s == outcomeSelfService || s == outcomeRegistered || s == outcomeWithdrawn
}

// outcomeEvent is what moves the outcome machine.
type outcomeEvent string

const (
	ocBlindTransfer outcomeEvent = "blind_transfer" // an agent transferred the call blind to an agent
	// ocOfferEnd: the offer rung was answered, or not (RONA): whatever
	// its origin, the next one is ordinary.
	ocOfferEnd    outcomeEvent = "offer_end"
	ocSelfService outcomeEvent = "self_service" // the IVR dials an outside number for the caller
	ocRegister    outcomeEvent = "register"     // the caller registered a callback
	ocWithdraw    outcomeEvent = "withdraw"     // a claimed callback was cancelled while waiting
	// ocFinish: finish ran, or Redis said the interaction was already
	// over.
	ocFinish outcomeEvent = "finish"
)

// outcomeTransitions is the whole outcome machine: event → from-state →
// to-state.
var outcomeTransitions = map[outcomeEvent]map[outcomeState]outcomeState{
	// A blind transfer's call may be blind-transferred again (a callback's
	// agent does not end the first offer).
	ocBlindTransfer: {outcomeOpen: outcomeBlindOffer, outcomeBlindOffer: outcomeBlindOffer},
	ocOfferEnd:      {outcomeOpen: outcomeOpen, outcomeBlindOffer: outcomeOpen},
	ocSelfService:   {outcomeOpen: outcomeSelfService},
	// A caller waiting for a blind transfer's offer may still register a
	// callback, and a callback transferred blind may be cancelled.
	ocRegister: {outcomeOpen: outcomeRegistered, outcomeBlindOffer: outcomeRegistered},
	ocWithdraw: {outcomeOpen: outcomeWithdrawn, outcomeBlindOffer: outcomeWithdrawn, outcomeWithdrawn: outcomeWithdrawn},
	ocFinish: {
		outcomeOpen: outcomeFinished, outcomeBlindOffer: outcomeFinished, outcomeSelfService: outcomeFinished,
		outcomeRegistered: outcomeFinished, outcomeWithdrawn: outcomeFinished,
		// fail does not ask first: Redis refusing a second finish leaves it finished.
		outcomeFinished: outcomeFinished,
	},
}

// nextOutcome applies ev to the outcome machine in state from.
func nextOutcome(from outcomeState, ev outcomeEvent) (outcomeState, error) {
	return step("outcome", outcomeTransitions, from, ev)
}

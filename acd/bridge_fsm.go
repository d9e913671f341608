package acd

// The bridge machine: the call's bridge on the PBX (its id is the
// connection id), which joins the customer with whoever has them. It is
// created once, when the customer is first bridged (an agent or an outside
// number answered, or a callback's customer answered), and destroyed once,
// when the call ends; later hand-overs (transfers, conferences) reuse it.
// It replaces the actor's former bridged flag.
//
// Whatever ends the call destroys the bridge if it may exist (up, or
// asked for): Asterisk keeps an ARI bridge until it is destroyed, empty
// or not, so a path that forgets it leaves it on the PBX for good.
type bridgeState string

const (
	bridgeNone bridgeState = "none" // not created yet
	// bridgeAsked: the create request went out and has not succeeded;
	// a request that failed may still have made the bridge (one that
	// timed out), so the call's end destroys it as if it were up.
	bridgeAsked     bridgeState = "asked"
	bridgeUp        bridgeState = "up"        // created; the customer's legs join it
	bridgeDestroyed bridgeState = "destroyed" // the call is over; never created again
)

// bridgeEvent is what moves the bridge machine.
type bridgeEvent string

const (
	brAsk    bridgeEvent = "ask"    // the create request is about to go out
	brCreate bridgeEvent = "create" // the bridge was created on the PBX
	// brDestroy: the bridge was destroyed, or the call ended without one
	// (ending a connected call destroys it whether or not it was made:
	// the PBX ignores an unknown bridge).
	brDestroy bridgeEvent = "destroy"
)

// bridgeTransitions is the whole bridge machine: event → from-state → to-state.
var bridgeTransitions = map[bridgeEvent]map[bridgeState]bridgeState{
	brAsk:    {bridgeNone: bridgeAsked},
	brCreate: {bridgeNone: bridgeUp, bridgeAsked: bridgeUp},
	brDestroy: {
		bridgeNone: bridgeDestroyed, bridgeAsked: bridgeDestroyed, bridgeUp: bridgeDestroyed, bridgeDestroyed: bridgeDestroyed,
	},
}

// nextBridge applies ev to the bridge machine in state from.
func nextBridge(from bridgeState, ev bridgeEvent) (bridgeState, error) {
	return step("bridge", bridgeTransitions, from, ev)
}

// The counterpart machine: who has the customer's other leg — rings for
// them or talks with them — an agent or an outside number (a transfer to
// a number, the IVR's dial-out, a consulted number that took the call).
// It decides what an answer, a failed ring and a hang-up of that leg mean
// (an outside number has no agent to free, to offer again or to count a
// RONA for). It replaces the actor's former outside flag. Nothing goes
// back from an outside number to an agent: nobody is left to transfer
// the call.
type counterpart string

const (
	counterpartNone    counterpart = "none"    // nobody rang for the customer yet
	counterpartAgent   counterpart = "agent"   // an agent (their phone, or a ring-all's phones)
	counterpartOutside counterpart = "outside" // an outside number
)

// counterpartEvent is what moves the counterpart machine.
type counterpartEvent string

const (
	// cpAgent: an agent is rung for the customer (an offer, a claimed
	// callback taken over) or takes them (a consult transfer, a
	// conference's owner leaving).
	cpAgent counterpartEvent = "agent"
	// cpOutside: an outside number is rung for the customer (a transfer
	// to a number, the IVR's dial-out) or takes them (a consulted number).
	cpOutside counterpartEvent = "outside"
)

// counterpartTransitions is the whole counterpart machine: event →
// from-state → to-state.
var counterpartTransitions = map[counterpartEvent]map[counterpart]counterpart{
	cpAgent:   {counterpartNone: counterpartAgent, counterpartAgent: counterpartAgent},
	cpOutside: {counterpartNone: counterpartOutside, counterpartAgent: counterpartOutside},
}

// nextCounterpart applies ev to the counterpart machine in state from.
func nextCounterpart(from counterpart, ev counterpartEvent) (counterpart, error) {
	return step("counterpart", counterpartTransitions, from, ev)
}

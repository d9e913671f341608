package acd

// The route machine: where a call is on its way to an agent, as this
// node's actor sees it — arriving, in the IVR, waiting in a queue, ringing
// an agent (back to the queue on RONA), connected — and the detours (the
// caller's callback dialog, a claimed callback's dial, a last message)
// until it is done. The authoritative state is the interaction in Redis;
// the route decides which PBX commands make sense for the next event. It
// replaces the actor's former phase enum: every move goes through
// routeTo, which refuses what the table does not list.
type routeState string

const (
	routeArriving routeState = "arriving" // answered, not yet in the IVR or a queue
	routeIVR      routeState = "ivr"
	routeQueued   routeState = "queued" // waiting for an offer (again after a RONA or a blind transfer)
	// routeRinging: an offered agent's phone (or several, ring-all), or an
	// outside number, rings for the customer.
	routeRinging   routeState = "ringing"
	routeConnected routeState = "connected" // the customer talks (talk_fsm.go says with whom)
	// routeCallbackDialog: a caller giving a callback number (start
	// callback, not yet registered or cancelled).
	routeCallbackDialog routeState = "callback_dialog"
	// routeCallbackAgent: a callback's agent answered; the customer is not
	// dialled yet.
	routeCallbackAgent routeState = "callback_agent"
	// routeCallbackDialing: a callback's customer is being dialled, the
	// agent waiting.
	routeCallbackDialing routeState = "callback_dialing"
	// routeEnding: a last message plays to the caller; its end ends the
	// call (a hang-up meanwhile only ends the message sooner).
	routeEnding routeState = "ending"
	routeDone   routeState = "done" // over here (a callback may still wait to record its outcome)
)

// routeEvent is what moves the route machine.
type routeEvent string

const (
	rtIVR     routeEvent = "ivr"     // an IVR node runs
	rtEnqueue routeEvent = "enqueue" // the call waits in a queue (or moves to another: overflow)
	rtRing    routeEvent = "ring"    // an offer rings an agent
	rtRONA    routeEvent = "rona"    // the ringing agent did not answer: back to the queue
	rtAnswer  routeEvent = "answer"  // whoever rang answered and was bridged
	// rtTransfer: a blind transfer to a queue or an agent; the call waits
	// for the offer.
	rtTransfer routeEvent = "transfer"
	// rtDialOut: the customer is sent to an outside number (a transfer, or
	// the IVR).
	rtDialOut        routeEvent = "dial_out"
	rtCallbackStart  routeEvent = "callback_start"
	rtCallbackCancel routeEvent = "callback_cancel"
	// rtCallbackAgent: the agent of a claimed callback answered.
	rtCallbackAgent routeEvent = "callback_agent"
	rtCallbackDial  routeEvent = "callback_dial" // the callback's customer is dialled
	// rtTakeOver: this replica takes over a dead one's callback whose
	// customer was being dialled.
	rtTakeOver       routeEvent = "take_over"
	rtCustomerAnswer routeEvent = "customer_answer" // the callback's customer answered
	rtLastMessage    routeEvent = "last_message"    // a message, then the end
	rtEnd            routeEvent = "end"             // the call is over here, from anywhere
)

// routeTransitions is the whole route machine: event → from-state → to-state.
var routeTransitions = map[routeEvent]map[routeState]routeState{
	rtIVR:      {routeArriving: routeIVR, routeIVR: routeIVR},
	rtEnqueue:  {routeArriving: routeQueued, routeIVR: routeQueued, routeQueued: routeQueued},
	rtRing:     {routeQueued: routeRinging},
	rtRONA:     {routeRinging: routeQueued},
	rtAnswer:   {routeRinging: routeConnected},
	rtTransfer: {routeConnected: routeQueued},
	rtDialOut:  {routeConnected: routeRinging, routeIVR: routeRinging},
	rtCallbackStart: {
		routeArriving: routeCallbackDialog, routeIVR: routeCallbackDialog, routeQueued: routeCallbackDialog,
	},
	rtCallbackCancel: {routeCallbackDialog: routeQueued},
	rtCallbackAgent:  {routeRinging: routeCallbackAgent},
	rtCallbackDial:   {routeCallbackAgent: routeCallbackDialing},
	rtTakeOver:       {routeArriving: routeCallbackDialing},
	rtCustomerAnswer: {routeCallbackDialing: routeConnected},
	rtLastMessage: {
		routeArriving: routeEnding, routeIVR: routeEnding, routeQueued: routeEnding, routeCallbackDialog: routeEnding,
	},
	rtEnd: {
		routeArriving: routeDone, routeIVR: routeDone, routeQueued: routeDone, routeRinging: routeDone,
		routeConnected: routeDone, routeCallbackDialog: routeDone, routeCallbackAgent: routeDone,
		routeCallbackDialing: routeDone, routeEnding: routeDone,
		// Every path that ends a call ends it here; a second one (a leg's
		// end after Tandem hung it up) changes nothing.
		routeDone: routeDone,
	},
}

// nextRoute applies ev to the route machine in state from.
func nextRoute(from routeState, ev routeEvent) (routeState, error) {
	return step("route", routeTransitions, from, ev)
}

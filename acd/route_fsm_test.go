package acd

import (
	"testing"
)

func TestRouteMachineTransitions(t *testing.T) {
	cases := []transitionCase[routeState, routeEvent]{
		// Every legal transition.
		{routeArriving, rtIVR, routeIVR},
		{routeIVR, rtIVR, routeIVR},
		{routeArriving, rtEnqueue, routeQueued},
		{routeIVR, rtEnqueue, routeQueued},
		{routeQueued, rtEnqueue, routeQueued},
		{routeQueued, rtRing, routeRinging},
		{routeRinging, rtRONA, routeQueued},
		{routeRinging, rtAnswer, routeConnected},
		{routeConnected, rtTransfer, routeQueued},
		{routeConnected, rtDialOut, routeRinging},
		{routeIVR, rtDialOut, routeRinging},
		{routeArriving, rtCallbackStart, routeCallbackDialog},
		{routeIVR, rtCallbackStart, routeCallbackDialog},
		{routeQueued, rtCallbackStart, routeCallbackDialog},
		{routeCallbackDialog, rtCallbackCancel, routeQueued},
		{routeRinging, rtCallbackAgent, routeCallbackAgent},
		{routeCallbackAgent, rtCallbackDial, routeCallbackDialing},
		{routeArriving, rtTakeOver, routeCallbackDialing},
		{routeCallbackDialing, rtCustomerAnswer, routeConnected},
		{routeArriving, rtLastMessage, routeEnding},
		{routeIVR, rtLastMessage, routeEnding},
		{routeQueued, rtLastMessage, routeEnding},
		{routeCallbackDialog, rtLastMessage, routeEnding},
		{routeArriving, rtEnd, routeDone},
		{routeIVR, rtEnd, routeDone},
		{routeQueued, rtEnd, routeDone},
		{routeRinging, rtEnd, routeDone},
		{routeConnected, rtEnd, routeDone},
		{routeCallbackDialog, rtEnd, routeDone},
		{routeCallbackAgent, rtEnd, routeDone},
		{routeCallbackDialing, rtEnd, routeDone},
		{routeEnding, rtEnd, routeDone},
		{routeDone, rtEnd, routeDone},
		// A sample of illegal ones.
		{routeDone, rtEnqueue, ""},
		{routeDone, rtRing, ""},
		{routeConnected, rtRing, ""},
		{routeRinging, rtRing, ""}, // one offer at a time
		{routeQueued, rtAnswer, ""},
		{routeQueued, rtRONA, ""},
		{routeConnected, rtEnqueue, ""},
		{routeRinging, rtTransfer, ""},
		{routeQueued, rtDialOut, ""},
		{routeConnected, rtCallbackStart, ""},
		{routeRinging, rtCallbackStart, ""},
		{routeQueued, rtCallbackCancel, ""},
		{routeConnected, rtCallbackAgent, ""},
		{routeRinging, rtCallbackDial, ""},
		{routeQueued, rtTakeOver, ""},
		{routeCallbackAgent, rtCustomerAnswer, ""},
		{routeRinging, rtLastMessage, ""},
		{routeEnding, rtIVR, ""},
		{routeEnding, rtLastMessage, ""},
	}
	checkMachine(t, cases, nextRoute, routeTransitions)
}

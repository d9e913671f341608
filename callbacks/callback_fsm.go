package callbacks

import (
	"fmt"

	"github.com/tandem-cc/tandem/errs"
)

// ErrIllegalTransition: the event does not apply in the callback's state
// (cancelling a callback being dialled). The shared value of package
// errs, so the API maps it once for every package.
var ErrIllegalTransition = errs.ErrIllegalTransition

// State is where a callback is in its life.
type State string

const (
	// StatePending: waiting for its due time (or due and waiting for a
	// claimer). It is in the due set, the queue's waiting set and the
	// queue's merge index.
	StatePending State = "pending"
	// StateDialing: claimed by one node under a lease; that node serves it
	// (it waits in its queue for an agent, then the customer is dialled).
	StateDialing State = "dialing"
	// StateDone: answered. Terminal.
	StateDone State = "done"
	// StateFailed: attempts exhausted. Terminal.
	StateFailed State = "failed"
	// StateCancelled: cancelled while pending. Terminal.
	StateCancelled State = "cancelled"
	// StateExpired: became due after its window ended. Terminal.
	StateExpired State = "expired"
)

// Terminal reports whether no event applies to s any more.
func (s State) Terminal() bool {
	return s == StateDone || s == StateFailed || s == StateCancelled || s == StateExpired
}

// Event is what happens to a callback.
type Event string

const (
	EventClaim        Event = "claim"         // a node claims it when due (Store.Claim)
	EventCancel       Event = "cancel"        // Store.Cancel
	EventExpire       Event = "expire"        // due after its window ended (Store.Claim)
	EventAnswered     Event = "answered"      // Store.Complete with OutcomeAnswered
	EventRetry        Event = "retry"         // a failed attempt, attempts left (Store.Complete, Store.Reclaim)
	EventExhausted    Event = "exhausted"     // a failed attempt, the last one (Store.Complete, Store.Reclaim)
	EventLeaseExpired Event = "lease_expired" // the holder died before starting a dial (Store.Reclaim)
)

// transitions is the whole machine. The Lua scripts (scripts/*.lua) apply
// the same table atomically in Redis; this copy is for readers and for Go
// code that wants to know what is allowed.
//
//	from     event          to
//	pending  claim          dialing
//	pending  cancel         cancelled
//	pending  expire         expired
//	dialing  cancel         cancelled (only before its dial started:
//	                                   cancel.lua refuses it after)
//	dialing  answered       done
//	dialing  retry          pending   (due = now + RetryDelay; now for a reclaim)
//	dialing  exhausted      failed
//	dialing  lease_expired  pending   (due now, no attempt counted)
var transitions = map[State]map[Event]State{
	StatePending: {
		EventClaim:  StateDialing,
		EventCancel: StateCancelled,
		EventExpire: StateExpired,
	},
	StateDialing: {
		EventCancel:       StateCancelled,
		EventAnswered:     StateDone,
		EventRetry:        StatePending,
		EventExhausted:    StateFailed,
		EventLeaseExpired: StatePending,
	},
}

// Transition returns the state ev leads to from from, or an error wrapping
// ErrIllegalTransition that names both.
func Transition(from State, ev Event) (State, error) {
	if to, ok := transitions[from][ev]; ok {
		return to, nil
	}
	return from, fmt.Errorf("callback %s in state %s: %w", ev, from, ErrIllegalTransition)
}

// Package callbacks keeps callback requests durable in Redis and schedules
// them: a callback is created (merged with a live one for the same number
// and queue), waits until due, is claimed by exactly one node under a lease,
// dialled, and completed, retried or failed. A node that dies mid-dial loses
// its lease and Store.Reclaim gives the callback back, so a callback is
// never lost and never dialled twice at once.
//
// The state machine is in callback_fsm.go; every change is one Lua script
// (scripts/), with Redis TIME as the only clock. What a replica does with a
// callback on the PBX (the caller's dialog, the scheduler's claims, the
// dial, the takeover of a dead replica's dial) is in acd/callback_*.go;
// acd/callback.go maps each part to its file and to the operations here.
package callbacks

import (
	"errors"
	"fmt"
	"time"

	"github.com/tandem-cc/tandem/dialnum"
	"github.com/tandem-cc/tandem/errs"
)

// Sentinel errors callers branch on.
var (
	ErrNotFound = errs.ErrNotFound
	// ErrLeaseLost: the node does not hold the callback's lease any more
	// (it was reclaimed, completed, or claimed by another node). The node
	// must stop working on it.
	ErrLeaseLost = errors.New("lease lost")
	// ErrDialStarted: the current attempt was already started; dialling it
	// again would be a second dial for the same attempt.
	ErrDialStarted = errors.New("dial already started")
	// ErrExists: a callback id is already taken.
	ErrExists = errors.New("already exists")
)

// FieldError is a request refused because of one field; Msg names the rule
// broken and is meant for the person who typed it (the API shows it with
// Field).
type FieldError struct {
	Field string
	Rule  string
	Msg   string
}

func (e *FieldError) Error() string {
	return fmt.Sprintf("%s: %s (rule %s)", e.Field, e.Msg, e.Rule)
}

// Kind says why a callback exists.
type Kind string

const (
	// KindCourtesy: a caller in queue chose to be called back; the
	// callback keeps the call's place (Score).
	KindCourtesy Kind = "courtesy"
	// KindWeb: requested from a web form.
	KindWeb Kind = "web"
	// KindScheduled: booked for a time (EarliestAt, WindowEnd).
	KindScheduled Kind = "scheduled"
)

// Outcome is how one dial attempt ended.
type Outcome string

const (
	OutcomeAnswered    Outcome = "answered"
	OutcomeNoAnswer    Outcome = "no_answer"
	OutcomeBusy        Outcome = "busy"
	OutcomeFailed      Outcome = "failed" // also recorded by Reclaim for a node lost mid-dial
	OutcomeAgentFailed Outcome = "agent_failed"
)

func (o Outcome) valid() bool {
	switch o {
	case OutcomeAnswered, OutcomeNoAnswer, OutcomeBusy, OutcomeFailed, OutcomeAgentFailed:
		return true
	}
	return false
}

// Attempt is one dial of a callback. Attempts are numbered from 1 in the
// order of Callback.Attempts; a number is never reused.
type Attempt struct {
	At      time.Time
	Outcome Outcome
	Node    string
}

// Callback is one callback request as stored.
type Callback struct {
	ID     string
	Queue  string
	Number string // normalised: E.164 ("+12025550123") or internal digits
	Name   string
	Vars   map[string]string
	Kind   Kind
	State  State
	// Score orders the callback in its queue with waiting calls (lower
	// first): the original call's score for a courtesy callback, the
	// creation time (Redis ms) otherwise.
	Score       float64
	Due         time.Time
	WindowEnd   time.Time // zero = no window
	Attempts    []Attempt
	MaxAttempts int
	RetryDelay  time.Duration
	Created     time.Time
	Ended       time.Time // when it reached a terminal state

	// Lease, while dialing: the holder token ('<node>#<n>', n counting the
	// callback's claims) and until when. The holder passes the token to
	// every later call (Extend, Attach, StartDial, Complete, Release), so a
	// stalled actor of an earlier claim is fenced off even on its own node.
	Node         string
	LeaseExpires time.Time
	// DialStarted is the attempt number the holder has started (StartDial)
	// and not yet completed, 0 if none. A claimer that gets a callback with
	// DialStarted set continues that attempt (DialLeg through DialOwner);
	// it may not dial again until it completes the attempt.
	DialStarted int
	DialLeg     string
	DialOwner   string
	// Conn and AgentLeg are the interaction and the agent's leg the holder
	// serves the callback with (Attach); after a reclaim, what the dead
	// holder left behind.
	Conn     string
	AgentLeg string
	// CancelledHolder is the node that held the callback when it was
	// cancelled while waiting for an agent ("" if it was pending).
	CancelledHolder string

	// Media is played to the agent before the customer is dialled (e.g.
	// the caller's recorded message); "" = none.
	Media string
	// CallerID is the number the customer sees; "" = the dial plan's.
	CallerID string
	// DNIS is the number the customer first called (courtesy callbacks).
	DNIS string
	// TimeZone is the customer's IANA zone, for scheduled windows.
	TimeZone string
}

// Status is the state as people read it: a callback a node holds but has
// not dialled yet is "queued" (it waits in its queue for an agent, and can
// still be cancelled); "dialing" is a callback whose customer is being
// called. The other states are as stored.
func (cb Callback) Status() string {
	if cb.State == StateDialing && cb.DialStarted == 0 {
		return "queued"
	}
	return string(cb.State)
}

// Request asks for a callback.
type Request struct {
	Queue string
	// Number as typed; normalised with Policy.Dialable(Number, Region).
	Number string
	// Policy is the dialling policy the number must pass (nil = the
	// default policy: no emergency, premium-rate or internal number).
	Policy *dialnum.Policy
	// Region (ISO 3166 alpha-2) national numbers are read in; "" accepts
	// international (+…) and internal numbers only.
	Region string
	// AllowedCountryCodes are the country calling codes the queue may dial
	// (1 for NANP, 44 for the UK); empty allows all. Internal numbers are
	// not subject to it.
	AllowedCountryCodes []int
	Name                string
	Vars                map[string]string
	Kind                Kind // "" = KindWeb
	// Score is the queue order; required for a courtesy callback (the
	// original call's score), 0 = creation time for the other kinds.
	Score float64
	// EarliestAt: not due before (zero = now). Due = max(Redis TIME,
	// EarliestAt). At most MaxAhead after Redis TIME.
	EarliestAt time.Time
	// WindowEnd: a callback that becomes due after it expires instead of
	// being dialled (zero = no window). At most MaxAhead after Redis TIME.
	WindowEnd time.Time
	// MaxAhead bounds how far ahead EarliestAt and WindowEnd may be
	// (0 = DefaultMaxAhead): a callback due in 9999 would never be
	// dialled, yet hold its number, so every later request merged into it.
	MaxAhead    time.Duration
	MaxAttempts int           // 0 = DefaultMaxAttempts
	RetryDelay  time.Duration // 0 = DefaultRetryDelay
	// Media is played to the agent before the customer is dialled.
	Media string
	// CallerID is the number the customer sees ("" = the dial plan's).
	CallerID string
	// DNIS is the number the customer first called.
	DNIS string
	// TimeZone is the customer's IANA time zone ("" = none given).
	TimeZone string
	// Secure names the variables of Vars whose values are secure: they are
	// kept in clear only while the callback may still be made, and
	// replaced with DroppedValue when it is over (done, failed, cancelled,
	// expired), in the script that ends it.
	Secure []string
}

// DroppedValue replaces a secure variable's value once its callback is
// over (scripts/lib.lua's drop_secure); the variable's name stays.
const DroppedValue = "[dropped]"

// Defaults of a Request.
const (
	DefaultMaxAttempts = 3
	DefaultRetryDelay  = 5 * time.Minute
	DefaultMaxAhead    = 30 * 24 * time.Hour
)

// RuleTooFarAhead is the FieldError.Rule of a time beyond Request.MaxAhead.
const RuleTooFarAhead = "too-far-ahead"

package acd

import (
	"time"

	"github.com/tandem-cc/tandem/cad"
	"github.com/tandem-cc/tandem/hours"
	"github.com/tandem-cc/tandem/media"
)

// The settings the engine runs with: a queue's (QueueSettings) and the IVR
// menus (IVRMenus). They are the engine's own types, so the core depends
// on no configuration library: the config package reads and validates the
// file and translates it into these; a test or a lab builds them directly.
// The engine trusts them to be valid (config.Validate names a bad key).

// QueueSettings are the per-queue settings the engine needs.
type QueueSettings struct {
	MOHClass string
	// RingTimeout is how long an agent's phone rings before RONA (config
	// fills in the routing default for a queue without one).
	RingTimeout time.Duration
	// Record starts recording a call of this queue when it connects.
	Record bool
	// Variables define the queue's call-associated data.
	Variables []cad.Variable

	// The caller's experience while waiting.
	// Priority is that of calls entering the queue (0..9, 9 first) unless
	// the IVR gives another.
	Priority int
	Announce Announcements
	Overflow Overflow
	// MaxSize caps the waiting calls (0 = no cap); WhenFull applies past it.
	MaxSize  int
	WhenFull Treatment
	// Hours are the opening hours; outside them Hours.Closed applies.
	Hours OpeningHours
	// ServiceLevel is the answer time the service level counts against.
	ServiceLevel time.Duration
	// Routing: strategy, weight and skills, written to Redis at start.
	Strategy string
	Weight   int
	Skills   []SkillRequirement
	// Callback: how the queue offers and dials callbacks.
	Callback CallbackSettings
}

// SkillRequirement is a skill a call needs, with the minimum level (1..10)
// and relaxations: after waiting After, accept MinLevel instead. A call's
// own requirements are stored in Redis as JSON (Interaction.Skills): the
// field names are part of that format.
type SkillRequirement struct {
	Skill    string
	MinLevel int
	Relax    []SkillRelaxation
}

// SkillRelaxation lowers a skill requirement once the call has waited
// After.
type SkillRelaxation struct {
	After    time.Duration
	MinLevel int
}

// Announcements are the position and estimated-wait announcements a
// waiting caller hears between music.
type Announcements struct {
	// Interval between announcements (0 = none).
	Interval time.Duration
	Position bool
	EWT      bool
	// YouAreNext is said to the first caller in line instead of their
	// position; empty = sound:queue-youarenext.
	YouAreNext media.Media
}

// Overflow moves a waiting call after After (0 = never by time) or, with
// NoAgents, at once when no agent of the queue is logged in.
type Overflow struct {
	After    time.Duration
	NoAgents bool
	Action   Treatment
}

// Treatment is what happens to a call that overflows, finds its queue full
// or closed: to another queue (keeping the call's original arrival time),
// a callback offer, or a message then hang-up.
type Treatment struct {
	// Type is "queue", "callback" or "message" ("" = none).
	Type    string
	Queue   string
	Message media.Media // e.g. "sound:closed"
}

// OpeningHours are a queue's weekly windows and holidays, and what happens
// to a call that arrives while the queue is closed.
type OpeningHours struct {
	hours.Hours
	Closed Treatment
}

// Values of CallbackSettings.Accept.
const (
	// CallbackAcceptAuto dials the customer as soon as the agent answers.
	CallbackAcceptAuto = "auto"
	// CallbackAcceptAgent waits for the agent to accept, through the API.
	CallbackAcceptAgent = "agent"
)

// CallbackSettings are how a queue offers callbacks to its waiting callers
// (the dialog of start, register and cancel) and how it dials them.
type CallbackSettings struct {
	// Digit a waiting caller presses to ask for a courtesy callback ("" =
	// not offered in queue; an IVR branch or a treatment may still offer
	// one).
	Digit string
	// Offer is played to a waiting caller to tell them about Digit, once
	// they have waited OfferAfter, and only if the estimated wait is at
	// least OfferEWT (0 = whatever it is; a queue nobody serves counts as
	// a long wait). Until the condition holds it is checked again every
	// 15s. Empty = never announced (the digit still works).
	Offer      media.Media
	OfferAfter time.Duration
	OfferEWT   time.Duration
	// Prompt asks for the number: the caller keys it and #, or only # for
	// the number they call from; * cancels (back to the queue in place).
	Prompt media.Media
	// Invalid is played when a number is refused; the caller tries again.
	Invalid media.Media
	// Confirm is played once the callback is registered, before hang-up.
	Confirm media.Media
	// RecordMessage lets the caller leave a message of at most this long
	// (after the Beep prompt), played to the agent before the customer is
	// dialled; 0 = no message.
	RecordMessage time.Duration
	Beep          media.Media
	// CallerID is the outbound number the customer sees ("" = the dial
	// settings' caller id).
	CallerID string
	// Accept is CallbackAcceptAuto ("" too) or CallbackAcceptAgent.
	Accept string
	// MaxAttempts and RetryDelay: how often and how far apart a callback
	// nobody answers is tried.
	MaxAttempts int
	RetryDelay  time.Duration
	// AllowedCountryCodes limits the numbers dialled (1 = NANP); empty
	// allows all.
	AllowedCountryCodes []int
	// MaxAhead bounds how far ahead of now a callback's earliest time and
	// window end may be (0 = callbacks.DefaultMaxAhead, 30 days).
	MaxAhead time.Duration
}

// IVRMenus are the menus callers go through before a queue.
type IVRMenus struct {
	// EntryPoints map a DNIS to the first node of its menu.
	EntryPoints map[string]string
	Nodes       map[string]IVRNode
}

// IVRNode plays a prompt, optionally collects digits, and branches.
type IVRNode struct {
	// Prompt is media ("sound:welcome") or text for the PBX's TTS.
	Prompt media.Media
	// Collect: 0 max digits = no collection (the node branches to Next).
	Collect IVRCollect
	// BargeIn: the first digit pressed during the prompt stops it and is
	// collected at once (nil = true). With false the prompt plays to its
	// end and digits pressed meanwhile count once it has (type-ahead).
	BargeIn *bool
	// Variable keeps the collected digits as attached data under this name.
	Variable string
	// Secure marks that variable as secure (masked everywhere).
	Secure bool
	// Branches by the digits collected; "default" matches any input.
	Branches map[string]IVRBranch
	// Next is taken when the node collects nothing.
	Next IVRBranch
	// OnFailure is taken after the retries are used up.
	OnFailure IVRBranch
}

// BargesIn reports whether a digit stops the node's prompt (BargeIn, true
// unless set to false).
func (n IVRNode) BargesIn() bool { return n.BargeIn == nil || *n.BargeIn }

// IVRCollect is a node's DTMF collection.
type IVRCollect struct {
	MaxDigits     int
	Terminator    string // e.g. "#"
	Timeout       time.Duration
	Retries       int
	InvalidPrompt media.Media
	TimeoutPrompt media.Media
}

// IVRBranch is where a node leads: exactly one of Goto, Queue, Callback,
// Dial or Hangup, plus Set (variables to attach) applied first.
type IVRBranch struct {
	Goto     string
	Queue    string
	Priority *int
	Skills   []SkillRequirement
	Set      map[string]string
	Callback bool
	Dial     string
	// Hangup is a message played before hanging up ("sound:goodbye").
	Hangup media.Media
}

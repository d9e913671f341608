package acd

import (
	"errors"
	"time"

	"github.com/tandem-cc/tandem/cad"
)

// Errors of call control, mapped to status codes by the API.
var (
	// ErrForbidden: the agent acted on a call that is not theirs.
	ErrForbidden = errors.New("forbidden")
	// ErrConflict: a concurrent change won (a stale CAD version, ...).
	ErrConflict = cad.ErrConflict
	// ErrNoCall: the agent has no call to act on.
	ErrNoCall = errors.New("agent has no call")
)

// TargetKind is what a consult or transfer goes to.
type TargetKind string

const (
	TargetAgent  TargetKind = "agent"
	TargetQueue  TargetKind = "queue"
	TargetNumber TargetKind = "number"
)

// Target is the other party of a consult or a transfer.
type Target struct {
	Kind  TargetKind `json:"kind"`
	Value string     `json:"value"` // agent id, queue name, or dial number
}

// CallView is an agent's call as their desktop shows it.
type CallView struct {
	ConnectionID string `json:"connection_id"`
	// Agent is the agent who has the customer ("" with an outside party).
	Agent string `json:"agent"`
	// State is connected, held, consulting or conferenced; once the call
	// is over, the interaction's final state (ended, abandoned, failed);
	// CallLeft in the answer to the agent whose request took them off a
	// call that goes on without them.
	State        string         `json:"state"`
	Role         string         `json:"role"` // "owner" (has the customer) or "consulted"
	CustomerHeld bool           `json:"customer_held"`
	HeldSince    time.Time      `json:"held_since,omitzero"`
	Consult      *ConsultView   `json:"consult,omitempty"`
	Recording    *RecordingView `json:"recording,omitempty"`
	ANI          string         `json:"ani"`
	DNIS         string         `json:"dnis"`
	Queue        string         `json:"queue"`
	// CallbackID is the callback a register created.
	CallbackID string `json:"callback_id,omitempty"`
}

// CallLeft is the state in the answer to an agent who left a call that
// goes on (a conference, a consult, a transfer): their part is over.
const CallLeft = "left"

// ConsultView is the consult leg of a call.
type ConsultView struct {
	Target Target `json:"target"`
	// State is ringing, connected or held (the consulted party on hold while
	// the agent talks to the customer).
	State string `json:"state"`
	Agent string `json:"agent,omitempty"` // the consulted agent, once known
}

// RecordingView is the recording of a call.
type RecordingView struct {
	Name   string `json:"name"`
	Active bool   `json:"active"`
	Paused bool   `json:"paused"`
	// Privacy: the pause is a privacy shield that resumes by itself at ResumesAt.
	Privacy   bool      `json:"privacy"`
	ResumesAt time.Time `json:"resumes_at,omitzero"`
}

// Recording is one recording file of an interaction with its pauses.
type Recording struct {
	Name    string    `json:"name"`
	Started time.Time `json:"started"`
	Stopped time.Time `json:"stopped,omitzero"`
	Pauses  []Pause   `json:"pauses"`
}

// Pause is a gap in a recording.
type Pause struct {
	From    time.Time `json:"from"`
	To      time.Time `json:"to,omitzero"`
	Privacy bool      `json:"privacy"`
}

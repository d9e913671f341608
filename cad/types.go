// Package cad is call-associated data: the variables a queue defines
// (name, label, type, editable, secure, display order, pop-up), their
// values per interaction, versioned edits with conflict detection, and the
// masking of secure values.
package cad

import (
	"errors"
	"fmt"

	"github.com/tandem-cc/tandem/errs"
)

// ErrConflict: an edit was based on a version that is no longer current.
var ErrConflict = errors.New("conflict")

// ErrUnknownVariable: the queue defines no such variable.
var ErrUnknownVariable = errors.New("unknown variable")

// ErrNotFound: the interaction has no call-associated data (never
// initialised, or gone). Shared with agents and acd so the API maps all
// three the same way.
var ErrNotFound = errs.ErrNotFound

// Variable defines one piece of call-associated data of a queue (the
// configuration's queues.<name>.variables).
type Variable struct {
	Name  string // the channel / IVR variable name
	Label string // what the desktop shows
	// Type is string, text (a free-text note: tab and newline allowed),
	// number, boolean or datetime (ISO 8601).
	Type     string
	Editable bool
	// Secure values are masked in pop-ups, events and logs, and shown only
	// through an audited reveal.
	Secure bool
	Order  int // display order
	// PopUp shows the variable in the screen pop (3 to 6 per queue).
	PopUp bool
}

// Value is one variable of one interaction as a desktop may see it.
type Value struct {
	Name  string `json:"name"`
	Label string `json:"label"`
	Type  string `json:"type"`
	// Value is the value, or Masked for a secure variable.
	Value    string `json:"value"`
	Editable bool   `json:"editable"`
	Secure   bool   `json:"secure"`
	Order    int    `json:"order"`
	PopUp    bool   `json:"popup"`
}

// Masked stands for a secure value everywhere outside an audited reveal.
const Masked = "********"

// View is an interaction's variables at one version, in display order.
type View struct {
	ConnectionID string  `json:"connection_id"`
	Version      int64   `json:"version"`
	Values       []Value `json:"values"`
}

// ConflictError is returned when an edit lost a race: Current is what the
// variables are now, so the loser can show it and retry.
type ConflictError struct {
	Name    string
	Current View
}

func (e *ConflictError) Error() string {
	return fmt.Sprintf("variable %s: changed by someone else (now version %d)", e.Name, e.Current.Version)
}

func (e *ConflictError) Unwrap() error { return ErrConflict }

// ValueError is a value or an edit refused by one rule; it names the
// variable and the rule, never the value (which may be secure).
type ValueError struct {
	Name string
	// Rule is one of the Rule* constants.
	Rule string
	Msg  string
}

func (e *ValueError) Error() string {
	return fmt.Sprintf("variable %s: %s (rule %s)", e.Name, e.Msg, e.Rule)
}

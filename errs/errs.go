// Package errs holds the error values shared across Tandem's packages:
// the sentinels callers branch on and the bad-input error that names a
// field. The core (acd, agents, callbacks, cad) returns them wrapped with
// context; the API maps them to status codes in one place (api/errors.go).
// Errors that only one package returns stay in that package.
package errs

import (
	"errors"
	"fmt"
)

// Sentinel errors callers branch on.
var (
	// ErrNotFound: the thing (agent, call, callback, variable...) does
	// not exist.
	ErrNotFound = errors.New("not found")
	// ErrIllegalTransition: the step does not apply in the state the
	// thing is in.
	ErrIllegalTransition = errors.New("illegal transition")
	// ErrBadReply: a Redis script replied with a shape its Go caller does
	// not expect (the two sides disagree): a bug, never bad input.
	ErrBadReply = errors.New("unexpected script reply")
)

// FieldError is bad input: it names the field and what is wrong with it.
type FieldError struct {
	Field string
	Msg   string
}

func (e *FieldError) Error() string { return fmt.Sprintf("%s: %s", e.Field, e.Msg) }

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
	// ErrOwnerUnavailable: the replica that owns the call is not running
	// (its liveness key is gone), so a request for the call can not be
	// carried out now; the message says whether the owner had taken it.
	ErrOwnerUnavailable = errors.New("owner replica unavailable")
	// ErrOwnerTimeout: the replica that owns the call is running but did
	// not answer a forwarded request in time.
	ErrOwnerTimeout = errors.New("owner replica did not answer in time")
	// ErrFenced: the process no longer holds the seat it acts for (a newer
	// holder took its lease, so its fencing token is stale, or Asterisk
	// gave the seat's application to another socket). It must stop acting
	// for the seat at once, as if it had crashed.
	ErrFenced = errors.New("seat fenced: held by a newer owner")
)

// FieldError is bad input: it names the field and what is wrong with it.
type FieldError struct {
	Field string
	Msg   string
}

func (e *FieldError) Error() string { return fmt.Sprintf("%s: %s", e.Field, e.Msg) }

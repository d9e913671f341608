package acd

import (
	"errors"

	"github.com/tandem-cc/tandem/errs"
)

// Sentinel errors. ErrNotFound and ErrIllegalTransition are the shared
// values of package errs (the same errors, so errors.Is matches either
// name and the API maps them once); the others are the engine's own.
var (
	ErrNotFound          = errs.ErrNotFound
	ErrIllegalTransition = errs.ErrIllegalTransition
	// ErrStale: the state moved on (an offer withdrawn, a leg replaced)
	// before this step ran; the step is dropped.
	ErrStale = errors.New("stale")
	// ErrExists: an id is already taken.
	ErrExists = errors.New("already exists")
	// ErrFull: the contact center holds its maximum of concurrent calls.
	ErrFull = errors.New("maximum concurrent calls reached")
	// ErrQueueFull: the queue holds its maximum of waiting calls.
	ErrQueueFull = errors.New("queue full")
	// ErrNotDue: a timer fired before Redis time says it is due.
	ErrNotDue = errors.New("not due")
)

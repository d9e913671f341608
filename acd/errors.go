package acd

import (
	"errors"

	"github.com/tandem-cc/tandem/agents"
)

// Sentinel errors. The agent ones are shared with package agents so the API
// maps both the same way.
var (
	ErrNotFound          = agents.ErrNotFound
	ErrIllegalTransition = agents.ErrIllegalTransition
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

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
)

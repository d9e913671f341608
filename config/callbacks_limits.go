package config

import (
	"time"

	"github.com/tandem-cc/tandem/callbacks"
)

// Bounds of queues.<name>.callback.max_ahead: how far ahead a callback may
// be scheduled (its earliest_at and window_end). A callback due years
// ahead is never dialled, yet holds its number: every later request for
// that number would merge into it. The lower bound leaves room for the
// short hold of a courtesy callback (acd's registerHold) and for a web
// form's "tomorrow morning".
const (
	MinCallbackMaxAhead = time.Hour
	MaxCallbackMaxAhead = 366 * 24 * time.Hour
)

// checkCallbackLimits checks the limits of a queue's callback input; key
// is "queues.<name>.callback".
func checkCallbackLimits(bad badFunc, key string, cb QueueCallback) {
	if cb.MaxAhead != 0 && (cb.MaxAhead < MinCallbackMaxAhead || cb.MaxAhead > MaxCallbackMaxAhead) {
		bad(key+".max_ahead", "must be from %s to %s (366 days), or 0 for the default %s (30 days)",
			MinCallbackMaxAhead, MaxCallbackMaxAhead, callbacks.DefaultMaxAhead)
	}
}

// Package pii keeps personal data out of the logs. The caller's number
// (ANI) identifies a person: by default a log line carries it masked, the
// last four digits kept so that a support engineer can still tell calls
// apart and match a line to a complaint.
package pii

import (
	"log/slog"
	"strings"
)

// NumberMode says how a caller's number appears in the logs
// (configuration key log.caller_number).
type NumberMode string

const (
	// NumberMasked: every line carries the number masked (the default).
	NumberMasked NumberMode = "masked"
	// NumberDebug: lines carry the number masked, and one debug line per
	// call carries it in full (seen only with log.level debug).
	NumberDebug NumberMode = "debug"
	// NumberFull: the number in clear on every line (a lab, not production).
	NumberFull NumberMode = "full"
)

// NumberModes are the accepted values, for validation.
var NumberModes = []string{string(NumberMasked), string(NumberDebug), string(NumberFull)}

// keep is how many trailing characters Mask leaves.
const keep = 4

// Mask hides all but the last four characters of a number ("+15550001234"
// → "********1234"); a number of four characters or fewer (an internal
// extension) is hidden entirely.
func Mask(number string) string {
	if number == "" {
		return ""
	}
	if len(number) <= keep {
		return strings.Repeat("*", len(number))
	}
	return strings.Repeat("*", len(number)-keep) + number[len(number)-keep:]
}

// Attr is the log attribute key=number as mode wants it. In NumberDebug
// mode it also logs the number in full on log at debug level (one line, so
// a debug log ties the masked number to the full one).
func (m NumberMode) Attr(log *slog.Logger, key, number string) slog.Attr {
	switch m {
	case NumberFull:
		return slog.String(key, number)
	case NumberDebug:
		if log != nil {
			log.Debug("caller number", key, number)
		}
	}
	return slog.String(key, Mask(number))
}

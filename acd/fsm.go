package acd

import (
	"fmt"

	"github.com/tandem-cc/tandem/errs"
)

// step is the one apply function of the call's machines: table maps an
// event to the states it is legal in and the state each leads to, and an
// event the table does not list for from is an illegal transition, named
// with the machine, the state and the event.
func step[S, E ~string](machine string, table map[E]map[S]S, from S, ev E) (S, error) {
	to, ok := table[ev][from]
	if !ok {
		return "", fmt.Errorf("%s %s on %s: %w", machine, from, ev, errs.ErrIllegalTransition)
	}
	return to, nil
}

package acd

import (
	"errors"
	"testing"

	"github.com/tandem-cc/tandem/errs"
)

// transitionCase is one row of a machine's table test; to == "" means the
// event must be refused in from.
type transitionCase[S, E ~string] struct {
	from S
	ev   E
	to   S
}

// checkMachine runs a machine's table test: every case gives the state it
// names or is refused as illegal, and every transition of the table is
// among the cases, so a transition added to the table without a case
// fails.
func checkMachine[S, E ~string](t *testing.T, cases []transitionCase[S, E], next func(S, E) (S, error), table map[E]map[S]S) {
	t.Helper()
	listed := map[transitionCase[S, E]]bool{}
	for _, c := range cases {
		got, err := next(c.from, c.ev)
		if c.to == "" {
			if !errors.Is(err, errs.ErrIllegalTransition) {
				t.Errorf("%s on %s: got %s, %v; want illegal", c.from, c.ev, got, err)
			}
			continue
		}
		listed[c] = true
		if err != nil || got != c.to {
			t.Errorf("%s on %s: got %s, %v; want %s", c.from, c.ev, got, err, c.to)
		}
	}
	for ev, froms := range table {
		for from, to := range froms {
			if !listed[transitionCase[S, E]{from, ev, to}] {
				t.Errorf("the table's %s on %s → %s has no case", from, ev, to)
			}
		}
	}
}

package pbxmux

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/tandem-cc/tandem/acd"
)

// Takeover takes owner over on every node (a dead replica held its
// application on each of them) and reports each leg's state: a leg one
// node has is that node's, whatever the others say (they never had it);
// it is Gone only if every node says so. The legs found are entered as
// their node's, so the commands that follow reach them. The nodes are asked
// at once; an error from any is returned, wrapped with its node's name (the
// engine tries again), after the legs the others found are entered.
func (m *Mux) Takeover(ctx context.Context, owner string, legs []string) ([]acd.LegState, error) {
	type answer struct {
		states []acd.LegState
		err    error
	}
	answers := make([]answer, len(m.nodes))
	var wg sync.WaitGroup
	for i, n := range m.nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			states, err := n.PBX.Takeover(ctx, owner, legs)
			answers[i] = answer{states, err}
		}()
	}
	wg.Wait()

	found := map[string]acd.LegState{}
	var errs []error
	m.mu.Lock()
	for i, a := range answers {
		if a.err != nil {
			errs = append(errs, fmt.Errorf("pbxmux takeover %s: node %s: %w", owner, m.nodes[i].Name, a.err))
			continue
		}
		for _, st := range a.states {
			if st.Gone {
				continue
			}
			if _, dup := found[st.Leg]; !dup {
				found[st.Leg] = st
				m.where.setLeg(st.Leg, m.nodes[i].Name)
			}
		}
	}
	m.mu.Unlock()
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	out := make([]acd.LegState, len(legs))
	for i, l := range legs {
		st, ok := found[l]
		if !ok {
			st = acd.LegState{Leg: l, Gone: true}
		}
		out[i] = st
	}
	return out, nil
}

package demo

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/tandem-cc/tandem/acd"
	"github.com/tandem-cc/tandem/internal/lab"
	"github.com/tandem-cc/tandem/pbxsim"
)

// The demo's one queue and the number that reaches it.
const (
	demoQueue = "sales"
	demoDNIS  = "5551000"
)

// agent is one synthetic agent.
type agent struct {
	id       string
	endpoint string
	home     *lab.Replica // the replica the agent logged in through
	answers  bool         // false: the phone never answers (RONA every time)
}

// floor is the synthetic contact-center floor: agents, their phones, and a
// supervisor who puts agents back to available after a RONA.
type floor struct {
	opts   Options
	sim    lab.PBXSim
	agents []*agent
	byID   map[string]*agent
	rng    *rand.Rand // used only by the goroutine that owns the floor (the watcher)
}

// newFloor logs the agents in, round-robin through the replicas, gives
// each a scripted phone, and makes them available.
func newFloor(ctx context.Context, l *lab.Lab, opts Options, rng *rand.Rand) (*floor, error) {
	f := &floor{opts: opts, sim: l.PBX, byID: map[string]*agent{}, rng: rng}
	silent := int(math.Round(float64(opts.Agents) * opts.NoAnswerShare))
	// Which agents never answer is drawn, so they are spread over replicas.
	never := map[int]bool{}
	for _, i := range rng.Perm(opts.Agents)[:silent] {
		never[i] = true
	}
	for i := range opts.Agents {
		a := &agent{
			id:       fmt.Sprintf("%d", 1001+i),
			endpoint: l.Endpoint(fmt.Sprint(1001 + i)),
			home:     l.Replicas[i%len(l.Replicas)],
			answers:  !never[i],
		}
		f.agents = append(f.agents, a)
		f.byID[a.id] = a
		f.drawPhone(a)
		if _, err := a.home.Engine.Login(ctx, a.id, a.endpoint, []string{demoQueue}, nil); err != nil {
			return nil, fmt.Errorf("demo: log agent %s in: %w", a.id, err)
		}
		if _, err := a.home.Engine.SetAvailable(ctx, a.id); err != nil {
			return nil, fmt.Errorf("demo: make agent %s available: %w", a.id, err)
		}
	}
	return f, nil
}

// neverAnswering counts the agents whose phone never answers.
func (f *floor) neverAnswering() int {
	n := 0
	for _, a := range f.agents {
		if !a.answers {
			n++
		}
	}
	return n
}

// drawPhone gives the agent's phone fresh ring and talk times. The
// simulator reads the phone when a leg is originated, so a draw made while
// the agent is available applies to one of their next calls.
func (f *floor) drawPhone(a *agent) {
	if !a.answers {
		f.sim.SetPhone(a.endpoint, pbxsim.Phone{Mode: pbxsim.NoAnswer})
		return
	}
	f.sim.SetPhone(a.endpoint, pbxsim.Phone{
		Mode:    pbxsim.Answer,
		RingFor: draw(f.rng, f.opts.Ring),
		TalkFor: draw(f.rng, f.opts.Talk),
	})
}

// recover is the supervisor making a RONA'd agent available again. An
// agent who moved on meanwhile (logged out, made idle) is left alone.
func (f *floor) recover(ctx context.Context, id string) error {
	a := f.byID[id]
	if a == nil {
		return nil // not one of ours
	}
	_, err := a.home.Engine.SetAvailable(ctx, id)
	if errors.Is(err, acd.ErrIllegalTransition) {
		return nil
	}
	return err
}

// draw picks a duration uniformly from s.
func draw(rng *rand.Rand, s Span) time.Duration {
	if s.Max <= s.Min {
		return s.Min
	}
	return s.Min + time.Duration(rng.Int64N(int64(s.Max-s.Min)+1))
}

// rngFor returns an independent, repeatable random source for one part of
// the run: each goroutine gets its own (rand.Rand is not safe for
// concurrent use), and the same seed reproduces the same draws.
func rngFor(seed uint64, stream uint64) *rand.Rand {
	return rand.New(rand.NewPCG(seed, stream))
}

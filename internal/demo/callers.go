package demo

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/tandem-cc/tandem/internal/lab"
	"github.com/tandem-cc/tandem/pbxsim"
)

// callers places the synthetic calls at a steady rate.
type callers struct {
	sim  lab.PBXSim
	opts Options
	rng  *rand.Rand // used only by run
	done chan struct{}

	mu       sync.Mutex
	placed   int
	refused  int      // the PBX found no Tandem application to take the call
	legs     []string // caller channel ids of the calls that reached Tandem
	finished bool     // every call was placed
}

func newCallers(sim lab.PBXSim, opts Options, rng *rand.Rand) *callers {
	return &callers{sim: sim, opts: opts, rng: rng, done: make(chan struct{})}
}

// run places opts.Calls calls, the k-th at start + k/rate, so the rate holds
// however long each placement takes. It returns when all are placed or ctx
// ends; done is closed either way.
func (c *callers) run(ctx context.Context) error {
	defer close(c.done)
	start := time.Now()
	t := time.NewTimer(0)
	defer t.Stop()
	for k := range c.opts.Calls {
		due := start.Add(time.Duration(float64(k) / c.opts.Rate * float64(time.Second)))
		t.Reset(time.Until(due))
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		caller := pbxsim.Caller{
			ANI:      fmt.Sprintf("+1555%07d", k+1),
			DNIS:     demoDNIS,
			Vars:     map[string]string{"CUSTOMER_ID": fmt.Sprintf("C%06d", k+1)},
			Patience: draw(c.rng, c.opts.Patience),
		}
		if c.rng.Float64() < c.opts.CallbackShare {
			// A caller who would rather be called back: a number the
			// callback rules accept, a phone that answers when dialled,
			// and "1#" (start, then the number they call from) pressed a
			// moment into the wait; if an agent took the call first, the
			// digits go nowhere.
			caller.ANI = fmt.Sprintf("+1202555%04d", k%10000)
			// The demo's agents hang up their talk time after answering
			// (the simulator's phones know no better), so a customer who
			// rang longer than that would find the agent gone: customers
			// answer within a quarter of the ring range.
			c.sim.SetPhone(customerEndpoint(c.opts.PBX, caller.ANI), pbxsim.Phone{
				Mode: pbxsim.Answer, RingFor: draw(c.rng, c.opts.Ring) / 4, TalkFor: draw(c.rng, c.opts.Talk),
			})
			caller.Digits, caller.DigitsAfter = "1#", 500*time.Millisecond
		}
		leg, err := c.sim.Call(caller)
		c.mu.Lock()
		c.placed++
		if err != nil {
			// Asterisk would fall through the dialplan here; the call is
			// counted as failed.
			c.refused++
		} else {
			c.legs = append(c.legs, leg)
		}
		c.mu.Unlock()
		if err != nil {
			c.opts.Logger.Warn("call not taken by any replica", "err", err)
		}
	}
	c.mu.Lock()
	c.finished = true
	c.mu.Unlock()
	return nil
}

// counts returns how many calls were placed, how many of them reached
// Tandem, and whether the last one has been placed.
func (c *callers) counts() (placed, accepted int, finished bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.placed, len(c.legs), c.finished
}

// result returns the caller legs and the number of refused calls.
func (c *callers) result() (legs []string, placed, refused int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.legs...), c.placed, c.refused
}

// Package bench is Tandem's load tool (`tandem bench`): it starts a
// private redis-server, the ARI simulator in a process of its own
// (`tandem sim --control`), and 1 to 3 replicas (`tandem serve`, each with
// a generated configuration), logs agents in through the HTTP API, and
// drives calls in two phases:
//
//  1. Waiting: W callers arrive while every agent is logged in but idle;
//     the phase ends when all W wait in the queue. Redis memory per
//     waiting call is the used_memory delta divided by W.
//  2. Routing: every agent is made available; each answers at once, the
//     caller talks briefly and hangs up, and the agent is handed the next
//     waiting call. The phase ends when Route calls have been bridged.
//     Routed calls per second, CPU, Redis commands and Lua scripts per
//     answered call are the deltas over this phase; hand-off latency comes
//     from the replicas' histograms (/metrics).
//
// Nothing runs in the load tool's own process but the driver: each figure
// is read from where it is kept (INFO, /proc/<pid>/stat, /metrics, the
// simulator's counters).
package bench

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"
)

// Options shape one run.
type Options struct {
	// Binary is the tandem executable the simulator and replicas run.
	Binary string
	// Replicas is how many `tandem serve` processes share the work (1–3).
	Replicas int
	// Agents log in (round-robin over the replicas' APIs) before the calls.
	Agents int
	// Waiting is how many callers wait in the queue before routing starts.
	Waiting int
	// Route is how many calls the routing phase bridges before it is
	// measured (at most Waiting; 0 means Waiting).
	Route int
	// Audit is how many calls are watched under MONITOR after the
	// measured phase to count round trips (0: none): the next ones routed
	// when enough are still waiting, else as many more placed once the
	// queue is empty.
	Audit int
	// AvailableRate paces the routing phase's start: at most this many
	// agents made available per second (0: all at once, 16 requests in
	// flight).
	AvailableRate float64
	// Talk is how long a caller talks once bridged before hanging up.
	Talk time.Duration
	// Window bounds the callers arriving at once (placed, not yet
	// queued), so arrivals never outrun the replicas' ARI timeouts.
	Window int
	// ProfileDir, when set, receives a CPU profile of replica r1 and one
	// of the simulator, taken over the routing phase (up to
	// ProfileSeconds), as r1.pprof and sim.pprof.
	ProfileDir     string
	ProfileSeconds int
	// Dir holds the generated configurations and the children's logs;
	// empty makes a temporary directory, removed after a successful run.
	Dir string
	// Timeout bounds each phase.
	Timeout time.Duration
	// Progress receives one line per step and per second of a phase.
	Progress io.Writer
	Logger   *slog.Logger
}

func (o Options) withDefaults() Options {
	if o.Replicas == 0 {
		o.Replicas = 1
	}
	if o.Agents == 0 {
		o.Agents = 100
	}
	if o.Waiting == 0 {
		o.Waiting = 1000
	}
	if o.Route == 0 || o.Route > o.Waiting {
		o.Route = o.Waiting
	}
	if o.Talk == 0 {
		o.Talk = 10 * time.Millisecond
	}
	if o.Window == 0 {
		o.Window = 200
	}
	if o.ProfileSeconds == 0 {
		o.ProfileSeconds = 20
	}
	if o.Timeout == 0 {
		o.Timeout = 15 * time.Minute
	}
	if o.Progress == nil {
		o.Progress = io.Discard
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}

func (o Options) validate() error {
	var errs []error
	if o.Binary == "" {
		errs = append(errs, errors.New("bench: the tandem binary is needed"))
	}
	if o.Replicas < 1 || o.Replicas > 3 {
		errs = append(errs, fmt.Errorf("bench: replicas %d: must be 1, 2 or 3", o.Replicas))
	}
	if o.Agents < 1 || o.Waiting < 1 || o.Route < 1 || o.Window < 1 || o.Audit < 0 {
		errs = append(errs, errors.New("bench: agents, waiting, route and window must be positive, audit not negative"))
	}
	if o.Talk < 0 || o.Timeout < 0 || o.ProfileSeconds < 0 || o.AvailableRate < 0 {
		errs = append(errs, errors.New("bench: talk, timeout, profile seconds and available rate must not be negative"))
	}
	return errors.Join(errs...)
}

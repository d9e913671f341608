// Package demo runs Tandem's demonstration: a whole contact center in one
// process (a Redis, a simulated PBX — Asterisk, FreeSWITCH or one of each
// — several Tandem replicas),
// synthetic agents and callers, live progress, and a report whose invariant
// counts must all be zero. `tandem demo` is a thin wrapper around Run.
package demo

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/tandem-cc/tandem/internal/lab"
)

// Span is a closed range of durations; each synthetic call draws a value
// uniformly from it.
type Span struct{ Min, Max time.Duration }

func (s Span) valid() bool { return s.Min >= 0 && s.Max >= s.Min }

func (s Span) String() string { return fmt.Sprintf("%v–%v", s.Min, s.Max) }

// Options shape a demo run. Zero fields take the defaults of Defaults.
type Options struct {
	// PBX is the simulated PBX the run drives (lab.Asterisk by default,
	// lab.FreeSWITCH, or lab.Mixed: one of each, agents and callers on
	// both). The report and its invariants are the same on every kind.
	PBX      lab.PBXKind
	Replicas int // Tandem replicas, each with its own Stasis application
	Agents   int // synthetic agents, logged in round-robin through the replicas
	Calls    int // synthetic callers to place
	// Rate is how many callers arrive per second.
	Rate float64
	// NoAnswerShare is the fraction of agents whose phone never answers, so
	// that RONA (redirect on no answer) happens. Negative means none.
	NoAnswerShare float64
	// CallbackShare is the fraction of callers who ask for a courtesy
	// callback if they have to wait (they press 1 then #, for the number
	// they call from). Negative means none.
	CallbackShare float64

	Ring     Span // how long an answering phone rings
	Talk     Span // how long an agent talks before hanging up
	Patience Span // how long a caller waits for an agent before hanging up

	// RingTimeout is the queue's ring timeout: RONA after this long.
	RingTimeout time.Duration
	// RONARecovery is how long the supervisor loop leaves an agent in RONA
	// before making them available again, as a human supervisor would.
	RONARecovery time.Duration
	// DrainTimeout bounds the wait, after the last call is placed, for every
	// interaction to reach a terminal state.
	DrainTimeout time.Duration
	// SweepInterval is the engines' safety-net routing sweep.
	SweepInterval time.Duration
	// Progress is the period of progress lines; negative disables them.
	Progress time.Duration

	// RedisAddr uses an existing Redis; empty starts a private redis-server.
	RedisAddr string
	// Prefix starts every Redis key of the run. With a shared Redis, give
	// each run its own so runs do not see each other's interactions.
	Prefix string
	// Seed makes a run's random draws repeatable; 0 picks one (reported).
	Seed uint64
	// Logger receives the replicas' and the simulator's logs.
	Logger *slog.Logger
	// MetricsAddr, if set, is where the run serves its replicas' metrics
	// over HTTP while it runs: /metrics (every replica, each series with a
	// replica label) and /metrics/<replica> (one replica, e.g. r1).
	MetricsAddr string
	// AfterRun, if set, is called with the /metrics URL once the report is
	// built and before the world stops, so the final figures can still be
	// scraped (needs MetricsAddr).
	AfterRun func(metricsURL string)
}

// Defaults are the embedded defaults `go run ./cmd/tandem demo` runs with.
func Defaults() Options {
	return Options{
		PBX:           lab.Asterisk,
		Replicas:      2,
		Agents:        20,
		Calls:         200,
		Rate:          20,
		NoAnswerShare: 0.1,
		CallbackShare: 0.15,
		Ring:          Span{300 * time.Millisecond, 2 * time.Second},
		Talk:          Span{1 * time.Second, 4 * time.Second},
		Patience:      Span{10 * time.Second, 40 * time.Second},
		RingTimeout:   4 * time.Second,
		RONARecovery:  2 * time.Second,
		DrainTimeout:  2 * time.Minute,
		SweepInterval: time.Second,
		Progress:      time.Second,
		Prefix:        "tandem",
	}
}

// withDefaults fills zero fields from Defaults.
func (o Options) withDefaults() Options {
	d := Defaults()
	setInt := func(v *int, def int) {
		if *v == 0 {
			*v = def
		}
	}
	setDur := func(v *time.Duration, def time.Duration) {
		if *v == 0 {
			*v = def
		}
	}
	setSpan := func(v *Span, def Span) {
		if *v == (Span{}) {
			*v = def
		}
	}
	if o.PBX == "" {
		o.PBX = d.PBX
	}
	setInt(&o.Replicas, d.Replicas)
	setInt(&o.Agents, d.Agents)
	setInt(&o.Calls, d.Calls)
	if o.Rate == 0 {
		o.Rate = d.Rate
	}
	if o.NoAnswerShare == 0 {
		o.NoAnswerShare = d.NoAnswerShare
	} else if o.NoAnswerShare < 0 {
		o.NoAnswerShare = 0
	}
	if o.CallbackShare == 0 {
		o.CallbackShare = d.CallbackShare
	} else if o.CallbackShare < 0 {
		o.CallbackShare = 0
	}
	setSpan(&o.Ring, d.Ring)
	setSpan(&o.Talk, d.Talk)
	setSpan(&o.Patience, d.Patience)
	setDur(&o.RingTimeout, d.RingTimeout)
	setDur(&o.RONARecovery, d.RONARecovery)
	setDur(&o.DrainTimeout, d.DrainTimeout)
	setDur(&o.SweepInterval, d.SweepInterval)
	setDur(&o.Progress, d.Progress)
	if o.Prefix == "" {
		o.Prefix = d.Prefix
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}

// validate names the first option that cannot work.
func (o Options) validate() error {
	var errs []error
	bad := func(name, msg string) { errs = append(errs, fmt.Errorf("demo: %s %s", name, msg)) }
	if _, err := lab.ParseKind(string(o.PBX)); err != nil {
		errs = append(errs, fmt.Errorf("demo: pbx: %w", err))
	}
	if o.Replicas < 1 {
		bad("replicas", "must be at least 1")
	}
	if o.Agents < 1 {
		bad("agents", "must be at least 1")
	}
	if o.Calls < 1 {
		bad("calls", "must be at least 1")
	}
	if o.Rate <= 0 {
		bad("rate", "must be positive")
	}
	if o.NoAnswerShare > 1 {
		bad("no-answer share", "must be between 0 and 1")
	}
	if o.CallbackShare > 1 {
		bad("callback share", "must be between 0 and 1")
	}
	for _, s := range []struct {
		name string
		span Span
	}{{"ring", o.Ring}, {"talk", o.Talk}, {"patience", o.Patience}} {
		if !s.span.valid() {
			bad(s.name, "range must have 0 ≤ min ≤ max")
		}
	}
	if o.Talk.Min <= 0 {
		// A phone with no talk time stays up until the other side hangs up,
		// and the demo's callers never do once connected.
		bad("talk", "minimum must be positive")
	}
	if o.RingTimeout <= 0 || o.RONARecovery <= 0 || o.DrainTimeout <= 0 || o.SweepInterval <= 0 {
		bad("timeouts", "must be positive")
	}
	return errors.Join(errs...)
}

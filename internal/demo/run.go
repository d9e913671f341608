package demo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"golang.org/x/sync/errgroup"

	"github.com/tandem-cc/tandem/acd"
	"github.com/tandem-cc/tandem/agents"
	"github.com/tandem-cc/tandem/callbacks"
	"github.com/tandem-cc/tandem/internal/lab"
	"github.com/tandem-cc/tandem/media"
	"github.com/tandem-cc/tandem/metrics"
	"github.com/tandem-cc/tandem/pbxsim"
)

// ErrInvariant is returned (wrapped) by Run when the run finished but an
// invariant is not zero.
var ErrInvariant = errors.New("invariant violated")

// settle bounds the wait, once every interaction is terminal, for the
// PBX's last legs and bridges to go (the caller's leg is hung up, and the
// bridge destroyed, after the interaction ends).
const settle = 5 * time.Second

// Run runs one demo: it starts a lab, logs the agents in, places the calls,
// writes a progress line to progress every opts.Progress, waits until every
// interaction is terminal (at most opts.DrainTimeout after the last call),
// and returns the report. The error is non-nil when the demo could not run,
// was interrupted (ctx ended; the report is then partial), or finished
// with an invariant violated (errors.Is(err, ErrInvariant)).
func Run(ctx context.Context, opts Options, progress io.Writer) (Report, error) {
	opts = opts.withDefaults()
	if err := opts.validate(); err != nil {
		return Report{}, err
	}
	if opts.Seed == 0 {
		opts.Seed = rand.Uint64()
	}
	if progress == nil {
		progress = io.Discard
	}
	began := time.Now()

	l, err := lab.Start(ctx, lab.Options{
		PBX:       opts.PBX,
		Replicas:  opts.Replicas,
		RedisAddr: opts.RedisAddr,
		Prefix:    opts.Prefix,
		Queues: map[string]acd.QueueSettings{
			// Recorded, so that recordings_left has recordings to count.
			demoQueue: {MOHClass: "default", RingTimeout: opts.RingTimeout, Record: true, Callback: acd.CallbackSettings{
				Digit: "1", Prompt: media.SoundOf("callback-enter-number"), Confirm: media.SoundOf("callback-registered"),
				CallerID: demoCallerID, MaxAttempts: 3, RetryDelay: 2 * time.Second,
			}},
		},
		DNIS:          map[string]string{demoDNIS: demoQueue},
		DefaultQueue:  demoQueue,
		SweepInterval: opts.SweepInterval,
		Logger:        opts.Logger,
		Engine: acd.Options{
			// Callbacks dial the callers' simulated phones.
			Dial: acd.DialSettings{Endpoint: customerPattern(opts.PBX), DefaultRegion: "US", CallerID: demoCallerID, RingTimeout: 10 * time.Second},
		},
	})
	if err != nil {
		return Report{}, fmt.Errorf("demo: start the lab: %w", err)
	}
	defer l.Close()
	store := l.Replicas[0].Store
	var ms *metricsServer
	if opts.MetricsAddr != "" {
		if ms, err = serveMetrics(opts.MetricsAddr, l); err != nil {
			return Report{}, err
		}
		defer ms.Close() // before the lab closes: defers run last-in first-out
		announceMetrics(progress, ms, l.Replicas)
	}

	// The watcher must start reading before the first agent logs in, or it
	// would miss their first transitions.
	w, err := newWatcher(ctx, l.RDB, store.Keys().Events(), nil, opts.Logger)
	if err != nil {
		return Report{}, err
	}
	f, err := newFloor(ctx, l, opts, rngFor(opts.Seed, 1))
	if err != nil {
		return Report{}, err
	}
	w.floor = f
	cs := newCallers(l.PBX, opts, rngFor(opts.Seed, 2))

	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	g, gctx := errgroup.WithContext(runCtx)
	g.Go(func() error { return w.run(gctx) })
	g.Go(func() error { return cs.run(gctx) })
	if opts.Progress > 0 {
		g.Go(func() error { return reportProgress(gctx, progress, opts, cs, w, began) })
	}

	cbs := callbacks.NewStore(l.RDB, opts.Prefix)
	drained := drain(gctx, opts, cs, w, cbs)
	if drained {
		// Let the PBX hang up the last legs and destroy the last bridges
		// before it is inspected; what is left then counts
		// (buildReport).
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), settle)
		l.Settle(sctx, false)
		cancel()
	}
	stop()
	gerr := g.Wait()

	// The run's context may be over; the report still has to be read.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	r, err := buildReport(rctx, l, f, cs, cbs, opts)
	r.Wall = Millis(time.Since(began))
	r.Interrupted = !drained && ctx.Err() != nil
	r.OK = len(r.Invariants.Violations()) == 0 && !r.Interrupted
	if ms != nil && opts.AfterRun != nil {
		opts.AfterRun(ms.URL)
	}
	_, _ = fmt.Fprintln(progress, progressLine(opts, cs, w, began)+" (final)")
	switch {
	case gerr != nil:
		return r, gerr
	case err != nil:
		return r, err
	case r.Interrupted:
		return r, fmt.Errorf("demo interrupted: %w", context.Cause(ctx))
	case !r.OK:
		return r, fmt.Errorf("demo: %w: %v", ErrInvariant, r.Invariants.Violations())
	}
	return r, nil
}

// drain waits until every call has been placed and every interaction that
// reached Tandem is terminal. It reports false when ctx ended first; a
// drain timeout is not an error here (the report counts what is left).
func drain(ctx context.Context, opts Options, cs *callers, w *watcher, cbs *callbacks.Store) bool {
	select {
	case <-ctx.Done():
		return false
	case <-cs.done:
	}
	if ctx.Err() != nil {
		return false
	}
	deadline := time.NewTimer(opts.DrainTimeout)
	defer deadline.Stop()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		_, accepted, _ := cs.counts()
		s := w.snapshot()
		if s.terminal() >= accepted && s.Seen == s.terminal() && liveCallbacks(ctx, cbs) == 0 {
			return true
		}
		select {
		case <-ctx.Done():
			return false
		case <-deadline.C:
			opts.Logger.Warn("drain timed out; reporting what is left", "timeout", opts.DrainTimeout)
			return true
		case <-tick.C:
		}
	}
}

func reportProgress(ctx context.Context, out io.Writer, opts Options, cs *callers, w *watcher, began time.Time) error {
	t := time.NewTicker(opts.Progress)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			_, _ = fmt.Fprintln(out, progressLine(opts, cs, w, began))
		}
	}
}

func progressLine(opts Options, cs *callers, w *watcher, began time.Time) string {
	placed, _, _ := cs.counts()
	s := w.snapshot()
	_, _, refused := cs.result()
	return fmt.Sprintf("%6.1fs  arrived %*d/%d  waiting %4d  connected %4d  ended %*d  abandoned %*d  failed %d  RONAs %d",
		time.Since(began).Seconds(), width(opts.Calls), placed, opts.Calls, s.Waiting, s.Connected,
		width(opts.Calls), s.Ended, width(opts.Calls), s.Abandoned, s.Failed+refused, s.RONAs)
}

func width(n int) int { return len(fmt.Sprint(n)) }

// buildReport reads the outcome from where it is recorded: interactions in
// Redis, the engines' stats, the simulator's counters.
// liveCallbacks counts callbacks not finished (waiting to be due, or being
// served); -1 if Redis cannot say.
func liveCallbacks(ctx context.Context, cbs *callbacks.Store) int {
	k := cbs.Keys()
	due, err1 := cbs.Client().ZCard(ctx, k.Due()).Result()
	held, err2 := cbs.Client().ZCard(ctx, k.Leases()).Result()
	// A callback waiting in its queue holds a lease; one retried later is
	// due; one being registered is neither for a moment, but its caller's
	// interaction is still live then.
	if err1 != nil || err2 != nil {
		return -1
	}
	return int(due + held)
}

func buildReport(ctx context.Context, l *lab.Lab, f *floor, cs *callers, cbs *callbacks.Store, opts Options) (Report, error) {
	legs, placed, refused := cs.result()
	r := Report{
		PBXKind: opts.PBX, Replicas: opts.Replicas, Agents: opts.Agents, AgentsNeverAnswering: f.neverAnswering(),
		Rate: opts.Rate, Seed: opts.Seed, AgentStates: map[string]int{},
	}
	r.Calls.Arrived = placed
	r.Calls.Failed = refused

	store := l.Replicas[0].Store
	ours := make(map[string]bool, len(legs))
	for _, leg := range legs {
		ours[leg] = true
	}
	ixs, err := interactions(ctx, l.RDB, store)
	if err != nil {
		return r, err
	}
	var waits []time.Duration
	found := 0
	for _, ix := range ixs {
		if ix.Attached["callback_id"] != "" {
			// A callback's interaction: accounted with the callbacks below.
			if !ix.Terminal() {
				r.Invariants.InteractionsNotTerminal++
			}
			continue
		}
		if !ours[ix.CallerLeg] {
			continue // another run's, under a shared prefix
		}
		found++
		switch ix.State {
		case "ended":
			if ix.Answered.IsZero() {
				// Ended without an agent: the caller registered a callback
				// (the demo has no other treatment that ends calls).
				r.Calls.ToCallback++
				continue
			}
			r.Calls.Answered++
			if !bridgedAtPBX(l.PBX, ix) {
				r.Invariants.AnsweredNotBridged++
			}
			if !ix.Answered.IsZero() && !ix.Queued.IsZero() {
				waits = append(waits, ix.Answered.Sub(ix.Queued))
			}
		case "abandoned":
			r.Calls.Abandoned++
		case "failed":
			r.Calls.Failed++
		default:
			r.Invariants.InteractionsNotTerminal++
		}
	}
	r.Invariants.CallsUnaccounted = len(legs) - found
	r.TimeToAnswer = summarize(waits)

	// Hand-off and offer-to-answer come from the histograms /metrics
	// serves, merged over the replicas (see fromHistograms).
	var handoffs, rings []prometheus.Histogram
	var longest time.Duration
	for _, rep := range l.Replicas {
		s := rep.Engine.Stats().Snapshot()
		r.RONAs += s.RONAs
		longest = max(longest, s.HandoffMax)
		handoffs = append(handoffs, rep.Metrics.Handoff)
		rings = append(rings, rep.Metrics.OfferToAnswer)
	}
	r.Handoff = fromHistograms(metrics.Summarize(handoffs...), longest)
	r.OfferToAnswer = fromHistograms(metrics.Summarize(rings...), 0)

	st := l.PBX.Stats()
	if err := countCallbacks(ctx, cbs, st, opts.PBX, &r); err != nil {
		return r, err
	}
	r.PBX = PBXView{CallsPlaced: st.CallsPlaced, CallsBridged: st.CallsBridged, CallsAbandoned: st.CallsAbandoned,
		Originates: st.Originates - r.Callbacks.CustomerDials, CustomerDials: r.Callbacks.CustomerDials}
	r.Invariants.DoubleOffers = st.DoubleOffers
	r.Invariants.AgentsWithTwoCalls = st.AgentsWithTwoCalls
	r.Invariants.PBXChannelsLeft = len(l.PBX.Channels())
	left := l.PBX.Leftovers()
	r.Invariants.BridgesLeft = len(left.Bridges)
	r.Invariants.SnoopsLeft = len(left.Snoops)
	r.Invariants.RecordingsLeft = len(left.Recordings)
	if !left.Empty() {
		opts.Logger.Warn("objects left at the PBX", "left", left.String())
	}

	for _, a := range f.agents {
		ag, err := store.Agent(ctx, a.id)
		if err != nil {
			return r, fmt.Errorf("demo: read agent %s: %w", a.id, err)
		}
		r.AgentStates[string(ag.State)]++
		switch ag.State {
		case agents.Reserved, agents.Ringing, agents.Connected:
			r.Invariants.AgentsStuck++
		}
	}
	return r, nil
}

// interactions reads every interaction under the store's prefix. SCAN, not
// KEYS, so a shared Redis is not blocked.
// bridgedAtPBX says whether the simulator saw the call's caller in a
// bridge with a leg Tandem created for it (their ids start with the
// connection id): the PBX's account, whatever Redis believes.
func bridgedAtPBX(sim lab.PBXSim, ix acd.Interaction) bool {
	for _, other := range sim.BridgedWith(ix.CallerLeg) {
		if strings.HasPrefix(other, ix.ConnectionID+"-") {
			return true
		}
	}
	return false
}

func interactions(ctx context.Context, rdb redis.UniversalClient, store *acd.Store) ([]acd.Interaction, error) {
	pattern := store.Keys().Interaction("*")
	cut := len(store.Keys().Interaction(""))
	var out []acd.Interaction
	iter := rdb.Scan(ctx, 0, pattern, 1000).Iterator()
	for iter.Next(ctx) {
		ix, err := store.Interaction(ctx, iter.Val()[cut:])
		if errors.Is(err, acd.ErrNotFound) {
			continue
		}
		if err != nil {
			return out, fmt.Errorf("demo: %w", err)
		}
		out = append(out, ix)
	}
	if err := iter.Err(); err != nil {
		return out, fmt.Errorf("demo: scan interactions: %w", err)
	}
	return out, nil
}

// demoCallerID is the number callback customers see.
const demoCallerID = "+18005550100"

// customerPattern is the dial string callbacks reach a customer's number
// through: the PBX's outside-number pattern (lab.PBXKind.Endpoint with
// "{number}"; on a mixed PBX, through ast1, whichever node rings it).
func customerPattern(pbx lab.PBXKind) string { return pbx.Endpoint("{number}") }

// customerEndpoint is where the customer at number is dialled, and so
// where the demo puts their phone.
func customerEndpoint(pbx lab.PBXKind, number string) string {
	return strings.ReplaceAll(customerPattern(pbx), "{number}", number)
}

// countCallbacks reads every callback of the run and checks each was
// dialled once per attempt, from the simulator's count of originates to
// its number.
func countCallbacks(ctx context.Context, cbs *callbacks.Store, st pbxsim.Stats, pbx lab.PBXKind, r *Report) error {
	k := cbs.Keys()
	prefix := k.Callback("")
	iter := cbs.Client().Scan(ctx, 0, prefix+"*", 500).Iterator()
	for iter.Next(ctx) {
		cb, err := cbs.Get(ctx, strings.TrimPrefix(iter.Val(), prefix))
		if err != nil {
			return fmt.Errorf("demo: read callback: %w", err)
		}
		r.Callbacks.Requested++
		switch {
		case cb.State == callbacks.StateDone:
			r.Callbacks.Done++
		case cb.State == callbacks.StateFailed:
			r.Callbacks.Failed++
		case !cb.State.Terminal():
			r.Invariants.CallbacksNotFinished++
		}
		dials := st.OriginatesByEndpoint[customerEndpoint(pbx, cb.Number)]
		r.Callbacks.Attempts += len(cb.Attempts)
		r.Callbacks.CustomerDials += dials
		if dials > len(cb.Attempts) {
			r.Invariants.CallbacksDialledTwice++
		}
	}
	if err := iter.Err(); err != nil {
		return fmt.Errorf("demo: scan callbacks: %w", err)
	}
	return nil
}

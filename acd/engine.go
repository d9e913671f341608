package acd

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"golang.org/x/sync/errgroup"

	"github.com/tandem-cc/tandem/agents"
	"github.com/tandem-cc/tandem/cad"
	"github.com/tandem-cc/tandem/callbacks"
	"github.com/tandem-cc/tandem/dialnum"
	"github.com/tandem-cc/tandem/errs"
	"github.com/tandem-cc/tandem/ewt"
	"github.com/tandem-cc/tandem/hours"
	"github.com/tandem-cc/tandem/internal/clock"
	"github.com/tandem-cc/tandem/internal/pii"
	"github.com/tandem-cc/tandem/media"
	"github.com/tandem-cc/tandem/metrics"
	"github.com/tandem-cc/tandem/pbxnode"
)

// DialSettings say how to reach an outside number.
type DialSettings struct {
	Endpoint      string // "PJSIP/{number}@trunk"
	DefaultRegion string // for national numbers, e.g. "US"
	CallerID      string
	RingTimeout   time.Duration
	// Policy is what every number Tandem dials must pass: callbacks,
	// consults and transfers to a number, IVR dial branches (nil = the
	// default policy: no emergency, premium-rate or internal number).
	Policy *dialnum.Policy
}

// Options configure an Engine.
type Options struct {
	Store  *Store
	PBX    PBX
	Queues map[string]QueueSettings
	// DNIS maps a dialled number to a queue; DefaultQueue catches the rest.
	DNIS         map[string]string
	DefaultQueue string
	// SweepInterval is the period of the safety-net routing sweep.
	SweepInterval time.Duration
	// Swept, if set, is called after each pass of the sweep: tests wait on
	// it to know the safety net ran (and then that it changed nothing).
	Swept func()
	// Reconciled, if set, is called once Run has rebuilt the seat's calls
	// and cleared the PBX's leftovers (reconcile.go): tests wait on it.
	Reconciled func()
	Logger     *slog.Logger

	// Policy: wrap-up time and the cap on concurrent calls (applied by the
	// store's scripts).
	Policy Policy
	// WrapUpCodes are the reason codes an agent may give; DefaultWrapUpCode
	// applies when the wrap-up time runs out.
	WrapUpCodes       []string
	DefaultWrapUpCode string
	// IdleReasons are the reason codes for idle; empty accepts any.
	IdleReasons []string
	Dial        DialSettings
	// Endpoints are the endpoints an agent may log in with (patterns such
	// as PJSIP/{ext} or PJSIP/{agent}); nil accepts any endpoint, for
	// harnesses that embed the engine. tandem serve always sets them.
	Endpoints *dialnum.EndpointPolicy
	// PBXNodes are the names of the PBX nodes (pbx.nodes) when there are
	// any: a login's endpoint is read as <node>/<dial string> against them
	// and kept in pbxnode.Canonical's form (the bare dial string with one
	// node, node-qualified with several). Empty: endpoints are kept as
	// given (one unnamed PBX).
	PBXNodes []string
	// PrivacyShield is how long a privacy pause of a recording lasts.
	PrivacyShield time.Duration
	// BlindTransferNoAnswer: "abandon" (default) or "requeue".
	BlindTransferNoAnswer string
	// BusyMessage is played to calls refused at the concurrent-call cap.
	BusyMessage media.Media
	// IVR is the menus callers go through, by DNIS.
	IVR IVRMenus
	// Clock schedules the engine's timers (ring, wrap-up, announcements,
	// leases, the sweep); nil = the system clock. Tests pass a clock.Fake.
	Clock clock.Clock
	// Now is the clock for business hours (tests fix it); nil = Clock.Now.
	Now func() time.Time
	// CallbackLease is how long a replica holds a callback without
	// renewing it; a replica that dies gives its callbacks up after it.
	CallbackLease time.Duration
	// CallbackPoll is how often the scheduler looks for due callbacks (a
	// callback registered on this replica is seen at once).
	CallbackPoll time.Duration
	// Metrics are the replica's instruments (served at /metrics); nil
	// gives the engine a registry of its own. One per engine.
	Metrics *metrics.Metrics
	// CallerNumberLog says how the caller's number appears in the logs
	// (personal data): masked by default.
	CallerNumberLog pii.NumberMode
	// LivenessTTL is how long the replica's liveness key outlives its last
	// beat (see liveness.go); 0 = DefaultLivenessTTL. The TTL runs on
	// Redis's real clock, so the beats run on real time too, not on Clock.
	LivenessTTL time.Duration
	// ForwardTimeout bounds how long a request forwarded to the replica
	// that owns the call waits for its answer while that replica is alive
	// (see forward); 0 = DefaultForwardTimeout.
	ForwardTimeout time.Duration
	// Recovery tunes the recoverer (recover.go).
	Recovery RecoverOptions
	// SampleInterval is the period of the wallboard's queue samples
	// (RunQueueHistory, queue_history.go); 0 = DefaultSampleInterval.
	SampleInterval time.Duration
	// Sampled, if set, is called after each round of RunQueueHistory, once
	// it has offered every queue's sample, with the slot (its start, on
	// Redis's clock) each queue's sample was offered for (a queue whose
	// sample failed is missing): tests wait on it.
	Sampled func(slots map[string]time.Time)
}

// Engine runs the call flow of one replica: it owns the calls whose PBX
// events reach it, one actor goroutine per call, and takes offers for its
// calls from its Redis inbox. It also serves the agent API (Login, ...).
type Engine struct {
	opts  Options
	store *Store
	cad   *cad.Store
	ewt   *ewtBook // wait-time estimators, one per queue
	// schedules are the queues' opening hours, compiled once.
	schedules map[string]*hours.Schedule
	pbx       PBX
	log       *slog.Logger
	stats     *Stats
	callbacks *callbacks.Store
	cbWake    chan struct{} // wakes the callback scheduler
	// draining: the seat drains in place (lease_drain.go): new calls go
	// back to the dialplan, no callback is claimed.
	draining atomic.Bool
	// callEnded is signalled (never blocks) whenever a call is forgotten,
	// so a drain waits for the last one without polling.
	callEnded chan struct{}

	mu    sync.Mutex
	legs  map[string]*call // every live leg of every call this node owns
	calls map[string]*call // by connection id
	ctx   context.Context  // set by Run; actors stop when it ends
	wg    sync.WaitGroup   // actors
	recon reconcileState   // rebuilding the seat's calls at start (reconcile.go)
}

// NewEngine builds an engine; Run starts it.
func NewEngine(opts Options) *Engine {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.SweepInterval <= 0 {
		opts.SweepInterval = time.Second
	}
	if opts.DefaultWrapUpCode == "" {
		opts.DefaultWrapUpCode = "default"
	}
	if len(opts.WrapUpCodes) == 0 {
		opts.WrapUpCodes = []string{opts.DefaultWrapUpCode}
	}
	if opts.PrivacyShield <= 0 {
		opts.PrivacyShield = 10 * time.Second
	}
	if opts.Dial.RingTimeout <= 0 {
		opts.Dial.RingTimeout = 30 * time.Second
	}
	if opts.Dial.DefaultRegion == "" {
		opts.Dial.DefaultRegion = "US"
	}
	if opts.Clock == nil {
		opts.Clock = clock.Real()
	}
	if opts.Now == nil {
		opts.Now = opts.Clock.Now
	}
	if opts.CallbackLease <= 0 {
		opts.CallbackLease = DefaultCallbackLease
	}
	if opts.CallbackPoll <= 0 {
		opts.CallbackPoll = DefaultCallbackPoll
	}
	if opts.LivenessTTL <= 0 {
		opts.LivenessTTL = DefaultLivenessTTL
	}
	if opts.ForwardTimeout <= 0 {
		opts.ForwardTimeout = DefaultForwardTimeout
	}
	schedules := map[string]*hours.Schedule{}
	for name, q := range opts.Queues {
		if len(q.Hours.Weekly) == 0 && len(q.Hours.Holidays) == 0 {
			continue // always open
		}
		sched, err := hours.Compile(q.Hours.Hours)
		if err != nil {
			// Config validation refuses bad hours; an engine built by hand
			// with bad ones keeps the queue open rather than closed.
			opts.Logger.Error("queue hours", "queue", name, "err", err)
			continue
		}
		schedules[name] = sched
	}
	if opts.Policy.SecureNames == nil {
		opts.Policy.SecureNames = secureNames(opts.Queues, opts.IVR)
	}
	store := opts.Store.WithPolicy(opts.Policy)
	if opts.Metrics == nil {
		opts.Metrics = metrics.New()
	}
	e := &Engine{
		opts: opts, pbx: guardPBX(meterPBX(opts.PBX, opts.Metrics), store.fence),
		cad: cad.NewStore(store.rdb, store.prefix, opts.Logger),
		ewt: newEWTBook(), schedules: schedules,
		callbacks: callbacks.NewStore(store.rdb, store.prefix), cbWake: make(chan struct{}, 1), callEnded: make(chan struct{}, 1),
		log:   opts.Logger.With("node", opts.Store.Node()),
		stats: newStats(opts.Metrics),
		legs:  map[string]*call{}, calls: map[string]*call{},
		recon: reconcileState{up: make(chan Resynced, 1)},
	}
	// Every offer the engine's store makes comes back through
	// e.deliverOffer: the one delivery path (see offerSink).
	e.store = store.withSink(e).withHistoryReport(e.historyWriteFailed)
	if err := opts.Metrics.Register(newStateCollector(e)); err != nil {
		var dup prometheus.AlreadyRegisteredError
		if errors.As(err, &dup) {
			// A hosted seat's engine shares its process's registry: its
			// counters add to the process's, and the gauges stay those of
			// the engine that registered first (the home seat's).
			e.log.Debug("metrics: the redis gauges are already registered", "err", err)
		} else {
			e.log.Error("metrics: register the redis gauges", "err", err)
		}
	}
	return e
}

// historyWriteFailed logs and counts a history append that failed: the
// interaction's history has a hole there.
func (e *Engine) historyWriteFailed(conn, action string, err error) {
	e.stats.historyWriteFailures.Add(1)
	e.log.Error("history write failed", "connection_id", conn, "action", action, "err", err)
}

// Stats returns the engine's counters (hand-off latency and the like).
func (e *Engine) Stats() *Stats { return e.stats }

// Metrics returns the replica's instruments, to serve at /metrics.
func (e *Engine) Metrics() *metrics.Metrics { return e.opts.Metrics }

// Run drives the engine until ctx ends: PBX events, the node's offer
// inbox, and the routing sweep.
func (e *Engine) Run(ctx context.Context) error {
	routing := make(map[string]QueueRouting, len(e.opts.Queues))
	callSkills := e.callSkills()
	for name, q := range e.opts.Queues {
		routing[name] = QueueRouting{Strategy: q.Strategy, Weight: q.Weight, Skills: q.Skills, CallSkills: callSkills[name], RingTimeout: q.RingTimeout}
	}
	if err := e.store.SetQueues(ctx, routing); err != nil {
		return fmt.Errorf("write queue routing: %w", err)
	}
	// A seat's engine (its store carries a fencing token) is kept alive by
	// the seat's lease, held outside it (SeatHost); it stops, as if it had
	// crashed, once the token is refused. An engine without a seat (tests,
	// tools) beats its own liveness key.
	token, fenced := e.store.fence.watch()
	seated := token > 0
	if !seated {
		// Alive before the first event: a request forwarded here from the
		// start finds this replica running.
		if err := e.beat(ctx); err != nil {
			return err
		}
	}
	ctx, stop := context.WithCancelCause(ctx)
	defer stop(nil)
	if seated {
		go func() {
			select {
			case <-fenced:
				stop(fmt.Errorf("seat %s token %d: %w", e.store.node, token, errs.ErrFenced))
			case <-ctx.Done():
			}
		}()
	}
	e.mu.Lock()
	e.ctx = ctx
	// A seat's engine runs again after it was fenced and took its seat
	// back: what it tracked then is the next holder's to rebuild.
	clear(e.legs)
	clear(e.calls)
	e.mu.Unlock()
	// The seat's calls are this engine's before any event or offer can
	// come for them; reconcile rebuilds them once the PBX is up.
	if err := e.loadSeat(ctx); err != nil {
		return fmt.Errorf("load the seat's calls: %w", err)
	}
	g, gctx := errgroup.WithContext(ctx)
	// The first part to fail stops the calls' actors too (they run on ctx,
	// not gctx): above all the PBX socket replaced by another connection
	// for the application (ErrReplaced: a newer holder of the seat is up),
	// after which an actor that went on would ring agents and hang legs up
	// for calls the newer holder rebuilds, until its next script came back
	// FENCED. Ends at the latest when Run returns (stop below).
	go func() {
		<-gctx.Done()
		stop(context.Cause(gctx))
	}()
	g.Go(func() error { return e.reconcile(gctx) })
	g.Go(func() error { return e.pbx.Run(gctx, e.onEvent) })
	g.Go(func() error { return e.readInbox(gctx) })
	g.Go(func() error { return e.sweep(gctx) })
	g.Go(func() error { return e.runCallbacks(gctx) })
	g.Go(func() error { return e.runRecoverer(gctx) })
	if !seated {
		g.Go(func() error { return e.runLiveness(gctx) })
	}
	err := g.Wait()
	e.wg.Wait()
	if cause := context.Cause(ctx); errors.Is(cause, errs.ErrFenced) {
		e.log.Error("seat fenced: a newer holder has it; stopped acting for its calls", "err", cause)
		return cause
	}
	if errors.Is(err, errs.ErrFenced) {
		return err
	}
	if gctx.Err() != nil && errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

// onEvent is called by the driver's single delivery goroutine; it only
// routes the event to the actor of its call, never blocks on I/O.
func (e *Engine) onEvent(ev Event) {
	switch ev := ev.(type) {
	case CallArrived:
		if e.tracksLeg(ev.Leg) {
			// A driver reporting, after a takeover, a leg whose
			// StasisStart it never saw: a call this engine rebuilt from
			// Redis, not a new one.
			return
		}
		if e.draining.Load() {
			e.sendBack(StrayArrived{Leg: ev.Leg, Args: []string{"draining"}})
			return
		}
		e.startCall(ev)
	case StrayArrived:
		e.sendBack(ev)
	case Resynced:
		if !ev.Initial {
			// The first read finds nothing lost: the legs of the seat's
			// calls are read by the reconciliation (reconcile.go), and a
			// leg rung as Run starts may be newer than the read.
			e.resync(ev)
		}
		e.noteResynced(ev)
	default:
		e.mu.Lock()
		c := e.legs[ev.eventLeg()]
		e.mu.Unlock()
		if c == nil {
			if a, ok := ev.(LegAnswered); ok {
				e.hangupUnwanted(a.Leg)
				return
			}
			e.log.Debug("event for a leg this node does not track", "leg", ev.eventLeg(), "event", fmt.Sprintf("%T", ev))
			return
		}
		c.post(ev)
	}
}

func (e *Engine) startCall(ev CallArrived) {
	c := &call{e: e, conn: newConnectionID(), callerLeg: ev.Leg, arrived: ev, wake: make(chan struct{}, 1), lastEWT: ewt.NotAnnounced, route: routeArriving, talk: talkIdle, recState: recOff,
		bridge: bridgeNone, counterpart: counterpartNone, outcome: outcomeOpen}
	c.log = e.log.With("connection_id", c.conn)
	e.mu.Lock()
	if e.ctx == nil || e.ctx.Err() != nil {
		e.mu.Unlock()
		return
	}
	if e.legs[ev.Leg] != nil {
		e.mu.Unlock()
		return // see onEvent: a call this engine rebuilt
	}
	e.bindLegLocked(ev.Leg, c)
	e.bindCallLocked(c.conn, c)
	ctx := e.ctx
	e.wg.Add(1)
	e.mu.Unlock()
	c.post(ev)
	go func() {
		defer e.wg.Done()
		c.run(ctx)
	}()
}

// resync reconciles after the driver lost events: every tracked leg the PBX
// no longer has is treated as hung up.
func (e *Engine) resync(ev Resynced) {
	live := make(map[string]bool, len(ev.Live))
	for _, l := range ev.Live {
		live[l] = true
	}
	e.mu.Lock()
	var gone []struct {
		c   *call
		leg string
	}
	for leg, c := range e.legs {
		if !live[leg] {
			gone = append(gone, struct {
				c   *call
				leg string
			}{c, leg})
		}
	}
	e.mu.Unlock()
	for _, g := range gone {
		e.log.Warn("leg ended while events were lost", "leg", g.leg, "connection_id", g.c.conn)
		g.c.post(legLost{leg: g.leg})
	}
}

// tracksLeg: some call of this engine has leg.
func (e *Engine) tracksLeg(leg string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.legs[leg] != nil
}

func (e *Engine) registerLeg(leg string, c *call) {
	e.mu.Lock()
	e.bindLegLocked(leg, c)
	e.mu.Unlock()
}

func (e *Engine) forgetLeg(leg string) {
	e.mu.Lock()
	e.unbindLegLocked(leg)
	e.mu.Unlock()
}

// registerCall routes offers for id (a consult waiting in a queue) to c.
func (e *Engine) registerCall(id string, c *call) {
	e.mu.Lock()
	e.bindCallLocked(id, c)
	e.mu.Unlock()
}

func (e *Engine) forgetCall(c *call) {
	defer e.signalCallEnded()
	e.mu.Lock()
	e.forgetCallLocked(c)
	e.mu.Unlock()
}

// deliverOffer is the one path every offer takes to its call: the offers
// the store's scripts make (the store calls it, see offerSink) and those
// other nodes put in this node's inbox. It hands the offer to the actor of
// its call, which rings the agent; an actor delivers its own call's offers
// to itself this way too (they wait in its mailbox until its current step
// is done). An offer for a call this node no longer has (it ended
// meanwhile, or the node restarted) is given back so the agent is not left
// reserved.
func (e *Engine) deliverOffer(ctx context.Context, o Offer, freedAt time.Time) {
	e.mu.Lock()
	c := e.calls[o.ConnectionID]
	e.mu.Unlock()
	if c != nil {
		c.post(offerMsg{offer: o, freedAt: freedAt})
		return
	}
	if e.seatStopped() {
		// Stopping is a crash for the seat's calls: the offer stays in
		// Redis for the next holder, which gives it back (reconcile.go).
		return
	}
	// Finish delivers the offer the released agent gets next, if any.
	_, err := e.store.Finish(ctx, o.ConnectionID, "failed", "system")
	if errors.Is(err, ErrIllegalTransition) {
		// The call ended after the offer was made; the script that ended it
		// already released the agent.
		return
	}
	if err != nil {
		e.log.Error("give back orphan offer", "connection_id", o.ConnectionID, "err", err)
		return
	}
	e.destroyOrphanBridge(ctx, o.ConnectionID)
	e.log.Warn("offer for a call this node does not run; failed it and released the agent", "connection_id", o.ConnectionID, "agent_id", o.Agent)
}

// inboxGroup is the consumer group every reader of a node's inbox is in;
// the consumer is the node (a replica and whoever hosts its seat after it
// read under the same name).
const inboxGroup = "owner"

// readInbox takes offers other nodes made for this node's calls, and
// requests forwarded to it. A consumer group with acknowledgement keeps an
// entry until it has been handled: at start, and then every recoverer
// interval, entries delivered and never acknowledged are read again
// (recoverInbox).
func (e *Engine) readInbox(ctx context.Context) error {
	stream := e.store.keys.Inbox(e.store.node)
	err := e.store.rdb.XGroupCreateMkStream(ctx, stream, inboxGroup, "0").Err()
	if err != nil && !strings.Contains(err.Error(), "BUSYGROUP") {
		return fmt.Errorf("create inbox group: %w", err)
	}
	o := e.opts.Recovery.withDefaults()
	tick := e.opts.Clock.NewTicker(o.Interval)
	defer tick.Stop()
	// One reader of the inbox: the recovery runs between reads, so an
	// entry is never handled by two goroutines of this engine at once.
	e.recoverInbox(ctx, o, true)
	for ctx.Err() == nil {
		select {
		case <-tick.C():
			e.recoverInbox(ctx, o, false)
		default:
		}
		res, err := e.store.rdb.XReadGroup(ctx, &redis.XReadGroupArgs{
			Group: inboxGroup, Consumer: e.store.node, Streams: []string{stream, ">"},
			Count: 100, Block: time.Second,
		}).Result()
		if errors.Is(err, redis.Nil) {
			continue
		}
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			e.log.Error("read inbox", "err", err)
			// Waiting for Redis to recover is real time, not the engine's
			// clock; the wait ends with ctx.
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(100 * time.Millisecond):
			}
			continue
		}
		for _, s := range res {
			for _, m := range s.Messages {
				e.handleInbox(ctx, stream, m)
			}
		}
	}
	return nil
}

// handleInbox carries out one inbox entry, then acknowledges and deletes
// it. An entry deleted while pending (no values) is only acknowledged, and
// so is an offer that is no longer pending (staleOffer).
func (e *Engine) handleInbox(ctx context.Context, stream string, m redis.XMessage) {
	switch {
	case len(m.Values) == 0:
	case m.Values["type"] == "command":
		e.runForwarded(ctx, fmt.Sprint(m.Values["conn"]), fmt.Sprint(m.Values["command"]))
	default:
		if o := OfferFromInbox(m.Values); !e.staleOffer(ctx, o) {
			e.deliverOffer(ctx, o, time.Time{})
		}
	}
	if err := e.store.rdb.XAck(ctx, stream, inboxGroup, m.ID).Err(); err != nil && ctx.Err() == nil {
		e.log.Warn("acknowledge inbox entry", "id", m.ID, "err", err)
	}
	e.store.rdb.XDel(ctx, stream, m.ID)
}

// sweep is the safety net behind event-driven routing.
func (e *Engine) sweep(ctx context.Context) error {
	t := e.opts.Clock.NewTicker(e.opts.SweepInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C():
		}
		if e.opts.Policy.WrapUp > 0 {
			if err := e.store.ExpireWrapUps(ctx, e.opts.DefaultWrapUpCode, 20); err != nil && ctx.Err() == nil {
				e.log.Error("expire wrap-ups", "err", err)
			}
		}
		// Secure values kept past their call's end are dropped here once
		// their retention passed (at the end itself otherwise). Run even
		// when this replica keeps none: values scheduled by a replica that
		// did (or before the retention was set back to 0) must not be
		// stranded in clear.
		if _, err := e.store.DropDueSecureValues(ctx, secureBatch); err != nil && ctx.Err() == nil {
			e.log.Error("drop secure values", "err", err)
		}
		for q := range e.opts.Queues {
			n, err := e.store.Sweep(ctx, q, 20)
			if err != nil {
				if ctx.Err() == nil {
					e.log.Error("sweep", "queue", q, "err", err)
				}
				continue
			}
			if n > 0 {
				e.log.Warn("sweep routed calls an event missed", "queue", q, "calls", n)
			}
		}
		if e.opts.Swept != nil {
			e.opts.Swept()
		}
	}
}

// queueFor picks the queue of an arriving call: the queue the dialplan
// named (CallArrived.Queue), then the TANDEM_QUEUE channel variable, then
// the DNIS map, then the default queue.
func (e *Engine) queueFor(ev CallArrived) (string, bool) {
	candidates := []string{ev.Queue, ev.Vars["TANDEM_QUEUE"], e.opts.DNIS[ev.DNIS], e.opts.DefaultQueue}
	for _, q := range candidates {
		if q == "" {
			continue
		}
		_, ok := e.opts.Queues[q]
		return q, ok
	}
	return "", false
}

// publish sends an event to an agent's desktop (all replicas' WebSockets).
func (e *Engine) publish(ctx context.Context, ev AgentEvent) {
	ev.At = time.Now()
	data, err := agentEventPayload(ev)
	if err != nil {
		return
	}
	if err := e.store.rdb.Publish(ctx, e.store.keys.AgentChannel(ev.Agent), data).Err(); err != nil && ctx.Err() == nil {
		e.log.Warn("publish agent event", "agent_id", ev.Agent, "err", err)
	}
}

// agentEventPayload is ev as published on its agent's channel.
func agentEventPayload(ev AgentEvent) ([]byte, error) {
	return json.Marshal(agentEventWire{AgentEvent: ev, AtMS: ev.At.UnixMilli()})
}

// agentEventWire is the pub/sub form: Lua scripts can only write the time
// as milliseconds.
type agentEventWire struct {
	AgentEvent
	AtMS int64 `json:"at_ms"`
}

// SubscribeAgent streams an agent's events until ctx ends.
func (e *Engine) SubscribeAgent(ctx context.Context, id string) (<-chan AgentEvent, error) {
	if _, err := e.store.Agent(ctx, id); err != nil {
		return nil, err
	}
	sub := e.store.rdb.Subscribe(ctx, e.store.keys.AgentChannel(id))
	return e.stream(ctx, sub, "agent "+id)
}

// SubscribeSupervisor streams every agent's events until ctx ends.
func (e *Engine) SubscribeSupervisor(ctx context.Context) (<-chan AgentEvent, error) {
	sub := e.store.rdb.PSubscribe(ctx, e.store.keys.AgentChannel("*"))
	return e.stream(ctx, sub, "supervisor")
}

func (e *Engine) stream(ctx context.Context, sub *redis.PubSub, who string) (<-chan AgentEvent, error) {
	if _, err := sub.Receive(ctx); err != nil {
		_ = sub.Close()
		return nil, fmt.Errorf("subscribe %s: %w", who, err)
	}
	out := make(chan AgentEvent, 64)
	go func() {
		defer close(out)
		defer func() { _ = sub.Close() }()
		msgs := sub.Channel()
		for {
			select {
			case <-ctx.Done():
				return
			case m, ok := <-msgs:
				if !ok {
					return
				}
				var w agentEventWire
				if err := json.Unmarshal([]byte(m.Payload), &w); err != nil {
					continue
				}
				w.At = time.UnixMilli(w.AtMS)
				select {
				case out <- w.AgentEvent:
				case <-ctx.Done():
					return
				}
			}
		}
	}()
	return out, nil
}

// Login logs an agent in with its skills (levels 1..10); it starts idle.
func (e *Engine) Login(ctx context.Context, id, endpoint string, queues []string, skills map[string]int) (agents.Agent, error) {
	if strings.TrimSpace(endpoint) == "" {
		return agents.Agent{}, &errs.FieldError{Field: "endpoint", Msg: "is required"}
	}
	if len(e.opts.PBXNodes) > 0 {
		// ast1/PJSIP/1001 and PJSIP/1001 are one phone with a single node;
		// with several the node is required. What is kept is what the
		// PBX port rings.
		canon, err := pbxnode.Canonical(e.opts.PBXNodes, endpoint)
		if err != nil {
			return agents.Agent{}, &errs.FieldError{Field: "endpoint", Msg: err.Error()}
		}
		endpoint = canon
	}
	if e.opts.Endpoints != nil {
		// Every call offered to the agent is sent to this endpoint: one
		// outside the patterns would let a token send customers to a trunk
		// or back into the inbound dialplan.
		if err := e.opts.Endpoints.Check(id, endpoint); err != nil {
			msg := err.Error()
			var re *dialnum.RuleError
			if errors.As(err, &re) {
				msg = fmt.Sprintf("%s (rule %s)", re.Msg, re.Rule)
			}
			return agents.Agent{}, &errs.FieldError{Field: "endpoint", Msg: msg}
		}
	}
	if len(queues) == 0 {
		return agents.Agent{}, &errs.FieldError{Field: "queues", Msg: "at least one queue is required"}
	}
	for _, q := range queues {
		if _, ok := e.opts.Queues[q]; !ok {
			return agents.Agent{}, &errs.FieldError{Field: "queues", Msg: fmt.Sprintf("unknown queue %q", q)}
		}
	}
	a, err := e.store.Login(ctx, id, endpoint, queues, skills)
	if err != nil {
		return a, err
	}
	if actor := ActorOf(ctx); actsForOther(actor, id) {
		if err := e.auditForAgent(ctx, "login", actor, id, "", "endpoint", endpoint, "queues", strings.Join(queues, ",")); err != nil {
			return agents.Agent{}, err
		}
	}
	return a, nil
}

// SetAvailable makes an agent available; a waiting call is offered at once.
func (e *Engine) SetAvailable(ctx context.Context, id string) (agents.Agent, error) {
	return e.setState(ctx, id, agents.EvAvailable, "")
}

// SetIdle takes an agent out of routing with a reason code.
func (e *Engine) SetIdle(ctx context.Context, id, reason string) (agents.Agent, error) {
	if reason == "" {
		return agents.Agent{}, &errs.FieldError{Field: "reason", Msg: "is required"}
	}
	if len(e.opts.IdleReasons) > 0 && !contains(e.opts.IdleReasons, reason) {
		return agents.Agent{}, &errs.FieldError{Field: "reason", Msg: fmt.Sprintf("unknown idle reason %q", reason)}
	}
	return e.setState(ctx, id, agents.EvIdle, reason)
}

// Logout logs an agent out; refused while a call is offered or connected.
func (e *Engine) Logout(ctx context.Context, id string) (agents.Agent, error) {
	return e.setState(ctx, id, agents.EvLogout, "")
}

func (e *Engine) setState(ctx context.Context, id string, ev agents.Event, reason string) (agents.Agent, error) {
	if err := e.store.SetState(ctx, id, ev, reason); err != nil {
		return agents.Agent{}, err
	}
	a, err := e.store.Agent(ctx, id)
	if actor := ActorOf(ctx); actsForOther(actor, id) {
		// The agent's record may be gone for good (a logout's expiry
		// being short): the action is audited whether or not it reads.
		if aerr := e.auditForAgent(ctx, string(ev), actor, id, a.ConnectionID, "reason", reason, "state", string(a.State)); aerr != nil {
			return agents.Agent{}, aerr
		}
	}
	return a, err
}

// Agent reads one agent.
func (e *Engine) Agent(ctx context.Context, id string) (agents.Agent, error) {
	return e.store.Agent(ctx, id)
}

// Queue reads one configured queue, with its figures and live callbacks.
func (e *Engine) Queue(ctx context.Context, name string) (QueueView, error) {
	if _, ok := e.opts.Queues[name]; !ok {
		return QueueView{}, fmt.Errorf("queue %s: %w", name, ErrNotFound)
	}
	views, err := e.queueViews(ctx, []string{name})
	if err != nil {
		return QueueView{}, err
	}
	return views[0], nil
}

func newConnectionID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// lateHangup is how long after a failed Ring its leg is hung up once more:
// longer than a REST call may take, since a request that timed out may
// still reach the PBX.
const lateHangup = 10 * time.Second

// hangupLater hangs leg up after lateHangup: a Ring that failed (on a
// timeout) may still create the leg, and nobody would take it. Nothing
// happens if the engine has stopped by then; a leg that does not exist is
// not an error.
func (e *Engine) hangupLater(leg string) {
	e.mu.Lock()
	ctx := e.ctx
	e.mu.Unlock()
	if ctx == nil {
		return
	}
	e.opts.Clock.AfterFunc(lateHangup, func() {
		if ctx.Err() != nil {
			return
		}
		hctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		if err := e.pbx.Hangup(hctx, leg, CauseNormal); err != nil {
			e.log.Debug("late hang-up of a leg whose ring failed", "leg", leg, "err", err)
		}
	})
}

// scheduleWrapUp ends agent's wrap-up with the default code when its time
// runs out. The timer is this node's; if the node dies, the sweep's
// ExpireWrapUps does it. A timer that finds the agent no longer in that
// wrap-up changes nothing (the script checks the due time in Redis).
func (e *Engine) scheduleWrapUp(agent string) {
	if !e.opts.Policy.hasWrapUp() {
		return
	}
	e.mu.Lock()
	ctx := e.ctx
	e.mu.Unlock()
	e.opts.Clock.AfterFunc(e.opts.Policy.WrapUp+10*time.Millisecond, func() {
		if ctx == nil || ctx.Err() != nil {
			return
		}
		_, err := e.store.WrapUpTimeout(ctx, agent, e.opts.DefaultWrapUpCode)
		if err != nil {
			if !errors.Is(err, ErrNotDue) && !errors.Is(err, ErrIllegalTransition) {
				e.log.Warn("wrap-up timeout", "agent_id", agent, "err", err)
			}
			return
		}
		e.log.Info("wrap-up timed out; default code applied", "agent_id", agent, "code", e.opts.DefaultWrapUpCode)
	})
}

// callSkills lists, per queue, the skills calls may require on their own
// there: those of IVR branches into the queue, and of queues overflowing
// into it (a call's requirements travel with it). The routing index keeps
// a set per such skill.
func (e *Engine) callSkills() map[string][]string {
	out := map[string][]string{}
	add := func(q string, reqs []SkillRequirement) {
		for _, r := range reqs {
			if !contains(out[q], r.Skill) {
				out[q] = append(out[q], r.Skill)
			}
		}
	}
	for _, n := range e.opts.IVR.Nodes {
		for _, b := range n.Branches {
			add(b.Queue, b.Skills)
		}
		add(n.Next.Queue, n.Next.Skills)
		add(n.OnFailure.Queue, n.OnFailure.Skills)
	}
	for q, s := range e.opts.Queues {
		if s.Overflow.Action.Type == "queue" {
			for _, skill := range out[q] {
				add(s.Overflow.Action.Queue, []SkillRequirement{{Skill: skill}})
			}
		}
	}
	return out
}

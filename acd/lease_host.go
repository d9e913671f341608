package acd

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tandem-cc/tandem/errs"
	"github.com/tandem-cc/tandem/internal/keyspace"
)

// SeatHost runs the seats one process holds: its home seat, always, and
// the seats of replicas that died, which it claims when their lease is
// absent (one survivor wins each). Both `tandem serve` and the lab run one
// per replica.
//
//   - Home: acquired at start even from a survivor hosting it (the dialplan
//     sends Stasis(<its app>) calls here first, and taking it back spreads
//     the load again). If the seat is taken while this process is paused,
//     its engine finds itself fenced, stops as if it had crashed and takes
//     the seat back (the engine runs again, rebuilding its calls); only a
//     later process of the same node keeps it.
//   - Hosted: for each seat of the registry whose lease is absent, Claim;
//     the winner builds the seat's engine (Options.Host: a second ARI
//     driver for the seat's application, whose socket replaces any stale
//     one, and a store of the seat's node) and runs it until it is fenced
//     (the seat's replica came back) or this process stops. Releases are
//     announced (seat-released), so a drained seat is claimed at once; a
//     poll is the safety net for seats whose holder died.
//   - Drain (Drain, on SIGTERM): no more claiming; if another replica is
//     alive, every seat is stopped like a crash and released at once for
//     it to claim; otherwise the seats drain in place (new calls back to
//     the dialplan, existing ones served) until no call is left or the
//     drain timeout, then stop and are released.
//
// Callbacks: a seat's holder keeps the callback takeover lock of its
// application (lease scripts), so a callback dial the seat started is
// continued only by the seat's engine, which sees the application as its
// own (PBX.Takeover enters the legs, no second socket). A hosted engine
// runs its callback scheduler like any engine: claims are one script each,
// so two schedulers in one process never take one callback twice; the cost
// is one more poll per hosted seat while it is hosted.
type SeatHost struct {
	opts  HostOptions
	keys  keyspace.Keys
	home  *Lease
	log   *slog.Logger
	drain chan struct{}
	once  sync.Once

	homeHeld atomic.Bool
	draining atomic.Bool

	mu     sync.Mutex
	hosted map[string]*hostedSeat // by node
	ended  chan struct{}          // a hosted seat stopped (watch looks again)
}

// HostOptions configure a SeatHost.
type HostOptions struct {
	RDB    redis.UniversalClient
	Prefix string
	// Home is this process's own seat; Engine runs it (its store's node is
	// Home.Node). The engine is run again after it was fenced.
	Home   Seat
	Engine *Engine
	// Instance names this process as a holder; "" = NewInstanceID(Home.Node).
	Instance string
	// Lease is the lease duration (0 = DefaultLease); Poll how often other
	// seats are looked at (0 = Lease/2). Both run on real time: the lease
	// runs out on Redis's clock.
	Lease time.Duration
	Poll  time.Duration
	// Host builds the engine of another replica's seat (node seat.Node, a
	// PBX driver for seat.App); nil: this process never hosts a seat.
	Host func(seat Seat) (*Engine, error)
	// DrainTimeout bounds a drain in place (0 = 30s).
	DrainTimeout time.Duration
	Logger       *slog.Logger
	// Observe, if set, is told about every change of a seat (tests wait on
	// it).
	Observe func(SeatEvent)
}

// SeatEventKind names a change of a seat held by a SeatHost.
type SeatEventKind string

// The changes a SeatHost reports.
const (
	SeatAcquired SeatEventKind = "acquired" // the home seat, taken (token)
	SeatClaimed  SeatEventKind = "claimed"  // another seat, claimed to host it
	SeatFenced   SeatEventKind = "fenced"   // a seat's engine stopped: a newer holder has it
	SeatStopped  SeatEventKind = "stopped"  // a seat's engine stopped for another reason
	SeatReleased SeatEventKind = "released" // a seat given up (drain)
	SeatDraining SeatEventKind = "draining" // drain in place began (Hosted false) — no other replica alive
)

// SeatEvent is one change.
type SeatEvent struct {
	Kind   SeatEventKind
	Seat   Seat
	Token  int64
	Hosted bool  // not the home seat
	Err    error // why it stopped
}

type hostedSeat struct {
	lease  *Lease
	engine *Engine
	cancel context.CancelFunc
	done   chan struct{}
}

// NewSeatHost returns a host; Run runs it.
func NewSeatHost(opts HostOptions) *SeatHost {
	if opts.Instance == "" {
		opts.Instance = NewInstanceID(opts.Home.Node)
	}
	if opts.Lease <= 0 {
		opts.Lease = DefaultLease
	}
	if opts.Poll <= 0 {
		opts.Poll = opts.Lease / 2
	}
	if opts.DrainTimeout <= 0 {
		opts.DrainTimeout = 30 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	return &SeatHost{
		opts: opts, keys: keyspace.New(opts.Prefix),
		home:  NewLease(opts.RDB, opts.Prefix, opts.Home, opts.Instance, opts.Lease),
		log:   opts.Logger.With("seat_host", opts.Instance),
		drain: make(chan struct{}), hosted: map[string]*hostedSeat{}, ended: make(chan struct{}, 1),
	}
}

// Instance is this process's holder id.
func (h *SeatHost) Instance() string { return h.opts.Instance }

// Ready reports whether this process holds its home seat and is not
// draining (readiness).
func (h *SeatHost) Ready() bool { return h.homeHeld.Load() && !h.draining.Load() }

// Hosted lists the nodes of the seats hosted now.
func (h *SeatHost) Hosted() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]string, 0, len(h.hosted))
	for n := range h.hosted {
		out = append(out, n)
	}
	return out
}

// HostedEngine is the engine running seat node here, nil if none.
func (h *SeatHost) HostedEngine(node string) *Engine {
	h.mu.Lock()
	defer h.mu.Unlock()
	if s := h.hosted[node]; s != nil {
		return s.engine
	}
	return nil
}

// Drain asks Run to drain every seat and return (SIGTERM).
func (h *SeatHost) Drain() { h.once.Do(func() { close(h.drain) }) }

func (h *SeatHost) observe(ev SeatEvent) {
	if h.opts.Observe != nil {
		h.opts.Observe(ev)
	}
}

// Run holds the home seat and hosts dead seats until ctx ends (every seat
// stops like a crash: nothing is released, the leases run out) or a drain
// is over. It returns an error if the home seat's engine fails, or if a
// later process of the home node took the seat.
func (h *SeatHost) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	homeCtx, stopHome := context.WithCancel(ctx)
	defer stopHome()
	homeDone := make(chan error, 1)
	go func() { homeDone <- h.runHome(homeCtx) }()
	watchCtx, stopWatch := context.WithCancel(ctx)
	watchDone := make(chan struct{})
	go func() {
		defer close(watchDone)
		if h.opts.Host != nil {
			h.watch(watchCtx)
		}
	}()
	var err error
	select {
	case err = <-homeDone:
		stopWatch()
		<-watchDone
		h.stopHosted(context.WithoutCancel(ctx), false)
	case <-ctx.Done():
		stopWatch()
		<-watchDone
		stopHome()
		// The home engine ends with ctx; an error other than that is the
		// run's own failure, still worth returning.
		if herr := <-homeDone; herr != nil && !errors.Is(herr, context.Canceled) {
			err = herr
		}
		h.stopHosted(context.WithoutCancel(ctx), false)
	case <-h.drain:
		stopWatch()
		<-watchDone
		err = h.runDrain(ctx, stopHome, homeDone)
	}
	return err
}

// runHome holds the home seat: acquire, run the engine, and when it was
// fenced take the seat back, unless a later process of this node has it.
func (h *SeatHost) runHome(ctx context.Context) error {
	seat := h.opts.Home
	for {
		tok, err := h.retry(ctx, "acquire home seat", func(ctx context.Context) (int64, error) { return h.home.Acquire(ctx) })
		if err != nil {
			return nil // ctx ended
		}
		h.opts.Engine.store.SetFence(tok)
		h.homeHeld.Store(true)
		h.log.Info("holding home seat", "node", seat.Node, "token", tok)
		h.observe(SeatEvent{Kind: SeatAcquired, Seat: seat, Token: tok})
		err = h.runSeat(ctx, h.home, h.opts.Engine)
		h.homeHeld.Store(false)
		if ctx.Err() != nil {
			return nil
		}
		if !errors.Is(err, errs.ErrFenced) {
			h.observe(SeatEvent{Kind: SeatStopped, Seat: seat, Token: tok, Err: err})
			if err == nil {
				err = errors.New("engine stopped")
			}
			return fmt.Errorf("home seat %s: %w", seat.Node, err)
		}
		h.observe(SeatEvent{Kind: SeatFenced, Seat: seat, Token: tok, Err: err})
		holder, _, held, herr := SeatHolder(ctx, h.opts.RDB, h.opts.Prefix, seat.Node)
		if herr == nil && held && holder != h.opts.Instance && instanceHome(holder) == seat.Node {
			return fmt.Errorf("home seat %s taken by %s, a later process of this node: %w", seat.Node, holder, err)
		}
		h.log.Warn("home seat was taken while this process did not renew it; taking it back", "node", seat.Node, "token", tok, "err", err)
	}
}

// runSeat runs engine for the seat lease holds, renewing the lease, until
// ctx ends or the seat is lost; it returns the engine's error (wrapping
// errs.ErrFenced when lost).
func (h *SeatHost) runSeat(ctx context.Context, lease *Lease, engine *Engine) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	engine.store.fence.bind(lease)
	h.lapseEarlierTerms(ctx, lease, engine)
	held := make(chan struct{})
	go func() {
		defer close(held)
		if err := lease.Hold(ctx); err != nil {
			h.log.Error("seat lost", "node", lease.Seat().Node, "err", err)
			engine.store.fence.trip(lease.Token())
		}
	}()
	err := engine.Run(ctx)
	cancel()
	<-held
	return err
}

// retry runs op until it succeeds or ctx ends, on real time.
func (h *SeatHost) retry(ctx context.Context, what string, op func(context.Context) (int64, error)) (int64, error) {
	wait := 50 * time.Millisecond
	for {
		v, err := op(ctx)
		if err == nil {
			return v, nil
		}
		if ctx.Err() != nil {
			return 0, ctx.Err()
		}
		h.log.Warn(what, "err", err, "retry_in", wait)
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(wait):
		}
		wait = min(2*wait, h.opts.Lease/3)
	}
}

// watch claims the seats whose lease is absent, when one is released and
// at every poll, until ctx ends.
func (h *SeatHost) watch(ctx context.Context) {
	sub := h.opts.RDB.Subscribe(ctx, h.keys.SeatReleased())
	defer func() { _ = sub.Close() }()
	// Subscribed before the first look: a release after it is heard.
	if _, err := sub.Receive(ctx); err != nil && ctx.Err() == nil {
		h.log.Warn("subscribe to seat releases; polling only", "err", err)
	}
	msgs := sub.Channel()
	t := time.NewTicker(h.opts.Poll)
	defer t.Stop()
	for {
		h.claimLapsed(ctx)
		select {
		case <-ctx.Done():
			return
		case <-msgs:
		case <-t.C:
		case <-h.ended:
		}
	}
}

// claimLapsed claims and starts every registered seat nobody holds.
func (h *SeatHost) claimLapsed(ctx context.Context) {
	seats, err := Seats(ctx, h.opts.RDB, h.opts.Prefix)
	if err != nil {
		if ctx.Err() == nil {
			h.log.Warn("read the seat registry", "err", err)
		}
		return
	}
	for node, app := range seats {
		if node == h.opts.Home.Node || ctx.Err() != nil {
			continue
		}
		h.mu.Lock()
		_, mine := h.hosted[node]
		h.mu.Unlock()
		if mine {
			continue
		}
		seat := Seat{Node: node, App: app}
		lease := NewLease(h.opts.RDB, h.opts.Prefix, seat, h.opts.Instance, h.opts.Lease)
		tok, ok, err := lease.Claim(ctx)
		if err != nil {
			h.log.Warn("claim a seat", "node", node, "err", err)
			continue
		}
		if !ok {
			continue
		}
		h.startHosted(ctx, lease, tok)
	}
}

// startHosted runs a claimed seat's engine until it stops.
func (h *SeatHost) startHosted(ctx context.Context, lease *Lease, tok int64) {
	seat := lease.Seat()
	log := h.log.With("hosted_node", seat.Node, "app", seat.App, "token", tok)
	engine, err := h.opts.Host(seat)
	if err != nil {
		log.Error("build the engine of a claimed seat; releasing it", "err", err)
		if _, rerr := lease.Release(context.WithoutCancel(ctx)); rerr != nil {
			log.Warn("release the seat", "err", rerr)
		}
		return
	}
	engine.store.SetFence(tok)
	// The hosted seat outlives the watch (a drain stops the watch first),
	// not Run: its context is the host's own, cancelled by stopHosted.
	hctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s := &hostedSeat{lease: lease, engine: engine, cancel: cancel, done: make(chan struct{})}
	h.mu.Lock()
	h.hosted[seat.Node] = s
	h.mu.Unlock()
	log.Warn("hosting the seat of a replica that is gone")
	h.observe(SeatEvent{Kind: SeatClaimed, Seat: seat, Token: tok, Hosted: true})
	go func() {
		defer close(s.done)
		err := h.runSeat(hctx, lease, engine)
		h.mu.Lock()
		if h.hosted[seat.Node] == s {
			delete(h.hosted, seat.Node)
		}
		h.mu.Unlock()
		switch {
		case errors.Is(err, errs.ErrFenced):
			log.Info("hosted seat taken back by a newer holder", "err", err)
			h.observe(SeatEvent{Kind: SeatFenced, Seat: seat, Token: tok, Hosted: true, Err: err})
		case hctx.Err() == nil:
			log.Error("hosted seat's engine stopped; giving the seat up", "err", err)
			if _, rerr := lease.Release(context.WithoutCancel(hctx)); rerr != nil {
				log.Warn("release the seat", "err", rerr)
			}
			h.observe(SeatEvent{Kind: SeatStopped, Seat: seat, Token: tok, Hosted: true, Err: err})
		default:
			h.observe(SeatEvent{Kind: SeatStopped, Seat: seat, Token: tok, Hosted: true})
		}
		select {
		case h.ended <- struct{}{}:
		default:
		}
	}()
}

// stopHosted stops every hosted seat like a crash and, if release, gives
// each up (after its engine stopped, so the next holder finds its calls as
// they are).
func (h *SeatHost) stopHosted(ctx context.Context, release bool) {
	h.mu.Lock()
	seats := make([]*hostedSeat, 0, len(h.hosted))
	for _, s := range h.hosted {
		seats = append(seats, s)
	}
	h.mu.Unlock()
	for _, s := range seats {
		s.cancel()
		<-s.done
		if release {
			h.release(ctx, s.lease, true)
		}
	}
}

func (h *SeatHost) release(ctx context.Context, lease *Lease, hosted bool) {
	seat, tok := lease.Seat(), lease.Token()
	ok, err := lease.Release(ctx)
	if err != nil {
		h.log.Warn("release a seat; it is free when its lease runs out", "node", seat.Node, "err", err)
		return
	}
	if ok {
		h.log.Info("released seat", "node", seat.Node, "token", tok)
		h.observe(SeatEvent{Kind: SeatReleased, Seat: seat, Token: tok, Hosted: hosted})
	}
}

// othersAlive reports whether a seat is held by another process.
func (h *SeatHost) othersAlive(ctx context.Context) (bool, error) {
	seats, err := Seats(ctx, h.opts.RDB, h.opts.Prefix)
	if err != nil {
		return false, err
	}
	for node := range seats {
		holder, _, held, err := SeatHolder(ctx, h.opts.RDB, h.opts.Prefix, node)
		if err != nil {
			return false, err
		}
		if held && holder != h.opts.Instance {
			return true, nil
		}
	}
	return false, nil
}

// runDrain gives every seat up: at once to another replica if one is
// alive, else after draining in place. The watch is stopped already.
func (h *SeatHost) runDrain(ctx context.Context, stopHome context.CancelFunc, homeDone <-chan error) error {
	rctx := context.WithoutCancel(ctx)
	handOver := func() error {
		stopHome()
		err := <-homeDone
		h.release(rctx, h.home, false)
		h.stopHosted(rctx, true)
		return err
	}
	others, err := h.othersAlive(ctx)
	if err != nil {
		h.log.Warn("drain: could not tell whether another replica is alive; draining in place", "err", err)
	}
	if others {
		h.draining.Store(true)
		h.log.Info("drain: handing the seats over to the other replicas")
		return handOver()
	}
	h.log.Warn("drain: no other replica is alive; draining in place", "timeout", h.opts.DrainTimeout)
	engines := []*Engine{h.opts.Engine}
	h.mu.Lock()
	for _, s := range h.hosted {
		engines = append(engines, s.engine)
	}
	h.mu.Unlock()
	for _, e := range engines {
		e.StartDraining()
	}
	// Not ready from here: by then every new call goes back to the dialplan.
	h.draining.Store(true)
	h.observe(SeatEvent{Kind: SeatDraining, Seat: h.opts.Home})
	timeout := time.NewTimer(h.opts.DrainTimeout)
	defer timeout.Stop()
	poll := time.NewTicker(h.opts.Poll)
	defer poll.Stop()
	for {
		live := 0
		for _, e := range engines {
			live += e.LiveCalls()
		}
		if live == 0 {
			h.log.Info("drain: no call left")
			return handOver()
		}
		select {
		case <-ctx.Done():
			h.log.Warn("drain cut short", "calls_left", live)
			return handOver()
		case <-timeout.C:
			h.log.Warn("drain timeout; stopping with calls left for the next holder", "calls_left", live)
			return handOver()
		case <-h.opts.Engine.CallEnded():
		case <-poll.C:
			// Another replica may have come up meanwhile: hand over now.
			if ok, err := h.othersAlive(ctx); err == nil && ok {
				h.log.Info("drain: another replica is alive now; handing the seats over", "calls_left", live)
				return handOver()
			}
		}
	}
}

// ReleaseHome gives the home seat up if this process still holds it (call
// after Run returned: a replica stopping cleanly without a drain is seen as
// gone at once instead of after the lease).
func (h *SeatHost) ReleaseHome(ctx context.Context) error {
	if _, err := h.home.Release(ctx); err != nil {
		return fmt.Errorf("release home seat %s: %w", h.opts.Home.Node, err)
	}
	return nil
}

// maxEarlierCallbacks bounds the callback leases looked at when a seat
// term starts (the scheduler's Reclaim gets the rest as their leases run
// out).
const maxEarlierCallbacks = 1000

// lapseEarlierTerms ends the callback leases an earlier holder of the seat
// left (held as "<node>#<n>": a crashed or fenced process, whose actors are
// gone), so the seat's scheduler reclaims and claims them now instead of
// waiting for the callback heartbeat of the node, which the seat's new
// engine keeps beating, to let them go. Then the lease is renewed at once:
// a lapse drops the application's takeover lock, which the lease keeps.
func (h *SeatHost) lapseEarlierTerms(ctx context.Context, lease *Lease, engine *Engine) {
	node := lease.Seat().Node
	ids, err := h.opts.RDB.ZRange(ctx, h.keys.CallbackLeases(), 0, maxEarlierCallbacks-1).Result()
	if err != nil {
		h.log.Warn("read callback leases", "err", err)
		return
	}
	n := 0
	for _, id := range ids {
		holder, err := h.opts.RDB.HGet(ctx, h.keys.Callback(id), "node").Result()
		if err != nil {
			continue // gone meanwhile
		}
		if hn, _, _ := strings.Cut(holder, "#"); hn != node {
			continue
		}
		if _, err := engine.callbacks.Lapse(ctx, id, holder, 11*engine.opts.CallbackLease); err != nil {
			h.log.Warn("lapse a callback of an earlier holder of the seat", "callback_id", id, "err", err)
			continue
		}
		n++
	}
	if n == 0 {
		return
	}
	h.log.Info("callbacks of an earlier holder of the seat given back for reclaim", "node", node, "callbacks", n)
	if _, err := lease.Renew(ctx); err != nil {
		h.log.Warn("renew the seat after the lapse", "err", err)
	}
	engine.wakeCallbacks()
}

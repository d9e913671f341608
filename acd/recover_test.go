package acd

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/redis/go-redis/v9"

	"github.com/tandem-cc/tandem/agents"
	"github.com/tandem-cc/tandem/internal/clock"
	"github.com/tandem-cc/tandem/internal/redistest"
	"github.com/tandem-cc/tandem/metrics"
)

// markAlive gives node's seat a lease (its liveness key) for the test.
func markAlive(t *testing.T, s *Store, node string) {
	t.Helper()
	if err := s.rdb.Set(context.Background(), s.keys.ReplicaAlive(node), "test", time.Hour).Err(); err != nil {
		t.Fatal(err)
	}
}

// markDead takes node's lease away: its seat is held by nobody.
func markDead(t *testing.T, s *Store, node string) {
	t.Helper()
	if err := s.rdb.Del(context.Background(), s.keys.ReplicaAlive(node)).Err(); err != nil {
		t.Fatal(err)
	}
}

func waitingIn(t *testing.T, s *Store, queue string) []string {
	t.Helper()
	ids, err := s.rdb.ZRange(context.Background(), s.keys.Waiting(queue), 0, -1).Result()
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

func inboxLen(t *testing.T, s *Store, node string) int64 {
	t.Helper()
	n, err := s.rdb.XLen(context.Background(), s.keys.Inbox(node)).Result()
	if err != nil && err != redis.Nil {
		t.Fatal(err)
	}
	return n
}

func readIx(t *testing.T, s *Store, conn string) Interaction {
	t.Helper()
	ix, err := s.Interaction(context.Background(), conn)
	if err != nil {
		t.Fatal(err)
	}
	return ix
}

// overdue moves agent's offer deadline to ms milliseconds before Redis's
// now, in the agent's field and in offers-due: what the recoverer reads.
func overdue(t *testing.T, s *Store, agent string, ms int64) {
	t.Helper()
	ctx := context.Background()
	now, err := s.rdb.Time(ctx).Result()
	if err != nil {
		t.Fatal(err)
	}
	due := now.UnixMilli() - ms
	if n, err := s.rdb.ZAddXX(ctx, s.keys.OffersDue(), redis.Z{Score: float64(due), Member: agent}).Result(); err != nil || n != 0 {
		t.Fatalf("offers-due of %s: %d %v (want an existing entry)", agent, n, err)
	}
	if err := s.rdb.HSet(ctx, s.keys.Agent(agent), "offer_due", due).Err(); err != nil {
		t.Fatal(err)
	}
	if sc, err := s.rdb.ZScore(ctx, s.keys.OffersDue(), agent).Result(); err != nil || int64(sc) != due {
		t.Fatalf("offers-due of %s: %v %v", agent, sc, err)
	}
}

// TestRoutingPassesOverADeadOwnersCalls is the first finding: r1
// dies with B and C at the head of the queue, r2's D waits behind them.
// Agents freed on r2 are offered D, never B or C (whose offers would wait
// in a dead inbox with the agent reserved); B and C keep their places, and
// are offered again once their seat is held again.
func TestRoutingPassesOverADeadOwnersCalls(t *testing.T) {
	ctx := context.Background()
	rdb := redistest.Client(t)
	r1 := newTStore(rdb, "t", "r1")
	r2 := newTStore(rdb, "t", "r2")
	markAlive(t, r1.Store, "r1")
	for _, c := range []string{"B", "C"} {
		if o := arriveQueued(t, r1, c, "sales", 0); o != nil {
			t.Fatalf("offer %+v with no agent", o)
		}
		waitRedisTick(t, rdb)
	}
	if o := arriveQueued(t, r2, "D", "sales", 0); o != nil {
		t.Fatalf("offer %+v with no agent", o)
	}
	markDead(t, r1.Store, "r1")

	// Agent side: a1 becomes available through r2.
	mustOffer(t, loginAvailable(t, r2, "a1", "sales"), "D", "a1")
	if n := inboxLen(t, r2.Store, "r1"); n != 0 {
		t.Fatalf("%d offers in the dead r1's inbox", n)
	}
	if w := waitingIn(t, r2.Store, "sales"); !slices.Equal(w, []string{"B", "C"}) {
		t.Fatalf("waiting %v, want B and C in their places", w)
	}
	// The hand-off: a1 ends D, is free again, and B and C are still passed over.
	serve(t, r2, &Offer{ConnectionID: "D", Agent: "a1"})
	if st := agentState(t, r2, "a1"); st != agents.Available {
		t.Fatalf("a1 is %s after D, want available (nothing live to take)", st)
	}
	// Queue side: a call r2 queues now is served past B and C.
	mustOffer(t, arriveQueued(t, r2, "E", "sales", 0), "E", "a1")
	// The sweep, too, passes them over.
	loginAvailable(t, r2, "a2", "sales")
	if got, err := r2.Sweep(ctx, "sales", 20); err != nil || len(got) != 0 {
		t.Fatalf("sweep offered %+v %v", got, err)
	}
	if n := inboxLen(t, r2.Store, "r1"); n != 0 {
		t.Fatalf("%d offers in the dead r1's inbox", n)
	}
	if st := agentState(t, r2, "a2"); st != agents.Available {
		t.Fatalf("a2 is %s", st)
	}

	// r1's seat is held again (restarted, or taken over): B is next.
	markAlive(t, r1.Store, "r1")
	if got, err := r2.Sweep(ctx, "sales", 20); err != nil || len(got) != 0 {
		t.Fatalf("r2 got r1's offers %+v %v", got, err)
	}
	msgs, err := rdb.XRange(ctx, r1.keys.Inbox("r1"), "-", "+").Result()
	if err != nil || len(msgs) != 1 {
		t.Fatalf("r1's inbox %v %v", msgs, err)
	}
	if in := OfferFromInbox(msgs[0].Values); in.ConnectionID != "B" || in.Agent != "a2" {
		t.Fatalf("r1's offer %+v, want B to a2", in)
	}
}

// TestRoutingPassesOverDeadOwnersWithinItsWindow: the look-ahead past
// dead owners' calls is the routing windows (lib.lua): a freed agent looks
// at the first 50 calls of its queue, so a live call behind 60 dead ones
// is not found there, nor by the sweep's head window; the sweep's rotating
// window reaches it.
func TestRoutingPassesOverDeadOwnersWithinItsWindow(t *testing.T) {
	ctx := context.Background()
	rdb := redistest.Client(t)
	r1 := newTStore(rdb, "t", "r1")
	r2 := newTStore(rdb, "t", "r2")
	const dead = 60
	for i := range dead {
		arriveQueued(t, r1, fmt.Sprintf("dead%02d", i), "sales", 0)
	}
	waitRedisTick(t, rdb)
	arriveQueued(t, r2, "D", "sales", 0)
	if o := loginAvailable(t, r2, "a1", "sales"); o != nil {
		t.Fatalf("offer %+v beyond the agent-side window", o)
	}
	var got []Offer
	for range 3 { // the rotating window moves 50 calls per sweep
		o, err := r2.Sweep(ctx, "sales", 20)
		if err != nil {
			t.Fatal(err)
		}
		if got = o; len(got) > 0 {
			break
		}
	}
	if len(got) != 1 || got[0].ConnectionID != "D" || got[0].Agent != "a1" {
		t.Fatalf("sweeps offered %+v, want D to a1", got)
	}
	if n := inboxLen(t, r2.Store, "r1"); n != 0 {
		t.Fatalf("%d offers in the dead r1's inbox", n)
	}
}

// TestRecoverPutsBackADeadOwnersOverdueOffer: r1 offered its call c1 to a1
// and died before ringing. Past the offer's deadline (forced in Redis), the
// recoverer, run by r2, puts c1 back at the head of its queue with its
// original score and makes a1 available again (no RONA: the agent did
// nothing wrong) — and a1 is offered r2's waiting call at once.
func TestRecoverPutsBackADeadOwnersOverdueOffer(t *testing.T) {
	ctx := context.Background()
	rdb := redistest.Client(t)
	r1 := newTStore(rdb, "t", "r1")
	r2 := newTStore(rdb, "t", "r2")
	markAlive(t, r1.Store, "r1")
	loginAvailable(t, r1, "a1", "sales")
	mustOffer(t, arriveQueued(t, r1, "c1", "sales", 0), "c1", "a1")
	score, err := rdb.HGet(ctx, r1.keys.Interaction("c1"), "score").Result()
	if err != nil {
		t.Fatal(err)
	}
	arriveQueued(t, r2, "D", "sales", 0)
	arriveQueued(t, r1, "c2", "sales", 0)

	// Not due yet: nothing happens.
	if r, err := r2.Recover(ctx, 100, time.Minute, time.Second); err != nil || r != (RecoverResult{}) {
		t.Fatalf("recover before the deadline: %+v %v", r, err)
	}
	markDead(t, r1.Store, "r1")
	overdue(t, r2.Store, "a1", 1)
	r, err := r2.Recover(ctx, 100, time.Minute, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if r != (RecoverResult{Calls: 1, Agents: 1, Looked: 1}) {
		t.Fatalf("recovered %+v", r)
	}
	// a1's next offer is r2's D (r1's c1 and c2 are passed over), delivered
	// to r2 like every offer.
	if got := r2.got.take(); len(got) != 1 || got[0].ConnectionID != "D" || got[0].Agent != "a1" {
		t.Fatalf("offers delivered %+v, want D to a1", got)
	}
	ix := readIx(t, r2.Store, "c1")
	if ix.State != "queued" || ix.Agent != "" || ix.RONAs != 0 {
		t.Fatalf("c1 %+v, want queued, no agent, no RONA", ix)
	}
	if w := waitingIn(t, r2.Store, "sales"); !slices.Equal(w, []string{"c1", "c2"}) {
		t.Fatalf("waiting %v, want c1 back at the head", w)
	}
	if sc, err := rdb.ZScore(ctx, r2.keys.Waiting("sales"), "c1").Result(); err != nil || fmt.Sprintf("%.0f", sc) != score {
		t.Fatalf("c1 waits with %v %v, want its original score %s", sc, err, score)
	}
	if a, err := r2.Agent(ctx, "a1"); err != nil || a.State != agents.Reserved {
		t.Fatalf("a1 %+v %v, want reserved for D", a, err)
	}
	if n, err := rdb.ZCard(ctx, r2.keys.OffersDue()).Result(); err != nil || n != 1 {
		t.Fatalf("offers-due holds %d %v, want a1's new offer only", n, err)
	}
	if n := inboxLen(t, r2.Store, "r1"); n != 0 {
		t.Fatalf("%d offers in the dead r1's inbox", n)
	}
}

// TestRecoverFreesARingingAgentOfADeadOwner: the same once the agent's
// phone was ringing (the deadline restarts with the ring), and for a
// ring-all offer, each agent leaves it and the call goes back when the
// last has.
func TestRecoverFreesARingingAgentOfADeadOwner(t *testing.T) {
	ctx := context.Background()
	rdb := redistest.Client(t)
	r1 := newTStore(rdb, "t", "r1")
	r2 := newTStore(rdb, "t", "r2")
	setRouting(t, r1, "sales", QueueRouting{Strategy: StrategyRingAll, RingTimeout: 20 * time.Second})
	loginAvailable(t, r1, "a1", "sales")
	loginAvailable(t, r1, "a2", "sales")
	o := arriveQueued(t, r1, "c1", "sales", 0)
	if !slices.Equal(offerAgents(o), []string{"a1", "a2"}) {
		t.Fatalf("offer %+v", o)
	}
	before, err := rdb.ZScore(ctx, r1.keys.OffersDue(), "a1").Result()
	if err != nil {
		t.Fatal(err)
	}
	waitRedisTick(t, rdb)
	if err := r1.Ringing(ctx, Offer{ConnectionID: "c1", Agent: "a1"}, "leg-a1"); err != nil {
		t.Fatal(err)
	}
	after, err := rdb.ZScore(ctx, r1.keys.OffersDue(), "a1").Result()
	if err != nil || after <= before {
		t.Fatalf("ringing moved a1's deadline from %v to %v (%v)", before, after, err)
	}
	now, _ := rdb.Time(ctx).Result()
	if d := int64(after) - now.UnixMilli(); d < 20000 || d > 40000 {
		t.Fatalf("a1's deadline is %d ms away, want the queue's 20 s ring timeout + margin", d)
	}

	overdue(t, r2.Store, "a1", 1)
	if r, err := r2.Recover(ctx, 100, time.Minute, time.Second); err != nil || r != (RecoverResult{Agents: 1, Looked: 1}) {
		t.Fatalf("recovered %+v %v", r, err)
	}
	ix := readIx(t, r2.Store, "c1")
	if ix.State != "offered" || ix.Agent != "a2" {
		t.Fatalf("c1 %+v, want still offered to a2", ix)
	}
	if st := agentState(t, r2, "a1"); st != agents.Available {
		t.Fatalf("a1 is %s", st)
	}
	overdue(t, r2.Store, "a2", 1)
	if r, err := r2.Recover(ctx, 100, time.Minute, time.Second); err != nil || r.Calls != 1 || r.Agents != 1 {
		t.Fatalf("recovered %+v %v", r, err)
	}
	if ix := readIx(t, r2.Store, "c1"); ix.State != "queued" {
		t.Fatalf("c1 %+v, want queued", ix)
	}
	if h, _ := rdb.HGetAll(ctx, r2.keys.Interaction("c1")).Result(); h["ring"] != "" || h["leg:a1"] != "" {
		t.Fatalf("c1 still lists its ring: %v", h)
	}
	for _, a := range []string{"a1", "a2"} {
		if st := agentState(t, r2, a); st != agents.Available {
			t.Fatalf("%s is %s", a, st)
		}
	}
}

// TestRecoverLeavesALiveOwnersOfferToItsRingTimer: a live owner's overdue
// offer is its own ring timer's to end; the recoverer only looks at it
// again later (its entry no longer holds the ones behind it up). Far past
// the deadline, the owner lost it: the call goes back and the agent to
// RONA, as the ring timer would have done.
func TestRecoverLeavesALiveOwnersOfferToItsRingTimer(t *testing.T) {
	ctx := context.Background()
	rdb := redistest.Client(t)
	r1 := newTStore(rdb, "t", "r1")
	r2 := newTStore(rdb, "t", "r2")
	markAlive(t, r1.Store, "r1")
	loginAvailable(t, r1, "a1", "sales")
	mustOffer(t, arriveQueued(t, r1, "c1", "sales", 0), "c1", "a1")

	overdue(t, r2.Store, "a1", 1000)
	r, err := r2.Recover(ctx, 100, time.Minute, 5*time.Second)
	if err != nil || r != (RecoverResult{Looked: 1}) {
		t.Fatalf("recovered %+v %v, want only a look", r, err)
	}
	if ix := readIx(t, r2.Store, "c1"); ix.State != "offered" || ix.Agent != "a1" {
		t.Fatalf("c1 %+v, want still offered to a1", ix)
	}
	if st := agentState(t, r2, "a1"); st != agents.Reserved {
		t.Fatalf("a1 is %s", st)
	}
	now, _ := rdb.Time(ctx).Result()
	if sc, err := rdb.ZScore(ctx, r2.keys.OffersDue(), "a1").Result(); err != nil || int64(sc) <= now.UnixMilli() {
		t.Fatalf("a1's entry at %v (%v), want moved past now %d", sc, err, now.UnixMilli())
	}
	// The one recovering its own call (r1) counts as alive too.
	overdue(t, r1.Store, "a1", 1000)
	if r, err := r1.Recover(ctx, 100, time.Minute, 5*time.Second); err != nil || r != (RecoverResult{Looked: 1}) {
		t.Fatalf("r1 recovered %+v %v", r, err)
	}

	// Far past: a minute after the deadline.
	overdue(t, r2.Store, "a1", time.Minute.Milliseconds()+1)
	if r, err := r2.Recover(ctx, 100, time.Minute, 5*time.Second); err != nil || r != (RecoverResult{Calls: 1, Agents: 1, Looked: 1}) {
		t.Fatalf("recovered %+v %v", r, err)
	}
	if ix := readIx(t, r2.Store, "c1"); ix.State != "queued" || ix.RONAs != 1 {
		t.Fatalf("c1 %+v, want queued after one RONA", ix)
	}
	if st := agentState(t, r2, "a1"); st != agents.RONA {
		t.Fatalf("a1 is %s, want rona", st)
	}
}

// TestOfferDeadlinesEndWithTheOffer: answering, RONA and the call's end
// take the agent's deadline away, so the recoverer only ever finds
// offers still pending.
func TestOfferDeadlinesEndWithTheOffer(t *testing.T) {
	ctx := context.Background()
	s := newTestStore(t, "n1")
	due := func() []string {
		ids, err := s.rdb.ZRange(ctx, s.keys.OffersDue(), 0, -1).Result()
		if err != nil {
			t.Fatal(err)
		}
		return ids
	}
	loginAvailable(t, s, "a1", "sales")
	o := arriveQueued(t, s, "c1", "sales", 0)
	if d := due(); !slices.Equal(d, []string{"a1"}) {
		t.Fatalf("due %v after the offer", d)
	}
	answer(t, s, o)
	if d := due(); len(d) != 0 {
		t.Fatalf("due %v after the answer", d)
	}
	if _, _, err := s.Finish(ctx, "c1", "hangup", "caller"); err != nil {
		t.Fatal(err)
	}
	// RONA.
	mustOffer(t, arriveQueued(t, s, "c2", "sales", 0), "c2", "a1")
	if _, err := s.NoAnswer(ctx, "c2", "a1", "no_answer"); err != nil {
		t.Fatal(err)
	}
	if d := due(); len(d) != 0 {
		t.Fatalf("due %v after RONA", d)
	}
	// The caller hangs up while offered.
	loginAvailable(t, s, "a2", "sales")
	if ix := readIx(t, s.Store, "c2"); ix.State != "offered" || ix.Agent != "a2" {
		t.Fatalf("c2 %+v", ix)
	}
	if _, _, err := s.Finish(ctx, "c2", "hangup", "caller"); err != nil {
		t.Fatal(err)
	}
	if d := due(); len(d) != 0 {
		t.Fatalf("due %v after the call ended", d)
	}
	if h, _ := s.rdb.HGet(ctx, s.keys.Agent("a2"), "offer_due").Result(); h != "" {
		t.Fatalf("a2 keeps offer_due %q", h)
	}
}

// TestRecoverWorkIsBounded: one run looks at no more overdue entries than
// it is given, whatever is overdue; successive runs go through them all.
func TestRecoverWorkIsBounded(t *testing.T) {
	ctx := context.Background()
	rdb := redistest.Client(t)
	r1 := newTStore(rdb, "t", "r1")
	r2 := newTStore(rdb, "t", "r2")
	const n = 250
	for i := range n {
		a, c := fmt.Sprintf("a%03d", i), fmt.Sprintf("c%03d", i)
		loginAvailable(t, r1, a, "sales")
		mustOffer(t, arriveQueued(t, r1, c, "sales", 0), c, a)
	}
	// r1 is dead; every offer is overdue.
	now, err := rdb.Time(ctx).Result()
	if err != nil {
		t.Fatal(err)
	}
	past := float64(now.UnixMilli() - 1)
	ids, _ := rdb.ZRange(ctx, r2.keys.OffersDue(), 0, -1).Result()
	pipe := rdb.Pipeline()
	for _, a := range ids {
		pipe.ZAdd(ctx, r2.keys.OffersDue(), redis.Z{Score: past, Member: a})
		pipe.HSet(ctx, r2.keys.Agent(a), "offer_due", int64(past))
	}
	if _, err := pipe.Exec(ctx); err != nil {
		t.Fatal(err)
	}
	var looked []int
	total := RecoverResult{}
	for range 5 {
		r, err := r2.Recover(ctx, 100, time.Minute, time.Second)
		if err != nil {
			t.Fatal(err)
		}
		looked = append(looked, r.Looked)
		total.add(r)
		if r.Looked == 0 {
			break
		}
	}
	if !slices.Equal(looked, []int{100, 100, 50, 0}) {
		t.Fatalf("runs looked at %v entries, want batches of at most 100", looked)
	}
	if total.Calls != n || total.Agents != n {
		t.Fatalf("recovered %+v", total)
	}
	if w := waitingIn(t, r2.Store, "sales"); len(w) != n || w[0] != "c000" {
		t.Fatalf("%d waiting from %v", len(w), w[:min(3, len(w))])
	}
}

// idlePBX is a PBX with no calls: its event stream stays open until the
// engine stops. The engine tests below never reach its other methods.
type idlePBX struct{ PBX }

func (idlePBX) Run(ctx context.Context, _ func(Event)) error {
	<-ctx.Done()
	return nil
}

// DestroyBridge: an idle PBX has no bridge (an orphan offer's is looked
// for, destroyOrphanBridge).
func (idlePBX) DestroyBridge(context.Context, string) error { return nil }

// runEngine runs an engine of node on a fake clock until the test ends.
func runEngine(t *testing.T, rdb redis.UniversalClient, node string, fc *clock.Fake, rec RecoverOptions) *Engine {
	t.Helper()
	e := NewEngine(Options{
		Store: NewStore(rdb, "t", node), PBX: idlePBX{}, Clock: fc,
		Queues:        map[string]QueueSettings{"sales": {}},
		SweepInterval: time.Hour, CallbackPoll: time.Hour, Recovery: rec,
		Logger: slog.New(slog.DiscardHandler),
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("engine %s: %v", node, err)
		}
	})
	return e
}

func receive[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(30 * time.Second): // a hang, not a timing assertion
		t.Fatalf("no %s", what)
		panic("unreachable")
	}
}

// TestEngineRecoversOnItsClock: the recoverer runs in the engine, at start
// and then every interval of the engine's clock: a fresh offer of a dead
// owner is left alone, and once overdue it is put back — and counted.
func TestEngineRecoversOnItsClock(t *testing.T) {
	ctx := context.Background()
	rdb := redistest.Client(t)
	r1 := newTStore(rdb, "t", "r1")
	loginAvailable(t, r1, "a1", "sales")
	mustOffer(t, arriveQueued(t, r1, "c1", "sales", 0), "c1", "a1") // r1 then dies

	fc := clock.NewFake(time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC))
	passes := make(chan RecoverResult, 10)
	e := runEngine(t, rdb, "r2", fc, RecoverOptions{Interval: time.Second, Recovered: func(r RecoverResult) { passes <- r }})
	if r := receive(t, passes, "first pass"); r != (RecoverResult{}) {
		t.Fatalf("first pass %+v: the offer is not overdue yet", r)
	}
	if ix := readIx(t, e.store, "c1"); ix.State != "offered" {
		t.Fatalf("c1 %+v", ix)
	}
	overdue(t, e.store, "a1", 1)
	fc.Advance(time.Second)
	if r := receive(t, passes, "second pass"); r != (RecoverResult{Calls: 1, Agents: 1, Looked: 1}) {
		t.Fatalf("second pass %+v", r)
	}
	if ix := readIx(t, e.store, "c1"); ix.State != "queued" {
		t.Fatalf("c1 %+v", ix)
	}
	if a, err := e.store.Agent(ctx, "a1"); err != nil || a.State != agents.Available {
		t.Fatalf("a1 %+v %v", a, err)
	}
	m := e.Metrics().Recovered
	if c, a := testutil.ToFloat64(m.WithLabelValues(metrics.RecoveredCall)), testutil.ToFloat64(m.WithLabelValues(metrics.RecoveredAgent)); c != 1 || a != 1 {
		t.Fatalf("recovered_total call %v agent %v", c, a)
	}
}

// TestEngineHandlesInboxEntriesNeverAcknowledged: r1's engine read two
// offers from its inbox and died before acknowledging them — one under its
// own consumer name, one under another (the consumer of an earlier holder
// of the seat). The next engine of r1 handles both at start: the calls are
// not run here, so the offers are given back (the calls failed, the agents
// available again), acknowledged and deleted. A third entry is an offer
// that was resolved while it waited (the recoverer put its call back in
// the queue): it is dropped, and the call still waits.
func TestEngineHandlesInboxEntriesNeverAcknowledged(t *testing.T) {
	ctx := context.Background()
	rdb := redistest.Client(t)
	r1 := newTStore(rdb, "t", "r1")
	r2 := newTStore(rdb, "t", "r2")
	markAlive(t, r1.Store, "r1")
	inbox := r1.keys.Inbox("r1")
	if err := rdb.XGroupCreateMkStream(ctx, inbox, inboxGroup, "0").Err(); err != nil {
		t.Fatal(err)
	}
	for i, consumer := range []string{"r1", "r1-earlier"} {
		c, a := fmt.Sprintf("c%d", i+1), fmt.Sprintf("a%d", i+1)
		arriveQueued(t, r1, c, "sales", 0)
		if o := loginAvailable(t, r2, a, "sales"); o != nil {
			t.Fatalf("r2 got r1's offer %+v", o)
		}
		res, err := rdb.XReadGroup(ctx, &redis.XReadGroupArgs{Group: inboxGroup, Consumer: consumer, Streams: []string{inbox, ">"}, Count: 1, Block: -1}).Result()
		if err != nil || len(res) != 1 || len(res[0].Messages) != 1 || res[0].Messages[0].Values["conn"] != c {
			t.Fatalf("read %v %v", res, err)
		}
	}
	// c3 was offered to a3 in an entry r1 read; the recoverer has put c3
	// back since (it waits with no agent free).
	arriveQueued(t, r1, "c3", "support", 0) // no agent there: nobody takes it meanwhile
	if err := rdb.XAdd(ctx, &redis.XAddArgs{Stream: inbox, Values: []any{"conn", "c3", "agent", "a3", "endpoint", "PJSIP/a3", "attempt", "1"}}).Err(); err != nil {
		t.Fatal(err)
	}
	if err := rdb.XReadGroup(ctx, &redis.XReadGroupArgs{Group: inboxGroup, Consumer: "r1", Streams: []string{inbox, ">"}, Count: 1, Block: -1}).Err(); err != nil {
		t.Fatal(err)
	}
	waitRedisTick(t, rdb) // the second entry is idle longer than InboxIdle
	// c1 and c2 are not the seat's to run any more (out of its index, as
	// after an adoption by another node): the next engine of r1 does not
	// rebuild them (reconcile.go), so their offers have no actor here.
	if err := rdb.SRem(ctx, r1.keys.SeatCalls("r1"), "c1", "c2").Err(); err != nil {
		t.Fatal(err)
	}

	fc := clock.NewFake(time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC))
	handled := make(chan int, 10)
	e := runEngine(t, rdb, "r1", fc, RecoverOptions{Interval: time.Second, InboxIdle: time.Millisecond, InboxRecovered: func(n int) { handled <- n }})
	if n := receive(t, handled, "inbox recovery"); n != 3 {
		t.Fatalf("handled %d entries again, want 3", n)
	}
	if ix := readIx(t, e.store, "c3"); ix.State != StateQueued {
		t.Fatalf("c3 %+v, want still queued", ix)
	}
	for i := range 2 {
		c, a := fmt.Sprintf("c%d", i+1), fmt.Sprintf("a%d", i+1)
		if ix := readIx(t, e.store, c); ix.State != "failed" {
			t.Fatalf("%s %+v, want failed (its offer given back)", c, ix)
		}
		if ag, err := e.store.Agent(ctx, a); err != nil || ag.State != agents.Available {
			t.Fatalf("%s %+v %v", a, ag, err)
		}
	}
	p, err := rdb.XPending(ctx, inbox, inboxGroup).Result()
	if err != nil || p.Count != 0 {
		t.Fatalf("pending %+v %v", p, err)
	}
	if n := inboxLen(t, e.store, "r1"); n != 0 {
		t.Fatalf("%d entries left in the inbox", n)
	}
	if v := testutil.ToFloat64(e.Metrics().Recovered.WithLabelValues(metrics.RecoveredInbox)); v != 3 {
		t.Fatalf("recovered_total inbox %v", v)
	}
}

// TestConsultedAgentsHaveDeadlinesToo: an agent picked by name for a
// consult is reserved, then rung, for the customer's call: it gets a
// deadline like an offer's agent (a dead owner's consult would hold it
// too), and loses it when it answers or does not.
func TestConsultedAgentsHaveDeadlinesToo(t *testing.T) {
	ctx := context.Background()
	s := newTestStore(t, "n1")
	due := func(agent string) bool {
		_, err := s.rdb.ZScore(ctx, s.keys.OffersDue(), agent).Result()
		if err != nil && err != redis.Nil {
			t.Fatal(err)
		}
		return err == nil
	}
	connectedCall(t, s, "c1", "a1", "sales")
	for _, tc := range []struct{ name, end string }{{"answered", StepConnect}, {"not answered", StepNoAnswer}} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.end == StepConnect {
				loginAvailable(t, s, "a2", "support")
			} // else a2 is available again after the first consult
			if _, err := s.ReserveAgent(ctx, "a2", "c1", agents.Available, agents.Idle); err != nil {
				t.Fatal(err)
			}
			if !due("a2") {
				t.Fatal("a2 reserved with no deadline")
			}
			if _, err := s.AgentStep(ctx, "a2", "c1", StepRing); err != nil {
				t.Fatal(err)
			}
			if !due("a2") {
				t.Fatal("a2 ringing with no deadline")
			}
			if _, err := s.AgentStep(ctx, "a2", "c1", tc.end); err != nil {
				t.Fatal(err)
			}
			if due("a2") {
				t.Fatalf("a2 keeps its deadline after %s", tc.end)
			}
			if tc.end == StepConnect {
				if _, err := s.AgentStep(ctx, "a2", "c1", StepDone); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}

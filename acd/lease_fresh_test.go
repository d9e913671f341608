package acd

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tandem-cc/tandem/errs"
	"github.com/tandem-cc/tandem/internal/keyspace"
	"github.com/tandem-cc/tandem/internal/redistest"
)

// sentPBX records the ring requests that reach the PBX behind the guard
// (only Ring is used here; any other command would panic on the nil PBX).
type sentPBX struct {
	PBX
	mu    sync.Mutex
	rings []string
}

func (p *sentPBX) Ring(_ context.Context, req RingRequest) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.rings = append(p.rings, req.Leg)
	return nil
}

func (p *sentPBX) sent() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.rings...)
}

// pausedHolder is a holder of seat r1 with a 300 ms lease it will not
// renew (a paused process), its store fenced with the lease's token.
type pausedHolder struct {
	rdb   *redis.Client
	keys  keyspace.Keys
	seat  Seat
	store *Store
	lease *Lease
}

func newPausedHolder(t *testing.T) pausedHolder {
	t.Helper()
	h := pausedHolder{rdb: redistest.Client(t), keys: keyspace.New("t"), seat: Seat{Node: "r1", App: "tandem-r1"}}
	h.store = NewStore(h.rdb, "t", "r1")
	h.lease = NewLease(h.rdb, "t", h.seat, "r1/paused", 300*time.Millisecond)
	tok, err := h.lease.Acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	h.store.SetFence(tok)
	h.store.fence.bind(h.lease)
	return h
}

// waitLapsed waits until Redis has let the unrenewed lease go.
func (h pausedHolder) waitLapsed(ctx context.Context) {
	for h.rdb.Exists(ctx, h.keys.ReplicaAlive("r1")).Val() == 1 {
		time.Sleep(10 * time.Millisecond)
	}
}

// TestLapsedHoldSendsNoPBXCommand: a holder that stops renewing (a paused
// process) sends no PBX command once its lease may have lapsed — here once
// Redis has expired it and a survivor holds the seat — although its token
// is not refused yet (no script has run). Chaos sigstop: a replica resumed
// in the middle of ringing an agent and rang them while the survivor
// hosting its seat had them on the same call (an agent rung twice, the
// call offered twice). Held again, the same holder's commands go through.
func TestLapsedHoldSendsNoPBXCommand(t *testing.T) {
	ctx := context.Background()
	h := newPausedHolder(t)
	rdb, seat, store, lease := h.rdb, h.seat, h.store, h.lease
	inner := &sentPBX{}
	pbx := guardPBX(inner, store.fence)
	if err := pbx.Ring(ctx, RingRequest{Leg: "held-a1"}); err != nil {
		t.Fatalf("ring while held: %v", err)
	}

	// No renewal: Redis lets the lease go, and a survivor claims the seat.
	h.waitLapsed(ctx)
	if _, ok, err := NewLease(rdb, "t", seat, "r2/survivor", time.Minute).Claim(ctx); err != nil || !ok {
		t.Fatalf("survivor claim: %v %v", ok, err)
	}
	if err := pbx.Ring(ctx, RingRequest{Leg: "lapsed-a1"}); !errors.Is(err, errs.ErrFenced) {
		t.Fatalf("ring after the lapse: %v, want ErrFenced", err)
	}
	if got := inner.sent(); len(got) != 1 || got[0] != "held-a1" {
		t.Fatalf("rings that reached the PBX %v, want only held-a1", got)
	}

	// The home replica takes its seat back (a new term): commands go out.
	tok, err := lease.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	store.SetFence(tok)
	if err := pbx.Ring(ctx, RingRequest{Leg: "again-a1"}); err != nil {
		t.Fatalf("ring after taking the seat back: %v", err)
	}
}

// TestRefusedCommandEndsTheTermEvenIfNobodyTookTheSeat: a command refused
// because the hold may have lapsed is lost (a hang-up, a bridge's
// destruction), so the term ends there: the fence trips, which stops the
// engine, and the seat is taken again under a new token whose
// reconciliation clears what the command would have. The same term going
// on after a renewal that finds nobody took the seat (chaos sigstop) left
// an ended call's bridge and agent leg at the PBX for good.
func TestRefusedCommandEndsTheTermEvenIfNobodyTookTheSeat(t *testing.T) {
	ctx := context.Background()
	h := newPausedHolder(t)
	store, lease := h.store, h.lease
	_, lost := store.fence.watch()
	inner := &sentPBX{}
	pbx := guardPBX(inner, store.fence)

	// No renewal, and nobody claims the seat.
	h.waitLapsed(ctx)
	if err := pbx.Ring(ctx, RingRequest{Leg: "lapsed-a1"}); !errors.Is(err, errs.ErrFenced) {
		t.Fatalf("ring after the lapse: %v, want ErrFenced", err)
	}
	select {
	case <-lost:
	default:
		t.Fatal("a refused command left the term running")
	}
	// The renewal finds nobody took the seat, but the term is over: its
	// commands stay refused until a new term (a new token) starts.
	if ok, err := lease.Renew(ctx); err != nil || !ok {
		t.Fatalf("renewal: %v %v", ok, err)
	}
	if err := pbx.Ring(ctx, RingRequest{Leg: "renewed-a1"}); !errors.Is(err, errs.ErrFenced) {
		t.Fatalf("ring after the renewal of an ended term: %v, want ErrFenced", err)
	}
	if got := inner.sent(); len(got) != 0 {
		t.Fatalf("rings that reached the PBX %v, want none", got)
	}
}

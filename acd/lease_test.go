package acd

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/tandem-cc/tandem/errs"
	"github.com/tandem-cc/tandem/internal/keyspace"
	"github.com/tandem-cc/tandem/internal/redistest"
)

// TestSeatLease runs the lease operations against a real Redis: each step
// is one operation of holder "a" or "b" on seat r1, with the result and the
// lease's value it must leave.
func TestSeatLease(t *testing.T) {
	type step struct {
		name    string
		op      func(ctx context.Context, a, b *Lease, rdb keyspace.Keys) (int64, bool, error)
		wantTok int64
		wantOK  bool
		lease   string // the lease's value after the step ("" = absent)
	}
	acquire := func(l func(a, b *Lease) *Lease) func(context.Context, *Lease, *Lease, keyspace.Keys) (int64, bool, error) {
		return func(ctx context.Context, a, b *Lease, _ keyspace.Keys) (int64, bool, error) {
			tok, err := l(a, b).Acquire(ctx)
			return tok, err == nil, err
		}
	}
	claim := func(l func(a, b *Lease) *Lease) func(context.Context, *Lease, *Lease, keyspace.Keys) (int64, bool, error) {
		return func(ctx context.Context, a, b *Lease, _ keyspace.Keys) (int64, bool, error) {
			return l(a, b).Claim(ctx)
		}
	}
	renew := func(l func(a, b *Lease) *Lease) func(context.Context, *Lease, *Lease, keyspace.Keys) (int64, bool, error) {
		return func(ctx context.Context, a, b *Lease, _ keyspace.Keys) (int64, bool, error) {
			ok, err := l(a, b).Renew(ctx)
			return l(a, b).Token(), ok, err
		}
	}
	release := func(l func(a, b *Lease) *Lease) func(context.Context, *Lease, *Lease, keyspace.Keys) (int64, bool, error) {
		return func(ctx context.Context, a, b *Lease, _ keyspace.Keys) (int64, bool, error) {
			tok := l(a, b).Token()
			ok, err := l(a, b).Release(ctx)
			return tok, ok, err
		}
	}
	A := func(a, _ *Lease) *Lease { return a }
	B := func(_, b *Lease) *Lease { return b }
	for _, tc := range []struct {
		name  string
		steps []step
	}{
		{"acquire an empty seat, renew, release", []step{
			{"a acquires", acquire(A), 1, true, "a 1"},
			{"a renews", renew(A), 1, true, "a 1"},
			{"b cannot claim a held seat", claim(B), 0, false, "a 1"},
			{"a releases", release(A), 1, true, ""},
			{"b claims the released seat", claim(B), 2, true, "b 2"},
		}},
		{"a restarted home steals from a survivor", []step{
			{"b claims", claim(B), 1, true, "b 1"},
			{"a acquires its home seat", acquire(A), 2, true, "a 2"},
			{"b's renewal finds the seat lost", renew(B), 1, false, "a 2"},
			{"b's release changes nothing", release(B), 1, false, "a 2"},
			{"a renews", renew(A), 2, true, "a 2"},
		}},
		{"a lapsed lease nobody took is taken back; one somebody took is not", []step{
			{"a acquires", acquire(A), 1, true, "a 1"},
			{"the lease lapses", func(ctx context.Context, a, _ *Lease, k keyspace.Keys) (int64, bool, error) {
				return 0, true, a.rdb.Del(ctx, k.ReplicaAlive("r1")).Err()
			}, 0, true, ""},
			{"a renews: nobody took it", renew(A), 1, true, "a 1"},
			{"the lease lapses again", func(ctx context.Context, a, _ *Lease, k keyspace.Keys) (int64, bool, error) {
				return 0, true, a.rdb.Del(ctx, k.ReplicaAlive("r1")).Err()
			}, 0, true, ""},
			{"b claims the lapsed seat", claim(B), 2, true, "b 2"},
			{"a's renewal finds it lost", renew(A), 1, false, "b 2"},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			rdb := redistest.Client(t)
			k := keyspace.New("t")
			seat := Seat{Node: "r1", App: "tandem-r1"}
			a, b := NewLease(rdb, "t", seat, "a", 0), NewLease(rdb, "t", seat, "b", 0)
			for _, st := range tc.steps {
				tok, ok, err := st.op(ctx, a, b, k)
				if err != nil {
					t.Fatalf("%s: %v", st.name, err)
				}
				if tok != st.wantTok || ok != st.wantOK {
					t.Fatalf("%s: token %d ok %v, want %d %v", st.name, tok, ok, st.wantTok, st.wantOK)
				}
				v, err := rdb.Get(ctx, k.ReplicaAlive("r1")).Result()
				if err != nil {
					v = ""
				}
				if v != st.lease {
					t.Fatalf("%s: lease %q, want %q", st.name, v, st.lease)
				}
				if v != "" {
					if ttl := rdb.PTTL(ctx, k.ReplicaAlive("r1")).Val(); ttl <= 0 {
						t.Fatalf("%s: lease without a TTL (%v)", st.name, ttl)
					}
				}
			}
			if app := rdb.HGet(ctx, k.Seats(), "r1").Val(); app != "tandem-r1" {
				t.Fatalf("registry: r1 -> %q", app)
			}
		})
	}
}

// TestSeatTakeSetsTheCallbackTakeoverLock: while a seat is held, the
// callback takeover lock of its application names the seat's node, so only
// the seat's holder continues callback dials the seat started.
func TestSeatTakeSetsTheCallbackTakeoverLock(t *testing.T) {
	ctx := context.Background()
	rdb := redistest.Client(t)
	k := keyspace.New("t")
	l := NewLease(rdb, "t", Seat{Node: "r1", App: "tandem-r1"}, "r2/x", 0)
	if _, ok, err := l.Claim(ctx); err != nil || !ok {
		t.Fatalf("claim: %v %v", ok, err)
	}
	if v := rdb.Get(ctx, k.CallbackTakeover("tandem-r1")).Val(); v != "r1" {
		t.Fatalf("takeover lock %q, want r1", v)
	}
}

// TestSeatReleasePublishes: a release is announced on seat-released, so a
// survivor claims the seat at once.
func TestSeatReleasePublishes(t *testing.T) {
	ctx := context.Background()
	rdb := redistest.Client(t)
	k := keyspace.New("t")
	sub := rdb.Subscribe(ctx, k.SeatReleased())
	defer func() { _ = sub.Close() }()
	if _, err := sub.Receive(ctx); err != nil { // the subscription is confirmed
		t.Fatal(err)
	}
	l := NewLease(rdb, "t", Seat{Node: "r1", App: "tandem-r1"}, "r1/x", 0)
	if _, err := l.Acquire(ctx); err != nil {
		t.Fatal(err)
	}
	if ok, err := l.Release(ctx); err != nil || !ok {
		t.Fatalf("release: %v %v", ok, err)
	}
	msg, err := sub.ReceiveMessage(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if msg.Payload != "r1" {
		t.Fatalf("published %q", msg.Payload)
	}
}

// TestFencedOwnerCannotChangeAnInteraction: the owner of seat r1 is paused
// holding token 1; a survivor acquires the seat (token 2). When the old
// owner resumes, its scripts are refused (errs.ErrFenced) and the
// interaction is as the new owner left it; the old store then refuses
// everything itself, while the new owner's store works.
func TestFencedOwnerCannotChangeAnInteraction(t *testing.T) {
	ctx := context.Background()
	rdb := redistest.Client(t)
	seat := Seat{Node: "r1", App: "tandem-r1"}
	old := newTStore(rdb, "t", "r1")
	oldLease := NewLease(rdb, "t", seat, "r1/old", 0)
	tok, err := oldLease.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	old.SetFence(tok)
	if _, err := old.Arrive(ctx, "c1", "c1-leg", "5551000", "800", nil); err != nil {
		t.Fatalf("the holder's own script: %v", err)
	}

	// The old owner pauses; its lease lapses and r2 claims the seat.
	if err := rdb.Del(ctx, old.Keys().ReplicaAlive("r1")).Err(); err != nil {
		t.Fatal(err)
	}
	newer := newTStore(rdb, "t", "r1")
	newLease := NewLease(rdb, "t", seat, "r2/new", 0)
	tok2, ok, err := newLease.Claim(ctx)
	if err != nil || !ok {
		t.Fatalf("claim: %v %v", ok, err)
	}
	newer.SetFence(tok2)

	_, lost := old.fence.watch()
	if _, _, err := old.Finish(ctx, "c1", "hangup", "caller"); !errors.Is(err, errs.ErrFenced) {
		t.Fatalf("the paused owner's finish: %v, want ErrFenced", err)
	}
	select {
	case <-lost:
	default:
		t.Fatal("the refusal did not mark the old store fenced")
	}
	if st := ixState(t, newer, "c1"); st != StateArrived {
		t.Fatalf("interaction %s after the stale finish, want %s", st, StateArrived)
	}
	// Refused without asking Redis from now on.
	if _, _, err := old.Finish(ctx, "c1", "hangup", "caller"); !errors.Is(err, errs.ErrFenced) {
		t.Fatalf("second stale finish: %v", err)
	}
	if ok, err := oldLease.Renew(ctx); err != nil || ok {
		t.Fatalf("old owner's renewal: %v %v, want lost", ok, err)
	}
	if _, _, err := newer.Finish(ctx, "c1", "hangup", "caller"); err != nil {
		t.Fatalf("the new owner's finish: %v", err)
	}
	if st := ixState(t, newer, "c1"); st != StateAbandoned {
		t.Fatalf("interaction %s, want %s", st, StateAbandoned)
	}
}

// TestHoldEndsFencedWhenTheSeatIsTaken: a holder renewing its lease learns
// it lost the seat at its next renewal after another process acquired it
// (Hold returns an error wrapping errs.ErrFenced); a holder whose context
// ends stops renewing without an error.
func TestHoldEndsFencedWhenTheSeatIsTaken(t *testing.T) {
	ctx := context.Background()
	rdb := redistest.Client(t)
	seat := Seat{Node: "r1", App: "tandem-r1"}
	a := NewLease(rdb, "t", seat, "r2/a", 300*time.Millisecond)
	if _, err := a.Acquire(ctx); err != nil {
		t.Fatal(err)
	}
	hctx, cancel := context.WithCancel(ctx)
	held := make(chan error, 1)
	go func() { held <- a.Hold(hctx) }()
	b := NewLease(rdb, "t", seat, "r1/b", 0)
	if _, err := b.Acquire(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-held; !errors.Is(err, errs.ErrFenced) {
		t.Fatalf("hold: %v, want ErrFenced", err)
	}
	cancel()

	hctx, cancel = context.WithCancel(ctx)
	go func() { held <- b.Hold(hctx) }()
	cancel()
	if err := <-held; err != nil {
		t.Fatalf("hold ended by its context: %v", err)
	}
}

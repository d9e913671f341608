package e2e

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tandem-cc/tandem/acd"
	"github.com/tandem-cc/tandem/internal/keyspace"
	"github.com/tandem-cc/tandem/internal/lab"
	"github.com/tandem-cc/tandem/internal/redistest"
	"github.com/tandem-cc/tandem/pbxsim"
)

// TestDeadReplicasCallsDoNotTakeTheLiveOnesAgents is issue 10's first
// finding, replayed: r1 stops with two callers, B and C, waiting at the
// head of the queue (they stay in the PBX, on hold in r1's application);
// r2's caller D waits behind them. The agent freed on r2 is offered D and
// talks with it; B and C are never offered (nothing goes to r1's inbox,
// no agent is left reserved for them) and keep their places in the queue
// for whoever takes r1's seat over.
func TestDeadReplicasCallsDoNotTakeTheLiveOnesAgents(t *testing.T) {
	forEachPBX(t, func(t *testing.T, pbx lab.PBXKind) {
		l := startLabOn(t, pbx, 2, 5*time.Second, nil)
		ctx := context.Background()
		r2 := l.Replicas[1]
		l.PBX.SetPhone(l.Endpoint("1001"), pbxsim.Phone{Mode: pbxsim.Answer, RingFor: 10 * time.Millisecond})
		if _, err := r2.Engine.Login(ctx, "a1", l.Endpoint("1001"), []string{"sales"}, nil); err != nil {
			t.Fatal(err)
		}
		var waiting []string
		for _, ani := range []string{"+12025550101", "+12025550102"} {
			leg, err := l.PBX.Call(pbxsim.Caller{App: "tandem-r1", ANI: ani, DNIS: "800"})
			if err != nil {
				t.Fatal(err)
			}
			waiting = append(waiting, waitState(t, l, interactionOf(t, l, leg).ConnectionID, acd.StateQueued).ConnectionID)
			waitRedisTick(t, l)
		}
		if err := l.Replicas[0].Stop(); err != nil {
			t.Fatalf("stop r1: %v", err)
		}
		legD, err := l.PBX.Call(pbxsim.Caller{App: "tandem-r2", ANI: "+12025550103", DNIS: "800"})
		if err != nil {
			t.Fatal(err)
		}
		d := waitState(t, l, interactionOf(t, l, legD).ConnectionID, acd.StateQueued)

		if _, err := r2.Engine.SetAvailable(ctx, "a1"); err != nil {
			t.Fatal(err)
		}
		if ix := waitState(t, l, d.ConnectionID, acd.StateConnected); ix.Agent != "a1" {
			t.Fatalf("D %+v, want connected to a1", ix)
		}
		// r2's sweeps had their chances too.
		sctx, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		if err := r2.WaitSweeps(sctx, 2); err != nil {
			t.Fatal(err)
		}
		for _, conn := range waiting {
			if ix := interaction(t, l, conn); ix.State != acd.StateQueued || ix.Offers != 0 {
				t.Fatalf("r1's %s %+v, want queued and never offered", conn, ix)
			}
		}
		keys := keyspace.New("tandem")
		if n, err := l.RDB.XLen(ctx, keys.Inbox("r1")).Result(); err != nil || n != 0 {
			t.Fatalf("%d entries in the stopped r1's inbox (%v)", n, err)
		}
		q, err := l.RDB.ZRange(ctx, keys.Waiting("sales"), 0, -1).Result()
		if err != nil || len(q) != 2 || q[0] != waiting[0] || q[1] != waiting[1] {
			t.Fatalf("sales waiting %v %v, want %v in their places", q, err, waiting)
		}
		restartForTheEnd(l, 0)
	})
}

// TestRecovererFreesTheAgentsADeadReplicaHeld is the rest of the finding:
// r1 dies just after an agent freed on r2 was offered r1's waiting call B
// (the offer sits in r1's inbox, the agent reserved for it) — r1's lease
// had not lapsed yet. Once it has, and the offer is past its deadline
// (forced here in Redis rather than waited for), r2's recoverer puts B
// back at the head of the queue and frees the agent, who then takes r2's
// caller D at once.
func TestRecovererFreesTheAgentsADeadReplicaHeld(t *testing.T) {
	forEachPBX(t, func(t *testing.T, pbx lab.PBXKind) {
		ctx := context.Background()
		l := startLabWith(t, lab.Options{
			PBX:       pbx,
			Replicas:  2,
			RedisAddr: redistest.Start(t),
			Queues:    map[string]acd.QueueSettings{"sales": {MOHClass: "default", RingTimeout: 5 * time.Second}},
			DNIS:      map[string]string{"800": "sales"},
			Logger:    slog.New(slog.DiscardHandler),
			Engine:    acd.Options{Recovery: acd.RecoverOptions{Interval: 50 * time.Millisecond}},
		})
		keys := keyspace.New("tandem")
		r2 := l.Replicas[1]
		l.PBX.SetPhone(l.Endpoint("1001"), pbxsim.Phone{Mode: pbxsim.Answer, RingFor: 10 * time.Millisecond})
		if _, err := r2.Engine.Login(ctx, "a1", l.Endpoint("1001"), []string{"sales"}, nil); err != nil {
			t.Fatal(err)
		}
		legB, err := l.PBX.Call(pbxsim.Caller{App: "tandem-r1", ANI: "+12025550101", DNIS: "800"})
		if err != nil {
			t.Fatal(err)
		}
		b := waitState(t, l, interactionOf(t, l, legB).ConnectionID, acd.StateQueued)
		// r1 crashes; its lease is still running.
		if err := l.Replicas[0].Stop(); err != nil {
			t.Fatal(err)
		}
		if err := l.RDB.Set(ctx, keys.ReplicaAlive("r1"), "crashed", time.Hour).Err(); err != nil {
			t.Fatal(err)
		}
		if _, err := r2.Engine.SetAvailable(ctx, "a1"); err != nil {
			t.Fatal(err)
		}
		if ix := interaction(t, l, b.ConnectionID); ix.State != acd.StateOffered || ix.Agent != "a1" {
			t.Fatalf("B %+v, want offered to a1 (r1 looked alive)", ix)
		}
		legD, err := l.PBX.Call(pbxsim.Caller{App: "tandem-r2", ANI: "+12025550103", DNIS: "800"})
		if err != nil {
			t.Fatal(err)
		}
		d := waitState(t, l, interactionOf(t, l, legD).ConnectionID, acd.StateQueued)

		// r1's lease lapses and a1's offer is overdue.
		if err := l.RDB.Del(ctx, keys.ReplicaAlive("r1")).Err(); err != nil {
			t.Fatal(err)
		}
		now, err := l.RDB.Time(ctx).Result()
		if err != nil {
			t.Fatal(err)
		}
		past := now.UnixMilli() - 1
		if err := l.RDB.HSet(ctx, keys.Agent("a1"), "offer_due", past).Err(); err != nil {
			t.Fatal(err)
		}
		if err := l.RDB.ZAdd(ctx, keys.OffersDue(), redis.Z{Score: float64(past), Member: "a1"}).Err(); err != nil {
			t.Fatal(err)
		}
		if ix := waitState(t, l, d.ConnectionID, acd.StateConnected); ix.Agent != "a1" {
			t.Fatalf("D %+v, want connected to a1", ix)
		}
		if ix := interaction(t, l, b.ConnectionID); ix.State != acd.StateQueued || ix.Agent != "" || ix.RONAs != 0 {
			t.Fatalf("B %+v, want queued again, no agent, no RONA", ix)
		}
		if q, err := l.RDB.ZRange(ctx, keys.Waiting("sales"), 0, -1).Result(); err != nil || len(q) != 1 || q[0] != b.ConnectionID {
			t.Fatalf("sales waiting %v %v, want B", q, err)
		}
		restartForTheEnd(l, 0)
	})
}

package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/tandem-cc/tandem/acd"
	"github.com/tandem-cc/tandem/internal/keyspace"
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
	l := startLab(t, 2, 5*time.Second)
	ctx := context.Background()
	r2 := l.Replicas[1]
	l.Sim.SetPhone("PJSIP/1001", pbxsim.Phone{Mode: pbxsim.Answer, RingFor: 10 * time.Millisecond})
	if _, err := r2.Engine.Login(ctx, "a1", "PJSIP/1001", []string{"sales"}, nil); err != nil {
		t.Fatal(err)
	}
	var waiting []string
	for _, ani := range []string{"+12025550101", "+12025550102"} {
		leg, err := l.Sim.Call(pbxsim.Caller{App: "tandem-r1", ANI: ani, DNIS: "800"})
		if err != nil {
			t.Fatal(err)
		}
		waiting = append(waiting, waitState(t, l, interactionOf(t, l, leg).ConnectionID, acd.StateQueued).ConnectionID)
		waitRedisTick(t, l)
	}
	if err := l.Replicas[0].Stop(); err != nil {
		t.Fatalf("stop r1: %v", err)
	}
	legD, err := l.Sim.Call(pbxsim.Caller{App: "tandem-r2", ANI: "+12025550103", DNIS: "800"})
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
}

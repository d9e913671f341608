package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/tandem-cc/tandem/acd"
	"github.com/tandem-cc/tandem/agents"
	"github.com/tandem-cc/tandem/internal/lab"
	"github.com/tandem-cc/tandem/pbxsim"
)

// TestOrphanOfferTakesItsBridge: an offer comes for a call of this node
// that no actor runs (its earlier holder made it, and its bridge, then
// stopped; the seat's index no longer has it): the call is failed, the
// agent freed, and the bridge named after it destroyed. Before, the bridge
// stayed on the PBX, empty, for ever (the chaos test's rolling scenario,
// with callbacks whose seat moved).
func TestOrphanOfferTakesItsBridge(t *testing.T) {
	l, reconciled := startReconcileLab(t, lab.Asterisk, nil)
	ctx := context.Background()
	leg, err := l.Sim.Call(pbxsim.Caller{ANI: "5550001", DNIS: "800"})
	if err != nil {
		t.Fatal(err)
	}
	conn := interactionOfWait(t, l, leg)
	waitState(t, l, conn, acd.StateQueued)
	if err := l.Replicas[0].Stop(); err != nil {
		t.Fatal(err)
	}
	// Not the seat's to rebuild any more (as after an adoption), and its
	// bridge made: the next engine runs no actor for it.
	r1 := l.Replicas[0]
	if err := l.RDB.SRem(ctx, r1.Store.Keys().SeatCalls(r1.Node), conn).Err(); err != nil {
		t.Fatal(err)
	}
	if err := createBridge(l, conn); err != nil {
		t.Fatal(err)
	}
	l.RestartEngine(0)
	<-reconciled
	if _, ok := l.Sim.Bridge(conn); !ok {
		t.Fatal("the bridge is gone before any offer: nothing to test")
	}
	login(t, l, 0, "a1", "PJSIP/1001", pbxsim.Phone{Mode: pbxsim.Answer, RingFor: 10 * time.Millisecond}, "sales")
	waitState(t, l, conn, acd.StateFailed)
	waitFor(t, 10*time.Second, "the orphan call's bridge destroyed", func() bool {
		_, ok := l.Sim.Bridge(conn)
		return !ok
	})
	if st := agentState(t, l, "a1"); st != agents.Available {
		t.Fatalf("a1 %s", st)
	}
	// The caller's leg is no call of the seat for the restarted engine: its
	// leftovers step sent it back to the dialplan (which hangs it up), so
	// it may be gone already.
	_ = deleteChannel(l, leg)
}

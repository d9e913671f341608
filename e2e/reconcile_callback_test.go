package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/tandem-cc/tandem/acd"
	"github.com/tandem-cc/tandem/agents"
	"github.com/tandem-cc/tandem/callbacks"
	"github.com/tandem-cc/tandem/pbxsim"
)

// TestRestartRebuildsAConnectedCallback: a web callback is connected (the
// customer answered, the attempt is complete and the callback done) when
// its replica stops as a crash would. The restarted engine rebuilds the
// call like any connected call: when the customer hangs up, the call ends,
// the agent is free again (this lab has no wrap-up), and neither the
// agent's leg nor the bridge is left on the PBX. (Chaos sigkill-restart: such calls stayed connected
// forever, their agents stuck, the agent's leg alone in the bridge.)
func TestRestartRebuildsAConnectedCallback(t *testing.T) {
	l := startCallbackLab(t, cbOptions{})
	ctx := context.Background()
	const number = "+12025550141"
	l.Sim.SetPhone("PJSIP/1001", pbxsim.Phone{Mode: pbxsim.Answer, RingFor: 30 * time.Millisecond})
	l.Sim.SetPhone(customer(number), answers)
	e := l.Replicas[0].Engine
	if _, err := e.Login(ctx, "a1", "PJSIP/1001", []string{"sales"}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := e.SetAvailable(ctx, "a1"); err != nil {
		t.Fatal(err)
	}
	cb, _, err := e.RequestCallback(ctx, acd.CallbackRequest{Queue: "sales", Number: number})
	if err != nil {
		t.Fatal(err)
	}
	waitCallback(t, l, cb.ID, callbacks.StateDone)
	ix := callbackInteraction(t, l, cb.ID, acd.StateConnected)
	var legs []string
	waitFor(t, 5*time.Second, "customer and agent bridged", func() bool {
		legs = l.Sim.LiveLegs(customer(number))
		b, ok := l.Sim.Bridge(ix.ConnectionID)
		return len(legs) == 1 && ok && len(b.Channels) == 2
	})

	if err := l.Replicas[0].Stop(); err != nil {
		t.Fatal(err)
	}
	l.RestartEngine(0)
	if err := deleteChannel(l, legs[0]); err != nil {
		t.Fatal(err)
	}
	if got := waitState(t, l, ix.ConnectionID, acd.StateEnded); got.EndedBy != "caller" {
		t.Fatalf("ended by %q, want the caller", got.EndedBy)
	}
	waitFor(t, 10*time.Second, "no channel and no bridge left on the PBX", func() bool {
		return len(l.Sim.Bridges()) == 0 && len(l.Sim.Channels()) == 0
	})
	waitAgent(t, l, "a1", agents.Available) // no wrap-up in this lab
	checkHistory(t, l)
}

package e2e

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tandem-cc/tandem/acd"
	"github.com/tandem-cc/tandem/agents"
	"github.com/tandem-cc/tandem/internal/lab"
	"github.com/tandem-cc/tandem/pbxsim"
)

// pbxGate wraps a replica's PBX port: once armed, the StopMusic of one leg
// blocks until released, holding that call's actor inside its step. It
// also tells when the engine has been handed the hang-up of a watched leg
// (it is then in the call's mailbox).
type pbxGate struct {
	acd.PBX
	mu      sync.Mutex
	leg     string
	entered chan struct{}
	release chan struct{}
	watch   string
	hungUp  chan struct{}
}

func (g *pbxGate) arm(leg string) {
	g.mu.Lock()
	g.leg, g.entered, g.release = leg, make(chan struct{}), make(chan struct{})
	g.mu.Unlock()
}

func (g *pbxGate) watchHangup(leg string) {
	g.mu.Lock()
	g.watch, g.hungUp = leg, make(chan struct{})
	g.mu.Unlock()
}

func (g *pbxGate) StopMusic(ctx context.Context, leg string) error {
	g.mu.Lock()
	hold := leg == g.leg && g.leg != ""
	entered, release := g.entered, g.release
	if hold {
		g.leg = "" // once
	}
	g.mu.Unlock()
	if hold {
		close(entered)
		select {
		case <-release:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return g.PBX.StopMusic(ctx, leg)
}

func (g *pbxGate) Run(ctx context.Context, handle func(acd.Event)) error {
	return g.PBX.Run(ctx, func(ev acd.Event) {
		handle(ev)
		h, ok := ev.(acd.LegHungUp)
		if !ok {
			return
		}
		g.mu.Lock()
		if h.Leg == g.watch && g.watch != "" {
			g.watch = ""
			close(g.hungUp)
		}
		g.mu.Unlock()
	})
}

// TestConsultEndedWithItsOfferInFlightRingsTheFreedAgent: a consult to a
// queue (the first step of a consult transfer) ends — the agent gives up,
// or the transfer fails because the customer hangs up — just as routing
// offered it to an agent there. The consult's interaction ends while
// offered, which frees that agent, and the same script offers them the
// next caller waiting in the queue: that offer is delivered and the freed
// agent is rung for the caller. The consult's own offer then reaches the
// call's actor stale and changes nothing. (Before, both offers were
// dropped: the freed agent stayed reserved for a caller nobody rang.)
//
// The race is staged, not waited for: replica 0 owns every call; its actor
// is held inside a PBX command while the end of the consult and then the
// consult's offer (made by replica 1's script, through replica 0's inbox)
// queue up behind it, in that order.
func TestConsultEndedWithItsOfferInFlightRingsTheFreedAgent(t *testing.T) {
	forEachPBX(t, func(t *testing.T, pbx lab.PBXKind) {
		for _, end := range []string{"agent ends the consult", "customer hangs up"} {
			t.Run(end, func(t *testing.T) { consultEndedWithOfferInFlight(t, pbx, end == "customer hangs up") })
		}
	})
}

func consultEndedWithOfferInFlight(t *testing.T, pbx lab.PBXKind, customerHangsUp bool) {
	var gate *pbxGate
	l := startControlLab(t, controlOptions{pbx: pbx, replicas: 2, wrapPBX: func(node string, p acd.PBX) acd.PBX {
		if gate != nil {
			return p // replica 0's port only
		}
		gate = &pbxGate{PBX: p}
		return gate
	}})
	ctx := context.Background()
	l.agent(0, "a1", l.Endpoint("1001"), false, "sales")
	l.agent(0, "s1", l.Endpoint("2001"), true, "support") // idle for now
	e0, e1 := l.Replicas[0].Engine, l.Replicas[1].Engine

	// The customer, with a1; a second caller waiting in support. Both
	// calls belong to replica 0.
	leg, err := l.PBX.Call(pbxsim.Caller{ANI: "+12025550199", DNIS: "800", App: l.Replicas[0].App})
	if err != nil {
		t.Fatal(err)
	}
	ix := waitState(t, l.Lab, interactionOf(t, l.Lab, leg).ConnectionID, "connected")
	leg2, err := l.PBX.Call(pbxsim.Caller{ANI: "+12025550142", DNIS: "801", App: l.Replicas[0].App})
	if err != nil {
		t.Fatal(err)
	}
	ix2 := waitState(t, l.Lab, interactionOf(t, l.Lab, leg2).ConnectionID, "queued")

	// a1 consults support: nobody is available, the consult waits ahead
	// of the caller (consults have the top priority).
	v, err := e0.Consult(ctx, "a1", acd.Target{Kind: acd.TargetQueue, Value: "support"})
	if err != nil || v.Consult == nil {
		t.Fatalf("consult: %+v %v", v.Consult, err)
	}

	// Hold the actor: a1 takes the customer back, and the PBX keeps the
	// customer's StopMusic.
	gate.arm(ix.CallerLeg)
	resumed := make(chan error, 1)
	go func() { _, err := e0.Resume(ctx, "a1"); resumed <- err }()
	<-gate.entered

	ended := make(chan error, 1)
	if customerHangsUp {
		// The customer's line drops; the hang-up waits in the mailbox.
		gate.watchHangup(ix.CallerLeg)
		if err := l.Replicas[1].PBX.Hangup(ctx, ix.CallerLeg, acd.CauseNormal); err != nil {
			t.Fatal(err)
		}
		<-gate.hungUp
		ended <- nil
	} else {
		// a1 ends the consult through replica 1: replica 0 takes the
		// command from its inbox and queues it for the actor (marking its
		// id taken).
		go func() { _, err := e1.EndConsult(ctx, "a1"); ended <- err }()
		waitFor(t, 10*time.Second, "end of consult taken from the inbox", func() bool {
			keys, err := l.RDB.Keys(ctx, l.Replicas[0].Store.Keys().CommandDone("*")).Result()
			return err == nil && len(keys) == 1
		})
	}

	// s1 becomes available: the consult, first in line, is offered to s1.
	if _, err := e1.SetAvailable(ctx, "s1"); err != nil {
		t.Fatal(err)
	}
	a, err := e1.Agent(ctx, "s1")
	if err != nil || a.State != agents.Reserved || !strings.HasPrefix(a.ConnectionID, ix.ConnectionID+"-q") {
		t.Fatalf("s1 %+v %v: want reserved for the consult", a, err)
	}

	close(gate.release)
	if err := <-resumed; err != nil && !customerHangsUp {
		t.Fatalf("resume: %v", err)
	}
	if err := <-ended; err != nil {
		t.Fatalf("end consult: %v", err)
	}
	// The consult ended while offered to s1: s1 was freed and offered the
	// waiting caller, and is rung for them (their phone answers).
	got := waitState(t, l.Lab, ix2.ConnectionID, "connected")
	if got.Agent != "s1" {
		t.Fatalf("caller connected to %q, want s1", got.Agent)
	}
	waitState(t, l.Lab, a.ConnectionID, "abandoned") // the consult's end, while offered
	if !customerHangsUp {
		if _, err := e0.End(ctx, "a1"); err != nil {
			t.Fatal(err)
		}
	}
	waitState(t, l.Lab, ix.ConnectionID, "ended")
	if _, err := e0.End(ctx, "s1"); err != nil {
		t.Fatal(err)
	}
	waitState(t, l.Lab, ix2.ConnectionID, "ended")
	checkHistory(t, l.Lab)
}

package e2e

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/tandem-cc/tandem/acd"
	"github.com/tandem-cc/tandem/internal/lab"
	"github.com/tandem-cc/tandem/internal/redistest"
	"github.com/tandem-cc/tandem/pbxsim"
)

// startOutboundLab is a FreeSWITCH lab in outbound mode: the dialplan
// hands every call to r1's socket, r2's as the fallback; replicas host the
// seats of the gone ones.
func startOutboundLab(t *testing.T) *lab.Lab {
	t.Helper()
	return startLabWith(t, lab.Options{
		PBX:       lab.FreeSWITCH,
		Outbound:  true,
		Replicas:  2,
		RedisAddr: redistest.Start(t),
		Queues:    map[string]acd.QueueSettings{"sales": {MOHClass: "default", RingTimeout: 5 * time.Second}},
		DNIS:      map[string]string{"800": "sales"},
		Logger:    slog.New(slog.DiscardHandler),
		HostSeats: true,
		Lease:     2 * time.Second,
		Poll:      200 * time.Millisecond,
	})
}

// outboundCall places a call the way an outbound-mode dialplan does: it
// names no replica; the socket that takes it does.
func outboundCall(t *testing.T, l *lab.Lab, ani string) string {
	t.Helper()
	leg, err := l.PBX.Call(pbxsim.Caller{ANI: ani, DNIS: "800"})
	if err != nil {
		t.Fatal(err)
	}
	return leg
}

// TestOutboundSocketCallReachesAnAgent: a call through r1's socket is
// taken by r1 (its tandem_app), reaches the agent and ends normally.
func TestOutboundSocketCallReachesAnAgent(t *testing.T) {
	l := startOutboundLab(t)
	login(t, l, 0, "a1", l.Endpoint("1001"), pbxsim.Phone{Mode: pbxsim.Answer, RingFor: 10 * time.Millisecond}, "sales")
	leg := outboundCall(t, l, "+12025550201")
	ix := waitState(t, l, interactionOf(t, l, leg).ConnectionID, acd.StateConnected)
	if ix.Agent != "a1" {
		t.Fatalf("%+v, want connected to a1", ix)
	}
	if ch, _ := l.PBX.Channel(leg); ch.App != "tandem-r1" {
		t.Fatalf("tandem_app %q, want tandem-r1 (the first socket)", ch.App)
	}
	if err := l.PBX.HangUp(leg); err != nil {
		t.Fatal(err)
	}
	waitState(t, l, ix.ConnectionID, acd.StateEnded)
}

// TestOutboundSocketReplicaStoppedWhileCallsWaitAndTalk: r1 took two
// calls, one connected to the agent and one waiting, and stops. The
// waiting call's socket closes with it, so FreeSWITCH's dialplan moves it
// to r2's socket, which holds it for its owner; the connected one is in a
// bridge, out of the socket application, and stays. Once r2 hosts r1's
// seat the connected call ends normally, the waiting one is answered by
// the agent and ends normally, and nothing is left on the PBX (the lab's
// final check).
func TestOutboundSocketReplicaStoppedWhileCallsWaitAndTalk(t *testing.T) {
	l := startOutboundLab(t)
	login(t, l, 0, "a1", l.Endpoint("1001"), pbxsim.Phone{Mode: pbxsim.Answer, RingFor: 10 * time.Millisecond}, "sales")
	talking := outboundCall(t, l, "+12025550301")
	x := waitState(t, l, interactionOf(t, l, talking).ConnectionID, acd.StateConnected)
	waiting := outboundCall(t, l, "+12025550302")
	y := waitState(t, l, interactionOf(t, l, waiting).ConnectionID, acd.StateQueued)

	if err := l.Replicas[0].Stop(); err != nil {
		t.Fatalf("stop r1: %v", err)
	}
	// r1's socket closed: the dialplan ran on to r2's socket, which holds
	// the call for its owner (had it run on to its hangup, the call could
	// not be answered below).
	if ix := interaction(t, l, y.ConnectionID); ix.State != acd.StateQueued {
		t.Fatalf("the waiting call %+v, want still queued", ix)
	}
	if ch, _ := l.PBX.Channel(talking); ch.HungUp {
		t.Fatal("the connected call was hung up")
	}

	// r2 hosts r1's seat: the connected call ends normally, then the agent
	// takes the waiting one.
	waitFor(t, 30*time.Second, "r2 hosting r1's seat", func() bool { return l.Replicas[1].HostedConnected("r1") })
	if err := l.PBX.HangUp(talking); err != nil {
		t.Fatal(err)
	}
	waitState(t, l, x.ConnectionID, acd.StateEnded)
	if ix := waitState(t, l, y.ConnectionID, acd.StateConnected); ix.Agent != "a1" {
		t.Fatalf("the waiting call %+v, want connected to a1", ix)
	}
	if err := l.PBX.HangUp(waiting); err != nil {
		t.Fatal(err)
	}
	waitState(t, l, y.ConnectionID, acd.StateEnded)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if s := l.Settle(ctx, false); !s.Clean() {
		t.Fatalf("left: %v", s)
	}
}

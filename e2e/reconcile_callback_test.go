package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/tandem-cc/tandem/acd"
	"github.com/tandem-cc/tandem/agents"
	"github.com/tandem-cc/tandem/callbacks"
	"github.com/tandem-cc/tandem/internal/lab"
	"github.com/tandem-cc/tandem/pbxsim"
)

// TestConnectedCallbackSurvivesARestart: a callback's customer answered
// and talks to the agent (the callback is done), and the replica restarts.
// The restarted engine rebuilds the conversation like any connected call:
// when the customer hangs up, the agent's leg is hung up, the agent goes to
// wrap-up (none here: available), and nothing is left on the PBX. Before, the seat's next holder
// left callback interactions to the callback scheduler, which no longer
// has a done callback: the interaction and the agent stayed connected, the
// agent's leg up in its bridge (the chaos test's sigterm scenario).
func TestConnectedCallbackSurvivesARestart(t *testing.T) {
	forEachPBX(t, func(t *testing.T, pbx lab.PBXKind) {
		l := startCallbackLab(t, cbOptions{pbx: pbx})
		ctx := context.Background()
		e := l.Replicas[0].Engine
		const number = "+12025550123"
		login(t, l, 0, "a1", l.Endpoint("1001"), pbxsim.Phone{Mode: pbxsim.Answer, RingFor: 10 * time.Millisecond}, "sales")
		l.PBX.SetPhone(customer(l, number), answers)
		cb, _, err := e.RequestCallback(ctx, acd.CallbackRequest{Queue: "sales", Number: number})
		if err != nil {
			t.Fatal(err)
		}
		waitCallback(t, l, cb.ID, callbacks.StateDone)
		ix := callbackInteraction(t, l, cb.ID, acd.StateConnected)
		var custLeg string
		waitFor(t, 5*time.Second, "customer and agent bridged", func() bool {
			legs := l.PBX.LiveLegs(customer(l, number))
			if len(legs) != 1 {
				return false
			}
			custLeg = legs[0]
			return l.Bridged(custLeg, interaction(t, l, ix.ConnectionID).AgentLeg)
		})
		if err := l.Replicas[0].Stop(); err != nil {
			t.Fatal(err)
		}
		l.RestartEngine(0)
		if err := l.PBX.HangUp(custLeg); err != nil {
			t.Fatal(err)
		}
		if got := waitState(t, l, ix.ConnectionID, acd.StateEnded); got.EndedBy != "caller" {
			t.Fatalf("ended by %q", got.EndedBy)
		}
		// No wrap-up in this lab: a1 is available again.
		waitFor(t, 10*time.Second, "a1 available", func() bool { return agentState(t, l, "a1") == agents.Available })
		waitFor(t, 10*time.Second, "no channel, bridge or recording left on the PBX", func() bool {
			return l.PBX.Leftovers().Empty() && len(l.PBX.Channels()) == 0
		})
		checkHistory(t, l)
	})
}

// TestOrphanCallbackCallIsFailed: a callback interaction of the seat whose
// callback no longer points at it (an earlier holder re-claimed the
// callback for another interaction as it stopped) is continued by nobody:
// the callback scheduler takes over only the interaction its callback
// names. The restarted engine ends it (by the system): its legs are hung
// up, its bridge destroyed, the agent released (an orphan in any other
// state is failed). Before, it stayed live for ever with the
// agent on it (the chaos test's rolling scenario: an agent left ringing).
func TestOrphanCallbackCallIsEnded(t *testing.T) {
	forEachPBX(t, func(t *testing.T, pbx lab.PBXKind) {
		l := startCallbackLab(t, cbOptions{pbx: pbx})
		ctx := context.Background()
		e := l.Replicas[0].Engine
		const number = "+12025550123"
		login(t, l, 0, "a1", l.Endpoint("1001"), pbxsim.Phone{Mode: pbxsim.Answer, RingFor: 10 * time.Millisecond}, "sales")
		l.PBX.SetPhone(customer(l, number), answers)
		cb, _, err := e.RequestCallback(ctx, acd.CallbackRequest{Queue: "sales", Number: number})
		if err != nil {
			t.Fatal(err)
		}
		waitCallback(t, l, cb.ID, callbacks.StateDone)
		ix := callbackInteraction(t, l, cb.ID, acd.StateConnected)
		waitFor(t, 5*time.Second, "customer and agent bridged", func() bool {
			agent := interaction(t, l, ix.ConnectionID).AgentLeg
			return agent != "" && len(bridgedNow(l, agent)) == 1
		})
		if err := l.Replicas[0].Stop(); err != nil {
			t.Fatal(err)
		}
		key := callbacks.NewStore(l.RDB, "tandem").Keys().Callback(cb.ID)
		if err := l.RDB.HSet(ctx, key, "conn", "another-interaction").Err(); err != nil {
			t.Fatal(err)
		}
		l.RestartEngine(0)
		if got := waitState(t, l, ix.ConnectionID, acd.StateEnded); got.EndedBy != "system" {
			t.Fatalf("ended by %q", got.EndedBy)
		}
		waitFor(t, 10*time.Second, "a1 available", func() bool { return agentState(t, l, "a1") == agents.Available })
		waitFor(t, 10*time.Second, "no channel, bridge or recording left on the PBX", func() bool {
			return l.PBX.Leftovers().Empty() && len(l.PBX.Channels()) == 0
		})
		checkHistory(t, l)
	})
}

package e2e

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/tandem-cc/tandem/acd"
	"github.com/tandem-cc/tandem/agents"
	"github.com/tandem-cc/tandem/internal/lab"
	"github.com/tandem-cc/tandem/pbxsim"
)

// storedView reads the call view the owner wrote into ix:<conn>.
func (l *controlLab) storedView(conn string) acd.CallView {
	l.t.Helper()
	data, err := l.RDB.HGet(context.Background(), l.Replicas[0].Store.Keys().Interaction(conn), "view").Result()
	if err != nil {
		l.t.Fatalf("view of %s: %v", conn, err)
	}
	var v acd.CallView
	if err := json.Unmarshal([]byte(data), &v); err != nil {
		l.t.Fatalf("view of %s: %v", conn, err)
	}
	return v
}

// An agent's end is answered with the call as it is after the end, the
// view stored in Redis follows the interaction to its end (whoever ends
// it), and each call is finished exactly once: the caller's leg that
// Tandem hangs up after the end does not finish it again.
func TestEndAnswersTheEndedCallAndFinishesOnce(t *testing.T) {
	forEachPBX(t, func(t *testing.T, pbx lab.PBXKind) {
		l := startControlLab(t, controlOptions{pbx: pbx, wrapUp: 50 * time.Millisecond})
		ctx := context.Background()
		m := monitorScripts(t, l.Lab)
		l.agent(0, "a1", l.Endpoint("1001"), false, "sales")

		// 1. The agent ends the call (it is recorded: the view had a recording).
		ix := l.talking(nil)
		l.view("a1", "recording", func(v acd.CallView) bool { return v.Recording != nil })
		v, err := l.engine().End(ctx, "a1")
		if err != nil {
			t.Fatal(err)
		}
		if v.State != acd.StateEnded || v.Recording != nil || v.CustomerHeld {
			t.Errorf("end answered %+v, want the ended call", v)
		}
		waitState(t, l.Lab, ix.ConnectionID, acd.StateEnded)
		if sv := l.storedView(ix.ConnectionID); sv.State != acd.StateEnded || sv.Recording != nil || sv.ConnectionID != ix.ConnectionID {
			t.Errorf("stored view after the agent's end: %+v", sv)
		}
		waitFor(t, 5*time.Second, "caller hung up", func() bool { return l.channel(ix.CallerLeg).HungUp })

		// 2. The caller hangs up.
		waitAgent(t, l.Lab, "a1", agents.Available)
		leg, err := l.PBX.Call(pbxsim.Caller{ANI: "+12025550199", DNIS: "800", TalkFor: 200 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		conn := interactionOf(t, l.Lab, leg).ConnectionID
		waitState(t, l.Lab, conn, acd.StateEnded)
		if got := interaction(t, l.Lab, conn); got.EndedBy != "caller" || got.Answered.IsZero() {
			t.Fatalf("second call %+v", got)
		}
		if sv := l.storedView(conn); sv.State != acd.StateEnded || sv.Recording != nil {
			t.Errorf("stored view after the caller hung up: %+v", sv)
		}

		// Every event of both calls has been handled once the replica stopped.
		if err := l.Replicas[0].Stop(); err != nil {
			t.Fatal(err)
		}
		m.sync(t, l.Lab)
		for _, c := range []string{ix.ConnectionID, conn} {
			if n := m.finishesOf(c); n != 1 {
				t.Errorf("call %s finished %d times, want 1", c, n)
			}
		}
		checkHistory(t, l.Lab)
	})
}

// The agent answers while Redis is stalled and hangs up a moment later,
// before Tandem could have bridged the call had it waited for Redis first.
// The call is bridged before it counts as answered: either the customer
// talked to the agent (answered and bridged at the PBX) or the agent was
// gone first (RONA, and the call goes to the next agent) — never an
// answered call that nobody bridged, ended by "system".
func TestAgentAnswerDuringARedisStallIsBridgedBeforeItCounts(t *testing.T) {
	forEachPBX(t, func(t *testing.T, pbx lab.PBXKind) {
		l := startControlLab(t, controlOptions{pbx: pbx, wrapUp: 50 * time.Millisecond})
		ctx := context.Background()
		l.agent(0, "a1", l.Endpoint("1001"), false, "sales")
		l.PBX.SetPhone(l.Endpoint("1001"), pbxsim.Phone{Mode: pbxsim.Answer, RingFor: 300 * time.Millisecond, TalkFor: 100 * time.Millisecond})
		l.agent(0, "a2", l.Endpoint("1002"), true, "sales")
		l.PBX.SetPhone(l.Endpoint("1002"), pbxsim.Phone{Mode: pbxsim.Answer, RingFor: 30 * time.Millisecond, TalkFor: 100 * time.Millisecond})
		leg, err := l.PBX.Call(pbxsim.Caller{ANI: "+12025550199", DNIS: "800"})
		if err != nil {
			t.Fatal(err)
		}
		waitFor(t, 5*time.Second, "a1's phone ringing", func() bool { return len(l.PBX.LiveLegs(l.Endpoint("1001"))) == 1 })
		// Redis answers nobody for 800 ms: a1 answers (300 ms) and hangs up
		// (100 ms later) meanwhile.
		if err := l.RDB.ClientPause(ctx, 800*time.Millisecond).Err(); err != nil {
			t.Fatal(err)
		}
		conn := interactionOf(t, l.Lab, leg).ConnectionID // blocks until Redis is back
		if _, err := l.engine().SetAvailable(ctx, "a2"); err != nil {
			t.Fatal(err)
		}
		var ix acd.Interaction
		waitFor(t, 10*time.Second, "call over", func() bool { ix = interaction(t, l.Lab, conn); return ix.Terminal() })
		if ix.State != acd.StateEnded || ix.EndedBy == "system" || ix.Answered.IsZero() {
			t.Errorf("call %s %s by %q (answered %v)", conn, ix.State, ix.EndedBy, ix.Answered)
		}
		checkHistory(t, l.Lab)
	})
}

package e2e

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/tandem-cc/tandem/acd"
	"github.com/tandem-cc/tandem/agents"
	"github.com/tandem-cc/tandem/internal/lab"
	"github.com/tandem-cc/tandem/pbxsim"
)

// TestTwoReplicasShareQueuesAndAgents runs 200 calls over two Tandem
// replicas (one Stasis application each, calls spread over them as a
// dialplan would) and 20 agents logged in through both, and checks the
// invariants at the end, as observed by the PBX and by Redis.
func TestTwoReplicasShareQueuesAndAgents(t *testing.T) {
	forEachPBX(t, func(t *testing.T, pbx lab.PBXKind) {
		if testing.Short() {
			t.Skip("load scenario")
		}
		const calls, agentsN = 200, 20
		l := startLabOn(t, pbx, 2, 3*time.Second, nil)
		rng := rand.New(rand.NewPCG(1, 2))
		for i := 0; i < agentsN; i++ {
			phone := pbxsim.Phone{Mode: pbxsim.Answer, RingFor: time.Duration(20+rng.IntN(80)) * time.Millisecond,
				TalkFor: time.Duration(100+rng.IntN(200)) * time.Millisecond}
			if i%10 == 9 {
				phone = pbxsim.Phone{Mode: pbxsim.NoAnswer} // produces RONAs
			}
			login(t, l, i%2, fmt.Sprintf("agent%02d", i), l.Endpoint(fmt.Sprint(1000+i)), phone, "sales")
		}
		// A supervisor puts RONA'd agents back after a while, as people do:
		// every one of them, since on a loaded machine an answering phone can
		// miss the 3 s ring timeout too, and an agent left in RONA would
		// leave the callers behind it waiting for ever.
		defer putRONABack(l, agentsN)()

		for i := 0; i < calls; i++ {
			// Callers wait as long as it takes, so that how many are served
			// does not depend on how fast a loaded machine runs; only the few
			// below give up.
			c := pbxsim.Caller{ANI: fmt.Sprintf("555%04d", i), DNIS: "800", Patience: time.Hour}
			if i%20 == 7 {
				c.Patience = 50 * time.Millisecond // a few abandon
			}
			if _, err := l.PBX.Call(c); err != nil {
				t.Fatalf("call %d: %v", i, err)
			}
			time.Sleep(5 * time.Millisecond)
		}
		waitAllTerminal(t, l, calls)
		if n := len(interactions(t, l)); n != calls {
			t.Fatalf("%d interactions for %d calls", n, calls)
		}
		st := l.PBX.Stats()
		if st.DoubleOffers != 0 || st.AgentsWithTwoCalls != 0 {
			t.Fatalf("invariants broken: double offers %d, agents with two calls %d", st.DoubleOffers, st.AgentsWithTwoCalls)
		}
		byState := map[string]int{}
		owners := map[string]int{}
		for _, ix := range interactions(t, l) {
			byState[ix.State]++
			owners[ix.Owner]++
		}
		// Only the callers with a 50 ms patience may abandon (one in 20).
		if byState["abandoned"] > calls/20 || byState["ended"]+byState["abandoned"] != calls {
			t.Fatalf("outcomes %v", byState)
		}
		if owners["r1"] == 0 || owners["r2"] == 0 {
			t.Fatalf("calls not spread over both replicas: %v", owners)
		}
		checkHistory(t, l)
		t.Logf("outcomes %v, owners %v, sim %+v", byState, owners, st)
	})
}

// checkHistory reads the shared event stream and checks that every
// interaction and agent transition recorded is a legal one, and that every
// interaction's history starts at arrival and ends in a final state.
func checkHistory(t *testing.T, l *lab.Lab) {
	t.Helper()
	ctx := context.Background()
	msgs, err := l.RDB.XRange(ctx, l.Replicas[0].Store.Keys().Events(), "-", "+").Result()
	if err != nil {
		t.Fatal(err)
	}
	last := map[string]string{}
	// talk is a connected interaction's talk state (held, consulting,
	// conferenced …): talking whenever it becomes connected (connect,
	// hand-over), gone when it leaves connected.
	talk := map[string]string{}
	for _, m := range msgs {
		id, _ := m.Values["id"].(string)
		from, _ := m.Values["from"].(string)
		to, _ := m.Values["to"].(string)
		switch m.Values["kind"] {
		case "interaction":
			if from != last[id] {
				t.Errorf("interaction %s: history says %q → %q after %q", id, from, to, last[id])
			}
			if err := acd.CheckInteractionTransition(from, to); err != nil {
				t.Error(err)
			}
			last[id] = to
			if to == acd.StateConnected {
				talk[id] = acd.TalkTalking
			} else {
				delete(talk, id)
			}
		case "talk":
			if last[id] != acd.StateConnected || from != talk[id] {
				t.Errorf("interaction %s (%s): history says talk %q → %q after %q", id, last[id], from, to, talk[id])
			}
			if err := acd.CheckTalkTransition(from, to); err != nil {
				t.Error(err)
			}
			talk[id] = to
		case "agent":
			if err := agents.CheckTransition(agents.State(from), agents.State(to)); err != nil {
				t.Errorf("agent %s: %v", id, err)
			}
		}
	}
	for id, st := range last {
		if st != acd.StateEnded && st != acd.StateAbandoned && st != acd.StateFailed {
			t.Errorf("interaction %s history ends in %s", id, st)
		}
	}
	checkAnsweredBridged(t, l)
}

// waitAllTerminal waits (3 minutes at most) until at least calls
// interactions exist and every one is terminal, and returns those that are
// not (none, unless the test failed: they are logged then).
func waitAllTerminal(t *testing.T, l *lab.Lab, calls int) (notOver []string) {
	t.Helper()
	defer func() {
		if t.Failed() {
			t.Logf("not terminal: %v", notOver)
		}
	}()
	waitFor(t, 3*time.Minute, "every interaction terminal", func() bool {
		all := interactions(t, l)
		notOver = notOver[:0]
		for _, ix := range all {
			if !ix.Terminal() {
				notOver = append(notOver, ix.ConnectionID+":"+ix.State)
			}
		}
		return len(all) >= calls && len(notOver) == 0
	})
	return notOver
}

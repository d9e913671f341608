package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/tandem-cc/tandem/acd"
	"github.com/tandem-cc/tandem/agents"
	"github.com/tandem-cc/tandem/internal/lab"
	"github.com/tandem-cc/tandem/pbxsim"
)

// routingLab has one queue "q" with the given routing, and "other".
func routingLab(t *testing.T, pbx lab.PBXKind, q acd.QueueSettings) *lab.Lab {
	t.Helper()
	q.MOHClass, q.RingTimeout = "default", 2*time.Second
	return startQueueLab(t, qxOptions{pbx: pbx, queues: map[string]acd.QueueSettings{
		"q":     q,
		"other": {MOHClass: "default", RingTimeout: 2 * time.Second, Weight: 1},
	}})
}

// loginSkilled logs an agent in with skills and makes it available.
func loginSkilled(t *testing.T, l *lab.Lab, id string, phone pbxsim.Phone, skills map[string]int, queues ...string) {
	t.Helper()
	ep := l.Endpoint(id)
	l.PBX.SetPhone(ep, phone)
	e := l.Replicas[0].Engine
	if _, err := e.Login(context.Background(), id, ep, queues, skills); err != nil {
		t.Fatal(err)
	}
	if _, err := e.SetAvailable(context.Background(), id); err != nil {
		t.Fatal(err)
	}
	waitRedisTick(t, l) // idle order is by Redis ms
}

var quick = pbxsim.Phone{Mode: pbxsim.Answer, RingFor: 10 * time.Millisecond}

// callTo places a call into queue q (a Stasis argument names it) and
// returns the agent who got it.
func callTo(t *testing.T, l *lab.Lab, q string, talk time.Duration) string {
	t.Helper()
	leg, err := l.PBX.Call(pbxsim.Caller{ANI: "+12025550199", DNIS: "555", Queue: q, TalkFor: talk})
	if err != nil {
		t.Fatal(err)
	}
	ix := waitState(t, l, interactionOf(t, l, leg).ConnectionID, "connected")
	if talk > 0 {
		waitState(t, l, ix.ConnectionID, "ended")
	}
	return ix.Agent
}

func TestStrategiesChooseAsConfigured(t *testing.T) {
	forEachPBX(t, func(t *testing.T, pbx lab.PBXKind) {
		t.Run("longest_idle", func(t *testing.T) {
			l := routingLab(t, pbx, acd.QueueSettings{Strategy: "longest_idle", Weight: 1})
			for _, id := range []string{"a1", "a2", "a3"} {
				loginSkilled(t, l, id, quick, nil, "q")
			}
			if got := callTo(t, l, "q", 0); got != "a1" {
				t.Fatalf("got %s, want the longest idle a1", got)
			}
		})
		t.Run("round_robin", func(t *testing.T) {
			l := routingLab(t, pbx, acd.QueueSettings{Strategy: "round_robin", Weight: 1})
			for _, id := range []string{"a1", "a2", "a3"} {
				loginSkilled(t, l, id, quick, nil, "q")
			}
			var got []string
			for i := 0; i < 4; i++ {
				got = append(got, callTo(t, l, "q", 50*time.Millisecond))
				for _, id := range []string{"a1", "a2", "a3"} {
					waitAgent(t, l, id, agents.Available)
				}
			}
			if got[0] == got[1] || got[1] == got[2] || got[0] == got[2] || got[3] != got[0] {
				t.Fatalf("round robin served %v", got)
			}
		})
		t.Run("fewest_calls", func(t *testing.T) {
			l := routingLab(t, pbx, acd.QueueSettings{Strategy: "fewest_calls", Weight: 1})
			loginSkilled(t, l, "a1", quick, nil, "q")
			// a1 takes two calls; then a2 logs in. a1 is idle longer, but a2
			// has answered fewer calls today.
			callTo(t, l, "q", 30*time.Millisecond)
			waitAgent(t, l, "a1", agents.Available)
			callTo(t, l, "q", 30*time.Millisecond)
			waitAgent(t, l, "a1", agents.Available)
			loginSkilled(t, l, "a2", quick, nil, "q")
			if _, err := l.Replicas[0].Engine.SetIdle(context.Background(), "a1", "break"); err != nil {
				t.Fatal(err)
			}
			if _, err := l.Replicas[0].Engine.SetAvailable(context.Background(), "a1"); err != nil {
				t.Fatal(err)
			}
			if got := callTo(t, l, "q", 0); got != "a2" {
				t.Fatalf("got %s, want a2 (fewest calls today)", got)
			}
		})
		t.Run("least_talk_time", func(t *testing.T) {
			l := routingLab(t, pbx, acd.QueueSettings{Strategy: "least_talk_time", Weight: 1})
			loginSkilled(t, l, "a1", quick, nil, "q")
			loginSkilled(t, l, "a2", quick, nil, "q")
			// a1 talks 1.2 s, a2 0.1 s; both are then available with a1 idle longer.
			if got := callTo(t, l, "q", 1200*time.Millisecond); got != "a1" {
				t.Fatalf("first call to %s", got)
			}
			waitAgent(t, l, "a1", agents.Available)
			if got := callTo(t, l, "q", 100*time.Millisecond); got != "a2" {
				t.Fatalf("second call to %s", got)
			}
			waitAgent(t, l, "a2", agents.Available)
			// Make a1 idle longer than a2 again, so only talk time tells them apart.
			if _, err := l.Replicas[0].Engine.SetIdle(context.Background(), "a2", "break"); err != nil {
				t.Fatal(err)
			}
			waitRedisTick(t, l)
			if _, err := l.Replicas[0].Engine.SetAvailable(context.Background(), "a2"); err != nil {
				t.Fatal(err)
			}
			if got := callTo(t, l, "q", 0); got != "a2" {
				t.Fatalf("got %s, want a2 (least talk time today)", got)
			}
		})
		t.Run("best_skill", func(t *testing.T) {
			l := routingLab(t, pbx, acd.QueueSettings{Strategy: "best_skill", Weight: 1,
				Skills: []acd.SkillRequirement{{Skill: "spanish", MinLevel: 2}}})
			loginSkilled(t, l, "a1", quick, map[string]int{"spanish": 3}, "q")
			loginSkilled(t, l, "a2", quick, map[string]int{"spanish": 9}, "q")
			loginSkilled(t, l, "a3", quick, map[string]int{"spanish": 5}, "q")
			if got := callTo(t, l, "q", 0); got != "a2" {
				t.Fatalf("got %s, want the best speaker a2", got)
			}
		})
	})
}

func TestSkillsMatchAndRelaxAfterWaiting(t *testing.T) {
	forEachPBX(t, func(t *testing.T, pbx lab.PBXKind) {
		l := routingLab(t, pbx, acd.QueueSettings{Strategy: "longest_idle", Weight: 1,
			Skills: []acd.SkillRequirement{{Skill: "spanish", MinLevel: 7, Relax: []acd.SkillRelaxation{{After: 600 * time.Millisecond, MinLevel: 3}}}}})
		loginSkilled(t, l, "novice", quick, map[string]int{"spanish": 4}, "q")
		loginSkilled(t, l, "mono", quick, map[string]int{"french": 9}, "q")
		leg, err := l.PBX.Call(pbxsim.Caller{ANI: "+12025550199", DNIS: "555", Queue: "q"})
		if err != nil {
			t.Fatal(err)
		}
		ix := waitState(t, l, interactionOf(t, l, leg).ConnectionID, "queued")
		// After 600 ms level 3 is enough: the sweep routes it to the novice,
		// never to the agent without the skill, and not before (both times
		// are Redis TIME, so this holds however slow the machine is).
		got := waitState(t, l, ix.ConnectionID, "connected")
		if got.Agent != "novice" || got.Offers != 1 {
			t.Fatalf("got %s after %d offers", got.Agent, got.Offers)
		}
		if waited := got.Offered.Sub(got.Queued); waited < 600*time.Millisecond {
			t.Fatalf("a level-4 speaker got a call needing 7 after %v, before the relaxation", waited)
		}
		// A skilled agent takes a new call at once.
		loginSkilled(t, l, "expert", quick, map[string]int{"spanish": 8}, "q")
		if got := callTo(t, l, "q", 0); got != "expert" {
			t.Fatalf("second call to %s", got)
		}
	})
}

func TestRingAllFirstToAnswerWinsOthersCancelled(t *testing.T) {
	forEachPBX(t, func(t *testing.T, pbx lab.PBXKind) {
		l := routingLab(t, pbx, acd.QueueSettings{Strategy: "ring_all", Weight: 1})
		loginSkilled(t, l, "slow1", pbxsim.Phone{Mode: pbxsim.Answer, RingFor: 1500 * time.Millisecond}, nil, "q")
		loginSkilled(t, l, "fast", pbxsim.Phone{Mode: pbxsim.Answer, RingFor: 100 * time.Millisecond}, nil, "q")
		loginSkilled(t, l, "slow2", pbxsim.Phone{Mode: pbxsim.Answer, RingFor: 1500 * time.Millisecond}, nil, "q")
		got := callTo(t, l, "q", 0)
		if got != "fast" {
			t.Fatalf("got %s", got)
		}
		for _, id := range []string{"slow1", "slow2"} {
			waitAgent(t, l, id, agents.Available)
			waitFor(t, 5*time.Second, id+"'s leg cancelled", func() bool { return len(l.PBX.LiveLegs(l.Endpoint(id))) == 0 })
			if n := l.PBX.Stats().OriginatesByEndpoint[l.Endpoint(id)]; n != 1 {
				t.Fatalf("%s rung %d times", id, n)
			}
		}
		if st := l.PBX.Stats(); st.DoubleOffers != 0 && st.AgentsWithTwoCalls != 0 {
			t.Fatalf("invariants %+v", st)
		}
	})
}

func TestAgentInSeveralQueuesTakesHeavierQueueFirst(t *testing.T) {
	forEachPBX(t, func(t *testing.T, pbx lab.PBXKind) {
		l := startQueueLab(t, qxOptions{pbx: pbx, queues: map[string]acd.QueueSettings{
			"light": {MOHClass: "default", RingTimeout: 2 * time.Second, Weight: 1},
			"heavy": {MOHClass: "default", RingTimeout: 2 * time.Second, Weight: 10},
		}})
		older, err := l.PBX.Call(pbxsim.Caller{ANI: "+12025550101", DNIS: "555", Queue: "light"})
		if err != nil {
			t.Fatal(err)
		}
		a := waitState(t, l, interactionOf(t, l, older).ConnectionID, "queued")
		waitRedisTick(t, l) // the light queue's call is strictly older
		newer, err := l.PBX.Call(pbxsim.Caller{ANI: "+12025550102", DNIS: "555", Queue: "heavy"})
		if err != nil {
			t.Fatal(err)
		}
		b := waitState(t, l, interactionOf(t, l, newer).ConnectionID, "queued")
		loginSkilled(t, l, "a1", quick, nil, "light", "heavy")
		waitState(t, l, b.ConnectionID, "connected")
		if st := interaction(t, l, a.ConnectionID).State; st != "queued" {
			t.Fatalf("the light queue's call was taken first (%s)", st)
		}
		_ = fmt.Sprint
	})
}

package acd

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/tandem-cc/tandem/agents"
)

func TestSkillsMatchOnlyAgentsAtOrAboveEveryMinimum(t *testing.T) {
	reqs := []SkillRequirement{{Skill: "spanish", MinLevel: 5}, {Skill: "billing", MinLevel: 3}}
	for _, tc := range []struct {
		name   string
		skills map[string]int
		takes  bool
	}{
		{"both above", map[string]int{"spanish": 9, "billing": 9}, true},
		{"both exactly", map[string]int{"spanish": 5, "billing": 3}, true},
		{"one below", map[string]int{"spanish": 4, "billing": 9}, false},
		{"one missing", map[string]int{"spanish": 9}, false},
		{"no skills", nil, false},
		{"other skills only", map[string]int{"french": 10}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// Both directions: the call queued first, or the agent available first.
			s := newTestStore(t, "n1")
			setRouting(t, s, "sales", QueueRouting{Skills: reqs})
			arriveQueued(t, s, "c1", "sales", 0)
			o := loginSkilled(t, s, "a", tc.skills, "sales")
			if (o != nil) != tc.takes {
				t.Fatalf("agent side: offer %+v, want taken=%v", o, tc.takes)
			}
			s2 := newTestStore(t, "n1")
			setRouting(t, s2, "sales", QueueRouting{Skills: reqs})
			loginSkilled(t, s2, "a", tc.skills, "sales")
			o = arriveQueued(t, s2, "c1", "sales", 0)
			if (o != nil) != tc.takes {
				t.Fatalf("queue side: offer %+v, want taken=%v", o, tc.takes)
			}
		})
	}
}

func TestCallsOwnSkillsReplaceTheQueues(t *testing.T) {
	s := newTestStore(t, "n1")
	ctx := context.Background()
	setRouting(t, s, "support", QueueRouting{Skills: []SkillRequirement{{Skill: "billing", MinLevel: 5}}})
	loginSkilled(t, s, "biller", map[string]int{"billing": 9}, "support")
	loginSkilled(t, s, "hablo", map[string]int{"spanish": 3}, "support")
	own := []SkillRequirement{{Skill: "spanish", MinLevel: 3}}
	o := arriveWith(t, s, "c1", "support", 0, own)
	if offerAgent(o) != "hablo" {
		t.Fatalf("offer %+v, want hablo (the call's own skills, not the queue's)", o)
	}
	ix, _ := s.Interaction(ctx, "c1")
	if fmt.Sprint(ix.Skills) != fmt.Sprint(own) {
		t.Fatalf("interaction skills %+v", ix.Skills)
	}
	if o := arriveQueued(t, s, "c2", "support", 0); offerAgent(o) != "biller" {
		t.Fatalf("offer %+v, want biller (the queue's skills)", o)
	}
}

func TestRequirementsRelaxWithTheCallsWait(t *testing.T) {
	s := newTestStore(t, "n1")
	ctx := context.Background()
	setRouting(t, s, "sales", QueueRouting{Skills: []SkillRequirement{{Skill: "spanish", MinLevel: 8,
		Relax: []SkillRelaxation{{After: 30 * time.Second, MinLevel: 5}, {After: time.Minute, MinLevel: 0}}}}})
	loginSkilled(t, s, "none", nil, "sales")
	loginSkilled(t, s, "five", map[string]int{"spanish": 5}, "sales")
	if o := arriveQueued(t, s, "c1", "sales", 0); o != nil {
		t.Fatalf("offer %+v before any relaxation", o)
	}
	ageCall(t, s, "c1", 29*time.Second)
	if offers, _ := s.Sweep(ctx, "sales", 10); len(offers) != 0 {
		t.Fatalf("offers %+v before 30s", offers)
	}
	ageCall(t, s, "c1", 2*time.Second)
	offers, err := s.Sweep(ctx, "sales", 10)
	if err != nil || len(offers) != 1 || offers[0].Agent != "five" {
		t.Fatalf("sweep after 31s: %+v %v, want five", offers, err)
	}
	// After a minute the skill is not required at all: the agent side sees
	// it too (an agent becoming available).
	arriveQueued(t, s, "c2", "sales", 0)
	ageCall(t, s, "c2", 61*time.Second)
	if _, err := s.SetState(ctx, "none", agents.EvIdle, "break"); err != nil {
		t.Fatal(err)
	}
	o, err := s.SetState(ctx, "none", agents.EvAvailable, "")
	if err != nil || o == nil || o.ConnectionID != "c2" {
		t.Fatalf("offer %+v %v, want c2 to none", o, err)
	}
}

func TestRelaxationRunsOnTheRedisClock(t *testing.T) {
	s := newTestStore(t, "n1")
	ctx := context.Background()
	setRouting(t, s, "sales", QueueRouting{Skills: []SkillRequirement{{Skill: "spanish", MinLevel: 8,
		Relax: []SkillRelaxation{{After: 200 * time.Millisecond, MinLevel: 4}}}}})
	loginSkilled(t, s, "four", map[string]int{"spanish": 4}, "sales")
	if o := arriveQueued(t, s, "c1", "sales", 0); o != nil {
		t.Fatalf("offer %+v at once", o)
	}
	ix, err := s.Interaction(ctx, "c1")
	if err != nil {
		t.Fatal(err)
	}
	waitRedisPast(t, s.rdb, ix.Queued.Add(200*time.Millisecond))
	offers, err := s.Sweep(ctx, "sales", 10)
	if err != nil || len(offers) != 1 || offers[0].Agent != "four" {
		t.Fatalf("sweep after 250ms: %+v %v", offers, err)
	}
}

func TestRONAKeepsTheCallsWaitForRelaxation(t *testing.T) {
	s := newTestStore(t, "n1")
	ctx := context.Background()
	setRouting(t, s, "sales", QueueRouting{Skills: []SkillRequirement{{Skill: "spanish", MinLevel: 8,
		Relax: []SkillRelaxation{{After: 30 * time.Second, MinLevel: 4}}}}})
	loginSkilled(t, s, "eight", map[string]int{"spanish": 8}, "sales")
	o := arriveQueued(t, s, "c1", "sales", 0)
	ageCall(t, s, "c1", time.Minute) // offered; its wait is counted from 'queued'
	loginSkilled(t, s, "four", map[string]int{"spanish": 4}, "sales")
	next, err := s.NoAnswer(ctx, "c1", o.Agent, "timeout")
	if err != nil || next == nil || next.Agent != "four" {
		t.Fatalf("after RONA: %+v %v, want four (relaxed)", next, err)
	}
}

func TestAgentSideSkipsCallsItCannotTake(t *testing.T) {
	s := newTestStore(t, "n1")
	arriveWith(t, s, "spanish", "sales", 5, []SkillRequirement{{Skill: "spanish", MinLevel: 5}})
	arriveQueued(t, s, "plain", "sales", 0)
	if o := loginSkilled(t, s, "a", map[string]int{"french": 9}, "sales"); o == nil || o.ConnectionID != "plain" {
		t.Fatalf("offer %+v, want plain", o)
	}
	if o := loginSkilled(t, s, "b", map[string]int{"spanish": 5}, "sales"); o == nil || o.ConnectionID != "spanish" {
		t.Fatalf("offer %+v, want spanish", o)
	}
}

func TestQueueSideTakesALaterCallWhenTheHeadNeedsSomeoneElse(t *testing.T) {
	s := newTestStore(t, "n1")
	ctx := context.Background()
	// More calls than the head window, none of which the agent can take.
	for i := 0; i < 15; i++ {
		arriveWith(t, s, fmt.Sprintf("sp%02d", i), "sales", 5, []SkillRequirement{{Skill: "spanish", MinLevel: 5}})
	}
	loginSkilled(t, s, "a", nil, "sales")
	if _, err := s.SetState(ctx, "a", agents.EvIdle, "break"); err != nil {
		t.Fatal(err)
	}
	// A call the agent can take, behind them all.
	arriveQueued(t, s, "plain1", "sales", 0)
	// The agent returns: the agent side looks 50 calls deep.
	if o, err := s.SetState(ctx, "a", agents.EvAvailable, ""); err != nil || o == nil || o.ConnectionID != "plain1" {
		t.Fatalf("offer %+v %v, want plain1", o, err)
	}
	// With the agent already waiting, a new call is checked even though it
	// is beyond the head window.
	loginSkilled(t, s, "b", nil, "sales")
	if o := arriveQueued(t, s, "plain2", "sales", 0); o == nil || o.Agent != "b" {
		t.Fatalf("offer %+v, want plain2 to b", o)
	}
}

func TestTransferToQueueUsesTheNewQueuesSkills(t *testing.T) {
	s := newTestStore(t, "n1")
	ctx := context.Background()
	setRouting(t, s, "billing", QueueRouting{Skills: []SkillRequirement{{Skill: "billing", MinLevel: 2}}})
	loginSkilled(t, s, "first", map[string]int{"spanish": 9, "billing": 9}, "support", "billing")
	o := arriveWith(t, s, "c1", "support", 0, []SkillRequirement{{Skill: "spanish", MinLevel: 9}})
	answer(t, s, o)
	loginSkilled(t, s, "biller", map[string]int{"billing": 2}, "billing")
	next, err := s.TransferToQueue(ctx, "c1", "billing", "first")
	if err != nil || next == nil || next.Agent != "biller" {
		t.Fatalf("transfer: %+v %v, want biller (billing skill, spanish dropped)", next, err)
	}
	ix, _ := s.Interaction(ctx, "c1")
	if len(ix.Skills) != 0 {
		t.Fatalf("own skills kept after transfer: %+v", ix.Skills)
	}
}

func TestTalkTimeCreditedToTheTransferringAgent(t *testing.T) {
	s := newTestStore(t, "n1")
	ctx := context.Background()
	loginSkilled(t, s, "a", nil, "sales")
	o := arriveQueued(t, s, "c1", "sales", 0)
	answer(t, s, o)
	from, _ := s.rdb.HGet(ctx, s.keys.Interaction("c1"), "talk_from").Int64()
	s.rdb.HSet(ctx, s.keys.Interaction("c1"), "talk_from", from-7000)
	loginSkilled(t, s, "b", nil, "support")
	if _, err := s.TransferToQueue(ctx, "c1", "support", "a"); err != nil {
		t.Fatal(err)
	}
	if d, _ := s.AgentToday(ctx, "a"); d.Talk < 7*time.Second || d.Talk > 8*time.Second || d.Calls != 1 {
		t.Fatalf("a today %+v, want 1 call, ~7s", d)
	}
}

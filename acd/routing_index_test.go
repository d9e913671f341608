package acd

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/tandem-cc/tandem/agents"
)

// Agents who cannot take a queue's calls are never offered them, so they
// become its longest idle. They must not hide a qualified agent however
// many they are (more than any scan window).
func TestManyUnqualifiedLongestIdleAgentsDoNotHideAQualifiedOne(t *testing.T) {
	s := newTestStore(t, "n1")
	ctx := context.Background()
	setRouting(t, s, "sales", QueueRouting{Skills: spanish5, CallSkills: []string{"german"}})
	for i := 0; i < 80; i++ {
		id := fmt.Sprintf("u%02d", i)
		if _, err := s.Login(ctx, id, "PJSIP/"+id, []string{"sales"}, map[string]int{"spanish": 1 + i%4, "french": 9}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.SetState(ctx, id, agents.EvAvailable, ""); err != nil {
			t.Fatal(err)
		}
	}
	loginSkilled(t, s, "q1", map[string]int{"spanish": 5}, "sales")
	if o := arriveQueued(t, s, "c1", "sales", 0); offerAgent(o) != "q1" {
		t.Fatalf("offer %+v, want q1 behind 80 unqualified agents", o)
	}
	// The same for a call with its own requirement of a skill the queue
	// indexes (calls may require it on their own: its own set).
	loginSkilled(t, s, "q2", map[string]int{"german": 3}, "sales")
	if o := arriveWith(t, s, "c2", "sales", 0, []SkillRequirement{{Skill: "german", MinLevel: 2}}); offerAgent(o) != "q2" {
		t.Fatalf("offer %+v, want q2", o)
	}
	// And once relaxed, the longest idle of the newly eligible agents.
	setRouting(t, s, "sales", QueueRouting{Skills: []SkillRequirement{{Skill: "spanish", MinLevel: 5,
		Relax: []SkillRelaxation{{After: time.Minute, MinLevel: 3}}}}})
	arriveQueued(t, s, "c3", "sales", 0)
	ageCall(t, s, "c3", 2*time.Minute)
	offers, err := s.Sweep(ctx, "sales", 5)
	if err != nil || len(offers) != 1 || offers[0].Agent != "u02" {
		t.Fatalf("sweep %+v %v, want u02 (spanish 3, longest idle)", offers, err)
	}
}

func TestSetQueuesRebuildsTheIndexWhenRoutingChanges(t *testing.T) {
	s := newTestStore(t, "n1")
	ctx := context.Background()
	// Agents available before any configuration (generation 0).
	for _, id := range []string{"c", "b", "a"} {
		loginSkilled(t, s, id, map[string]int{"spanish": 5}, "sales")
	}
	loginSkilled(t, s, "x", nil, "sales")
	g0 := indexKeys(t, s, "sales", "elig")
	setRouting(t, s, "sales", QueueRouting{Strategy: StrategyRoundRobin, Skills: spanish5})
	for _, k := range g0 {
		if n, _ := s.rdb.Exists(ctx, k).Result(); n != 0 {
			t.Fatalf("old index key %s left", k)
		}
	}
	var got []string
	for i := 0; i < 4; i++ {
		o := arriveQueued(t, s, fmt.Sprintf("c%d", i), "sales", 0)
		if o == nil {
			t.Fatalf("call %d: no offer", i)
		}
		got = append(got, o.Agent)
		serve(t, s, o)
	}
	if fmt.Sprint(got) != "[a b c a]" {
		t.Fatalf("round robin after the change: %v", got)
	}
	// The same settings again: nothing to rebuild.
	gen, _ := s.rdb.HGet(ctx, s.keys.QueueConfig("sales"), "gen").Result()
	setRouting(t, s, "sales", QueueRouting{Strategy: StrategyRoundRobin, Skills: spanish5, Weight: 4})
	if again, _ := s.rdb.HGet(ctx, s.keys.QueueConfig("sales"), "gen").Result(); again != gen {
		t.Fatalf("generation %s -> %s for a weight change", gen, again)
	}
}

func TestReindexWalksManyAgentsInChunks(t *testing.T) {
	s := newTestStore(t, "n1")
	ctx := context.Background()
	const n = 1200 // more than two chunks
	pipe := s.rdb.Pipeline()
	for i := 0; i < n; i++ {
		id := fmt.Sprintf("a%04d", i)
		pipe.HSet(ctx, s.keys.Agent(id), "id", id, "state", "available", "queues", "sales", "skills", "spanish:5", "endpoint", "PJSIP/"+id)
		pipe.HSet(ctx, s.keys.AgentSkills(), id, "spanish:5")
		pipe.ZAdd(ctx, s.keys.Available("sales"), redisZ(id)) // all idle since the same ms
	}
	if _, err := pipe.Exec(ctx); err != nil {
		t.Fatal(err)
	}
	setRouting(t, s, "sales", QueueRouting{Skills: spanish5})
	keys := indexKeys(t, s, "sales", "elig")
	if len(keys) != 1 {
		t.Fatalf("class sets %v", keys)
	}
	if c, _ := s.rdb.ZCard(ctx, keys[0]).Result(); c != n {
		t.Fatalf("indexed %d of %d agents", c, n)
	}
}

func TestSweepReachesACallBehindAFullWindowOfCallsNobodyCanTake(t *testing.T) {
	s := newTestStore(t, "n1")
	ctx := context.Background()
	for i := 0; i < 60; i++ {
		arriveWith(t, s, fmt.Sprintf("sp%02d", i), "sales", 5, []SkillRequirement{{Skill: "spanish", MinLevel: 5}})
	}
	arriveQueued(t, s, "plain", "sales", 0)
	if o := loginSkilled(t, s, "a", nil, "sales"); o != nil {
		t.Fatalf("offer %+v (the plain call is 61st)", o)
	}
	var got []Offer
	for i := 0; i < 3 && len(got) == 0; i++ {
		offers, err := s.Sweep(ctx, "sales", 5)
		if err != nil {
			t.Fatal(err)
		}
		got = offers
	}
	if len(got) != 1 || got[0].ConnectionID != "plain" {
		t.Fatalf("sweeps gave %+v, want plain", got)
	}
}

package acd

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tandem-cc/tandem/agents"
	"github.com/tandem-cc/tandem/internal/redistest"
)

// TestConcurrentSkillRoutingNeverDoublesUp races workers queueing calls
// with skill requirements, making skilled agents available and serving the
// offers they get (answer, hang up: the hand-off offers the agent the next
// call) over queues of every strategy, ring_all included. Afterwards the
// shared history (written inside the scripts, so in their true order) must
// show no agent reserved unless it was available, no call offered twice,
// and Redis must be consistent: every bound agent bound to a call that
// names it, every available agent in its queues' sets and no other.
func TestConcurrentSkillRoutingNeverDoublesUp(t *testing.T) {
	rdb := redistest.Client(t)
	ctx := context.Background()
	queues := map[string]QueueRouting{
		"sk":   {Strategy: StrategyBestSkill, Weight: 1, Skills: []SkillRequirement{{Skill: "s0", MinLevel: 4, Relax: []SkillRelaxation{{After: 50 * time.Millisecond, MinLevel: 1}}}}},
		"rr":   {Strategy: StrategyRoundRobin, CallSkills: []string{"s0", "s1", "s2", "s3"}},
		"ring": {Strategy: StrategyRingAll, Skills: []SkillRequirement{{Skill: "s1", MinLevel: 2}}},
		"fc":   {Strategy: StrategyFewestCalls, Weight: 2},
		"lt":   {Strategy: StrategyLeastTalkTime, Skills: []SkillRequirement{{Skill: "s2", MinLevel: 3}}},
		"li":   {CallSkills: []string{"s1"}},
	}
	names := []string{"sk", "rr", "ring", "fc", "lt", "li"}
	if err := newTStore(rdb, "t", "n1").SetQueues(ctx, queues); err != nil {
		t.Fatal(err)
	}
	const workers, callsPerWorker, agentsPerWorker = 8, 40, 8
	var offersMu sync.Mutex
	offered := 0
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		s := newTStore(rdb, "t", "n1")
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(w), 7))
			var mine []Offer // offers this worker got and must serve
			take := func(o *Offer) {
				if o != nil {
					mine = append(mine, *o)
					offersMu.Lock()
					offered++
					offersMu.Unlock()
				}
			}
			calls, logged := 0, 0
			for calls < callsPerWorker || len(mine) > 0 {
				switch k := r.IntN(3); {
				case k == 0 && calls < callsPerWorker:
					conn := fmt.Sprintf("w%d-c%03d", w, calls)
					calls++
					if _, err := s.Arrive(ctx, conn, "l", "1", "2", nil); err != nil {
						t.Error(err)
						return
					}
					var own []SkillRequirement
					if r.IntN(4) == 0 {
						own = []SkillRequirement{{Skill: fmt.Sprintf("s%d", r.IntN(4)), MinLevel: 1 + r.IntN(6)}}
					}
					o, err := s.EnqueueWith(ctx, conn, names[r.IntN(len(names))], r.IntN(3), own)
					if err != nil {
						t.Error(err)
						return
					}
					take(o)
				case k == 1 && logged < agentsPerWorker:
					id := fmt.Sprintf("w%d-a%d", w, logged)
					logged++
					skills := map[string]int{}
					for i := 0; i < 4; i++ {
						if r.IntN(3) > 0 {
							skills[fmt.Sprintf("s%d", i)] = 1 + r.IntN(10)
						}
					}
					var qs []string
					for _, i := range r.Perm(len(names))[:1+r.IntN(3)] {
						qs = append(qs, names[i])
					}
					if _, err := s.Login(ctx, id, "PJSIP/"+id, qs, skills); err != nil {
						t.Error(err)
						return
					}
					o, err := s.SetState(ctx, id, agents.EvAvailable, "")
					if err != nil {
						t.Error(err)
						return
					}
					take(o)
				case len(mine) > 0:
					o := mine[0]
					mine = mine[1:]
					winner := o.Agent
					for _, m := range o.RingAll {
						if err := s.Ringing(ctx, Offer{ConnectionID: o.ConnectionID, Agent: m.Agent}, "leg-"+m.Agent); err != nil {
							t.Error(err)
							return
						}
					}
					if err := s.Ringing(ctx, o, "leg-"+o.Agent); err != nil {
						t.Error(err)
						return
					}
					if len(o.RingAll) > 0 {
						winner = o.RingAll[r.IntN(len(o.RingAll))].Agent
						_, next, err := s.RingAllAnswered(ctx, o.ConnectionID, winner)
						if err != nil {
							t.Error(err)
							return
						}
						for i := range next {
							take(&next[i])
						}
					}
					if err := s.Connect(ctx, o.ConnectionID, winner, "leg-"+winner); err != nil {
						t.Error(err)
						return
					}
					_, next, err := s.Finish(ctx, o.ConnectionID, "hangup", "caller")
					if err != nil {
						t.Error(err)
						return
					}
					take(next)
				}
			}
		}(w)
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	s := newTStore(rdb, "t", "n1")
	checkRoutingHistory(t, s)
	checkRoutingState(t, s)
	if offered < workers*callsPerWorker/3 {
		t.Errorf("only %d offers made: the race did not exercise routing", offered)
	}
	t.Logf("%d offers", offered)
}

// checkRoutingHistory reads the whole event stream: an agent is reserved
// only from available, and a call is offered from its queue at most once
// (this test has no RONA, so a call never returns to its queue).
func checkRoutingHistory(t *testing.T, s *tStore) {
	t.Helper()
	msgs, err := s.rdb.XRange(context.Background(), s.keys.Events(), "-", "+").Result()
	if err != nil {
		t.Fatal(err)
	}
	last := map[string]string{}
	offers := map[string]int{}
	for _, m := range msgs {
		v := m.Values
		id, to := fmt.Sprint(v["id"]), fmt.Sprint(v["to"])
		switch v["kind"] {
		case "agent":
			if to == "reserved" && last[id] != "available" {
				t.Errorf("agent %s reserved for %v while %s", id, v["conn"], last[id])
			}
			last[id] = to
		case "interaction":
			if to == "offered" && v["from"] == "queued" {
				if offers[id]++; offers[id] > 1 {
					t.Errorf("call %s offered twice", id)
				}
			}
		}
	}
}

// checkRoutingState checks the agents and calls left in Redis agree.
func checkRoutingState(t *testing.T, s *tStore) {
	t.Helper()
	ctx := context.Background()
	ids, _ := s.rdb.SMembers(ctx, s.keys.Agents()).Result()
	for _, id := range ids {
		a, err := s.Agent(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		for _, q := range a.Queues {
			_, err := s.rdb.ZScore(ctx, s.keys.Available(q), id).Result()
			inSet := err == nil
			classes := 0
			for _, k := range indexKeys(t, s, q, "elig") {
				if _, err := s.rdb.ZScore(ctx, k, id).Result(); err == nil {
					classes++
				}
			}
			skills := 0
			for _, k := range indexKeys(t, s, q, "skill") {
				if _, err := s.rdb.ZScore(ctx, k, id).Result(); err == nil {
					skills++
				}
			}
			qr, _ := s.QueueRouting(ctx, q)
			indexed := 0
			for sk := range a.Skills {
				if slices.Contains(qr.CallSkills, sk) {
					indexed++
				}
			}
			if a.State == agents.Available {
				if !inSet || classes != 1 || skills != indexed {
					t.Errorf("available agent %s in %s: available set %v, %d classes, %d of %d skill sets", id, q, inSet, classes, skills, indexed)
				}
			} else if inSet || classes != 0 || skills != 0 {
				t.Errorf("%s agent %s in %s: available set %v, %d classes, %d skill sets", a.State, id, q, inSet, classes, skills)
			}
		}
		switch a.State {
		case agents.Reserved, agents.Ringing, agents.Connected:
			h, _ := s.rdb.HMGet(ctx, s.keys.Interaction(a.ConnectionID), "state", "agent", "ring").Result()
			members := []string{fmt.Sprint(h[1])}
			if h[2] != nil {
				members = strings.Split(h[2].(string), ",")
			}
			if (h[0] != "offered" && h[0] != "connected") || !slices.Contains(members, id) {
				t.Errorf("agent %s %s on %s, which is %v with %v", id, a.State, a.ConnectionID, h[0], members)
			}
		}
	}
}

// indexKeys lists the keys of a queue's current agent index of a kind
// ("elig" or "skill").
func indexKeys(t *testing.T, s *tStore, q, kind string) []string {
	t.Helper()
	ctx := context.Background()
	gen, err := s.rdb.HGet(ctx, s.keys.QueueConfig(q), "gen").Int64()
	if err != nil {
		gen = 0
	}
	keys, err := s.rdb.Keys(ctx, globEscape(s.keys.QueueIndex(q, gen)+kind+":")+"*").Result()
	if err != nil {
		t.Fatal(err)
	}
	return keys
}

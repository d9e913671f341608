package acd

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tandem-cc/tandem/agents"
)

// Run with:
//
//	go test -run '^$' -bench BenchmarkRouteWithSkills -benchtime 5000x ./acd

// benchSkillQueue requires 3 of the 10 skills, relaxing after 30s and 2min.
var benchSkillQueue = []SkillRequirement{
	{Skill: "s0", MinLevel: 6, Relax: []SkillRelaxation{{After: 30 * time.Second, MinLevel: 4}, {After: 2 * time.Minute, MinLevel: 2}}},
	{Skill: "s1", MinLevel: 5, Relax: []SkillRelaxation{{After: 30 * time.Second, MinLevel: 3}, {After: 2 * time.Minute, MinLevel: 0}}},
	{Skill: "s2", MinLevel: 4, Relax: []SkillRelaxation{{After: 30 * time.Second, MinLevel: 2}, {After: 2 * time.Minute, MinLevel: 0}}},
}

// benchAgents logs in n agents of queue with random levels 1..10 over 10
// skills and makes them available (about a fifth meet benchSkillQueue).
func benchAgents(b *testing.B, s *tStore, queue string, n int) {
	b.Helper()
	ctx := context.Background()
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < n; i++ {
		id := fmt.Sprintf("a%05d", i)
		skills := map[string]int{}
		for k := 0; k < 10; k++ {
			skills[fmt.Sprintf("s%d", k)] = 1 + r.IntN(10)
		}
		if _, err := s.Login(ctx, id, "PJSIP/"+id, []string{queue}, skills); err != nil {
			b.Fatal(err)
		}
		if _, err := s.SetState(ctx, id, agents.EvAvailable, ""); err != nil {
			b.Fatal(err)
		}
	}
}

// scriptMicros is the Redis CPU time per script run since the last reset
// (INFO commandstats): the part of a decision spent inside Redis, which
// is what other replicas wait for.
func scriptMicros(b *testing.B, s *tStore) float64 {
	b.Helper()
	info, err := s.rdb.Info(context.Background(), "commandstats").Result()
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(info, "\n") {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(line), "cmdstat_evalsha:"); ok {
			for _, f := range strings.Split(rest, ",") {
				if v, ok := strings.CutPrefix(f, "usec_per_call="); ok {
					us, _ := strconv.ParseFloat(v, 64)
					return us
				}
			}
		}
	}
	return 0
}

// latencies reports p50 and p99 of the measured decisions.
type latencies []time.Duration

func (l latencies) report(b *testing.B) {
	if len(l) == 0 {
		return
	}
	slices.Sort(l)
	b.ReportMetric(float64(l[len(l)/2].Nanoseconds()), "p50-ns")
	b.ReportMetric(float64(l[len(l)*99/100].Nanoseconds()), "p99-ns")
}

// BenchmarkRouteWithSkills measures routing decisions under skills: 1,000
// agents logged into one queue with random levels over 10 skills, the
// queue requiring 3 of them with relaxation, a deep queue.
//
//   - handoff/<strategy>: a call ends and its agent (qualified) is offered
//     the next of thousands of waiting calls in the same script; about 790
//     unqualified agents sit available, the qualified ones are busy.
//   - enqueue/<strategy>: a call arrives behind 5,000 waiting calls that
//     nobody can take (their own requirement of a skill no agent has) and is
//     routed to one of the 1,000 agents, most of them available. Only the
//     EnqueueWith is timed; the call is then ended (untimed) so its agent
//     is free again.
//
// One op is one routing decision; round-trips/decision counts the Redis
// commands the decision sent (go-redis hook).
func BenchmarkRouteWithSkills(b *testing.B) {
	for _, strategy := range []string{StrategyLongestIdle, StrategyBestSkill, StrategyFewestCalls} {
		b.Run("handoff/"+strategy, func(b *testing.B) { benchSkillHandoff(b, strategy) })
	}
	for _, strategy := range []string{StrategyLongestIdle, StrategyRoundRobin, StrategyBestSkill, StrategyFewestCalls, StrategyRingAll} {
		b.Run("enqueue/"+strategy, func(b *testing.B) { benchSkillEnqueue(b, strategy) })
	}
}

func benchSkillHandoff(b *testing.B, strategy string) {
	s, rt := benchStore(b)
	ctx := context.Background()
	if err := s.SetQueues(ctx, map[string]QueueRouting{"sales": {Strategy: strategy, Skills: benchSkillQueue}}); err != nil {
		b.Fatal(err)
	}
	benchAgents(b, s, "sales", 1000)
	// The qualified agents take the first calls; the rest wait.
	for i := 0; i < b.N+5000; i++ {
		conn := fmt.Sprintf("c%08d", i)
		if _, err := s.Arrive(ctx, conn, "leg", "5551000", "800", nil); err != nil {
			b.Fatal(err)
		}
		if _, err := s.Enqueue(ctx, conn, "sales", i%3); err != nil {
			b.Fatal(err)
		}
	}
	all10 := map[string]int{}
	for k := 0; k < 10; k++ {
		all10[fmt.Sprintf("s%d", k)] = 10
	}
	if _, err := s.Login(ctx, "hand", "PJSIP/hand", []string{"sales"}, all10); err != nil {
		b.Fatal(err)
	}
	first, err := s.SetState(ctx, "hand", agents.EvAvailable, "")
	if err != nil || first == nil {
		b.Fatalf("first offer %v %v", first, err)
	}
	current := first.ConnectionID
	lat := make(latencies, 0, b.N)
	s.rdb.ConfigResetStat(ctx)
	rt.n.Store(0)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		_, next, err := s.Finish(ctx, current, "hangup", "caller")
		lat = append(lat, time.Since(t0))
		if err != nil || next == nil || next.Agent != "hand" {
			b.Fatalf("hand-off %d: %+v %v", i, next, err)
		}
		current = next.ConnectionID
	}
	b.StopTimer()
	b.ReportMetric(float64(rt.n.Load())/float64(b.N), "round-trips/decision")
	b.ReportMetric(scriptMicros(b, s), "redis-µs/decision")
	lat.report(b)
}

func benchSkillEnqueue(b *testing.B, strategy string) {
	s, rt := benchStore(b)
	ctx := context.Background()
	if err := s.SetQueues(ctx, map[string]QueueRouting{"sales": {Strategy: strategy, Skills: benchSkillQueue, CallSkills: []string{"s10"}}}); err != nil {
		b.Fatal(err)
	}
	// s10: no agent has it; the IVR branches of this queue may require it.
	nobody := []SkillRequirement{{Skill: "s10", MinLevel: 1}}
	for i := 0; i < 5000; i++ {
		conn := fmt.Sprintf("deep%05d", i)
		if _, err := s.Arrive(ctx, conn, "leg", "5551000", "800", nil); err != nil {
			b.Fatal(err)
		}
		if _, err := s.EnqueueWith(ctx, conn, "sales", 5, nobody); err != nil {
			b.Fatal(err)
		}
	}
	benchAgents(b, s, "sales", 1000)
	lat := make(latencies, 0, b.N)
	var measured int64
	var redisMicros float64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		conn := fmt.Sprintf("c%08d", i)
		if _, err := s.Arrive(ctx, conn, "leg", "5551000", "800", nil); err != nil {
			b.Fatal(err)
		}
		s.rdb.ConfigResetStat(ctx)
		before := rt.n.Load()
		b.StartTimer()
		t0 := time.Now()
		o, err := s.EnqueueWith(ctx, conn, "sales", 0, nil)
		lat = append(lat, time.Since(t0))
		b.StopTimer()
		measured += rt.n.Load() - before
		if err != nil || o == nil {
			b.Fatalf("enqueue %d: %+v %v", i, o, err)
		}
		redisMicros += scriptMicros(b, s)
		// Free the agents for the next call (untimed).
		if _, _, err := s.Finish(ctx, conn, "hangup", "caller"); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	b.StopTimer()
	b.ReportMetric(float64(measured)/float64(b.N), "round-trips/decision")
	b.ReportMetric(redisMicros/float64(b.N), "redis-µs/decision")
	lat.report(b)
}
